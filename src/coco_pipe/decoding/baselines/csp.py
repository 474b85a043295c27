"""Common spatial patterns: :class:`CSPLDA` (one band) and :class:`FilterBankCSP` (FBCSP)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sklearn.pipeline import FeatureUnion, Pipeline

from .checks import check_bands, check_data_info, check_sfreq
from .epochs_pipeline import EpochsClassifier
from .filters import BandPassFilter, bandpass_steps

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_FBCSP_BANDS", "CSPLDA", "FilterBankCSP"]

#: Filter bank of FBCSP (Ang et al., 2008): seven 4 Hz wide bands from 4 to 32 Hz.
DEFAULT_FBCSP_BANDS: tuple[tuple[float, float], ...] = (
    (4.0, 8.0), (8.0, 12.0), (12.0, 16.0), (16.0, 20.0), (20.0, 24.0), (24.0, 28.0), (28.0, 32.0),
)  # fmt: skip


def _lda(shrinkage):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    # lsqr supports shrinkage ("auto" = Ledoit-Wolf) and predict_proba
    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)


class CSPLDA(EpochsClassifier):
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
        Sampling frequency in Hz; ``None``: read from an ``mne.Epochs`` input, or set by
        the experiment from the data.
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

    def _make_pipeline(self, sfreq: float | None) -> Pipeline:
        from mne.decoding import CSP

        if int(self.n_components) < 1:
            raise ValueError(f"CSPLDA: n_components must be >= 1; got {self.n_components!r}")
        if self.cov_est not in ("concat", "epoch"):
            raise ValueError(f"CSPLDA: cov_est must be 'concat' or 'epoch'; got {self.cov_est!r}")
        steps = bandpass_steps(self, sfreq)
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
        check_data_info(self, info, [(self.l_freq, self.h_freq)])


class FilterBankCSP(EpochsClassifier):
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
        Sampling frequency in Hz; ``None``: read from an ``mne.Epochs`` input, or set by
        the experiment from the data.
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

    def _make_pipeline(self, sfreq: float | None) -> Pipeline:
        from functools import partial

        from pyriemann.estimation import Covariances
        from pyriemann.spatialfilters import CSP
        from sklearn.feature_selection import SelectKBest, f_classif, mutual_info_classif

        owner = type(self).__name__
        sfreq = check_sfreq(sfreq, owner)
        bands = check_bands(self.bands, sfreq, owner)
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
        check_data_info(self, info, check_bands(self.bands, None, type(self).__name__))
