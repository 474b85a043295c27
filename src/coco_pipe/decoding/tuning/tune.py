"""One study per (model, outer fold): run trials until the study holds its budget, then
give the experiment the best config to refit (see ``docs/tuning.md``)."""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...tracking import FOLD_TAG, FoldReport
from ..builders import build_estimator
from ..configs.tuning import ParamSpec, TuningConfig
from ..metrics import Metric, resolve_metrics
from ..splits import inner_splits
from .objective import ERROR_ATTR, TrialObjective, max_epochs
from .space import apply_params, as_spec, check_search_space, grid_from_space, is_classical
from .study import (
    SURPLUS_ATTR,
    budget_trials,
    default_study_name,
    has_complete_trial,
    make_pruner,
    make_sampler,
    open_study,
    optuna_verbosity,
    redact_url,
    study_identity,
    study_summary,
    wait_for_others,
)

if TYPE_CHECKING:  # pragma: no cover
    from ...data import DataInfo, EpochsData
    from ...tracking import Tracker

logger = logging.getLogger(__name__)

#: Stop a worker whose first trials all fail (a config error, not bad luck).
MAX_INITIAL_FAILURES = 3


@dataclass
class TuningOutcome:
    """What one study gives back to the experiment loop.

    Attributes
    ----------
    best_config : model config
        A new, validated config with the best parameters applied (the outer fold refits it).
    best_params : dict
        ``{param_path: value}`` of the best trial.
    best_value : float
        Mean inner-CV score of the best trial.
    n_trials, n_pruned, n_complete, n_failed : int
        Trials in the study (over all workers sharing it; surplus trials excluded).
    study_summary : DataFrame
        One row per trial (``Study.trials_dataframe`` columns).
    report : FoldReport
        Params ``tuning.best.<path>``, metrics ``tuning.best_value``, ``tuning.n_pruned``,
        ... and the study summary CSV as a ``tuning`` artifact, for the fold run.
    study_name : str
        The Optuna study name.
    study : optuna.Study or None
        The study itself (in memory or attached to its storage).
    """

    best_config: Any
    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    n_pruned: int
    n_complete: int
    study_summary: pd.DataFrame
    report: FoldReport
    n_failed: int = 0
    study_name: str = ""
    metric: str = ""
    direction: str = "maximize"
    study: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _fold_from_run(tracker, fold_run_id) -> int | None:
    if tracker is None or fold_run_id is None:
        return None
    try:
        value = tracker.client.get_run(fold_run_id).data.tags.get(FOLD_TAG)
        return int(value) if value is not None else None
    except Exception:  # pragma: no cover - a store that cannot be read is reported elsewhere
        return None


def _resolve_metric(tuning: TuningConfig, metrics: list[Metric], task: str) -> Metric:
    if tuning.metric is None:
        if not metrics:
            raise ValueError("tune_model needs at least one metric (or tuning.metric)")
        return metrics[0]
    for m in metrics:
        if m.name == tuning.metric:
            return m
    return resolve_metrics([tuning.metric], task)[0]


class _WorkerProgress:
    """Optuna callback: counts this worker's trials (surplus ones excepted), moves the
    progress bar, and stops a worker whose first trials all fail while no worker has
    completed one (a config error rather than bad luck)."""

    def __init__(self, total: int, done: int, desc: str, enabled: bool):
        from tqdm.auto import tqdm

        self.n_mine = self.n_failed = 0
        self.bar = tqdm(total=total, desc=desc, leave=False,
                        disable=not (enabled and sys.stderr.isatty()))  # fmt: skip
        self.bar.update(min(done, total))

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        if trial.user_attrs.get(SURPLUS_ATTR):
            return
        self.n_mine += 1
        self.n_failed += int(trial.state == TrialState.FAIL)
        self.bar.update(1)
        if self.n_failed == self.n_mine == MAX_INITIAL_FAILURES and not has_complete_trial(study):
            study.stop()


