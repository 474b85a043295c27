"""Small classical estimators registered for one test, and small data for the loop tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from coco_pipe.decoding import registry
from coco_pipe.tracking import FoldReport


def log_power(X) -> np.ndarray:
    """Log-variance per channel of 3-D epochs (2-D input is used as it is)."""
    X = np.asarray(X, dtype=np.float64)
    return np.log(X.var(axis=2) + 1e-30) if X.ndim == 3 else X


class LogPowerLogReg(ClassifierMixin, BaseEstimator):
    """Logistic regression on the log power of each channel (decodes motor imagery)."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        feats = log_power(X)
        self.mean_, self.std_ = feats.mean(axis=0), feats.std(axis=0) + 1e-12
        self.clf_ = LogisticRegression(C=self.C, max_iter=500).fit((feats - self.mean_) / self.std_, y)
        self.classes_ = self.clf_.classes_
        return self

    def _features(self, X):
        return (log_power(X) - self.mean_) / self.std_

    def predict(self, X):
        return self.clf_.predict(self._features(X))

    def predict_proba(self, X):
        return self.clf_.predict_proba(self._features(X))


class NeedsGroupsLogReg(LogPowerLogReg):
    """Refuses to fit when its training partition lacks one of the groups in ``needs``
    (so exactly the folds that test those groups fail)."""

    def __init__(self, C=1.0, needs=()):
        super().__init__(C=C)
        self.needs = needs

    def fit(self, X, y, groups=None):
        missing = sorted(set(self.needs) - set(map(str, np.unique(groups))))
        if missing:
            raise ValueError(f"training partition lacks group(s) {missing}")
        return super().fit(X, y)


class ReportingLogReg(LogPowerLogReg):
    """Writes a checkpoint folder, a history file and a parent note into the fold's
    workdir through ``tracking_report`` and remembers every workdir it was given."""

    workdirs: list[Path] = []

    def tracking_report(self, workdir: Path) -> FoldReport:
        type(self).workdirs.append(Path(workdir))
        ckpt = Path(workdir) / "ckpt"
        ckpt.mkdir()
        (ckpt / "weights.json").write_text(json.dumps({"coef": self.clf_.coef_.tolist()}))
        history = Path(workdir) / "history.csv"
        history.write_text("epoch,train_loss\n1,0.5\n")
        note = Path(workdir) / "note.txt"
        note.write_text(f"fold of {len(self.classes_)} classes")
        return FoldReport(
            params={"reporting.C": self.C},
            metrics={"reporting.n_coef": float(self.clf_.coef_.size)},
            artifacts=[("checkpoints", ckpt), ("training_history", history)],
            parent_artifacts=[("notes", note)],
            parent_metrics={"reporting.folds": 1.0},
        )


@pytest.fixture
def register_estimator(monkeypatch):
    """``register(name, factory, consumes_epochs=True)``: a registry entry for this test only."""
    registry.classical_names()  # load the built-ins before adding ours

    def register(name, factory, *, consumes_epochs=True, tasks=("classification",)):
        entry = registry.ClassicalEntry(name, factory, tuple(tasks), consumes_epochs)
        monkeypatch.setitem(registry.CLASSICAL_REGISTRY, name, entry)
        return name

    return register


@pytest.fixture
def test_estimators(register_estimator):
    """Registers LogPowerLogReg, NeedsGroupsLogReg and ReportingLogReg under their names."""
    ReportingLogReg.workdirs = []
    for cls in (LogPowerLogReg, NeedsGroupsLogReg, ReportingLogReg):
        register_estimator(cls.__name__, cls)
    return {cls.__name__: cls for cls in (LogPowerLogReg, NeedsGroupsLogReg, ReportingLogReg)}


@pytest.fixture(scope="session")
def small_epochs():
    """Synthetic motor imagery at loop-test size: 5 subjects x 16 windows, 19 ch x 100 samples."""
    from coco_pipe.datasets import make_motor_imagery

    return make_motor_imagery(n_subjects=5, n_epochs_per_class=8, sfreq=100.0, tmax=1.0,
                              random_state=0, return_epochs=False)  # fmt: skip
