"""Tuning workers: extra processes (on any machine) that join an experiment's shared
studies and run their trials (see ``docs/tuning.md``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ...tracking import Tracker
from ..configs import ExperimentConfig
from ..prepare import as_experiment_config, model_configs, prepare_inputs
from .space import check_tuning
from .study import default_study_name
from .tune import TuningOutcome, tune_model


def run_tuning_worker(
    config: ExperimentConfig | dict | str | Path,
    X: Any,
    y: Any = None,
    sample_metadata: pd.DataFrame | None = None,
    *,
    model: str | None = None,
    fold: int | None = None,
    sfreq: float | None = None,
    ch_names: list[str] | None = None,
    parent_run_id: str | None = None,
    verbose: bool | None = None,
) -> dict[tuple[str, int], TuningOutcome]:
    """Join the shared studies of an experiment as one more worker.

    Validates the data and recomputes the outer folds exactly as
    :meth:`Experiment.run <coco_pipe.decoding.experiment.Experiment.run>` does, then
    runs trials of the study of every (model, fold) asked for until each holds
    ``tuning.n_trials`` trials. Start as many workers as you like, on any machine that
    reaches ``tuning.storage`` and has the same data; the experiment itself joins the
    same studies and refits the best parameters (see ``docs/tuning.md``).

    Parameters
    ----------
    config : ExperimentConfig | dict | str | Path
        The experiment's config; ``tuning.enabled`` and ``tuning.storage`` must be set.
    X, y, sample_metadata, sfreq, ch_names
        As for ``Experiment.run``.
    model : str, optional
        One tuned model (default: every model in ``tuning.search_space``).
    fold : int, optional
        One outer fold (default: all).
    parent_run_id : str, optional
        An MLflow run to nest this worker's trial runs under (default: trials are only
        recorded in the Optuna storage).
    verbose : bool, optional
        Default: ``config.verbose``.

    Returns
    -------
    dict mapping (model, fold) to TuningOutcome

    Examples
    --------
    >>> outcomes = run_tuning_worker("projects/quickstart/config.yaml", epochs,
    ...                              model="logreg", fold=0)       # doctest: +SKIP
    """
    cfg = as_experiment_config(config)
    tuning = cfg.tuning
    if not tuning.enabled or not tuning.search_space:
        raise ValueError(
            "run_tuning_worker needs tuning.enabled=True and a non-empty tuning.search_space"
        )
    if tuning.storage is None:
        raise ValueError(
            "run_tuning_worker shares studies through tuning.storage, which is None (in memory); "
            "set it to a database URL such as sqlite:///optuna.db or postgresql://user@host/db"
        )
    names = list(tuning.search_space) if model is None else [model]
    for n in names:
        if n not in tuning.search_space or n not in cfg.models:
            raise ValueError(
                f"model={n!r} has no search space; tuned models: {', '.join(tuning.search_space)}"
            )
    data, metrics, splits = prepare_inputs(cfg, X, y, sample_metadata, sfreq=sfreq, ch_names=ch_names)
    folds = list(range(len(splits))) if fold is None else [fold]
    for k in folds:
        if not 0 <= k < len(splits):
            raise ValueError(f"fold={k} is out of range: the outer CV has {len(splits)} folds")
    check_tuning(tuning, model_configs(cfg), cfg.task)
    tracker = None
    if parent_run_id is not None:
        tracker = Tracker(cfg.tracking.tracking_uri, cfg.tracking.experiment_name)
    prefix = tuning.study_name or cfg.tracking.experiment_name
    verbose = cfg.verbose if verbose is None else verbose
    out: dict[tuple[str, int], TuningOutcome] = {}
    for n in names:
        for k in folds:
            out[(n, k)] = tune_model(
                n, cfg.models[n], tuning.search_space[n], data=data, train_idx=splits[k][0],
                tuning=tuning, metrics=metrics, task=cfg.task, tracker=tracker,
                fold_run_id=parent_run_id, random_state=cfg.random_state + k, info=data.info,
                fold=k, study_name=default_study_name(prefix, n, k), verbose=verbose,
            )  # fmt: skip
    return out


__all__ = ["run_tuning_worker"]