def tune_model(
    name: str,
    model_config: Any,
    space: Mapping[str, ParamSpec | Mapping[str, Any]],
    *,
    data: EpochsData,
    train_idx: np.ndarray,
    tuning: TuningConfig,
    metrics: list[Metric],
    task: str,
    tracker: Tracker | None,
    fold_run_id: str | None,
    random_state: int,
    info: DataInfo,
    fold: int | None = None,
    study_name: str | None = None,
    verbose: bool = False,
    workdir: str | Path | None = None,
) -> TuningOutcome:
    """Search ``space`` for ``model_config`` by inner CV on one outer fold's training partition.

    Only the rows ``train_idx`` of ``data`` are ever fit or scored. They are split by
    :func:`~coco_pipe.decoding.splits.inner_splits` (grouped like the outer CV); a trial's
    value is the mean inner-validation score of the tuning metric. With ``tuning.storage``
    set, the study is shared: this call runs trials until the study holds
    ``tuning.n_trials`` trials in total (other workers' included), waits for the trials
    other workers still run (``tuning.wait_for_workers``) and returns the study's best.

    Parameters
    ----------
    name : str
        Model name (in the experiment's ``models``).
    model_config : model config
        The untuned config; trials apply the sampled values with :func:`apply_params`.
    space : dict of path -> ParamSpec
    data : EpochsData
        The whole validated data set; only ``train_idx`` rows are used.
    train_idx : ndarray of int
        The outer fold's training partition.
    tuning : TuningConfig
    metrics : list of Metric
        The experiment's metrics; the first is optimised unless ``tuning.metric`` is set.
    task : {"classification", "regression"}
    tracker : Tracker or None
        Trials become nested runs under ``fold_run_id`` (None: no tracking).
    fold_run_id : str or None
    random_state : int
        Seed of the inner splits, estimators and sampler.
    info : DataInfo
    fold : int, optional
        Outer fold number (default: read from the fold run's tags, else 0).
    study_name : str, optional
        Default ``{tuning.study_name or experiment}-{name}-fold{fold}``.
    verbose : bool
        Optuna's per-trial log lines and a progress bar (on a terminal).
    workdir : path, optional
        Folder for the study summary CSV (``tuning/study_summary.csv``), listed as a
        ``tuning`` artifact of the report; None writes no file (the summary is in the
        outcome).

    Returns
    -------
    TuningOutcome

    Examples
    --------
    >>> import numpy as np
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig, TuningConfig
    >>> from coco_pipe.data import validate_inputs
    >>> from coco_pipe.decoding.metrics import resolve_metrics
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile([0, 1], 30); X = rng.normal(size=(60, 5)) + y[:, None]
    >>> d = validate_inputs(X, y)
    >>> tcfg = TuningConfig(enabled=True, n_trials=4, sampler="random",
    ...                     search_space={"lr": {"params.C": {"type": "float", "low": 1e-3,
    ...                                                       "high": 10, "log": True}}})
    >>> out = tune_model("lr", ClassicalModelConfig(), tcfg.search_space["lr"], data=d,
    ...                  train_idx=np.arange(40), tuning=tcfg,
    ...                  metrics=resolve_metrics(["balanced_accuracy"], "classification"),
    ...                  task="classification", tracker=None, fold_run_id=None,
    ...                  random_state=0, info=d.info)
    >>> out.n_trials, 1e-3 <= out.best_params["params.C"] <= 10
    (4, True)
    """
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    space = {path: as_spec(spec) for path, spec in space.items()}
    check_search_space(model_config, space)
    train_idx = np.asarray(train_idx)
    if train_idx.ndim != 1 or len(train_idx) == 0:
        raise ValueError(
            f"train_idx must be a non-empty 1-D index array, got shape {train_idx.shape}"
        )
    metric = _resolve_metric(tuning, metrics, task)
    direction = tuning.direction or ("maximize" if metric.greater_is_better else "minimize")
    if fold is None:
        fold = _fold_from_run(tracker, fold_run_id)
        fold = 0 if fold is None else fold
    if study_name is None:
        prefix = tuning.study_name or (
            tracker.experiment_name if tracker is not None else "coco-pipe"
        )
        study_name = default_study_name(prefix, name, fold)
    y_train = data.y[train_idx]
    groups_train = data.groups[train_idx] if data.groups is not None else None
    inner = inner_splits(y_train, groups_train, tuning.inner_cv, task, random_state)
    if task == "classification":
        for j, (tr, _) in enumerate(inner):
            if len(np.unique(y_train[tr])) < 2:
                raise ValueError(
                    f"inner fold {j} of {study_name} has a single class in its training part; "
                    "use fewer tuning.inner_cv splits or more data per group"
                )
    shared = tuning.storage is not None
    # parallel workers must not draw the same random proposals
    seed = (
        int(random_state) if not shared else (int(random_state) * 1_000_003 + os.getpid()) % (2**31)
    )
    n_budget = tuning.n_trials
    if tuning.sampler == "grid":
        n_budget = min(n_budget, int(np.prod([len(v) for v in grid_from_space(space).values()])))

    # an estimator trained in epochs reports them at steps fold * max_epochs + epoch
    prototype = (
        build_estimator(model_config, info, random_state) if is_classical(model_config) else None
    )
    t_start = time.perf_counter()
    with optuna_verbosity(verbose):
        study = open_study(
            tuning, study_name, direction, make_sampler(tuning, space, seed), make_pruner(tuning),
            study_identity(data, train_idx, space, metric.name, direction, tuning, random_state),
        )  # fmt: skip
        objective = TrialObjective(
            name=name, fold=fold, model_config=model_config, space=space, data=data, train_idx=train_idx,
            inner=inner, metric=metric, maximize=direction == "maximize", info=info,
            random_state=random_state, tracker=tracker, fold_run_id=fold_run_id,
            study_name=study_name, max_epochs=max_epochs(model_config, space, prototype),
            worker=f"{socket.gethostname()}:{os.getpid()}", budget=n_budget,
        )  # fmt: skip
        n_left = n_budget - len(budget_trials(study))
        progress = _WorkerProgress(n_budget, n_budget - n_left, f"tune {name} fold {fold}", verbose)
        timeout = None if tuning.timeout is None else tuning.timeout - (time.perf_counter() - t_start)
        if n_left > 0 and (timeout is None or timeout > 0):
            # MaxTrialsCallback counts every worker's trials (running ones included) and
            # stops this one once the study holds its budget
            study.optimize(
                objective, n_trials=n_left, timeout=timeout, catch=(Exception,),
                callbacks=[MaxTrialsCallback(n_budget, states=None), progress],
            )  # fmt: skip
        progress.bar.close()
        if shared and tuning.wait_for_workers > 0:
            wait_for_others(study, tuning.wait_for_workers)
    n_mine = progress.n_mine

    trials = budget_trials(study)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    n_pruned = sum(t.state == TrialState.PRUNED for t in trials)
    n_failed = sum(t.state == TrialState.FAIL for t in trials)
    if not complete:
        errors = [t.user_attrs.get(ERROR_ATTR) for t in trials if t.user_attrs.get(ERROR_ATTR)]
        first = f"; first error: {errors[0]}" if errors else ""
        raise RuntimeError(
            f"tuning study {study_name!r} has no complete trial ({len(trials)} trial(s): "
            f"{n_pruned} pruned, {n_failed} failed){first}"
        )
    best = (
        max(complete, key=lambda t: t.value)
        if direction == "maximize"
        else min(complete, key=lambda t: t.value)
    )
    best_params = {path: best.params[path] for path in space if path in best.params}
    outcome = TuningOutcome(
        best_config=apply_params(model_config, best_params), best_params=best_params,
        best_value=float(best.value), n_trials=len(trials), n_pruned=n_pruned,
        n_complete=len(complete), n_failed=n_failed, study_summary=study_summary(study),
        report=FoldReport(), study_name=study_name, metric=metric.name, direction=direction,
        study=study, extra={"n_trials_this_worker": n_mine, "best_trial": best.number},
    )  # fmt: skip
    outcome.report = _report(outcome, tuning, time.perf_counter() - t_start, workdir)
    logger.info(
        "%s: best %s=%.4f with %s (%d trials, %d pruned)",
        study_name, metric.name, best.value, best_params, len(trials), n_pruned,
    )  # fmt: skip
    return outcome


