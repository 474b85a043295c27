"""Classical BCI baselines: CSP + LDA, Riemannian tangent space, filter-bank CSP, band power.

Each baseline is one scikit-learn estimator that takes 3-D epochs
``(n_windows, n_channels, n_times)`` and has **flat** constructor parameters, so every
knob is addressable from ``ClassicalModelConfig.params`` and from an Optuna search
space. The estimator builds its internal :class:`~sklearn.pipeline.Pipeline` in
``fit`` (stored as ``pipeline_``); nothing is learned in ``__init__``.

They are listed in :data:`BASELINES`, which the classical registry reads:

- ``CSP_LDA``: :class:`CSPLDA` (classification)
- ``TangentSpace_LR``: :class:`TangentSpaceLR` (classification)
- ``FBCSP``: :class:`FilterBankCSP` (classification)
- ``BandPower_LR``: :class:`BandPowerLinear` (classification)
- ``BandPower_Ridge``: :class:`BandPowerRidge` (regression)

Sampling frequency: the pipelines that filter need ``sfreq``. Its default ``None``
means "take it from the data": the experiment sets it from the validated input
before fitting. A baseline whose ``sfreq`` is still ``None`` when it must filter
raises a ``ValueError`` saying so.

All numerical work (filtering, covariances) runs in float64, whatever the input dtype.
The stateless steps (band-pass filtering, band power) act on each window alone and
learn nothing, so they cannot leak information across the train/test split.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.pipeline import FeatureUnion, Pipeline

logger = logging.getLogger(__name__)

__all__ = [
    "BASELINES",
    "DEFAULT_FBCSP_BANDS",
    "DEFAULT_POWER_BANDS",
    "BandPassFilter",
    "BandPower",
    "CSPLDA",
    "TangentSpaceLR",
    "FilterBankCSP",
    "BandPowerLinear",
    "BandPowerRidge",
]

#: Filter bank of FBCSP (Ang et al., 2008): seven 4 Hz wide bands from 4 to 32 Hz.
DEFAULT_FBCSP_BANDS: tuple[tuple[float, float], ...] = (
    (4.0, 8.0), (8.0, 12.0), (12.0, 16.0), (16.0, 20.0), (20.0, 24.0), (24.0, 28.0), (28.0, 32.0),
)  # fmt: skip

#: Band-power bands: theta (4-8 Hz), alpha/mu (8-13 Hz; the sensorimotor mu rhythm shares
#: the alpha band and is told apart by its location, which the per-channel features keep),
#: low beta (13-20 Hz) and high beta (20-30 Hz).
DEFAULT_POWER_BANDS: tuple[tuple[float, float], ...] = (
    (4.0, 8.0), (8.0, 13.0), (13.0, 20.0), (20.0, 30.0),
)  # fmt: skip


# --------------------------------------------------------------------------- checks


def _check_epochs(X: Any, name: str = "X") -> np.ndarray:
    """Return ``X`` as a float64 array of shape (n_windows, n_channels, n_times)."""
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(
            f"{name} must be 3-D epochs (n_windows, n_channels, n_times); got shape {X.shape}"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {X.dtype}")
    X = X.astype(np.float64, copy=False)
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or Inf; expected finite values")
    return X


def _check_sfreq(sfreq: Any, owner: str) -> float:
    if sfreq is None:
        raise ValueError(
            f"{owner} needs sfreq (Hz) to filter, but sfreq=None. Pass sfreq=<Hz> or run it "
            "inside an Experiment, which sets sfreq from the data."
        )
    try:
        value = float(sfreq)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: sfreq must be a positive number (Hz); got {sfreq!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: sfreq must be a positive number (Hz); got {sfreq!r}")
    return value


def _check_band(
    l_freq: Any, h_freq: Any, sfreq: float, owner: str, param: str
) -> tuple[float | None, float | None]:
    """Validate one pass band; ``None`` on one side means low-/high-pass."""
    nyquist = sfreq / 2.0
    lo = None if l_freq is None else float(l_freq)
    hi = None if h_freq is None else float(h_freq)
    if lo is not None and not 0 < lo < nyquist:
        raise ValueError(
            f"{owner}: {param} low edge must be in (0, Nyquist={nyquist:g} Hz); got {l_freq!r}"
        )
    if hi is not None and not 0 < hi < nyquist:
        raise ValueError(
            f"{owner}: {param} high edge must be in (0, Nyquist={nyquist:g} Hz) at "
            f"sfreq={sfreq:g} Hz; got {h_freq!r}"
        )
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError(f"{owner}: {param} must have low < high; got ({l_freq!r}, {h_freq!r})")
    return lo, hi


def _check_bands(bands: Any, sfreq: float | None, owner: str) -> tuple[tuple[float, float], ...]:
    """A non-empty sequence of (low, high) pairs in Hz; inside (0, Nyquist) when ``sfreq`` is given."""
    if isinstance(bands, str) or not isinstance(bands, Sequence) or len(bands) == 0:
        raise ValueError(
            f"{owner}: bands must be a non-empty sequence of (low, high) pairs in Hz; got {bands!r}"
        )
    out = []
    for band in bands:
        if isinstance(band, str) or not isinstance(band, Sequence) or len(band) != 2:
            raise ValueError(
                f"{owner}: each entry of bands must be a (low, high) pair; got {band!r}"
            )
        try:
            lo, hi = float(band[0]), float(band[1])
        except (TypeError, ValueError):
            raise ValueError(f"{owner}: band edges must be numbers in Hz; got {band!r}") from None
        if sfreq is None:
            if not 0 < lo < hi:
                raise ValueError(f"{owner}: each band needs 0 < low < high; got {band!r}")
        else:
            _check_band(lo, hi, sfreq, owner, f"band {tuple(band)!r}")
        out.append((lo, hi))
    return tuple(out)


def _check_data_info(est: BaseEstimator, info: Any, bands: Sequence) -> None:
    """Shared ``check_data_info`` hook: 3-D input, matching sfreq, bands below Nyquist.

    ``bands`` holds (low, high) pairs; an edge may be ``None`` (no filtering on that side).
    Raises ``ValueError`` before any fitting.
    """
    owner = type(est).__name__
    ndim = getattr(info, "ndim", 3)
    if ndim != 3:
        raise ValueError(
            f"{owner} needs 3-D epochs (n_windows, n_channels, n_times); X is {ndim}-D"
        )
    info_sfreq = getattr(info, "sfreq", None)
    if (
        est.sfreq is not None
        and info_sfreq is not None
        and abs(float(est.sfreq) - info_sfreq) > 1e-6
    ):
        raise ValueError(
            f"{owner}: sfreq={est.sfreq!r} was set but the data are sampled at {info_sfreq:g} Hz"
        )
    if all(lo is None and hi is None for lo, hi in bands):
        return
    sfreq = _check_sfreq(est.sfreq if est.sfreq is not None else info_sfreq, owner)
    for lo, hi in bands:
        _check_band(lo, hi, sfreq, owner, f"band ({lo!r}, {hi!r})")


@contextlib.contextmanager
def _quiet_mne():
    """MNE logs rank and covariance details at INFO on every fit; keep them quiet."""
    try:
        import mne
    except ImportError:  # pragma: no cover - mne is a core dependency
        yield
        return
    with mne.utils.use_log_level("WARNING"):
        yield


def _epochs_tags(tags):
    tags.input_tags.three_d_array = True
    tags.input_tags.two_d_array = False
    return tags


# --------------------------------------------------------------------------- transformers


class BandPassFilter(TransformerMixin, BaseEstimator):
    """Zero-phase Butterworth band-pass of each window (stateless).

    Parameters
    ----------
    l_freq, h_freq : float or None
        Pass band edges in Hz; ``l_freq=None`` gives a low-pass, ``h_freq=None`` a
        high-pass, both ``None`` leaves the data unchanged.
    sfreq : float
        Sampling frequency in Hz.
    order : int
        Butterworth order of one pass; forward-backward filtering (``sosfiltfilt``)
        doubles the effective order and gives zero phase.

    Notes
    -----
    IIR filtering is used rather than FIR because windows are often short (2-4 s):
    an FIR filter with a 2 Hz transition band is longer than such a window. ``fit``
    learns nothing; each window is filtered on its own, so there is no train/test leakage.

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
    ):
        self.l_freq = l_freq
        self.h_freq = h_freq
        self.sfreq = sfreq
        self.order = order

    def fit(self, X, y=None):
        X = _check_epochs(X)
        self._sos()  # validate parameters before any work
        self.n_channels_ = X.shape[1]
        return self

    def _sos(self) -> np.ndarray | None:
        from scipy.signal import butter

        if self.l_freq is None and self.h_freq is None:
            return None
        owner = type(self).__name__
        sfreq = _check_sfreq(self.sfreq, owner)
        lo, hi = _check_band(self.l_freq, self.h_freq, sfreq, owner, "(l_freq, h_freq)")
        if int(self.order) < 1:
            raise ValueError(f"{owner}: order must be a positive integer; got {self.order!r}")
        if lo is not None and hi is not None:
            return butter(int(self.order), [lo, hi], btype="bandpass", fs=sfreq, output="sos")
        if lo is not None:
            return butter(int(self.order), lo, btype="highpass", fs=sfreq, output="sos")
        return butter(int(self.order), hi, btype="lowpass", fs=sfreq, output="sos")

    def transform(self, X):
        from scipy.signal import sosfiltfilt

        X = _check_epochs(X)
        sos = self._sos()
        if sos is None:
            return X
        return sosfiltfilt(sos, X, axis=-1)

    def __sklearn_tags__(self):
        return _epochs_tags(super().__sklearn_tags__())


