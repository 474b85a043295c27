"""Optuna studies: samplers, pruners, the storage they live in, and what a shared study
was made for (its identity), so that workers joining it solve the same problem."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from ...data import EpochsData, data_fingerprint
from ..configs.tuning import ParamSpec, TuningConfig
from .space import as_spec, grid_from_space

logger = logging.getLogger(__name__)

#: Trial user attribute marking a trial started after the study's budget was used up by
#: other workers (told PRUNED at once, never evaluated, left out of every count).
SURPLUS_ATTR = "coco_pipe.surplus"
#: Study user attribute: what the study was made for (see :func:`study_identity`).
IDENTITY_ATTR = "coco_pipe.identity"
#: Heartbeat of trials in a shared storage; a trial silent for 4 beats is marked FAIL.
HEARTBEAT_SECONDS = 30


def default_study_name(prefix: str, model: str, fold: int) -> str:
    """``{prefix}-{model}-fold{fold}``: one study per (model, outer fold)."""
    return f"{prefix}-{model}-fold{fold}"


def make_sampler(tuning: TuningConfig, space: Mapping[str, ParamSpec], seed: int):
    """The Optuna sampler ``tuning.sampler`` names (``tpe``, ``random`` or ``grid``)."""
    import optuna

    if tuning.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if tuning.sampler == "grid":
        return optuna.samplers.GridSampler(grid_from_space(space), seed=seed)
    return optuna.samplers.TPESampler(n_startup_trials=tuning.n_startup_trials, seed=seed)


def make_pruner(tuning: TuningConfig):
    """The Optuna pruner ``tuning.pruner`` names (``median``, ``hyperband`` or ``none``)."""
    import optuna

    if tuning.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=tuning.n_startup_trials, n_warmup_steps=tuning.n_warmup_steps
        )
    if tuning.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto")
    return optuna.pruners.NopPruner()


def open_storage(url: str | None):
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


def open_study(
    tuning: TuningConfig, study_name: str, direction: str, sampler, pruner, identity: dict
):
    """Create or join the study; a shared study must have been made for the same problem."""
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    last_exc: Exception | None = None
    for attempt in range(8):  # several workers may create the tables / study at once
        try:
            study = optuna.create_study(
                storage=open_storage(tuning.storage), sampler=sampler, pruner=pruner,
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


def study_identity(
    data: EpochsData,
    train_idx: np.ndarray,
    space: Mapping[str, ParamSpec],
    metric: str,
    direction: str,
    tuning: TuningConfig,
    random_state: int,
) -> dict[str, Any]:
    """What a study is made for: the data, the outer fold's training rows, the search
    space, metric, direction and inner CV (a worker with other values may not join)."""
    return {
        "data": data_fingerprint(data),
        "train_idx": hashlib.sha256(np.asarray(train_idx, dtype=np.int64).tobytes()).hexdigest()[:16],
        "space": json.dumps({k: as_spec(v).model_dump(mode="json") for k, v in sorted(space.items())},
                            sort_keys=True, default=str),
        "metric": metric, "direction": direction, "inner_cv": tuning.inner_cv,
        "inner_seed": int(random_state),
    }  # fmt: skip


@contextmanager
def optuna_verbosity(verbose: bool) -> Iterator[None]:
    """Optuna logs each trial (INFO) when ``verbose``, only warnings otherwise."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def budget_trials(study) -> list:
    """Trials that use the study's budget (every trial except surplus ones)."""
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(SURPLUS_ATTR)]


def has_complete_trial(study) -> bool:
    """Whether any worker completed a trial of ``study``."""
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def study_summary(study) -> pd.DataFrame:
    """``Study.trials_dataframe()`` without the surplus trials."""
    df = study.trials_dataframe()
    col = f"user_attrs_{SURPLUS_ATTR}"
    if col in df.columns:
        df = df[df[col] != True].drop(columns=[col])  # noqa: E712 - NaN/True/False column
    return df.reset_index(drop=True)


def wait_for_others(study, seconds: float) -> None:
    """Wait up to ``seconds`` for the trials other workers still run (crashed workers'
    trials are failed by their heartbeat)."""
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


__all__ = [
    "HEARTBEAT_SECONDS",
    "IDENTITY_ATTR",
    "SURPLUS_ATTR",
    "budget_trials",
    "default_study_name",
    "has_complete_trial",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "open_study",
    "optuna_verbosity",
    "redact_url",
    "study_identity",
    "study_summary",
    "wait_for_others",
]
