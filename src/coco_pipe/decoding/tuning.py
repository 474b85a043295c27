"""Optuna search inside one outer fold's training partition.

For every (model, outer fold) the experiment runs one Optuna study. Each trial applies
sampled values to a copy of the model config, cross-validates it on **inner splits of
the fold's training partition only** (grouped like the outer CV), and reports the
running score after each inner fold (classical models) or after each epoch (neural
models, through ``NeuralDecoder(epoch_callback=...)``) so that the pruner can stop it
early. The best parameters give the config that the outer fold refits on its whole
training partition and scores on its test partition.

Trials are nested MLflow runs under their fold's run. With ``tuning.storage`` set to a
database URL, several worker processes (on one or several machines) share one study per
(model, fold): each runs trials until the study holds ``n_trials`` trials in total (see
``docs/tuning.md`` and :func:`run_tuning_worker`).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import logging
import math
import os
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sklearn.pipeline import Pipeline

from ..tracking import FOLD_TAG, MODEL_TAG, ROLE_TAG, FoldReport
from .builders import build_estimator, fit_estimator
from .configs.tuning import ParamSpec, TuningConfig
from .metrics import Metric, resolve_metrics, score_all
from .registry import get_classical
from .splits import inner_splits

if TYPE_CHECKING:  # pragma: no cover
    from ..data import DataInfo, EpochsData
    from ..tracking import Tracker

logger = logging.getLogger(__name__)

TRIAL_ROLE = "trial"
#: Trial user attribute marking a trial started after the study's budget was used up by
#: other workers (told FAIL at once, never evaluated, left out of every count).
SURPLUS_ATTR = "coco_pipe.surplus"
WORKER_ATTR = "coco_pipe.worker"
ERROR_ATTR = "coco_pipe.error"
IDENTITY_ATTR = "coco_pipe.identity"
#: Heartbeat of trials in a shared storage; a trial silent for 4 beats is marked FAIL.
HEARTBEAT_SECONDS = 30
#: Stop a worker whose first trials all fail (a config error, not bad luck).
_MAX_INITIAL_FAILURES = 3


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


# ---------------------------------------------------------------------------------------------
# search space: paths into a model config
# ---------------------------------------------------------------------------------------------
def _estimator_param_names(estimator: str) -> list[str]:
    return sorted(get_classical(estimator).factory().get_params(deep=True))


def _is_classical(cfg: Any) -> bool:
    return getattr(cfg, "kind", None) == "classical" and hasattr(cfg, "estimator")


def _paths(cfg: BaseModel, prefix: str = "") -> tuple[list[str], list[str]]:
    """(leaf paths, free-form dict prefixes) of a config."""
    leaves: list[str] = []
    open_dicts: list[str] = []
    for name in type(cfg).model_fields:
        if name == "kind":
            continue
        value = getattr(cfg, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            sub_leaves, sub_open = _paths(value, path + ".")
            leaves += sub_leaves
            open_dicts += sub_open
        elif name == "params" and _is_classical(cfg):
            leaves += [f"{path}.{p}" for p in _estimator_param_names(cfg.estimator)]
        elif isinstance(value, dict):
            open_dicts.append(path)
        else:
            leaves.append(path)
    return leaves, open_dicts


def valid_param_paths(model_config: BaseModel) -> list[str]:
    """Dotted paths a search space may name for ``model_config``.

    Free-form dicts (``model_kwargs``) appear as ``model_kwargs.<key>``.

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> "params.C" in valid_param_paths(ClassicalModelConfig(estimator="LogisticRegression"))
    True
    """
    leaves, open_dicts = _paths(model_config)
    return leaves + [f"{p}.<key>" for p in open_dicts]


def _check_path(model_config: BaseModel, path: str) -> None:
    leaves, open_dicts = _paths(model_config)
    if path in leaves:
        return
    for prefix in open_dicts:
        rest = path[len(prefix) + 1 :] if path.startswith(prefix + ".") else ""
        if rest and "." not in rest:
            return
    close = difflib.get_close_matches(path, leaves, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    valid = leaves + [f"{p}.<key>" for p in open_dicts]
    raise ValueError(
        f"search-space path {path!r} does not address a field of {_describe(model_config)}{hint} "
        f"(valid paths: {', '.join(valid)})"
    )


def _describe(cfg: Any) -> str:
    if _is_classical(cfg):
        return f"ClassicalModelConfig(estimator={cfg.estimator!r})"
    key = getattr(cfg, "model_key", None) or getattr(
        getattr(cfg, "backbone", None), "model_key", None
    )
    return f"{type(cfg).__name__}({key!r})" if key else type(cfg).__name__


def apply_params(model_config: BaseModel, params: Mapping[str, Any]) -> BaseModel:
    """A new, validated config with ``{dotted_path: value}`` set.

    Parameters
    ----------
    model_config : pydantic model config
    params : mapping
        E.g. ``{"params.C": 0.1}`` or ``{"optim.lr": 1e-4, "lora.r": 8}``.

    Returns
    -------
    config of the same type, validated (bad values raise ``ValueError``).

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> cfg = apply_params(ClassicalModelConfig(estimator="LogisticRegression"), {"params.C": 0.5})
    >>> cfg.params["C"]
    0.5
    """
    data = model_config.model_dump()
    for path, value in params.items():
        parts = path.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(
                    f"parameter path {path!r}: {'.'.join(parts[: i + 1])!r} is not a field"
                )
            if not isinstance(node[part], dict):
                raise ValueError(
                    f"parameter path {path!r}: {'.'.join(parts[: i + 1])!r} is not a section"
                )
            node = node[part]
        node[parts[-1]] = _plain(value)
    return type(model_config).model_validate(data)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (configs and YAML want plain types)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _classical_parts(cfg: Any) -> list[Any]:
    parts = [cfg] if _is_classical(cfg) else []
    head = getattr(cfg, "head", None)
    if head is not None and _is_classical(head):
        parts.append(head)
    return parts


def _check_estimator_values(cfg: Any, path: str, value: Any) -> None:
    """Let scikit-learn validate the constructor values (types, ranges) up front."""
    for part in _classical_parts(cfg):
        est = get_classical(part.estimator).factory().set_params(**part.params)
        validate = getattr(est, "_validate_params", None)
        if not callable(validate) or not hasattr(est, "_parameter_constraints"):
            continue  # not a scikit-learn estimator with declared constraints
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"search-space path {path!r}: value {value!r} is rejected: {exc}"
            ) from exc


def _spec(spec: ParamSpec | Mapping[str, Any]) -> ParamSpec:
    return spec if isinstance(spec, ParamSpec) else ParamSpec.model_validate(spec)


def _endpoint_values(spec: ParamSpec) -> list[Any]:
    if spec.type == "categorical":
        return list(spec.choices or [])
    if spec.type == "int":
        return [int(spec.low), int(spec.high)]
    return [float(spec.low), float(spec.high)]


def check_search_space(
    model_config: BaseModel, space: Mapping[str, ParamSpec | Mapping[str, Any]]
) -> None:
    """Raise ``ValueError`` before any fitting if ``space`` cannot be applied to ``model_config``.

    Every path must address a field of the config (the message lists the valid paths and
    close names), and the bounds / choices of every spec must give a valid config
    (pydantic validation, and scikit-learn's parameter validation for classical estimators).

    Parameters
    ----------
    model_config : ClassicalModelConfig | FrozenBackboneDecoderConfig | NeuralFineTuneConfig
    space : dict of path -> ParamSpec (or its dict form)

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig, ParamSpec
    >>> cfg = ClassicalModelConfig(estimator="LogisticRegression")
    >>> check_search_space(cfg, {"params.C": ParamSpec(type="float", low=1e-3, high=1e2, log=True)})
    >>> check_search_space(cfg, {"params.c": {"type": "float", "low": 0.1, "high": 1}})
    Traceback (most recent call last):
    ...
    ValueError: search-space path 'params.c' does not address a field of ...
    """
    if not isinstance(space, Mapping) or not space:
        raise ValueError(
            f"a search space must be a non-empty mapping of param path -> spec, got {space!r}"
        )
    for path, spec in space.items():
        if path == "kind":
            raise ValueError(
                "search-space path 'kind' cannot be tuned (it selects the config type)"
            )
        _check_path(model_config, path)
        spec = _spec(spec)
        for value in _endpoint_values(spec):
            try:
                cfg = apply_params(model_config, {path: value})
            except ValueError as exc:
                raise ValueError(
                    f"search-space path {path!r}: value {value!r} is not valid: {exc}"
                ) from exc
            _check_estimator_values(cfg, path, value)


# ---------------------------------------------------------------------------------------------
# studies: samplers, pruners, storage
# ---------------------------------------------------------------------------------------------
def default_study_name(prefix: str, model: str, fold: int) -> str:
    """``{prefix}-{model}-fold{fold}``: one study per (model, outer fold)."""
    return f"{prefix}-{model}-fold{fold}"


def grid_from_space(space: Mapping[str, ParamSpec | Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The grid-sampler search space (``ValueError`` for a float spec without step)."""
    grid = {}
    for path, spec in space.items():
        try:
            grid[path] = _spec(spec).grid_values()
        except ValueError as exc:
            raise ValueError(f"search-space path {path!r}: {exc}") from exc
    return grid


def _make_sampler(tuning: TuningConfig, space: Mapping[str, ParamSpec], seed: int):
    import optuna

    if tuning.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tuning.sampler == "grid":
        return optuna.samplers.GridSampler(grid_from_space(space), seed=seed)
    return optuna.samplers.TPESampler(n_startup_trials=tuning.n_startup_trials, seed=seed)


def _make_pruner(tuning: TuningConfig):
    import optuna

    if tuning.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=tuning.n_startup_trials, n_warmup_steps=tuning.n_warmup_steps
        )
    if tuning.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto")
    return optuna.pruners.NopPruner()