def _report(outcome: TuningOutcome, tuning: TuningConfig, seconds: float, workdir) -> FoldReport:
    """What the fold run records of its study: ``tuning.best.<path>`` params, counts,
    and the study summary CSV (written under ``workdir``)."""
    params: dict[str, Any] = {f"tuning.best.{k}": v for k, v in outcome.best_params.items()}
    params.update({
        "tuning.metric": outcome.metric, "tuning.direction": outcome.direction,
        "tuning.sampler": tuning.sampler, "tuning.pruner": tuning.pruner,
        "tuning.n_trials": tuning.n_trials, "tuning.inner_cv": tuning.inner_cv,
        "tuning.study_name": outcome.study_name, "tuning.storage": redact_url(tuning.storage),
    })  # fmt: skip
    metrics = {
        "tuning.best_value": outcome.best_value,
        "tuning.n_trials": float(outcome.n_trials),
        "tuning.n_complete": float(outcome.n_complete),
        "tuning.n_pruned": float(outcome.n_pruned),
        "tuning.n_failed": float(outcome.n_failed),
        "tuning.n_trials_this_worker": float(outcome.extra["n_trials_this_worker"]),
        "tuning.seconds": float(seconds),
    }
    artifacts: list[tuple[str, Path]] = []
    if workdir is not None:
        path = Path(workdir) / "tuning" / "study_summary.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".csv.tmp")
        outcome.study_summary.to_csv(tmp, index=False)
        tmp.replace(path)
        artifacts.append(("tuning", path))
    return FoldReport(
        params=params,
        metrics=metrics,
        tags={"tuning.best_trial": str(outcome.extra["best_trial"])},
        artifacts=artifacts,
    )


__all__ = ["MAX_INITIAL_FAILURES", "TuningOutcome", "tune_model"]