class BandPower(TransformerMixin, BaseEstimator):
    """Log10 band power per channel and band from Welch's PSD (stateless).

    Output features are ordered channel-major: ``(ch0, band0), (ch0, band1), ...``.

    Parameters
    ----------
    bands : sequence of (low, high)
        Frequency bands in Hz (power is averaged over PSD bins with
        ``low <= f < high``).
    sfreq : float
        Sampling frequency in Hz.
    window_seconds : float
        Welch segment length in seconds (frequency resolution ``1 / window_seconds``
        Hz), clipped to the window length; segments overlap by half.

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
        X = _check_epochs(X)
        sfreq = _check_sfreq(self.sfreq, type(self).__name__)
        _check_bands(self.bands, sfreq, type(self).__name__)
        self.n_channels_ = X.shape[1]
        return self

    def transform(self, X):
        from scipy.signal import welch

        X = _check_epochs(X)
        owner = type(self).__name__
        sfreq = _check_sfreq(self.sfreq, owner)
        bands = _check_bands(self.bands, sfreq, owner)
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
        return _epochs_tags(super().__sklearn_tags__())


# --------------------------------------------------------------------------- base


class _EpochsPipelineMixin:
    """Shared fit/predict plumbing: validate 3-D input, build ``pipeline_`` in fit."""

    def _make_pipeline(self) -> Pipeline:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_fitted_input(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "pipeline_")
        X = _check_epochs(X)
        if X.shape[1] != self.n_channels_:
            raise ValueError(
                f"X has {X.shape[1]} channels but {type(self).__name__} was fitted on "
                f"{self.n_channels_} channels"
            )
        return X

    def _fit_pipeline(self, X, y):
        X = _check_epochs(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must be 1-D with one target per window ({len(X)}); got shape {y.shape}"
            )
        pipeline = self._make_pipeline()  # validates parameters before the expensive work
        logger.debug("fitting %s on %s", type(self).__name__, X.shape)
        with _quiet_mne():
            pipeline.fit(X, y)
        self.pipeline_ = pipeline
        self.n_channels_ = X.shape[1]
        return self

    def predict(self, X):
        """Predicted target per window."""
        X = self._check_fitted_input(X)
        return self.pipeline_.predict(X)

    def __sklearn_tags__(self):
        return _epochs_tags(super().__sklearn_tags__())


class _EpochsClassifier(_EpochsPipelineMixin, ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        """Fit the whole pipeline on the training windows; returns ``self``."""
        self._fit_pipeline(X, y)
        self.classes_ = self.pipeline_.classes_
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        return self.pipeline_.predict_proba(self._check_fitted_input(X))

    def decision_function(self, X):
        """Decision scores of the final linear model."""
        return self.pipeline_.decision_function(self._check_fitted_input(X))


def _lda(shrinkage):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    # lsqr supports shrinkage ("auto" = Ledoit-Wolf) and predict_proba
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)


def _bandpass_step(est, l_freq, h_freq) -> list[tuple[str, Any]]:
    if l_freq is None and h_freq is None:
        return []
    sfreq = _check_sfreq(est.sfreq, type(est).__name__)
    _check_band(l_freq, h_freq, sfreq, type(est).__name__, "(l_freq, h_freq)")
    return [("bandpass", BandPassFilter(l_freq, h_freq, sfreq=sfreq))]


# --------------------------------------------------------------------------- baselines


class CSPLDA(_EpochsClassifier):
    """Common spatial patterns + shrinkage LDA, the classic motor-imagery pipeline.

    ``BandPassFilter(l_freq, h_freq) -> mne.decoding.CSP -> LinearDiscriminantAnalysis``.
    CSP (Koles et al., 1990; Blankertz et al., 2008) finds spatial filters whose output
    variance differs most between classes; the log-variance of ``n_components`` filtered
    signals feeds a linear discriminant with Ledoit-Wolf shrinkage. Band-pass filtering
    to the mu/beta range first (8-30 Hz by default) matters: on broadband EEG the
    covariance is dominated by low-frequency 1/f activity that carries no class
    information. Multi-class problems use MNE's mutual-information component ordering.

    Parameters
    ----------
    n_components : int
        Number of CSP components.
    reg : float | str | None
        Covariance regularisation of CSP (``None``, a shrinkage float, or an MNE method
        such as ``"ledoit_wolf"``, ``"oas"``).
    log : bool
        Log-transform the CSP average power.
    cov_est : {"concat", "epoch"}
        Covariance from concatenated windows or the average of per-window covariances.
    shrinkage : "auto" | float | None
        LDA shrinkage (``"auto"``: Ledoit-Wolf).
    l_freq, h_freq : float or None
        Band-pass edges in Hz applied before CSP (both ``None``: no filtering, and then
        ``sfreq`` is not needed).
    sfreq : float or None
        Sampling frequency in Hz; ``None`` is filled in by the experiment from the data.
    rank : None | "full" | dict
        Passed to CSP: ``None`` estimates the data rank (safe for average-referenced
        data), ``"full"`` skips the estimate (faster; only for full-rank data).

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted pipeline.
    classes_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((40, 4, 200)), np.repeat([0, 1], 20)
    >>> X[y == 1, 0] *= 3  # class 1: more power on channel 0
    >>> CSPLDA(n_components=2, sfreq=100.0).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        n_components: int = 4,
        reg: float | str | None = None,
        log: bool = True,
        cov_est: str = "concat",
        shrinkage: str | float | None = "auto",
        l_freq: float | None = 8.0,
        h_freq: float | None = 30.0,
        sfreq: float | None = None,
        rank: Any = None,
    ):
        self.n_components = n_components
        self.reg = reg
        self.log = log
        self.cov_est = cov_est
        self.shrinkage = shrinkage
        self.l_freq = l_freq
        self.h_freq = h_freq
        self.sfreq = sfreq
        self.rank = rank

    def _make_pipeline(self) -> Pipeline:
        from mne.decoding import CSP

        if int(self.n_components) < 1:
            raise ValueError(f"CSPLDA: n_components must be >= 1; got {self.n_components!r}")
        if self.cov_est not in ("concat", "epoch"):
            raise ValueError(f"CSPLDA: cov_est must be 'concat' or 'epoch'; got {self.cov_est!r}")
        steps = _bandpass_step(self, self.l_freq, self.h_freq)
        csp = CSP(
            n_components=int(self.n_components),
            reg=self.reg,
            log=self.log,
            cov_est=self.cov_est,
            rank=self.rank,
        )
        return Pipeline([*steps, ("csp", csp), ("lda", _lda(self.shrinkage))])

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, band above Nyquist)."""
        _check_data_info(self, info, [(self.l_freq, self.h_freq)])


class TangentSpaceLR(_EpochsClassifier):
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
        Sampling frequency in Hz; ``None`` is filled in by the experiment from the data.

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

    def _make_pipeline(self) -> Pipeline:
        from pyriemann.estimation import Covariances
        from pyriemann.tangentspace import TangentSpace
        from sklearn.linear_model import LogisticRegression

        if not float(self.C) > 0:
            raise ValueError(f"TangentSpaceLR: C must be > 0; got {self.C!r}")
        steps = _bandpass_step(self, self.l_freq, self.h_freq)
        return Pipeline(
            [
                *steps,
                ("cov", Covariances(estimator=self.cov_estimator)),
                ("tangent", TangentSpace(metric=self.metric)),
                ("logreg", LogisticRegression(C=float(self.C), max_iter=int(self.max_iter))),
            ]
        )

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, band above Nyquist)."""
        _check_data_info(self, info, [(self.l_freq, self.h_freq)])


