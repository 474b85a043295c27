"""Input and parameter checks shared by the baselines (no estimator lives here).

Every baseline reads its ``X`` through :func:`read_epochs`, which accepts an
``mne.Epochs`` or any 3-D array-like, and resolves its sampling rate with
:func:`resolve_sfreq` (the ``sfreq`` parameter, else the one an ``mne.Epochs``
carries). Errors name the parameter, what was given and what was expected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...data import as_windows

__all__ = [
    "check_epochs",
    "read_epochs",
    "resolve_sfreq",
    "check_sfreq",
    "check_band",
    "check_bands",
    "check_positive",
    "check_data_info",
    "quiet_mne",
    "epochs_tags",
]


def check_epochs(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a finite float64 array of shape (n_windows, n_channels, n_times)."""
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


def read_epochs(X: Any) -> tuple[np.ndarray, float | None]:
    """The windows of ``X`` (an ``mne.Epochs`` or a 3-D array) and the sampling rate it
    carries (``None`` for arrays), through :func:`coco_pipe.data.as_windows`."""
    windows = as_windows(X)
    return check_epochs(windows.X), windows.sfreq


def check_sfreq(sfreq: Any, owner: str) -> float:
    """A positive sampling frequency in Hz; a ``ValueError`` saying how to give one."""
    if sfreq is None:
        raise ValueError(
            f"{owner} needs sfreq (Hz), but sfreq=None and X carries none (a plain array). "
            "Pass sfreq=<Hz>, give X as an mne.Epochs (its sampling rate is read), or run it "
            "inside an Experiment, which sets sfreq from the data."
        )
    try:
        value = float(sfreq)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: sfreq must be a positive number (Hz); got {sfreq!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: sfreq must be a positive number (Hz); got {sfreq!r}")
    return value


def resolve_sfreq(given: Any, carried: float | None, owner: str) -> float | None:
    """The sampling rate to use: ``given`` (the ``sfreq`` parameter), else ``carried``
    (read from an ``mne.Epochs``); ``None`` when neither is known. Raises when both are
    known and disagree."""
    if given is None:
        return carried
    value = check_sfreq(given, owner)
    if carried is not None and abs(value - carried) > 1e-6:
        raise ValueError(
            f"{owner}: sfreq={given!r} was set but X (an mne.Epochs) is sampled at "
            f"{carried:g} Hz; leave sfreq=None to take it from the data"
        )
    return value


def check_band(
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


def check_bands(bands: Any, sfreq: float | None, owner: str) -> tuple[tuple[float, float], ...]:
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
            check_band(lo, hi, sfreq, owner, f"band {tuple(band)!r}")
        out.append((lo, hi))
    return tuple(out)


def check_positive(value: Any, owner: str, param: str, *, integer: bool = False) -> Any:
    """``value`` as a number > 0 (an int >= 1 with ``integer=True``)."""
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not number > 0 or (integer and number != value):
        kind = "a positive integer" if integer else "a number > 0"
        raise ValueError(f"{owner}: {param} must be {kind}; got {value!r}")
    return number


def check_data_info(est: Any, info: Any, bands: Sequence, max_freq: float | None = None) -> None:
    """Shared ``check_data_info`` hook: 3-D input, matching sfreq, bands below Nyquist.

    ``bands`` holds (low, high) pairs; an edge may be ``None`` (no filtering on that side).
    ``max_freq`` is the highest frequency the estimator needs below Nyquist besides the
    bands (e.g. the top harmonic of a CCA reference). Raises ``ValueError`` before any
    fitting.
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
    if max_freq is None and all(lo is None and hi is None for lo, hi in bands):
        return
    sfreq = check_sfreq(est.sfreq if est.sfreq is not None else info_sfreq, owner)
    for lo, hi in bands:
        check_band(lo, hi, sfreq, owner, f"band ({lo!r}, {hi!r})")
    if max_freq is not None and not max_freq < sfreq / 2.0:
        raise ValueError(
            f"{owner}: needs {max_freq:g} Hz, at or above Nyquist={sfreq / 2.0:g} Hz "
            f"(sfreq={sfreq:g} Hz); lower n_harmonics or the frequencies"
        )


@contextlib.contextmanager
def quiet_mne():
    """MNE logs rank and covariance details at INFO on every fit; keep them quiet."""
    import mne

    with mne.utils.use_log_level("WARNING"):
        yield


def epochs_tags(tags, *, requires_fit: bool = True):
    """scikit-learn tags of an estimator that takes 3-D epochs only."""
    tags.input_tags.three_d_array = True
    tags.input_tags.two_d_array = False
    tags.requires_fit = requires_fit
    return tags
