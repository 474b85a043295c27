"""What an experiment config and its data become before anything is fitted.

Both the experiment loop (:mod:`coco_pipe.decoding.experiment`) and the tuning workers
(:mod:`coco_pipe.decoding.tuning.worker`) start here, so that a worker recomputes the
very outer folds the experiment uses. Nothing in this module fits, tracks or imports
the loop.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import EpochsData, validate_inputs
from ..data.units import canonical_unit
from .configs import ClassicalModelConfig, ExperimentConfig
from .metrics import Metric, resolve_metrics
from .splits import make_splits

#: Name of the chance-level model added when ``chance.dummy`` is set.
CHANCE_MODEL = "chance"


def as_experiment_config(config: ExperimentConfig | dict | str | Path) -> ExperimentConfig:
    """An :class:`ExperimentConfig` from a config, its dict form or a YAML path.

    Examples
    --------
    >>> cfg = as_experiment_config({"models": {"lr": {"estimator": "LogisticRegression"}}})
    >>> list(cfg.models)
    ['lr']
    """
    if isinstance(config, ExperimentConfig):
        return config
    if isinstance(config, (str, Path)):
        return ExperimentConfig.from_yaml(config)
    if isinstance(config, dict):
        return ExperimentConfig.model_validate(config)
    raise TypeError(
        f"config must be an ExperimentConfig, dict or YAML path, got {type(config).__name__}"
    )


def model_configs(cfg: ExperimentConfig) -> dict[str, Any]:
    """The configured models plus, with ``chance.dummy``, the chance-level dummy model.

    Examples
    --------
    >>> cfg = as_experiment_config({"models": {"lr": {"estimator": "LogisticRegression"}}})
    >>> list(model_configs(cfg))
    ['lr', 'chance']
    """
    models = dict(cfg.models)
    if cfg.chance.dummy and CHANCE_MODEL not in models:
        classification = cfg.task == "classification"
        models[CHANCE_MODEL] = ClassicalModelConfig(
            estimator="DummyClassifier" if classification else "DummyRegressor",
            params={"strategy": "prior" if classification else "mean"},
            scale=False,
        )
    return models


def prepare_inputs(
    cfg: ExperimentConfig,
    X: Any,
    y: Any = None,
    sample_metadata: pd.DataFrame | None = None,
    *,
    sfreq: float | None = None,
    ch_names: list[str] | None = None,
    unit: str | None = None,
) -> tuple[EpochsData, list[Metric], list[tuple[np.ndarray, np.ndarray]]]:
    """Validate the data, resolve the metrics and make the outer splits of ``cfg``.

    Everything that can be wrong with the data and the CV settings raises here, before
    any fitting or tracking write.

    Parameters
    ----------
    cfg : ExperimentConfig
    X, y, sample_metadata, sfreq, ch_names, unit
        As for :meth:`Experiment.run <coco_pipe.decoding.experiment.Experiment.run>`
        (``unit`` None: ``cfg.data.unit``, else volts).

    Returns
    -------
    (EpochsData, list of Metric, list of (train_idx, test_idx))

    Examples
    --------
    >>> import numpy as np
    >>> cfg = as_experiment_config({"models": {"lr": {"estimator": "LogisticRegression"}},
    ...                             "cv": {"strategy": "stratified", "n_splits": 2}})
    >>> data, metrics, splits = prepare_inputs(cfg, np.random.rand(8, 3), [0, 1] * 4)
    >>> len(splits), metrics[0].name
    (2, 'balanced_accuracy')
    """
    data = validate_inputs(
        X, y, sample_metadata, task=cfg.task, group_key=cfg.cv.group_key,
        sfreq=sfreq, ch_names=ch_names,
    )  # fmt: skip
    warn_single_class_groups(cfg, data)
    if unit is None:
        unit = cfg.data.unit if cfg.data is not None else "V"
    data.unit = canonical_unit(unit)
    return data, resolve_metrics(cfg.metrics, cfg.task), make_splits(cfg.cv, data, cfg.random_state)


def single_class_groups(data: EpochsData) -> dict[str, Any]:
    """Groups whose windows all have one class: ``{group: that class}``.

    Examples
    --------
    >>> import numpy as np
    >>> from coco_pipe.data import validate_inputs
    >>> meta = pd.DataFrame({"Subject": ["a", "a", "b", "b"]})
    >>> d = validate_inputs(np.random.rand(4, 3), [0, 1, 1, 1], meta, group_key="Subject")
    >>> single_class_groups(d)
    {'b': 1}
    """
    if data.groups is None or data.task != "classification":
        return {}
    frame = pd.DataFrame({"g": data.groups, "y": data.y})
    counts = frame.groupby("g", sort=True)["y"].agg(["nunique", "first"])
    return {str(g): _plain(row["first"]) for g, row in counts.iterrows() if row["nunique"] == 1}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def warn_single_class_groups(cfg: ExperimentConfig, data: EpochsData) -> None:
    """Warn, under a stratified strategy, about groups that hold a single class: their
    folds cannot be stratified (and a within-group score of them is meaningless)."""
    if "stratified" not in cfg.cv.strategy:
        return
    single = single_class_groups(data)
    if single:
        names = ", ".join(f"{g!r} (only {c!r})" for g, c in list(single.items())[:10])
        more = f" and {len(single) - 10} more" if len(single) > 10 else ""
        warnings.warn(
            f"cv.strategy={cfg.cv.strategy!r} stratifies by class, but {len(single)} group(s) of "
            f"sample_metadata[{cfg.cv.group_key!r}] hold a single class: {names}{more}; their "
            "windows cannot be stratified. Check the labels of these groups, or drop them.",
            UserWarning,
            stacklevel=3,
        )


__all__ = [
    "CHANCE_MODEL", "as_experiment_config", "model_configs", "prepare_inputs",
    "single_class_groups", "warn_single_class_groups",
]