class FilterBankCSP(_EpochsClassifier):
    """Filter-bank CSP (Ang et al., 2008): CSP per frequency band, feature selection, LDA.

    For every band: ``BandPassFilter -> Covariances(cov_estimator) -> CSP`` (pyriemann's CSP on the
    band's covariance matrices: the same generalized eigen-decomposition as MNE's CSP,
    computed once per band from covariances, which keeps seven bands fast). The
    log-variance features of all bands are concatenated, the ``k_best`` most informative
    ones are kept (mutual information with the class, as in the original MIBIF, or the
    ANOVA F-value), and a shrinkage LDA classifies them. Selection is fit on the
    training partition only (it is a pipeline step).

    Parameters
    ----------
    bands : sequence of (low, high)
        Filter bank in Hz (default: 4-32 Hz in 4 Hz steps, :data:`DEFAULT_FBCSP_BANDS`).
    n_components : int
        CSP components per band.
    k_best : int
        Features kept after selection (clipped to ``len(bands) * n_components``).
    sfreq : float or None
        Sampling frequency in Hz; ``None`` is filled in by the experiment from the data.
    selection : {"mutual_info", "anova"}
        Feature score for the selection.
    cov_estimator : str
        pyriemann covariance estimator per band. ``"scm"`` (sample covariance, as in
        classic CSP) by default: CSP only uses the class-mean covariances, which are well
        conditioned, and it is about 3x faster than the shrinkage estimators
        (``"oas"``, ``"lwf"``), which are worth it for few, short windows.
    shrinkage : "auto" | float | None
        LDA shrinkage.
    random_state : int or None
        Seed of the mutual-information estimate (it adds small noise to break ties).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.standard_normal((40, 4, 200)), np.repeat([0, 1], 20)
    >>> X[y == 1, 0] *= 3
    >>> FilterBankCSP(bands=[(8, 12), (12, 16)], n_components=2, k_best=2,
    ...               sfreq=100.0, random_state=0).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        bands: Sequence[Sequence[float]] = DEFAULT_FBCSP_BANDS,
        n_components: int = 4,
        k_best: int = 8,
        sfreq: float | None = None,
        selection: str = "mutual_info",
        cov_estimator: str = "scm",
        shrinkage: str | float | None = "auto",
        random_state: int | None = None,
    ):
        self.bands = bands
        self.n_components = n_components
        self.k_best = k_best
        self.sfreq = sfreq
        self.selection = selection
        self.cov_estimator = cov_estimator
        self.shrinkage = shrinkage
        self.random_state = random_state

    def _make_pipeline(self) -> Pipeline:
        from functools import partial

        from pyriemann.estimation import Covariances
        from pyriemann.spatialfilters import CSP
        from sklearn.feature_selection import SelectKBest, f_classif, mutual_info_classif

        owner = type(self).__name__
        sfreq = _check_sfreq(self.sfreq, owner)
        bands = _check_bands(self.bands, sfreq, owner)
        if int(self.n_components) < 1:
            raise ValueError(f"{owner}: n_components must be >= 1; got {self.n_components!r}")
        if int(self.k_best) < 1:
            raise ValueError(f"{owner}: k_best must be >= 1; got {self.k_best!r}")
        if self.selection == "mutual_info":
            score_func = partial(mutual_info_classif, random_state=self.random_state)
        elif self.selection == "anova":
            score_func = f_classif
        else:
            raise ValueError(
                f"{owner}: selection must be 'mutual_info' or 'anova'; got {self.selection!r}"
            )
        n_features = len(bands) * int(self.n_components)
        k = min(int(self.k_best), n_features)
        if k < int(self.k_best):
            logger.info("%s: k_best=%s clipped to the %d features", owner, self.k_best, n_features)
        branches = [
            (
                f"band_{lo:g}_{hi:g}",
                Pipeline(
                    [
                        ("bandpass", BandPassFilter(lo, hi, sfreq=sfreq)),
                        ("cov", Covariances(estimator=self.cov_estimator)),
                        ("csp", CSP(nfilter=int(self.n_components), log=True)),
                    ]
                ),
            )
            for lo, hi in bands
        ]
        return Pipeline(
            [
                ("filterbank", FeatureUnion(branches)),
                ("select", SelectKBest(score_func, k=k)),
                ("lda", _lda(self.shrinkage)),
            ]
        )

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, bands above Nyquist)."""
        _check_data_info(self, info, _check_bands(self.bands, None, type(self).__name__))


