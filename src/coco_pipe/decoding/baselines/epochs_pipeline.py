"""The shared surface of the pipeline baselines: read 3-D epochs (array or
``mne.Epochs``), build ``pipeline_`` in ``fit``, check fitted input before predicting.

A baseline subclasses :class:`EpochsClassifier` (or :class:`EpochsPipelineMixin` with a
regressor mixin) and implements ``_make_pipeline(sfreq)``, which validates its
parameters and returns an unfitted :class:`~sklearn.pipeline.Pipeline`. ``sfreq`` is
the resolved sampling rate: the ``sfreq`` parameter, else the one an ``mne.Epochs``
carries, else ``None`` (a pipeline that filters then raises, saying how to give it).
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .checks import epochs_tags, quiet_mne, read_epochs, resolve_sfreq

logger = logging.getLogger(__name__)

__all__ = ["EpochsPipelineMixin", "EpochsClassifier", "check_targets", "check_fitted_epochs"]


def check_targets(y, n_windows: int) -> np.ndarray:
    """``y`` as a 1-D array with one target per window."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n_windows:
        raise ValueError(
            f"y must be 1-D with one target per window ({n_windows}); got shape {y.shape}"
        )
    return y


def check_fitted_epochs(est, X) -> np.ndarray:
    """``X`` read for a fitted ``est``: ``NotFittedError`` before fit, then the channel
    count and (for an ``mne.Epochs``) the sampling rate checked against the fitted ones."""
    check_is_fitted(est)
    X, carried = read_epochs(X)
    owner = type(est).__name__
    if X.shape[1] != est.n_channels_:
        raise ValueError(
            f"X has {X.shape[1]} channels but {owner} was fitted on {est.n_channels_} channels"
        )
    fitted = getattr(est, "sfreq_", None)
    if carried is not None and fitted is not None and abs(carried - fitted) > 1e-6:
        raise ValueError(f"X is sampled at {carried:g} Hz but {owner} was fitted at {fitted:g} Hz")
    return X


class EpochsPipelineMixin:
    """Shared fit/predict plumbing: validate 3-D input, build ``pipeline_`` in fit."""

    def _make_pipeline(self, sfreq: float | None) -> Pipeline:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_pipeline(self, X, y):
        X, carried = read_epochs(X)
        y = check_targets(y, len(X))
        sfreq = resolve_sfreq(self.sfreq, carried, type(self).__name__)
        pipeline = self._make_pipeline(sfreq)  # validates parameters before the expensive work
        logger.debug("fitting %s on %s", type(self).__name__, X.shape)
        with quiet_mne():
            pipeline.fit(X, y)
        self.pipeline_ = pipeline
        self.n_channels_ = X.shape[1]
        self.sfreq_ = sfreq
        return self

    def predict(self, X):
        """Predicted target per window."""
        X = check_fitted_epochs(self, X)  # NotFittedError before touching pipeline_
        return self.pipeline_.predict(X)

    def __sklearn_tags__(self):
        return epochs_tags(super().__sklearn_tags__())


class EpochsClassifier(EpochsPipelineMixin, ClassifierMixin, BaseEstimator):
    """A pipeline baseline for classification: ``classes_``, probabilities, scores."""

    def fit(self, X, y):
        """Fit the whole pipeline on the training windows; returns ``self``."""
        self._fit_pipeline(X, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        X = check_fitted_epochs(self, X)
        return self.pipeline_.predict_proba(X)

    def decision_function(self, X):
        """Decision scores of the final linear model."""
        X = check_fitted_epochs(self, X)
        return self.pipeline_.decision_function(X)