def _storage(url: str | None):
    """An Optuna storage for ``url`` (``$VAR`` expanded); SQLite waits on locks."""
    if url is None:
        return None
    import optuna

    url = os.path.expandvars(url)
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    # heartbeats let the other workers mark the trials of a crashed worker FAIL
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=4 * HEARTBEAT_SECONDS,
        )


def redact_url(url: str | None) -> str:
    """A storage URL without its password (for logs and tracking params)."""
    if url is None:
        return "memory"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL sqlalchemy parses: never log it verbatim
        return url.split("://", 1)[0] + "://***" if "://" in url else "***"


def _open_study(
    tuning: TuningConfig, study_name: str, direction: str, sampler, pruner, identity: dict
):
    """Create or join the study; a shared study must have been made for the same problem."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    last_exc: Exception | None = None
    for attempt in range(8):  # several workers may create the tables / study at once
        try:
            study = optuna.create_study(
                storage=_storage(tuning.storage), sampler=sampler, pruner=pruner,
                study_name=study_name, direction=direction, load_if_exists=True,
            )  # fmt: skip
            break
        except (SQLAlchemyError, optuna.exceptions.DuplicatedStudyError) as exc:
            last_exc = exc  # (e.g. the other worker stamped the schema version first)
            time.sleep(0.1 * (attempt + 1) * (1 + np.random.default_rng().random()))
    else:
        raise RuntimeError(
            f"could not open Optuna study {study_name!r} at {redact_url(tuning.storage)}: {last_exc}"
        ) from last_exc
    if study.direction.name.lower() != direction:
        raise ValueError(
            f"Optuna study {study_name!r} in {redact_url(tuning.storage)} was created to "
            f"{study.direction.name.lower()}, but this run wants to {direction}; "
            "use another tuning.study_name or delete the study (optuna delete-study)"
        )
    stored = study.user_attrs.get(IDENTITY_ATTR)
    if stored is None:
        study.set_user_attr(IDENTITY_ATTR, identity)
    elif stored != identity:
        diff = sorted(k for k in set(stored) | set(identity) if stored.get(k) != identity.get(k))
        raise ValueError(
            f"Optuna study {study_name!r} in {redact_url(tuning.storage)} was created for another "
            f"problem (differs in: {', '.join(diff)}); every worker must use the same data, outer "
            "fold, search space, metric and inner CV. Use another tuning.study_name or delete the "
            "study (optuna delete-study)"
        )
    return study


def _identity(
    data: EpochsData,
    train_idx: np.ndarray,
    space: Mapping[str, ParamSpec],
    metric: str,
    direction: str,
    tuning: TuningConfig,
    random_state: int,
) -> dict[str, Any]:
    from ..data import data_fingerprint

    return {
        "data": data_fingerprint(data),
        "train_idx": hashlib.sha256(np.asarray(train_idx, dtype=np.int64).tobytes()).hexdigest()[:16],
        "space": json.dumps({k: _spec(v).model_dump(mode="json") for k, v in sorted(space.items())},
                            sort_keys=True, default=str),
        "metric": metric, "direction": direction, "inner_cv": tuning.inner_cv,
        "inner_seed": int(random_state),
    }  # fmt: skip


@contextmanager
def _optuna_verbosity(verbose: bool) -> Iterator[None]:
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _suggest(trial, path: str, spec: ParamSpec) -> Any:
    if spec.type == "categorical":
        return trial.suggest_categorical(path, list(spec.choices))
    if spec.type == "int":
        return trial.suggest_int(
            path, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
        )
    return trial.suggest_float(
        path, float(spec.low), float(spec.high), step=spec.step, log=spec.log
    )


def _budget_trials(study) -> list:
    """Trials that use the study's budget (every trial except surplus ones)."""
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS_ATTR)]


