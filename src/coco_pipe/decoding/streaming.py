"""Fit and score on a :class:`~coco_pipe.data.source.WindowSource` without holding its
windows: the stateless leading steps of a pipeline see one chunk at a time.

A pipeline step that declares ``requires_fit=False`` in its ``__sklearn_tags__`` learns
nothing from the data (a frozen backbone embedder, a band-pass filter, band power,
covariance estimation): applying it to the windows chunk by chunk gives exactly what
applying it to all of them gives. So a fold reads its windows a chunk (about
:data:`~coco_pipe.data.chunks.CHUNK_BYTES`) at a time, passes each chunk through those
steps, and only their (small) output is gathered for the steps that do learn:

- ``fit_streamed(estimator, source, y, groups)``: stateless leading steps are fitted on
  the first chunk (they take nothing from it but its shape), the remaining steps are
  fitted on the gathered features, in place, so ``estimator`` is the fitted pipeline.
- ``scoring_split_streamed(estimator, source)``: the same for the test windows, as
  :func:`~coco_pipe.decoding.protocol.scoring_split` does for an array.

An estimator with no stateless leading step (a fine-tuned network, a vectorizing
pipeline) gets the source read into one array: the fold's partition, as before.
Steps that batch their own work (a ``batch_size`` parameter) get chunks of whole batches,
so their batches are the ones an unstreamed call would form.

Examples
--------
>>> import numpy as np
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import FunctionTransformer
>>> from sklearn.linear_model import LogisticRegression
>>> from coco_pipe.data import ArraySource
>>> rng = np.random.default_rng(0)
>>> X, y = rng.normal(size=(40, 3, 50)), np.repeat([0, 1], 20)
>>> X[y == 1, 0] *= 3
>>> pipe = make_pipeline(FunctionTransformer(lambda w: np.log(w.var(axis=2))),
...                      LogisticRegression())
>>> _ = fit_streamed(pipe, ArraySource(X), y)
>>> scorer, Z = scoring_split_streamed(pipe, ArraySource(X))
>>> Z.shape, float((scorer.predict(Z) == y).mean()) > 0.9
((40, 3), True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from ..data import WindowSource, chunks
from .builders import fit_estimator
from .protocol import scoring_split


def _passthrough(step: Any) -> bool:
    return step is None or (isinstance(step, str) and step == "passthrough")


def stateless_prefix(estimator: BaseEstimator) -> int:
    """How many leading steps of a pipeline (never its final step) learn nothing from
    the data (``requires_fit=False``); 0 for anything that is not a pipeline.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer, StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> stateless_prefix(make_pipeline(FunctionTransformer(), StandardScaler(),
    ...                                LogisticRegression()))
    1
    """
    if not isinstance(estimator, Pipeline):
        return 0
    k = 0
    for _, step in estimator.steps[:-1]:
        if not (_passthrough(step) or not get_tags(step).requires_fit):
            break
        k += 1
    return k


def _batch_windows(steps: list[tuple[str, Any]], source: WindowSource) -> int:
    """Windows per chunk: about ``CHUNK_BYTES``, a whole number of each step's batches."""
    n = chunks.window_chunks(len(source), source.window_bytes).step
    for _, step in steps:
        size = step.get_params(deep=False).get("batch_size") if hasattr(step, "get_params") else None
        if isinstance(size, (int, np.integer)) and 0 < size <= n:
            n -= n % int(size)
    return max(1, n)


def stream_transform(
    steps: list[tuple[str, Any]], source: WindowSource, y: Any = None, *, fit: bool = False
) -> np.ndarray:
    """The windows of ``source`` through ``steps`` (stateless transformers), one chunk at
    a time; with ``fit=True`` each step is first fitted on the first chunk (with its
    targets ``y``). Only the output is allocated in full.

    Examples
    --------
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from coco_pipe.data import ArraySource
    >>> src = ArraySource(np.ones((5, 2, 4)))
    >>> stream_transform([("sum", FunctionTransformer(lambda w: w.sum(axis=2)))], src).shape
    (5, 2)
    """
    out = None
    for start, batch in source.batches(batch_windows=_batch_windows(steps, source)):
        for _, step in steps:
            if _passthrough(step):
                continue
            if fit and start == 0:
                step.fit(batch, None if y is None else np.asarray(y)[: len(batch)])
            batch = step.transform(batch)
        batch = np.asarray(batch)
        if out is None:
            out = np.empty((len(source), *batch.shape[1:]), dtype=batch.dtype)
        out[start : start + len(batch)] = batch
    if out is None:
        raise ValueError(f"cannot transform an empty window source ({source!r})")
    return out


def _tail(estimator: Pipeline, k: int) -> BaseEstimator:
    rest = estimator.steps[k:]
    return rest[0][1] if len(rest) == 1 else Pipeline(rest)


def fit_streamed(estimator: BaseEstimator, X: Any, y: Any, groups: Any = None) -> BaseEstimator:
    """Fit ``estimator`` on ``X``; a window source streams through the stateless leading
    steps (see the module), anything else goes to
    :func:`~coco_pipe.decoding.builders.fit_estimator` as it is.

    Returns
    -------
    estimator, fitted in place.
    """
    if not isinstance(X, WindowSource):
        return fit_estimator(estimator, X, y, groups)
    k = stateless_prefix(estimator)
    if k == 0 or len(X) == 0:
        return fit_estimator(estimator, np.asarray(X), y, groups)
    features = stream_transform(estimator.steps[:k], X, y, fit=True)
    fit_estimator(_tail(estimator, k), features, y, groups)  # the same step objects, in place
    return estimator


def scoring_split_streamed(estimator: BaseEstimator, X: Any) -> tuple[BaseEstimator, Any]:
    """:func:`~coco_pipe.decoding.protocol.scoring_split` for a window source: the
    stateless leading steps stream, the other steps but the last transform their output."""
    if not isinstance(X, WindowSource):
        return scoring_split(estimator, X)
    k = stateless_prefix(estimator)
    if k == 0 or len(X) == 0:
        return scoring_split(estimator, np.asarray(X))
    check_is_fitted(estimator)
    features = stream_transform(estimator.steps[:k], X)
    return scoring_split(_tail(estimator, k), features)


__all__ = ["fit_streamed", "scoring_split_streamed", "stateless_prefix", "stream_transform"]
