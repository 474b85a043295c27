"""Fold jobs travel by reference: the windows are re-opened from a file in the worker,
never pickled with every task."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from coco_pipe.data import validate_inputs
from coco_pipe.decoding.configs import ExecutionConfig, ExperimentConfig
from coco_pipe.decoding.executors import SharedData, make_executor


def test_in_memory_windows_written_once_and_referenced(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3, 50)).astype(np.float32)
    data = validate_inputs(X, np.tile([0, 1], 20))
    shared = SharedData.share(data, tmp_path)
    blob = pickle.dumps(shared)
    assert len(blob) < X.nbytes / 10  # the windows are not in the pickle
    loaded = pickle.loads(blob).load()
    assert isinstance(loaded.X, np.memmap) and np.array_equal(loaded.X, data.X)
    np.testing.assert_array_equal(loaded.y, data.y)


def test_memmap_windows_referenced_in_place(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.random.default_rng(1).normal(size=(30, 2, 20)).astype(np.float32))
    X = np.load(path, mmap_mode="r")
    data = validate_inputs(X, np.tile([0, 1], 15))
    shared = SharedData.share(data, tmp_path / "unused")
    if isinstance(data.X, np.memmap):  # validation kept the mapping: nothing is written
        assert shared.ref.path == str(path) and not (tmp_path / "unused").exists()
    assert np.array_equal(pickle.loads(pickle.dumps(shared)).load().X, X)


def test_execution_config():
    cfg = ExperimentConfig.model_validate({"models": {"m": {"estimator": "LogisticRegression"}},
                                           "execution": {"backend": "ray", "gpus_per_fold": 1,
                                                         "ray_address": "auto", "max_retries": 1}})  # fmt: skip
    assert cfg.execution.gpus_per_fold == 1.0 and cfg.execution.ray_address == "auto"
    assert ExperimentConfig.model_validate_json(cfg.model_dump_json()) == cfg
    with pytest.raises(ValueError, match="ray_address='auto' is set but execution.backend='joblib'"):
        ExecutionConfig(backend="joblib", ray_address="auto")
    with pytest.raises(ValueError, match="backend"):
        ExecutionConfig(backend="dask")
    assert type(make_executor(ExecutionConfig(backend="joblib"), None)).__name__ == "JoblibExecutor"
