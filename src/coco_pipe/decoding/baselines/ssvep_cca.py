"""SSVEP canonical correlation analysis with sine/cosine references: :class:`SSVEPCCA`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .checks import (
    check_data_info,
    check_positive,
    check_sfreq,
    epochs_tags,
    read_epochs,
    resolve_sfreq,
)
from .epochs_pipeline import check_fitted_epochs, check_targets

__all__ = ["SSVEPCCA", "canonical_correlations"]


def _class_frequencies(freqs: Any, classes: np.ndarray, owner: str) -> list[tuple[float, ...]]:
    """Stimulus frequencies of each class of ``classes`` (``()`` for a no-stimulus class)."""
    if freqs is None:
        raise ValueError(
            f"{owner} needs freqs: a mapping class label -> stimulus frequency in Hz (or a "
            "list of them; None for a class without stimulus, e.g. rest), or a list in the "
            f"order of the sorted classes {classes.tolist()}; got freqs=None"
        )
    if isinstance(freqs, Mapping):
        by_text = {str(k): v for k, v in freqs.items()}
        known = {str(c) for c in classes}
        unknown = sorted(set(by_text) - known)
        if unknown:
            raise ValueError(f"{owner}: freqs names {unknown}, not classes of y {classes.tolist()}")
        missing = [c for c in classes.tolist() if str(c) not in by_text]
        if missing:
            raise ValueError(
                f"{owner}: freqs gives no frequency for classes {missing}; map them to a "
                "frequency in Hz, or to None for a class without stimulus"
            )
        values = [by_text[str(c)] for c in classes.tolist()]
    elif isinstance(freqs, Sequence) and not isinstance(freqs, str):
        if len(freqs) != len(classes):
            raise ValueError(
                f"{owner}: freqs lists {len(freqs)} entries but y has {len(classes)} classes "
                f"{classes.tolist()} (sorted); give one per class, None for no stimulus"
            )
        values = list(freqs)
    else:
        raise ValueError(f"{owner}: freqs must be a mapping or a list; got {freqs!r}")
    out = []
    for label, value in zip(classes.tolist(), values, strict=True):
        entries = () if value is None else (value,) if np.isscalar(value) else tuple(value)
        try:
            hz = tuple(float(f) for f in entries)
        except (TypeError, ValueError):
            raise ValueError(
                f"{owner}: frequency of class {label!r} must be Hz; got {value!r}"
            ) from None
        if not all(np.isfinite(f) and f > 0 for f in hz):
            raise ValueError(f"{owner}: frequency of class {label!r} must be > 0 Hz; got {value!r}")
        out.append(hz)
    if sum(not hz for hz in out) > 1:
        raise ValueError(
            f"{owner}: at most one class may have no stimulus frequency (None); got "
            f"{[c for c, hz in zip(classes.tolist(), out, strict=True) if not hz]}"
        )
    if all(not hz for hz in out):
        raise ValueError(f"{owner}: freqs gives no stimulus frequency at all")
    return out


def _orthonormal_basis(A: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n_times, rank) of the centred columns of ``A`` (n_times, k);
    directions with negligible singular values are dropped (rank-deficient windows,
    e.g. average-referenced, gain no spurious correlation)."""
    A = A - A.mean(axis=0)
    u, s, _ = np.linalg.svd(A, full_matrices=False)
    return u[:, s > s.max(initial=0.0) * max(A.shape) * np.finfo(np.float64).eps]


def canonical_correlations(X: np.ndarray, references: Sequence[np.ndarray]) -> np.ndarray:
    """(n_windows, n_references) largest canonical correlations between the channels of
    each window of ``X`` (n_windows, n_channels, n_times) and each reference, given as an
    orthonormal basis (n_times, k) (Björck & Golub, 1973: the top singular value of the
    product of the two orthonormal bases)."""
    out = np.zeros((len(X), len(references)))
    for i, x in enumerate(X):
        window = _orthonormal_basis(x.T)
        if window.shape[1] == 0:
            continue  # a flat window correlates with nothing
        for j, basis in enumerate(references):
            out[i, j] = np.linalg.svd(window.T @ basis, compute_uv=False)[0]
    return np.minimum(out, 1.0)


