"""What an experiment config and its data become before anything is fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coco_pipe.decoding.configs import ClassicalModelConfig, ExperimentConfig
from coco_pipe.decoding.prepare import (
    CHANCE_MODEL,
    as_experiment_config,
    model_configs,
    prepare_inputs,
)

CFG = {"models": {"lr": {"estimator": "LogisticRegression"}},
       "cv": {"strategy": "group_kfold", "n_splits": 3, "group_key": "Subject"}}  # fmt: skip


def test_as_experiment_config_from_each_form(tmp_path):
    cfg = as_experiment_config(CFG)
    assert isinstance(cfg, ExperimentConfig) and as_experiment_config(cfg) is cfg
    path = tmp_path / "c.yaml"
    cfg.to_yaml(path)
    assert as_experiment_config(path) == cfg == as_experiment_config(str(path))
    with pytest.raises(TypeError, match="config must be an ExperimentConfig, dict or YAML path, got int"):
        as_experiment_config(3)


def test_model_configs_add_the_chance_model_for_the_task():
    models = model_configs(as_experiment_config(CFG))
    assert list(models) == ["lr", CHANCE_MODEL]
    assert models[CHANCE_MODEL] == ClassicalModelConfig(
        estimator="DummyClassifier", params={"strategy": "prior"}, scale=False
    )
    reg = as_experiment_config({**CFG, "task": "regression", "metrics": ["r2"],
                                "models": {"ridge": {"estimator": "Ridge"}}})  # fmt: skip
    assert model_configs(reg)[CHANCE_MODEL].estimator == "DummyRegressor"
    assert list(model_configs(as_experiment_config({**CFG, "chance": {"dummy": False}}))) == ["lr"]


def test_prepare_inputs_validates_resolves_and_splits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2, 8))
    y = np.tile([0, 1], 15)
    meta = pd.DataFrame({"Subject": np.repeat(["a", "b", "c"], 10)})
    data, metrics, splits = prepare_inputs(as_experiment_config(CFG), X, y, meta, sfreq=64.0)
    assert data.X.dtype == np.float32 and data.sfreq == 64.0
    assert [m.name for m in metrics] == ["balanced_accuracy", "accuracy", "roc_auc", "f1_macro"]
    assert len(splits) == 3
    for train, test in splits:
        assert not set(data.groups[train]) & set(data.groups[test])
    with pytest.raises(ValueError, match="group_key='Subject' is not a column"):
        prepare_inputs(as_experiment_config(CFG), X, y, meta.rename(columns={"Subject": "S"}))


def test_single_class_group_warns_under_a_stratified_strategy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3))
    meta = pd.DataFrame({"Subject": np.repeat(["s1", "s2", "s3", "s4"], 6)})
    y = np.tile([0, 1], 12)
    y[12:18] = 1  # s3 holds class 1 only
    cfg = as_experiment_config({**CFG, "cv": {"strategy": "stratified_group_kfold", "n_splits": 2,
                                              "group_key": "Subject"}})  # fmt: skip
    with pytest.warns(UserWarning, match=r"1 group\(s\) of sample_metadata\['Subject'\] hold a single class: 's3' \(only 1\)"):
        prepare_inputs(cfg, X, y, meta)
    import warnings

    with warnings.catch_warnings():  # not stratified: nothing to say
        warnings.simplefilter("error")
        prepare_inputs(as_experiment_config(CFG), X, y, meta)
