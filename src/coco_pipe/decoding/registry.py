"""The classical estimator registry: names accepted by ``ClassicalModelConfig.estimator``.

A leaf of the decoding layer: it imports scikit-learn and, lazily, the coco-pipe
baselines table (:data:`coco_pipe.decoding.baselines.BASELINES`); nothing here imports
configs, builders or the experiment loop, so configs can validate names against it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator


@dataclass(frozen=True)
class ClassicalEntry:
    """One registry row: a factory returning an unfitted estimator.

    ``consumes_epochs``: the estimator takes 3-D epochs itself (CSP, covariances,
    band power) and is not wrapped in the vectorizing pipeline.
    """

    name: str
    factory: Callable[..., BaseEstimator]
    tasks: tuple[str, ...]
    consumes_epochs: bool = False
    description: str = ""


CLASSICAL_REGISTRY: dict[str, ClassicalEntry] = {}
_BUILTINS_LOADED = False


def register_classical(
    name: str,
    factory: Callable[..., BaseEstimator],
    *,
    tasks: tuple[str, ...] = ("classification",),
    consumes_epochs: bool = False,
    description: str = "",
) -> None:
    """Register an estimator factory under ``name`` for ``ClassicalModelConfig``."""
    CLASSICAL_REGISTRY[name] = ClassicalEntry(
        name, factory, tuple(tasks), consumes_epochs, description
    )


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    from sklearn import discriminant_analysis as da
    from sklearn import dummy, ensemble, linear_model, neighbors, svm

    cls_ = ("classification",)
    reg_ = ("regression",)
    for name, factory, tasks in [
        ("LogisticRegression", linear_model.LogisticRegression, cls_),
        ("RidgeClassifier", linear_model.RidgeClassifier, cls_),
        ("LinearDiscriminantAnalysis", da.LinearDiscriminantAnalysis, cls_),
        ("LDA", da.LinearDiscriminantAnalysis, cls_),
        ("SVC", svm.SVC, cls_),
        ("LinearSVC", svm.LinearSVC, cls_),
        ("KNeighborsClassifier", neighbors.KNeighborsClassifier, cls_),
        ("RandomForestClassifier", ensemble.RandomForestClassifier, cls_),
        ("HistGradientBoostingClassifier", ensemble.HistGradientBoostingClassifier, cls_),
        ("DummyClassifier", dummy.DummyClassifier, cls_),
        ("LinearRegression", linear_model.LinearRegression, reg_),
        ("Ridge", linear_model.Ridge, reg_),
        ("Lasso", linear_model.Lasso, reg_),
        ("ElasticNet", linear_model.ElasticNet, reg_),
        ("SVR", svm.SVR, reg_),
        ("RandomForestRegressor", ensemble.RandomForestRegressor, reg_),
        ("HistGradientBoostingRegressor", ensemble.HistGradientBoostingRegressor, reg_),
        ("DummyRegressor", dummy.DummyRegressor, reg_),
    ]:
        register_classical(name, factory, tasks=tasks)
    from .baselines import BASELINES  # motor imagery, SSVEP, ERP (baselines/table.py)

    for name, factory, tasks, description in BASELINES:
        register_classical(name, factory, tasks=tasks, consumes_epochs=True, description=description)


def classical_names() -> list[str]:
    """Names accepted by ``ClassicalModelConfig.estimator``."""
    _load_builtins()
    return sorted(CLASSICAL_REGISTRY)


def get_classical(name: str) -> ClassicalEntry:
    """Registry lookup with a helpful error listing close names."""
    _load_builtins()
    if name not in CLASSICAL_REGISTRY:
        close = difflib.get_close_matches(name, list(CLASSICAL_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown estimator {name!r}{hint} (known: {', '.join(sorted(CLASSICAL_REGISTRY))})"
        )
    return CLASSICAL_REGISTRY[name]


def check_classical_config(name: str, params: dict[str, Any]) -> None:
    """Raise ``ValueError`` for an unknown estimator name or parameter (listing close names)."""
    entry = get_classical(name)
    valid = set(entry.factory().get_params(deep=True))
    for key in params:
        if key not in valid:
            close = difflib.get_close_matches(key, sorted(valid), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(
                f"unknown parameter {key!r} for estimator {name!r}{hint} "
                f"(valid: {', '.join(sorted(valid))})"
            )




__all__ = [
    "ClassicalEntry",
    "CLASSICAL_REGISTRY",
    "register_classical",
    "classical_names",
    "get_classical",
    "check_classical_config",
]
