"""One trial: sample the space, cross-validate the config on the inner splits of the
outer fold's training partition, report intermediate values to the pruner, and record
the trial as a nested tracking run under its fold's run."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...tracking import FOLD_TAG, MODEL_TAG, ROLE_TAG
from ..builders import build_estimator
from ..configs.tuning import ParamSpec
from ..metrics import Metric, score_all
from ..protocol import final_step, fit_failure, predict_scores, set_epoch_callback
from ..streaming import fit_streamed, scoring_split_streamed
from .space import apply_params, as_spec, suggest
from .study import SURPLUS_ATTR, budget_trials

#: ``coco_pipe.role`` tag of trial runs.
TRIAL_ROLE = "trial"
#: Trial user attribute: ``host:pid`` of the worker that ran it.
WORKER_ATTR = "coco_pipe.worker"
#: Trial user attribute: the error of a failed trial.
ERROR_ATTR = "coco_pipe.error"


def score(metric: Metric, estimator, X: np.ndarray, y: np.ndarray) -> float:
    """``metric`` of a fitted estimator on ``(X, y)`` (a pipeline transforms X once)."""
    scorer, Xs = scoring_split_streamed(estimator, X)
    y_pred = scorer.predict(Xs)
    y_score = predict_scores(scorer, Xs) if metric.needs_score else None
    return float(score_all([metric], y, y_pred, y_score)[metric.name])


def epoch_value(row: Mapping[str, Any], metric: Metric, maximize: bool) -> float | None:
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


def max_epochs(model_config: Any, space: Mapping[str, ParamSpec], prototype: Any = None) -> int:
    """Most epochs one fit can report: per-epoch values of inner fold ``j`` go to steps
    ``j * max_epochs + epoch`` so that every trial reports (fold, epoch) at the same step."""
    for path, spec in space.items():
        if path.rsplit(".", 1)[-1] in _EPOCH_PARAMS:
            spec = as_spec(spec)
            return int(max(spec.choices) if spec.type == "categorical" else spec.high)
    epochs = getattr(getattr(model_config, "optim", None), "epochs", None)
    if epochs:
        return int(epochs)
    if prototype is not None:
        params = final_step(prototype).get_params(deep=False)
        for key in _EPOCH_PARAMS:
            if isinstance(params.get(key), int) and params[key] > 0:
                return int(params[key])
    return _DEFAULT_EPOCH_STRIDE


class TrialObjective:
    """The objective of one study: each call runs one trial (inner CV on the training
    partition, intermediate reports, tracking).

    ``budget`` is the study's ``n_trials``. Optuna's ``MaxTrialsCallback`` stops a worker
    once the study holds that many trials, but it looks only after a trial ends, so two
    workers may both start the last one; the later of them is marked surplus
    (``SURPLUS_ATTR``) and pruned at once, which keeps the total exact.
    """

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
        budget,
    ):
        self.name, self.fold = name, fold
        self.model_config, self.space = model_config, space
        self.data, self.train_idx, self.inner = data, train_idx, inner
        self.metric, self.maximize = metric, maximize
        self.info, self.random_state = info, random_state
        self.tracker, self.fold_run_id, self.study_name = tracker, fold_run_id, study_name
        self.max_epochs = max_epochs
        self.worker = worker
        self.budget = budget

    def __call__(self, trial) -> float:
        """The objective: evaluate ``trial`` and close its tracking run.

        Pruned trials raise ``optuna.TrialPruned``; failures re-raise (the study records
        them as FAIL and goes on).
        """
        import optuna

        earlier = [t for t in budget_trials(trial.study) if t.number < trial.number]
        if len(earlier) >= self.budget:  # another worker took the last slot meanwhile
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise optuna.TrialPruned("surplus trial: the study's budget is used up")
        trial.set_user_attr(WORKER_ATTR, self.worker)
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
            params.update({path: suggest(trial, path, spec) for path, spec in self.space.items()})
            cfg = apply_params(self.model_config, params)
            value = self._cross_validate(trial, cfg, steps, inner_scores)
            if not math.isfinite(value):
                raise ValueError(
                    f"{self.metric.name} is not finite on any inner fold ({inner_scores})"
                )
        except optuna.TrialPruned:
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
                value = epoch_value(row, self.metric, self.maximize)
                step = _j * self.max_epochs + _seen[0]
                _seen[0] += 1
                if value is None or _seen[0] > self.max_epochs:  # (more epochs than announced)
                    return None
                trial.report(value, step)
                steps.append(("intermediate_value", value, step))
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at inner fold {_j}, epoch {_seen[0]}")
                return None

            per_epoch = set_epoch_callback(est, on_epoch)
            groups = data.groups[rows_tr] if data.groups is not None else None
            fit_streamed(est, data.windows(rows_tr), data.y[rows_tr], groups)
            reason = fit_failure(est)
            if reason is not None:
                raise RuntimeError(f"inner fold {j}: {reason}")
            value = score(self.metric, est, data.windows(rows_va), data.y[rows_va])
            inner_scores.append(value)
            if math.isfinite(value):
                scored.append(value)
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


__all__ = [
    "ERROR_ATTR",
    "TRIAL_ROLE",
    "WORKER_ATTR",
    "TrialObjective",
    "epoch_value",
    "max_epochs",
    "score",
]