class BandPowerLinear(_EpochsClassifier):
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
        Sampling frequency in Hz; ``None`` is filled in by the experiment from the data.
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

    def _make_pipeline(self) -> Pipeline:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        owner = type(self).__name__
        sfreq = _check_sfreq(self.sfreq, owner)
        bands = _check_bands(self.bands, sfreq, owner)
        if not float(self.C) > 0:
            raise ValueError(f"{owner}: C must be > 0; got {self.C!r}")
        return Pipeline(
            [
                ("power", BandPower(bands, sfreq=sfreq, window_seconds=self.window_seconds)),
                ("scale", StandardScaler()),
                ("logreg", LogisticRegression(C=float(self.C), max_iter=int(self.max_iter))),
            ]
        )

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, bands above Nyquist)."""
        _check_data_info(self, info, _check_bands(self.bands, None, type(self).__name__))


class BandPowerRidge(_EpochsPipelineMixin, RegressorMixin, BaseEstimator):
    """Log band power per channel + standardisation + ridge regression (regression task).

    ``BandPower(bands) -> StandardScaler -> Ridge``; see :class:`BandPowerLinear`.

    Parameters
    ----------
    bands : sequence of (low, high)
        Bands in Hz (default :data:`DEFAULT_POWER_BANDS`).
    sfreq : float or None
        Sampling frequency in Hz; ``None`` is filled in by the experiment from the data.
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

    def _make_pipeline(self) -> Pipeline:
        from sklearn.linear_model import Ridge
        from sklearn.preprocessing import StandardScaler

        owner = type(self).__name__
        sfreq = _check_sfreq(self.sfreq, owner)
        bands = _check_bands(self.bands, sfreq, owner)
        if float(self.alpha) < 0:
            raise ValueError(f"{owner}: alpha must be >= 0; got {self.alpha!r}")
        return Pipeline(
            [
                ("power", BandPower(bands, sfreq=sfreq, window_seconds=self.window_seconds)),
                ("scale", StandardScaler()),
                ("ridge", Ridge(alpha=float(self.alpha))),
            ]
        )

    def check_data_info(self, info) -> None:
        """Raise before fitting when the data cannot be used (2-D, bands above Nyquist)."""
        _check_data_info(self, info, _check_bands(self.bands, None, type(self).__name__))


# --------------------------------------------------------------------------- table

#: (registry name, estimator class, tasks, description): read by
#: :mod:`coco_pipe.decoding.registry`; this module never imports the registry.
BASELINES: tuple[tuple[str, type, tuple[str, ...], str], ...] = (
    ("CSP_LDA", CSPLDA, ("classification",),
     "Band-pass 8-30 Hz, MNE CSP (log-variance), shrinkage LDA."),
    ("TangentSpace_LR", TangentSpaceLR, ("classification",),
     "Band-pass, OAS covariances, Riemannian tangent space, logistic regression."),
    ("FBCSP", FilterBankCSP, ("classification",),
     "Filter bank 4-32 Hz, CSP per band, mutual-information selection, LDA."),
    ("BandPower_LR", BandPowerLinear, ("classification",),
     "Welch log band power per channel, standardised, logistic regression."),
    ("BandPower_Ridge", BandPowerRidge, ("regression",),
     "Welch log band power per channel, standardised, ridge regression."),
)  # fmt: skip
