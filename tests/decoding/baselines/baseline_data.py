"""Helpers of the baseline tests: synthetic SSVEP (class-specific sinusoids in noise) and
ERP (a class-specific evoked waveform in noise) with a few "subjects", the binomial
chance bound, and the two CV protocols the tests use."""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

MI_SFREQ = 100.0
SSVEP_SFREQ = 128.0
SSVEP_FREQS = {"rest": None, "13Hz": 13.0, "17Hz": 17.0, "21Hz": 21.0}
SSVEP_BANDS = [[12.5, 13.5], [16.5, 17.5], [20.5, 21.5]]
ERP_SFREQ = 128.0


def chance_bound(n: int, n_classes: int, alpha: float = 1e-4) -> float:
    """Accuracy that guessing among ``n_classes`` classes exceeds with probability < ``alpha``
    on ``n`` test windows: the binomial (n, 1 / n_classes) upper quantile, over n."""
    return float(binom.isf(alpha, n, 1.0 / n_classes) + 1) / n


def _background(rng, n_windows, n_channels, n_times, sfreq):
    """Spatially correlated noise with a 1/f-like spectrum and a 10 Hz alpha rhythm."""
    from scipy.signal import lfilter

    white = rng.standard_normal((n_windows, n_channels, n_times + 256))
    pink = lfilter([1.0], [1.0, -0.9], white, axis=-1)[..., 256:]  # AR(1): more power low
    mixing = np.eye(n_channels) + 0.3 * rng.standard_normal((n_channels, n_channels))
    noise = np.einsum("ij,njt->nit", mixing, pink / pink.std())
    t = np.arange(n_times) / sfreq
    phase = rng.uniform(0, 2 * np.pi, (n_windows, 1, 1))
    alpha = rng.uniform(0.2, 0.6, (n_windows, n_channels, 1)) * np.sin(2 * np.pi * 10 * t + phase)
    return noise + alpha


def make_ssvep(n_subjects=3, n_per_class=12, amplitude=0.1, n_channels=8, seconds=2.0,
               random_state=0):  # fmt: skip
    """Windows (n, 8, 256) at 128 Hz: each class adds a sinusoid at its frequency (and a
    weaker second harmonic, random phase per trial) through a subject-specific spatial
    pattern; ``rest`` adds none. Returns X, y (labels of SSVEP_FREQS), subject."""
    rng = np.random.default_rng(random_state)
    n_times = int(seconds * SSVEP_SFREQ)
    t = np.arange(n_times) / SSVEP_SFREQ
    X, y, subject = [], [], []
    for s in range(n_subjects):
        pattern = rng.uniform(0.3, 1.0, n_channels)
        labels = np.repeat(list(SSVEP_FREQS), n_per_class)
        data = _background(rng, len(labels), n_channels, n_times, SSVEP_SFREQ)
        for i, label in enumerate(labels):
            freq = SSVEP_FREQS[label]
            if freq is None:
                continue
            phase = rng.uniform(0, 2 * np.pi)
            wave = np.sin(2 * np.pi * freq * t + phase) + 0.4 * np.sin(4 * np.pi * freq * t + phase)
            data[i] += amplitude * pattern[:, None] * wave
        X.append(data), y.append(labels), subject.append(np.full(len(labels), s))
    return np.concatenate(X), np.concatenate(y), np.concatenate(subject)


def make_erp(n_subjects=3, n_per_class=30, amplitude=1.5, n_channels=8, random_state=0):
    """Windows (n, 8, 128) of 1 s at 128 Hz: class ``target`` adds a P300-like positive
    wave (Gaussian at 300 ms, sd 60 ms) through a subject-specific pattern, with a
    jitter of 20 ms; ``nontarget`` adds none. Returns X, y, subject."""
    rng = np.random.default_rng(random_state)
    n_times = int(ERP_SFREQ)
    t = np.arange(n_times) / ERP_SFREQ
    X, y, subject = [], [], []
    for s in range(n_subjects):
        pattern = rng.uniform(0.2, 1.0, n_channels)
        labels = np.repeat(["nontarget", "target"], n_per_class)
        data = _background(rng, len(labels), n_channels, n_times, ERP_SFREQ)
        for i in np.flatnonzero(labels == "target"):
            peak = 0.3 + rng.normal(0.0, 0.02)
            data[i] += amplitude * pattern[:, None] * np.exp(-0.5 * ((t - peak) / 0.06) ** 2)
        X.append(data), y.append(labels), subject.append(np.full(len(labels), s))
    return np.concatenate(X), np.concatenate(y), np.concatenate(subject)


def within_subject_predictions(make_estimator, X, y, subject, n_splits=4):
    """Pooled predictions of a stratified K-fold CV inside each subject (MOABB's
    within-session protocol)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    pred = np.empty_like(y)
    for s in np.unique(subject):
        m = subject == s
        cv = StratifiedKFold(n_splits, shuffle=True, random_state=0)
        pred[m] = cross_val_predict(make_estimator(), X[m], y[m], cv=cv)
    return pred


def within_subject_accuracy(make_estimator, X, y, subject, n_splits=4) -> float:
    """Accuracy of :func:`within_subject_predictions` over all windows."""
    return float(np.mean(within_subject_predictions(make_estimator, X, y, subject, n_splits) == y))


def grouped_cv(name, X, y, groups, sfreq=MI_SFREQ, **params):
    """Subject-grouped 4-fold balanced accuracy of a registered baseline."""
    from sklearn.model_selection import GroupKFold, cross_val_score

    from coco_pipe.decoding.registry import get_classical

    est = get_classical(name).factory(sfreq=sfreq, **params)
    if "random_state" in est.get_params():  # FBCSP's mutual-information selection
        est.set_params(random_state=0)
    return cross_val_score(
        est, X, y, groups=groups, cv=GroupKFold(n_splits=4), scoring="balanced_accuracy"
    )


def kalunga_epochs_path():
    """The shared Kalunga2016 epochs (``../shared/data/kalunga2016/epochs.npz`` beside the
    checkout or beside its parent, e.g. a worktree folder), or ``None``."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    for shared in (root.parent / "shared", root.parent.parent / "shared"):
        path = shared / "data" / "kalunga2016" / "epochs.npz"
        if path.is_file():
            return path
    return None
