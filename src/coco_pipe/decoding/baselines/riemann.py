"""Riemannian geometry: :class:`TangentSpaceLR`, covariances mapped to the tangent space."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from .checks import check_data_info
from .epochs_pipeline import EpochsClassifier
from .filters import bandpass_steps

__all__ = ["TangentSpaceLR", "tangent_space_lr_steps"]


def tangent_space_lr_steps(est) -> list[tuple[str, object]]:
    """``[("tangent", TangentSpace(est.metric)), ("logreg", LogisticRegression)]``: the
    end of every Riemannian baseline, from ``est.metric``, ``est.C`` and ``est.max_iter``
    (``C`` checked > 0)."""
    from pyriemann.tangentspace import TangentSpace
    from sklearn.linear_model import LogisticRegression

    if not float(est.C) > 0:
        raise ValueError(f"{type(est).__name__}: C must be > 0; got {est.C!r}")
    return [
        ("tangent", TangentSpace(metric=est.metric)),
        ("logreg", LogisticRegression(C=float(est.C), max_iter=int(est.max_iter))),
    ]


class TangentSpaceLR(EpochsClassifier):
    """Riemannian tangent space + logistic regression (Barachant et al., 2012).

    ``BandPassFilter -> pyriemann Covariances(cov_estimator) -> TangentSpace(metric)
    -> LogisticRegression``. Each window becomes a shrinkage covariance matrix
    (OAS by default, well conditioned even for short windows), which is mapped to the
    tangent space at the Riemannian mean of the training covariances, so that a linear
    model can use it. Among the strongest classical baselines on motor imagery
    (MOABB benchmarks).

    Parameters
    ----------
    cov_estimator : str
        pyriemann covariance estimator: ``"oas"``, ``"lwf"``, ``"scm"``, ``"sch"``, ...
    metric : str
        Metric of the reference point of the tangent space (``"riemann"``, ``"logeuclid"``,
        ``"euclid"``, ...).
    C : float
        Inverse L2 regularisation strength of the logistic regression.
    max_iter : int
        Iterations of the logistic regression solver.
    l_freq, h_freq : float or None
        Band-pass edges in Hz applied first (both ``None``: no filtering).
    sfreq : float or None
        Sampling frequency in Hz; ``None``: read from an ``mne.Epochs`` input, or set by
        the experiment from the data.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((40, 4, 200)), np.repeat([0, 1], 20)
    >>> X[y == 1, 0] *= 3
    >>> TangentSpaceLR(sfreq=100.0).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        cov_estimator: str = "oas",
        metric: str = "riemann",
        C: float = 1.0,
        max_iter: int = 1000,
        l_freq: float | None = 8.0,
        h_freq: float | None = 30.0,
        sfreq: float | None = None,
    ):
        self.cov_estimator = cov_estimator
        self.metric = metric
        self.C = C
        self.max_iter = max_iter
        self.l_freq = l_freq
        self.h_freq = h_freq
        self.sfreq = sfreq

    def _make_pipeline(self, sfreq: float | None) -> Pipeline:
        from pyriemann.estimation import Covariances

        tail = tangent_space_lr_steps(self)
        steps = bandpass_steps(self, sfreq)
        return Pipeline([*steps, ("cov", Covariances(estimator=self.cov_estimator)), *tail])

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, band above Nyquist)."""
        check_data_info(self, info, [(self.l_freq, self.h_freq)])
