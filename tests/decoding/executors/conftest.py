"""Fixtures of the executor tests: the sequential reference scores and the worker killer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cases import DRIVER_ENV, KillsItsWorker, pickle_by_value, run_mixed, scores_table


@pytest.fixture(scope="session")
def sequential_scores(small_epochs, tmp_path_factory):
    """Fold scores of the mixed experiment run sequentially (the reference)."""
    root = tmp_path_factory.mktemp("sequential")
    old = Path.cwd()
    os.chdir(root)
    try:
        res = run_mixed(small_epochs, f"sqlite:///{root}/mlruns.db")
    finally:
        os.chdir(old)
    return scores_table(res)


@pytest.fixture
def killer(register_estimator, tmp_path, monkeypatch):
    """Registers KillsItsWorker; returns the folder counting its kills."""
    pickle_by_value()
    monkeypatch.setenv(DRIVER_ENV, str(os.getpid()))
    register_estimator("KillsItsWorker", KillsItsWorker)
    marks = tmp_path / "kills"
    marks.mkdir()
    return marks