# ---------------------------------------------------------------------------------------------
# one trial
# ---------------------------------------------------------------------------------------------
def _final_step(est):
    return est.steps[-1][1] if isinstance(est, Pipeline) else est


def _set_epoch_callback(est, callback: Callable[..., Any]) -> bool:
    """Give the estimator (or its pipeline's last step) the epoch callback, if it takes one."""
    final = _final_step(est)
    if "epoch_callback" in final.get_params(deep=False):
        final.set_params(epoch_callback=callback)
        return True
    return False


def _predict_score(est, X: np.ndarray):
    for method in ("predict_proba", "decision_function"):
        if hasattr(est, method):
            try:
                return getattr(est, method)(X)
            except (AttributeError, NotImplementedError):
                continue
    return None


def _score(metric: Metric, est, X: np.ndarray, y: np.ndarray) -> float:
    y_pred = est.predict(X)
    y_score = _predict_score(est, X) if metric.needs_score else None
    return float(score_all([metric], y, y_pred, y_score)[metric.name])


def _epoch_value(row: Mapping[str, Any], metric: Metric, maximize: bool) -> float | None:
    """The per-epoch value a neural trial reports: ``val_<metric>`` when logged, else
    ``val_loss`` (sign-flipped when the study maximises)."""
    key = f"val_{metric.name}"
    if key in row and row[key] is not None and math.isfinite(float(row[key])):
        value = float(row[key])
        return value if metric.greater_is_better == maximize else -value
    loss = row.get("val_loss")
    if loss is None or not math.isfinite(float(loss)):
        return None
    return -float(loss) if maximize else float(loss)


