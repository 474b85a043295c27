"""Fitted estimators of each layout (scikit-learn, frozen-backbone pipeline, neural) on small
built-in data, and their MLflow Model folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from coco_pipe.data import validate_inputs
from coco_pipe.decoding.builders import build_estimator, fit_estimator
from coco_pipe.decoding.logged_model.log import write_model_folder
from small_models import CLASSICAL, PROBE, neural

CONFIGS = {"sklearn": CLASSICAL, "backbone_pipeline": PROBE,
           "neural": neural("frozen", cache_embeddings=False)}  # fmt: skip


@pytest.fixture(scope="session")
def small_data(mi_arrays):
    """60 windows of 3 subjects (19 channels x 500 samples at 250 Hz), validated."""
    X, y, meta, info = mi_arrays
    keep = np.flatnonzero(meta["Subject"].isin(sorted(meta["Subject"].unique())[:3]).to_numpy())[::2]
    return validate_inputs(X[keep], y[keep], meta.iloc[keep].reset_index(drop=True),
                           group_key="Subject", sfreq=info["sfreq"], ch_names=info["ch_names"])


@pytest.fixture(scope="session")
def fitted(small_data):
    """``{kind: fitted estimator}`` for the three layouts."""
    out = {}
    for kind, cfg in CONFIGS.items():
        est = build_estimator(cfg, small_data.info, 0)
        out[kind] = fit_estimator(est, small_data.X, small_data.y, small_data.groups)
    return out


@pytest.fixture(scope="session")
def model_folders(fitted, small_data, tmp_path_factory):
    """``{kind: MLflow Model folder}`` written once; copy one before changing it."""
    root = tmp_path_factory.mktemp("logged-models")
    train = np.arange(len(small_data.y))
    return {
        kind: (write_model_folder(est, root / kind, small_data, train, {"fold": 0}), root / kind)[1]
        for kind, est in fitted.items()
    }


@pytest.fixture
def model_copy(model_folders, tmp_path):
    """``model_copy(kind) -> Path``: a private copy of a model folder to tamper with."""

    def copy(kind: str) -> Path:
        dst = tmp_path / f"copy-{kind}"
        shutil.copytree(model_folders[kind], dst)
        return dst

    return copy
