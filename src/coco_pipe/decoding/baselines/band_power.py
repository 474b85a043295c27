"""Spectral baselines: log band power per channel (:class:`BandPower`, stateless) and the
linear models on it (:class:`BandPowerLinear` for classes, :class:`BandPowerRidge` for
continuous targets)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.pipeline import Pipeline

from .checks import (
    check_bands,
    check_data_info,
    check_sfreq,
    epochs_tags,
    read_epochs,
    resolve_sfreq,
)
from .epochs_pipeline import EpochsClassifier, EpochsPipelineMixin

__all__ = ["DEFAULT_POWER_BANDS", "BandPower", "BandPowerLinear", "BandPowerRidge"]

#: Band-power bands: theta (4-8 Hz), alpha/mu (8-13 Hz; the sensorimotor mu rhythm shares
#: the alpha band and is told apart by its location, which the per-channel features keep),
#: low beta (13-20 Hz) and high beta (20-30 Hz).
DEFAULT_POWER_BANDS: tuple[tuple[float, float], ...] = (
    (4.0, 8.0), (8.0, 13.0), (13.0, 20.0), (20.0, 30.0),
)  # fmt: skip


class BandPower(TransformerMixin, BaseEstimator):
    """Log10 band power per channel and band from Welch's PSD (stateless).

    Output features are ordered channel-major: ``(ch0, band0), (ch0, band1), ...``.

    Parameters
    ----------
    bands : sequence of (low, high)
        Frequency bands in Hz (power is averaged over PSD bins with
        ``low <= f < high``).
    sfreq : float or None
        Sampling frequency in Hz; ``None`` takes it from an ``mne.Epochs`` input.
    window_seconds : float
        Welch segment length in seconds (frequency resolution ``1 / window_seconds``
        Hz), clipped to the window length; segments overlap by half.

    Notes
    -----
    Nothing is learned: ``transform`` works without ``fit`` (``requires_fit=False``).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((2, 3, 200))
    >>> BandPower(bands=((4, 8), (8, 13)), sfreq=100.0).fit_transform(X).shape
    (2, 6)
    """

    def __init__(
        self,
        bands: Sequence[Sequence[float]] = DEFAULT_POWER_BANDS,
        sfreq: float | None = None,
        window_seconds: float = 1.0,
    ):
        self.bands = bands
        self.sfreq = sfreq
        self.window_seconds = window_seconds

    def fit(self, X, y=None):
        """Validate the parameters against ``X``; learns nothing. Returns ``self``."""
        X, carried = read_epochs(X)
        owner = type(self).__name__
        sfreq = check_sfreq(resolve_sfreq(self.sfreq, carried, owner), owner)
        check_bands(self.bands, sfreq, owner)
        self.n_channels_ = X.shape[1]
        return self

    def transform(self, X):
        """Log10 band power, shape (n_windows, n_channels * n_bands)."""
        from scipy.signal import welch

        X, carried = read_epochs(X)
        owner = type(self).__name__
        sfreq = check_sfreq(resolve_sfreq(self.sfreq, carried, owner), owner)
        bands = check_bands(self.bands, sfreq, owner)
        if not float(self.window_seconds) > 0:
            raise ValueError(f"{owner}: window_seconds must be > 0; got {self.window_seconds!r}")
        nperseg = int(min(X.shape[-1], max(8, round(float(self.window_seconds) * sfreq))))
        freqs, psd = welch(X, fs=sfreq, nperseg=nperseg, axis=-1)
        feats = []
        for lo, hi in bands:
            mask = (freqs >= lo) & (freqs < hi)
            if not mask.any():
                raise ValueError(
                    f"{owner}: band ({lo:g}, {hi:g}) Hz holds no PSD bin at a resolution of "
                    f"{freqs[1] - freqs[0]:g} Hz (window of {X.shape[-1]} samples); "
                    "widen the band or lengthen the windows"
                )
            feats.append(psd[..., mask].mean(axis=-1))
        power = np.stack(feats, axis=-1)  # (n, ch, band)
        tiny = np.finfo(np.float64).tiny
        return np.log10(np.maximum(power, tiny)).reshape(len(X), -1)

    def __sklearn_tags__(self):
        return epochs_tags(super().__sklearn_tags__(), requires_fit=False)


class _BandPowerModel:
    """``check_data_info`` and the band-power front of both band-power pipelines."""

    def _power_step(self, sfreq: float | None) -> tuple[str, BandPower]:
        owner = type(self).__name__
        sfreq = check_sfreq(sfreq, owner)
        bands = check_bands(self.bands, sfreq, owner)
        return ("power", BandPower(bands, sfreq=sfreq, window_seconds=self.window_seconds))

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, bands above Nyquist)."""
        check_data_info(self, info, check_bands(self.bands, None, type(self).__name__))