_EPOCH_PARAMS = ("epochs", "max_epochs", "n_epochs")
#: Step stride per inner fold when the number of epochs cannot be known.
_DEFAULT_EPOCH_STRIDE = 10_000


def _max_epochs(model_config: Any, space: Mapping[str, ParamSpec], prototype: Any = None) -> int:
    """Most epochs one fit can report: per-epoch values of inner fold ``j`` go to steps
    ``j * max_epochs + epoch`` so that every trial reports (fold, epoch) at the same step."""
    for path, spec in space.items():
        if path.rsplit(".", 1)[-1] in _EPOCH_PARAMS:
            spec = _spec(spec)
            return int(max(spec.choices) if spec.type == "categorical" else spec.high)
    epochs = getattr(getattr(model_config, "optim", None), "epochs", None)
    if epochs:
        return int(epochs)
    if prototype is not None:
        params = _final_step(prototype).get_params(deep=False)
        for key in _EPOCH_PARAMS:
            if isinstance(params.get(key), int) and params[key] > 0:
                return int(params[key])
    return _DEFAULT_EPOCH_STRIDE


class _Trial:
    """Runs one trial: inner CV on the training partition, intermediate reports, tracking."""

    def __init__(
        self,
        *,
        name,
        fold,
        model_config,
        space,
        data,
        train_idx,
        inner,
        metric,
        maximize,
        info,
        random_state,
        tracker,
        fold_run_id,
        study_name,
        max_epochs,
        worker,
    ):
        self.name, self.fold = name, fold
        self.model_config, self.space = model_config, space
        self.data, self.train_idx, self.inner = data, train_idx, inner
        self.metric, self.maximize = metric, maximize
        self.info, self.random_state = info, random_state
        self.tracker, self.fold_run_id, self.study_name = tracker, fold_run_id, study_name
        self.max_epochs = max_epochs
        self.worker = worker
        self.last_state: str | None = None

    def __call__(self, trial) -> float:
        """The objective: evaluate ``trial`` and close its tracking run.

        Pruned trials raise ``optuna.TrialPruned``; failures re-raise (the study records
        them as FAIL and goes on). ``self.last_state`` says how it ended.
        """
        import optuna

        self.last_state = "FAIL"
        run_id = None
        if self.tracker is not None and self.fold_run_id is not None:
            run_id = self.tracker.start_child(
                self.fold_run_id, f"{self.name}/fold-{self.fold}/trial-{trial.number}",
                tags={ROLE_TAG: TRIAL_ROLE, MODEL_TAG: self.name, FOLD_TAG: self.fold,
                      "optuna.study_name": self.study_name, "optuna.trial_number": trial.number,
                      "coco_pipe.worker": self.worker},
            )  # fmt: skip
        steps: list[tuple[str, float, int]] = []
        params: dict[str, Any] = {}
        inner_scores: list[float] = []
        t0 = time.perf_counter()
        close = functools.partial(self._close, run_id, params, steps, inner_scores, t0)
        try:
            params.update({path: _suggest(trial, path, spec) for path, spec in self.space.items()})
            cfg = apply_params(self.model_config, params)
            value = self._cross_validate(trial, cfg, steps, inner_scores)
            if not math.isfinite(value):
                raise ValueError(
                    f"{self.metric.name} is not finite on any inner fold ({inner_scores})"
                )
        except optuna.TrialPruned:
            self.last_state = "PRUNED"
            close(None, "PRUNED", "KILLED")
            raise
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr(ERROR_ATTR, msg[:1000])
            close(None, "FAIL", "FAILED", error=msg)
            raise
        except BaseException:  # KeyboardInterrupt: record, then stop
            close(None, "FAIL", "KILLED")
            raise
        self.last_state = "COMPLETE"
        close(value, "COMPLETE", "FINISHED")
        return value

    def _cross_validate(self, trial, cfg, steps, inner_scores) -> float:
        import optuna

        data, train_idx = self.data, self.train_idx
        scored: list[float] = []
        for j, (tr, va) in enumerate(self.inner):
            # absolute row numbers, all inside the outer fold's training partition
            rows_tr, rows_va = train_idx[tr], train_idx[va]
            est = build_estimator(cfg, self.info, self.random_state)
            epochs_seen = [0]

            def on_epoch(*args, _j=j, _seen=epochs_seen):
                row = args[-1] if args and isinstance(args[-1], Mapping) else {}
                value = _epoch_value(row, self.metric, self.maximize)
                step = _j * self.max_epochs + _seen[0]
                _seen[0] += 1
                if value is None or _seen[0] > self.max_epochs:  # (more epochs than announced)
                    return None
                trial.report(value, step)
                steps.append(("intermediate_value", value, step))
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at inner fold {_j}, epoch {_seen[0]}")
                return None

            per_epoch = _set_epoch_callback(est, on_epoch)
            groups = data.groups[rows_tr] if data.groups is not None else None
            fit_estimator(est, data.X[rows_tr], data.y[rows_tr], groups)
            if getattr(_final_step(est), "failed_", False):
                reason = getattr(_final_step(est), "failure_reason_", "") or "training failed"
                raise RuntimeError(f"inner fold {j}: {reason}")
            score = _score(self.metric, est, data.X[rows_va], data.y[rows_va])
            inner_scores.append(score)
            if math.isfinite(score):
                scored.append(score)
            if not per_epoch and scored:
                running = float(np.mean(scored))
                trial.report(running, j)
                steps.append(("intermediate_value", running, j))
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after inner fold {j}")
        return float(np.mean(scored)) if scored else float("nan")

    def _close(self, run_id, params, steps, inner_scores, t0, value, state, run_status, error=None):
        if run_id is None:
            return
        metrics = {"value": value, "seconds": time.perf_counter() - t0}
        step_metrics = list(steps) + [
            (f"inner.{self.metric.name}", s, j) for j, s in enumerate(inner_scores)
        ]
        tags = {"trial.state": state}
        if error:
            tags["coco_pipe.failure"] = error[:5000]
        try:
            self.tracker.log_batch(
                run_id, params=params, metrics=metrics, tags=tags, step_metrics=step_metrics
            )
        finally:
            self.tracker.end(run_id, run_status)


