"""Stateless band-pass filtering of windows: one band (:class:`BandPassFilter`) or a
filter bank stacked as one extended signal (:class:`FilterBankSignal`).

Both filter each window on its own, zero-phase (forward-backward Butterworth IIR), and
learn nothing in ``fit`` (``requires_fit=False``), so they cannot leak information
across a train/test split. The edges of a window need a continuation of the signal for
the filter to start from; ``padding`` chooses it:

- ``"short"``: odd reflection of a few samples (scipy's ``sosfiltfilt`` default);
- ``"odd"``: odd reflection of the whole window (what MNE's IIR filtering of an
  ``Epochs`` does);
- ``"ar"``: the window extended on both sides by an autoregressive prediction of
  ``ar_order`` (Yule-Walker, fitted on the window itself). Narrow bands ring for
  about ``1 / bandwidth`` seconds; an AR continuation of a rhythmic signal keeps its
  phase, so the ringing starts outside the window, close to filtering the continuous
  recording.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .checks import check_band, check_bands, check_sfreq, epochs_tags, read_epochs, resolve_sfreq

__all__ = [
    "BandPassFilter",
    "FilterBankSignal",
    "PADDINGS",
    "ar_extend",
    "bandpass_steps",
    "check_padding",
]

#: Accepted values of the ``padding`` parameter.
PADDINGS = ("short", "odd", "ar")


def check_padding(padding: Any, ar_order: Any, owner: str) -> None:
    if padding not in PADDINGS:
        raise ValueError(f"{owner}: padding must be one of {PADDINGS}; got {padding!r}")
    if padding == "ar" and (isinstance(ar_order, bool) or not isinstance(ar_order, int | np.integer)
                            or ar_order < 1):  # fmt: skip
        raise ValueError(f"{owner}: ar_order must be a positive integer; got {ar_order!r}")


def _butter_sos(l_freq, h_freq, sfreq: float, order: Any, owner: str) -> np.ndarray:
    """Second-order sections of a Butterworth band-, low- or high-pass (one edge may be
    ``None``, not both)."""
    from scipy.signal import butter

    lo, hi = check_band(l_freq, h_freq, sfreq, owner, "(l_freq, h_freq)")
    if int(order) < 1:
        raise ValueError(f"{owner}: order must be a positive integer; got {order!r}")
    if lo is not None and hi is not None:
        return butter(int(order), [lo, hi], btype="bandpass", fs=sfreq, output="sos")
    if lo is not None:
        return butter(int(order), lo, btype="highpass", fs=sfreq, output="sos")
    return butter(int(order), hi, btype="lowpass", fs=sfreq, output="sos")


def _yule_walker(autocorr: np.ndarray) -> np.ndarray:
    """AR coefficients (rows, p) from autocorrelations (rows, p + 1), by Levinson-Durbin
    on all rows at once: ``x[n] = sum_j coefs[:, j] * x[n - 1 - j]``."""
    n_rows, order = autocorr.shape[0], autocorr.shape[1] - 1
    coefs = np.zeros((n_rows, order))
    error = autocorr[:, 0].copy()
    for k in range(order):
        reflection = (
            autocorr[:, k + 1] - np.einsum("ij,ij->i", coefs[:, :k], autocorr[:, k:0:-1])
        ) / error
        coefs[:, :k] = coefs[:, :k] - reflection[:, None] * coefs[:, :k][:, ::-1]
        coefs[:, k] = reflection
        error = error * (1.0 - reflection**2)
    return coefs


def _predict_ahead(rows: np.ndarray, coefs: np.ndarray, n_pad: int) -> np.ndarray:
    """``n_pad`` samples after the end of each row, predicted by its AR coefficients."""
    order = coefs.shape[1]
    ext = np.empty((len(rows), order + n_pad))
    ext[:, :order] = rows[:, -order:]
    backwards = coefs[:, ::-1]  # column i multiplies the sample order - i steps back
    for k in range(n_pad):
        ext[:, order + k] = np.einsum("ij,ij->i", backwards, ext[:, k : k + order])
    return ext[:, order:]


def ar_extend(X: np.ndarray, n_pad: int, ar_order: int) -> np.ndarray:
    """``X`` (..., n_times) extended by ``n_pad`` samples on each side, predicted by an
    AR(``ar_order``) model of each row (Yule-Walker on the row's biased autocorrelation,
    which gives a stable model, so the prediction decays instead of growing; the same
    model predicts backwards, the autocorrelation being symmetric in time)."""
    n_times = X.shape[-1]
    if not ar_order < n_times:
        raise ValueError(
            f"ar_order={ar_order} must be smaller than the window ({n_times} samples); "
            "lower ar_order or use padding='odd'"
        )
    rows = X.reshape(-1, n_times)
    mean = rows.mean(axis=1, keepdims=True)
    centred = rows - mean
    nfft = 1 << int(np.ceil(np.log2(2 * n_times)))
    power = np.abs(np.fft.rfft(centred, n=nfft, axis=1)) ** 2
    autocorr = np.fft.irfft(power, n=nfft, axis=1)[:, : ar_order + 1] / n_times
    flat = ~(np.sqrt(np.maximum(autocorr[:, 0], 0.0)) > 1e-10 * np.abs(rows).max(axis=1))
    autocorr[flat] = np.eye(1, ar_order + 1)  # flat rows (or all zeros): continued flat
    autocorr[:, 0] *= 1.0 + 1e-10  # strictly positive definite, also for pure sinusoids
    coefs = _yule_walker(autocorr)
    ahead = _predict_ahead(centred, coefs, n_pad)
    behind = _predict_ahead(centred[:, ::-1], coefs, n_pad)[:, ::-1]
    out = np.concatenate([behind + mean, rows, ahead + mean], axis=1)  # the window as given
    return out.reshape(*X.shape[:-1], n_times + 2 * n_pad)


def _zero_phase(sos_list: list[np.ndarray], X: np.ndarray, padding: str, ar_order: int):
    """Each filter of ``sos_list`` applied forward-backward to ``X`` with ``padding``."""
    from scipy.signal import sosfiltfilt

    n_times = X.shape[-1]
    if padding == "short":
        return [sosfiltfilt(sos, X, axis=-1) for sos in sos_list]
    if padding == "odd":
        return [sosfiltfilt(sos, X, axis=-1, padlen=n_times - 1) for sos in sos_list]
    extended = ar_extend(X, n_times, ar_order)  # once for the whole bank
    inner = slice(n_times, 2 * n_times)
    return [sosfiltfilt(sos, extended, axis=-1)[..., inner] for sos in sos_list]


class _ZeroPhaseFilter(TransformerMixin, BaseEstimator):
    """Shared surface of the stateless filters: ``_sos_list(carried)`` gives the filters
    for the sampling rate ``X`` carries (validating the parameters); ``fit`` only checks."""

    def _sos_list(self, carried: float | None) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def fit(self, X, y=None):
        """Validate the parameters against ``X``; learns nothing. Returns ``self``."""
        X, carried = read_epochs(X)
        self._sos_list(carried)
        self.n_channels_ = X.shape[1]
        return self

    def _filtered(self, X) -> tuple[np.ndarray, list[np.ndarray]]:
        """The windows of ``X`` and their copies through each filter."""
        X, carried = read_epochs(X)
        sos_list = self._sos_list(carried)
        return X, _zero_phase(sos_list, X, self.padding, int(self.ar_order)) if sos_list else []

    def __sklearn_tags__(self):
        return epochs_tags(super().__sklearn_tags__(), requires_fit=False)


class BandPassFilter(_ZeroPhaseFilter):
    """Zero-phase Butterworth band-pass of each window (stateless).

    Parameters
    ----------
    l_freq, h_freq : float or None
        Pass band edges in Hz; ``l_freq=None`` gives a low-pass, ``h_freq=None`` a
        high-pass, both ``None`` leaves the data unchanged.
    sfreq : float or None
        Sampling frequency in Hz; ``None`` takes it from an ``mne.Epochs`` input.
    order : int
        Butterworth order of one pass; forward-backward filtering (``sosfiltfilt``)
        doubles the effective order and gives zero phase.
    padding : {"short", "odd", "ar"}
        Continuation of each window at its edges (see the module notes); ``"short"``
        (a few reflected samples) is the historical default.
    ar_order : int
        Order of the autoregressive prediction with ``padding="ar"``.

    Notes
    -----
    IIR filtering is used rather than FIR because windows are often short (2-4 s):
    an FIR filter with a 2 Hz transition band is longer than such a window. Nothing is
    learned; each window is filtered on its own, so there is no train/test leakage, and
    ``transform`` works without ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((2, 3, 200))
    >>> BandPassFilter(8.0, 30.0, sfreq=100.0).fit_transform(X).shape
    (2, 3, 200)
    """

    def __init__(
        self,
        l_freq: float | None = 8.0,
        h_freq: float | None = 30.0,
        sfreq: float | None = None,
        order: int = 4,
        padding: str = "short",
        ar_order: int = 32,
    ):
        self.l_freq = l_freq
        self.h_freq = h_freq
        self.sfreq = sfreq
        self.order = order
        self.padding = padding
        self.ar_order = ar_order

    def _sos_list(self, carried: float | None) -> list[np.ndarray]:
        owner = type(self).__name__
        check_padding(self.padding, self.ar_order, owner)
        if self.l_freq is None and self.h_freq is None:
            return []
        sfreq = check_sfreq(resolve_sfreq(self.sfreq, carried, owner), owner)
        return [_butter_sos(self.l_freq, self.h_freq, sfreq, self.order, owner)]

    def transform(self, X):
        """Each window band-passed, shape unchanged (float64)."""
        X, filtered = self._filtered(X)
        return filtered[0] if filtered else X


class FilterBankSignal(_ZeroPhaseFilter):
    """Each window band-passed in every band, stacked along channels (stateless).

    ``(n, n_channels, n_times) -> (n, n_bands * n_channels, n_times)``, band-major:
    rows ``0 .. n_channels-1`` hold the first band. The covariance of this extended
    signal holds each band's spatial covariance on its diagonal blocks and the cross-band
    covariances off them: MOABB's ``ExtendedSSVEPSignal`` on the output of its
    ``FilterBankSSVEP`` paradigm.

    Parameters
    ----------
    bands : sequence of (low, high)
        Pass bands in Hz.
    sfreq : float or None
        Sampling frequency in Hz; ``None`` takes it from an ``mne.Epochs`` input.
    order : int
        Butterworth order of one pass (zero-phase filtering doubles it).
    padding : {"short", "odd", "ar"}
        Continuation of each window at its edges (module notes).
    ar_order : int
        Order of the autoregressive prediction with ``padding="ar"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((2, 3, 256))
    >>> FilterBankSignal([(12.5, 13.5), (16.5, 17.5)], sfreq=128.0).transform(X).shape
    (2, 6, 256)
    """

    def __init__(
        self,
        bands=None,
        sfreq: float | None = None,
        order: int = 4,
        padding: str = "ar",
        ar_order: int = 32,
    ):
        self.bands = bands
        self.sfreq = sfreq
        self.order = order
        self.padding = padding
        self.ar_order = ar_order

    def _sos_list(self, carried: float | None) -> list[np.ndarray]:
        owner = type(self).__name__
        check_padding(self.padding, self.ar_order, owner)
        sfreq = check_sfreq(resolve_sfreq(self.sfreq, carried, owner), owner)
        bands = check_bands(self.bands, sfreq, owner)
        return [_butter_sos(lo, hi, sfreq, self.order, owner) for lo, hi in bands]

    def transform(self, X):
        """The extended signal, shape (n_windows, n_bands * n_channels, n_times)."""
        return np.concatenate(self._filtered(X)[1], axis=1)


def bandpass_steps(est: Any, sfreq: float | None) -> list[tuple[str, BandPassFilter]]:
    """``[("bandpass", BandPassFilter)]`` for ``est.l_freq`` / ``est.h_freq``, or ``[]``
    when both are ``None`` (then ``sfreq`` is not needed)."""
    if est.l_freq is None and est.h_freq is None:
        return []
    owner = type(est).__name__
    sfreq = check_sfreq(sfreq, owner)
    check_band(est.l_freq, est.h_freq, sfreq, owner, "(l_freq, h_freq)")
    return [("bandpass", BandPassFilter(est.l_freq, est.h_freq, sfreq=sfreq))]