class BandPowerLinear(_BandPowerModel, EpochsClassifier):
    """Log band power per channel + standardisation + logistic regression.

    ``BandPower(bands) -> StandardScaler -> LogisticRegression``: Welch PSD per window,
    mean power in each band (theta, alpha/mu, low beta, high beta by default), log10,
    z-scored with training statistics. The simplest spectral baseline: if a foundation
    model does not beat it, the model adds little over the power spectrum.

    Parameters
    ----------
    bands : sequence of (low, high)
        Bands in Hz (default :data:`DEFAULT_POWER_BANDS`).
    sfreq : float or None
        Sampling frequency in Hz; ``None``: read from an ``mne.Epochs`` input, or set by
        the experiment from the data.
    C : float
        Inverse L2 regularisation strength.
    max_iter : int
        Iterations of the logistic regression solver.
    window_seconds : float
        Welch segment length in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((40, 4, 200)), np.repeat([0, 1], 20)
    >>> X[y == 1, 0] *= 3
    >>> BandPowerLinear(sfreq=100.0).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        bands: Sequence[Sequence[float]] = DEFAULT_POWER_BANDS,
        sfreq: float | None = None,
        C: float = 1.0,
        max_iter: int = 1000,
        window_seconds: float = 1.0,
    ):
        self.bands = bands
        self.sfreq = sfreq
        self.C = C
        self.max_iter = max_iter
        self.window_seconds = window_seconds

    def _make_pipeline(self, sfreq: float | None) -> Pipeline:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        power = self._power_step(sfreq)
        if not float(self.C) > 0:
            raise ValueError(f"{type(self).__name__}: C must be > 0; got {self.C!r}")
        return Pipeline(
            [
                power,
                ("scale", StandardScaler()),
                ("logreg", LogisticRegression(C=float(self.C), max_iter=int(self.max_iter))),
            ]
        )


class BandPowerRidge(_BandPowerModel, EpochsPipelineMixin, RegressorMixin, BaseEstimator):
    """Log band power per channel + standardisation + ridge regression (regression task).

    ``BandPower(bands) -> StandardScaler -> Ridge``; see :class:`BandPowerLinear`.

    Parameters
    ----------
    bands : sequence of (low, high)
        Bands in Hz (default :data:`DEFAULT_POWER_BANDS`).
    sfreq : float or None
        Sampling frequency in Hz; ``None``: read from an ``mne.Epochs`` input, or set by
        the experiment from the data.
    alpha : float
        L2 regularisation strength of the ridge.
    window_seconds : float
        Welch segment length in seconds.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((40, 4, 200)), np.linspace(1, 3, 40)
    >>> X *= y[:, None, None]  # power grows with the target
    >>> BandPowerRidge(sfreq=100.0).fit(X, y).score(X, y) > 0.8
    True
    """

    def __init__(
        self,
        bands: Sequence[Sequence[float]] = DEFAULT_POWER_BANDS,
        sfreq: float | None = None,
        alpha: float = 1.0,
        window_seconds: float = 1.0,
    ):
        self.bands = bands
        self.sfreq = sfreq
        self.alpha = alpha
        self.window_seconds = window_seconds

    def fit(self, X, y):
        """Fit the whole pipeline on the training windows; returns ``self``."""
        return self._fit_pipeline(X, y)

    def _make_pipeline(self, sfreq: float | None) -> Pipeline:
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler

        power = self._power_step(sfreq)
        if float(self.alpha) < 0:
            raise ValueError(f"{type(self).__name__}: alpha must be >= 0; got {self.alpha!r}")
        return Pipeline(
            [power, ("scale", StandardScaler()), ("ridge", Ridge(alpha=float(self.alpha)))]
        )