# ---------------------------------------------------------------------------------------------
# a study
# ---------------------------------------------------------------------------------------------
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


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not (enabled and sys.stderr.isatty()), leave=False)


def _wait_for_others(study, seconds: float) -> None:
    import optuna
    from optuna.trial import TrialState

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # trials of crashed workers
        running = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
            if not t.user_attrs.get(SURPLUS_ATTR)
        ]
        if not running:
            return
        time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    logger.warning(
        "trials still running in other workers after %.0f s; choosing the best so far", seconds
    )


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
    import optuna
    from optuna.trial import TrialState

    space = {path: _spec(spec) for path, spec in space.items()}
    check_search_space(model_config, space)
    train_idx = np.asarray(train_idx)
    if train_idx.ndim != 1 or len(train_idx) == 0:
        raise ValueError(
            f"train_idx must be a non-empty 1-D index array, got shape {train_idx.shape}"
        )
    metric = _resolve_metric(tuning, metrics, task)
    direction = tuning.direction or ("maximize" if metric.greater_is_better else "minimize")
    maximize = direction == "maximize"
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
        build_estimator(model_config, info, random_state) if _is_classical(model_config) else None
    )
    t_start = time.perf_counter()
    with _optuna_verbosity(verbose):
        study = _open_study(
            tuning, study_name, direction, _make_sampler(tuning, space, seed), _make_pruner(tuning),
            _identity(data, train_idx, space, metric.name, direction, tuning, random_state),
        )  # fmt: skip
        runner = _Trial(
            name=name, fold=fold, model_config=model_config, space=space, data=data, train_idx=train_idx,
            inner=inner, metric=metric, maximize=maximize, info=info, random_state=random_state,
            tracker=tracker, fold_run_id=fold_run_id, study_name=study_name,
            max_epochs=_max_epochs(model_config, space, prototype),
            worker=f"{socket.gethostname()}:{os.getpid()}",
        )  # fmt: skip
        n_mine = n_failed_mine = 0
        bar = _progress(n_budget, f"tune {name} fold {fold}", verbose)
        bar.update(min(len(_budget_trials(study)), n_budget))

        def objective(trial) -> float:
            earlier = [t for t in _budget_trials(study) if t.number < trial.number]
            if len(earlier) >= n_budget:  # another worker took the last slot meanwhile
                trial.set_user_attr(SURPLUS_ATTR, True)
                raise optuna.TrialPruned("surplus trial: the study's budget is used up")
            trial.set_user_attr(WORKER_ATTR, runner.worker)
            return runner(trial)

        while True:
            left = None
            if tuning.timeout is not None:
                left = tuning.timeout - (time.perf_counter() - t_start)
                if left <= 0:
                    break
            if len(_budget_trials(study)) >= n_budget:
                break
            runner.last_state = None
            # one trial per call: the budget is re-checked against other workers in between
            study.optimize(objective, n_trials=1, catch=(Exception,))
            if runner.last_state is None:  # surplus, or stopped by the sampler (grid exhausted)
                break
            n_mine += 1
            bar.update(1)
            n_failed_mine += int(runner.last_state == "FAIL")
            if n_failed_mine == n_mine == _MAX_INITIAL_FAILURES and not _complete(study):
                break
        bar.close()
        if shared and tuning.wait_for_workers > 0:
            _wait_for_others(study, tuning.wait_for_workers)

    trials = _budget_trials(study)
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
        max(complete, key=lambda t: t.value) if maximize else min(complete, key=lambda t: t.value)
    )
    best_params = {path: best.params[path] for path in space if path in best.params}
    best_config = apply_params(model_config, best_params)
    summary = _summary(study)
    report = _report(
        summary,
        best,
        best_params,
        metric,
        direction,
        tuning,
        study_name,
        n_pruned,
        n_failed,
        len(complete),
        len(trials),
        n_mine,
        time.perf_counter() - t_start,
    )
    logger.info(
        "%s: best %s=%.4f with %s (%d trials, %d pruned)",
        study_name,
        metric.name,
        best.value,
        best_params,
        len(trials),
        n_pruned,
    )
    return TuningOutcome(
        best_config=best_config, best_params=best_params, best_value=float(best.value),
        n_trials=len(trials), n_pruned=n_pruned, n_complete=len(complete), n_failed=n_failed,
        study_summary=summary, report=report, study_name=study_name, metric=metric.name,
        direction=direction, study=study,
        extra={"n_trials_this_worker": n_mine, "best_trial": best.number},
    )  # fmt: skip