class SSVEPCCA(ClassifierMixin, BaseEstimator):
    """Canonical correlation analysis with sine/cosine references (Lin et al., 2006;
    Bin et al., 2009), as MOABB's ``SSVEP_CCA``.

    For every stimulus frequency ``f`` the reference holds ``sin`` and ``cos`` of
    ``2 pi h f t`` for the harmonics ``h = 1 .. n_harmonics``; a window's score for a
    class is the largest canonical correlation between its channels and that class's
    reference (all its frequencies together). The class with the highest score wins.
    Nothing is learned from the signals except, when a class has no stimulus (``None``
    in ``freqs``, e.g. rest), a threshold on the best correlation: below it, the window
    is given that class. The threshold maximises the balanced accuracy of "no stimulus
    vs stimulus" on the training windows (MOABB's version has no such class and cannot
    predict rest).

    Parameters
    ----------
    freqs : mapping or sequence
        Stimulus frequency of each class in Hz: a mapping ``label -> Hz`` (or a list of
        Hz for a class with several; ``None`` for a class without stimulus), or a list
        of such entries in the order of the sorted class labels. Mapping keys are
        matched to labels as they are or as text, so ``{"13": 13.0}`` matches label 13.
        Required (the default ``None`` raises in ``fit``).
    n_harmonics : int
        Harmonics in each reference (MOABB's default: 3). The top one must stay below
        Nyquist.
    sfreq : float or None
        Sampling frequency in Hz; ``None``: read from an ``mne.Epochs`` input, or set by
        the experiment from the data.
    rest_threshold : float or None
        Fixed threshold on the best correlation for the no-stimulus class; ``None``
        learns it from the training windows.

    Attributes
    ----------
    classes_ : ndarray
        Sorted class labels.
    class_freqs_ : list of tuple of float
        Stimulus frequencies of each class (empty for the no-stimulus class).
    threshold_ : float or None
        Threshold of the no-stimulus class (``None`` without such a class).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(256) / 128.0
    >>> X = np.stack([np.sin(2 * np.pi * f * t)[None].repeat(3, 0) for f in (13, 17)])
    >>> X = X + 0.5 * np.random.default_rng(0).standard_normal(X.shape)
    >>> cca = SSVEPCCA(freqs={"13Hz": 13.0, "17Hz": 17.0}, sfreq=128.0)
    >>> cca.fit(X, ["13Hz", "17Hz"]).predict(X).tolist()
    ['13Hz', '17Hz']
    """

    def __init__(
        self,
        freqs: Mapping[Any, Any] | Sequence[Any] | None = None,
        n_harmonics: int = 3,
        sfreq: float | None = None,
        rest_threshold: float | None = None,
    ):
        self.freqs = freqs
        self.n_harmonics = n_harmonics
        self.sfreq = sfreq
        self.rest_threshold = rest_threshold

    def _references(self, n_times: int) -> list[np.ndarray | None]:
        """Orthonormal reference basis per class (``None`` for the no-stimulus class)."""
        t = np.arange(n_times) / self.sfreq_
        out = []
        for hz in self.class_freqs_:
            if not hz:
                out.append(None)
                continue
            waves = [
                wave(2 * np.pi * h * f * t)
                for f in hz
                for h in range(1, int(self.n_harmonics) + 1)
                for wave in (np.sin, np.cos)
            ]
            out.append(_orthonormal_basis(np.stack(waves, axis=1)))
        return out

    def _correlations(self, X: np.ndarray) -> np.ndarray:
        """(n_windows, n_classes) canonical correlations; NaN for the no-stimulus class."""
        refs = self._references(X.shape[-1])
        stimulus = [j for j, basis in enumerate(refs) if basis is not None]
        out = np.full((len(X), len(refs)), np.nan)
        out[:, stimulus] = canonical_correlations(X, [refs[j] for j in stimulus])
        return out

    def _check_top_harmonic(self, sfreq: float, freqs: list[tuple[float, ...]]) -> None:
        top = int(self.n_harmonics) * max(f for hz in freqs for f in hz)
        if not top < sfreq / 2.0:
            raise ValueError(
                f"{type(self).__name__}: harmonic {self.n_harmonics} of "
                f"{max(f for hz in freqs for f in hz):g} Hz is {top:g} Hz, at or above "
                f"Nyquist={sfreq / 2.0:g} Hz; lower n_harmonics or raise the sampling rate"
            )

    def fit(self, X, y):
        """Match classes to frequencies and, with a no-stimulus class, learn its
        threshold; returns ``self``."""
        owner = type(self).__name__
        X, carried = read_epochs(X)
        y = check_targets(y, len(X))
        sfreq = check_sfreq(resolve_sfreq(self.sfreq, carried, owner), owner)
        check_positive(self.n_harmonics, owner, "n_harmonics", integer=True)
        classes = np.unique(y)
        freqs = _class_frequencies(self.freqs, classes, owner)
        self._check_top_harmonic(sfreq, freqs)
        self.classes_, self.class_freqs_, self.sfreq_ = classes, freqs, sfreq
        self.n_channels_ = X.shape[1]
        rest = [j for j, hz in enumerate(freqs) if not hz]
        if not rest:
            self.threshold_ = None
        elif self.rest_threshold is not None:
            self.threshold_ = float(self.rest_threshold)
        else:
            best = np.nanmax(self._correlations(X), axis=1)
            self.threshold_ = _best_threshold(best, y == classes[rest[0]])
        return self

    def decision_function(self, X) -> np.ndarray:
        """Score per class, columns in the order of ``classes_``: the canonical
        correlation with the class's reference, ``threshold_`` for the no-stimulus class."""
        X = check_fitted_epochs(self, X)
        scores = self._correlations(X)
        if self.threshold_ is not None:
            scores[np.isnan(scores)] = self.threshold_
        return scores

    def predict(self, X) -> np.ndarray:
        """The class with the highest score per window."""
        scores = self.decision_function(X)  # NotFittedError before touching classes_
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Scores normalised to sum to one per window (as MOABB's ``SSVEP_CCA``): relative
        correlations, not calibrated probabilities."""
        scores = np.clip(self.decision_function(X), 0.0, None)
        total = scores.sum(axis=1, keepdims=True)
        uniform = np.full_like(scores, 1.0 / scores.shape[1])
        return np.divide(scores, total, out=uniform, where=total > 0)

    def check_data_info(self, info) -> None:
        """Raise before fitting: 2-D input, no or unknown freqs, top harmonic above Nyquist."""
        owner = type(self).__name__
        check_data_info(self, info, [])
        classes = getattr(info, "classes", None)
        if classes is None and self.freqs is not None:
            return  # classes unknown: the mapping is checked in fit
        freqs = _class_frequencies(self.freqs, np.asarray(classes or []), owner)
        check_positive(self.n_harmonics, owner, "n_harmonics", integer=True)
        sfreq = check_sfreq(self.sfreq if self.sfreq is not None else info.sfreq, owner)
        self._check_top_harmonic(sfreq, freqs)

    def __sklearn_tags__(self):
        return epochs_tags(super().__sklearn_tags__())


def _best_threshold(best: np.ndarray, is_rest: np.ndarray) -> float:
    """The threshold on ``best`` (rest below it) with the highest training balanced
    accuracy of rest vs stimulus; midpoints between sorted scores are the candidates."""
    if is_rest.all() or not is_rest.any():
        return float(np.median(best))
    values = np.unique(best)
    candidates = np.concatenate(
        [[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]]
    )
    below = best[None, :] < candidates[:, None]  # (n_candidates, n_windows): predicted rest
    recall_rest = below[:, is_rest].mean(axis=1)
    recall_stim = (~below[:, ~is_rest]).mean(axis=1)
    return float(candidates[np.argmax(recall_rest + recall_stim)])
