"""The estimator protocol: all the experiment loop and the tuner ever call on an estimator.

The loop never names a model kind or a pipeline step. Any estimator that
:func:`~coco_pipe.decoding.builders.build_estimator` returns (a scikit-learn pipeline, a
pyriemann/MNE baseline, a ``NeuralDecoder``, ...) is driven through scikit-learn's own
contract plus a few optional hooks. A hook "on a step" may sit on the estimator itself or,
for a :class:`sklearn.pipeline.Pipeline`, on any of its steps (nested pipelines included).

Required (scikit-learn's contract)
    ``fit(X, y)`` returning the estimator, ``predict(X)``; ``clone`` gives an unfitted
    copy. Classifiers expose ``classes_`` and, where they can, ``predict_proba(X)`` or
    ``decision_function(X)`` (used for score-based metrics such as ``roc_auc`` and for the
    ``proba_<class>`` columns of the prediction table).

``fit(X, y, groups=None)`` (optional, on the final step)
    When the final step's ``fit`` takes ``groups``, it receives the group of every
    training window (e.g. the subject), so it can carve a subject-grouped validation split.

``check_data_info(info)`` (optional, on any step)
    Called once before anything is fitted or tracked with the
    :class:`~coco_pipe.data.DataInfo` of the experiment's data (shape, sfreq, channel
    names, task, classes; never values or labels). Raises ``ValueError`` for data the
    model cannot take.

``tracking_report(workdir)`` (optional, on any step)
    Called after ``fit`` with the fold's temporary folder; returns a
    :class:`~coco_pipe.tracking.FoldReport` (params, metrics, tags, per-epoch metrics,
    artifacts written under ``workdir``, parent-run metrics and artifacts). The reports of
    all steps are merged; ``failed=True`` records the fold as FAILED with
    ``failure_reason``. The folder is removed once the fold's artifacts are logged
    (``COCO_PIPE_KEEP_WORKDIRS=1`` keeps it, see :mod:`coco_pipe.decoding.fold`).

``epoch_callback`` (optional constructor parameter of the final step)
    Estimators trained in epochs accept a callable that they call after every epoch
    with that epoch's history row (``{"epoch": ..., "val_loss": ..., "val_<metric>": ...}``);
    an exception raised by the callback (Optuna's ``TrialPruned``) propagates out of
    ``fit``. The tuner sets it to report intermediate values to its pruner.

``failed_`` / ``failure_reason_`` (optional fitted attributes of the final step)
    ``failed_ = True`` says training failed in a controlled way (e.g. diverged); the tuner
    records the trial as failed with ``failure_reason_``.

Scoring a pipeline
    For a :class:`~sklearn.pipeline.Pipeline` of several steps, the test windows go once
    through the ``transform`` of all steps but the last, then ``predict``,
    ``predict_proba`` / ``decision_function`` are called on the last step. This is what
    the pipeline itself does, without transforming the windows once per method (a
    frozen backbone embeds them once).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..tracking import FoldReport
from .builders import iter_steps


def final_step(estimator: BaseEstimator) -> BaseEstimator:
    """The last step of a pipeline, else the estimator itself.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> type(final_step(make_pipeline(StandardScaler(), LogisticRegression()))).__name__
    'LogisticRegression'
    """
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def scoring_split(estimator: BaseEstimator, X: Any) -> tuple[BaseEstimator, Any]:
    """``(scorer, X_scorer)``: the fitted estimator's last step and ``X`` transformed once
    through all steps before it (a pipeline), or ``(estimator, X)`` (anything else).

    ``scorer.predict(X_scorer)`` equals ``estimator.predict(X)`` for every pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = np.random.default_rng(0).normal(size=(20, 3)), np.tile([0, 1], 10)
    >>> pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    >>> scorer, Xs = scoring_split(pipe, X)
    >>> bool((scorer.predict(Xs) == pipe.predict(X)).all())
    True
    """
    if not isinstance(estimator, Pipeline) or len(estimator.steps) < 2:
        return estimator, X
    check_is_fitted(estimator)  # as Pipeline.predict does, then its own loop over the steps
    for _, step in estimator.steps[:-1]:
        if step is not None and step != "passthrough":
            X = step.transform(X)
    return estimator.steps[-1][1], X


def predict_scores(estimator: BaseEstimator, X: Any) -> np.ndarray | None:
    """``predict_proba(X)`` where the estimator has it, else ``decision_function(X)``, else
    None (estimators that declare a method they cannot run are skipped over).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import LinearSVC
    >>> X, y = np.random.default_rng(0).normal(size=(20, 3)), np.tile([0, 1], 10)
    >>> predict_scores(LinearSVC().fit(X, y), X).shape   # decision_function
    (20,)
    """
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            try:
                return getattr(estimator, method)(X)
            except (AttributeError, NotImplementedError):
                continue
    return None


def collect_reports(estimator: BaseEstimator, workdir: Path) -> FoldReport:
    """The merged ``tracking_report(workdir)`` of every step that has the hook.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> collect_reports(LogisticRegression(), Path(".")).params
    {}
    """
    report = FoldReport()
    for step in iter_steps(estimator):
        hook = getattr(step, "tracking_report", None)
        if callable(hook):
            report = report.merge(hook(workdir))
    return report


def set_epoch_callback(estimator: BaseEstimator, callback: Callable[..., Any]) -> bool:
    """Give the final step ``epoch_callback=callback`` if it takes one; True if it did.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> set_epoch_callback(LogisticRegression(), print)
    False
    """
    final = final_step(estimator)
    if "epoch_callback" in final.get_params(deep=False):
        final.set_params(epoch_callback=callback)
        return True
    return False


def fit_failure(estimator: BaseEstimator) -> str | None:
    """Why the final step's training failed (``failed_``), or None if it did not.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> fit_failure(LogisticRegression()) is None
    True
    """
    final = final_step(estimator)
    if getattr(final, "failed_", False):
        return getattr(final, "failure_reason_", "") or "training failed"
    return None


__all__ = [
    "collect_reports",
    "final_step",
    "fit_failure",
    "predict_scores",
    "scoring_split",
    "set_epoch_callback",
]