def _complete(study) -> bool:
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _summary(study) -> pd.DataFrame:
    df = study.trials_dataframe()
    col = f"user_attrs_{SURPLUS_ATTR}"
    if col in df.columns:
        df = df[df[col] != True].drop(columns=[col])  # noqa: E712 - NaN/True/False column
    return df.reset_index(drop=True)


def _report(
    summary,
    best,
    best_params,
    metric,
    direction,
    tuning,
    study_name,
    n_pruned,
    n_failed,
    n_complete,
    n_trials,
    n_mine,
    seconds,
) -> FoldReport:
    params: dict[str, Any] = {f"tuning.best.{k}": v for k, v in best_params.items()}
    params.update({
        "tuning.metric": metric.name, "tuning.direction": direction, "tuning.sampler": tuning.sampler,
        "tuning.pruner": tuning.pruner, "tuning.n_trials": tuning.n_trials,
        "tuning.inner_cv": tuning.inner_cv, "tuning.study_name": study_name,
        "tuning.storage": redact_url(tuning.storage),
    })  # fmt: skip
    metrics = {
        "tuning.best_value": float(best.value),
        "tuning.n_trials": float(n_trials),
        "tuning.n_complete": float(n_complete),
        "tuning.n_pruned": float(n_pruned),
        "tuning.n_failed": float(n_failed),
        "tuning.n_trials_this_worker": float(n_mine),
        "tuning.seconds": float(seconds),
    }
    outdir = Path(tempfile.mkdtemp(prefix="coco-pipe-tuning-"))
    path = outdir / "study_summary.csv"
    tmp = path.with_suffix(".csv.tmp")
    summary.to_csv(tmp, index=False)
    tmp.replace(path)
    return FoldReport(
        params=params,
        metrics=metrics,
        tags={"tuning.best_trial": str(best.number)},
        artifacts=[("tuning", path)],
    )


# ---------------------------------------------------------------------------------------------
# workers
# ---------------------------------------------------------------------------------------------
def run_tuning_worker(
    config: Any,
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
    from .configs import ExperimentConfig
    from .experiment import Experiment

    cfg = Experiment(config).config if not isinstance(config, ExperimentConfig) else config
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
    from .experiment import prepare_inputs

    data, metrics, splits = prepare_inputs(cfg, X, y, sample_metadata, sfreq=sfreq, ch_names=ch_names)
    folds = list(range(len(splits))) if fold is None else [fold]
    for k in folds:
        if not 0 <= k < len(splits):
            raise ValueError(f"fold={k} is out of range: the outer CV has {len(splits)} folds")
    for n in names:
        check_search_space(cfg.models[n], tuning.search_space[n])
    tracker = None
    if parent_run_id is not None:
        from ..tracking import Tracker

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


__all__ = [
    "TuningOutcome",
    "check_search_space",
    "valid_param_paths",
    "apply_params",
    "grid_from_space",
    "default_study_name",
    "redact_url",
    "tune_model",
    "run_tuning_worker",
]
