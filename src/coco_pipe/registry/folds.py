"""Which fold run of an experiment to promote: ``best``, a fold number, and the words the
registered version says about that choice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..decoding.logged_model.log import MODEL_ID_TAG, best_fold_index
from ..tracking.client import FOLD_TAG, MODEL_TAG
from ..tracking.store import RunStore


@dataclass
class FoldChoice:
    """A fold run chosen for promotion and how it was chosen."""

    run: object
    fold: int
    metric: str
    value: float | None
    cv_mean: float | None
    cv_std: float | None
    n_folds: int
    how: str  # "best" or "fold"

    def mean_text(self) -> str:
        """``"0.7200 ± 0.0500"``: the fold-mean and standard deviation of the metric."""
        return "n/a" if self.cv_mean is None else f"{self.cv_mean:.4f} ± {self.cv_std:.4f}"

    def description(self, model: str, parent_id: str) -> str:
        """The note on the registered version (the best fold is an optimistic pick)."""
        value = "n/a" if self.value is None else f"{self.value:.4f}"
        mean = self.mean_text()
        if self.how == "best":
            head = (f"{model}, fold {self.fold} of experiment run {parent_id}: the best of "
                    f"{self.n_folds} folds by {self.metric} ({value}).")  # fmt: skip
            caveat = ("Picking the best fold is optimistic: expect about the fold-mean on new "
                      f"data ({self.metric} {mean} over the folds).")  # fmt: skip
        else:
            head = (f"{model}, fold {self.fold} of experiment run {parent_id}, chosen by number; "
                    f"its {self.metric} is {value}.")  # fmt: skip
            caveat = f"The cross-validated estimate is the fold-mean: {self.metric} {mean}."
        return f"{head} {caveat}"


def main_metric(store: RunStore, parent_id: str) -> tuple[str, bool]:
    """The experiment's first metric and whether higher is better."""
    from ..decoding.metrics import METRICS

    parent = store.get_run(parent_id)
    metric = (parent.data.tags.get("coco_pipe.metrics") or "balanced_accuracy").split(",")[0]
    return metric, METRICS[metric].greater_is_better if metric in METRICS else True


def fold_runs(store: RunStore, parent_id: str, model: str) -> list:
    """The fold runs of ``model`` under the experiment run ``parent_id`` (under its model
    run, or directly under the parent for older runs); runs superseded by a resumed
    attempt of the same fold are left out (:meth:`RunStore.fold_runs`)."""
    folds = store.fold_runs(parent_id)
    mine = [r for r in folds if r.data.tags.get(MODEL_TAG) == model]
    if not mine:
        known = sorted({str(r.data.tags.get(MODEL_TAG)) for r in folds})
        raise ValueError(f"model {model!r} has no fold runs under run {parent_id}; models: {known}")
    return mine


def choose_fold(store: RunStore, parent_id: str, model: str, fold: str | int) -> FoldChoice:
    """The fold run for ``fold="best"`` (the rule of ``tracking.log_models="best"``) or a
    fold number; only folds that finished count."""
    metric, greater = main_metric(store, parent_id)
    runs = [r for r in fold_runs(store, parent_id, model) if r.info.status == "FINISHED"]
    if not runs:
        raise ValueError(f"model {model!r} has no successful fold under run {parent_id}")
    by_fold = {int(r.data.tags.get(FOLD_TAG, -1)): r for r in runs}
    values = [r.data.metrics.get(metric) for r in runs if metric in r.data.metrics]
    mean = float(np.mean(values)) if values else None
    std = float(np.std(values)) if values else None
    if str(fold) == "best":
        k = best_fold_index([(f, r.data.metrics.get(metric)) for f, r in by_fold.items()], greater)
        if k is None:
            raise ValueError(f"no fold of {model!r} has metric {metric!r}")
        how = "best"
    else:
        try:
            k = int(fold)
        except ValueError:
            raise ValueError(f"fold must be 'best', 'refit' or a fold number, got {fold!r}") from None
        if k not in by_fold:
            raise ValueError(
                f"fold {k} of model {model!r} not found (or failed) under run {parent_id}; "
                f"finished folds: {sorted(by_fold)}"
            )
        how = "fold"
    run = by_fold[k]
    return FoldChoice(run, k, metric, run.data.metrics.get(metric), mean, std, len(by_fold), how)


def logged_model_id(run, model: str, fold: int | str) -> str:
    """The MLflow logged model of a fold run, or a ValueError saying why there is none."""
    model_id = run.data.tags.get(MODEL_ID_TAG)
    if not model_id:
        raise ValueError(
            f"fold {fold} of model {model!r} (run {run.info.run_id}) has no logged MLflow Model: "
            "the experiment ran with tracking.log_models='none', or 'best' and this is not the "
            "best fold, or the model could not be logged (its warning says why). Promote "
            "--fold best, or --fold refit to train it on all the data."
        )
    return model_id


__all__ = ["FoldChoice", "choose_fold", "fold_runs", "logged_model_id", "main_metric"]
