"""Units of EEG amplitudes, and whether windows look like EEG in the declared unit.

Foundation models were pretrained on inputs of a known scale (``spec.amplitude_scale``
turns volts into the model's unit), so data stored in another unit than declared (a
recording in microvolts read as volts, or 1000x too large) silently give poor
embeddings. :func:`check_amplitude` measures a robust amplitude of a sample of windows
(the median over channels of each channel's median absolute deviation) and compares it
with the physiological range of scalp EEG in volts, :data:`EEG_ROBUST_RANGE_V`.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(scale=10e-6, size=(4, 3, 256))  # 10 uV, in volts
>>> check_amplitude(X).plausible
True
>>> check = check_amplitude(X * 1e6)  # the same data in microvolts, declared as volts
>>> check.plausible, check.suggested_unit
(False, 'uV')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Accepted ``unit`` spellings -> volts per unit.
UNITS: dict[str, float] = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "μV": 1e-6, "nV": 1e-9}
#: Canonical spelling of each accepted unit.
_CANONICAL = {"V": "V", "mV": "mV", "uV": "uV", "µV": "uV", "μV": "uV", "nV": "nV"}
#: Robust amplitude (median over channels of the per-channel median absolute deviation)
#: of scalp EEG, in volts: about 1 to 100 uV of signal standard deviation, with a factor-2
#: margin on each side (band-passed recordings sit near the low end).
EEG_ROBUST_RANGE_V: tuple[float, float] = (5e-7, 5e-4)
#: Windows sampled (evenly spaced) to measure the amplitude.
MAX_WINDOWS = 64


class AmplitudeWarning(UserWarning):
    """Windows whose robust amplitude is not that of EEG in their declared unit."""


def canonical_unit(unit: str) -> str:
    """``unit`` in its canonical spelling (``"V"``, ``"mV"``, ``"uV"``, ``"nV"``).

    Examples
    --------
    >>> canonical_unit("µV")
    'uV'
    >>> canonical_unit("volts")
    Traceback (most recent call last):
    ...
    ValueError: unit='volts' is not a known amplitude unit; expected one of V, mV, uV (or µV), nV
    """
    if isinstance(unit, str) and unit.strip() in _CANONICAL:
        return _CANONICAL[unit.strip()]
    raise ValueError(
        f"unit={unit!r} is not a known amplitude unit; expected one of V, mV, uV (or µV), nV"
    )


def volts_per_unit(unit: str) -> float:
    """How many volts one ``unit`` is (``"uV"`` -> 1e-6).

    Examples
    --------
    >>> volts_per_unit("mV")
    0.001
    """
    return UNITS[canonical_unit(unit)]


def robust_amplitude(X: Any, max_windows: int = MAX_WINDOWS) -> float:
    """Median over channels of each channel's median absolute deviation, on up to
    ``max_windows`` evenly spaced windows of ``X`` (n_windows, n_channels, n_times), in the
    unit of ``X``. Non-finite samples are left out.

    Examples
    --------
    >>> import numpy as np
    >>> robust_amplitude(np.ones((2, 3, 10)))
    0.0
    """
    X = np.asarray(X) if not hasattr(X, "shape") else X
    if X.ndim != 3 or X.shape[0] == 0:
        raise ValueError(f"X must be 3-D (n_windows, n_channels, n_times), got shape {X.shape}")
    idx = np.unique(np.linspace(0, X.shape[0] - 1, min(max_windows, X.shape[0])).astype(int))
    sample = np.asarray(X[idx], dtype=np.float64).transpose(1, 0, 2).reshape(X.shape[1], -1)
    sample = np.where(np.isfinite(sample), sample, np.nan)
    med = np.nanmedian(sample, axis=1, keepdims=True)
    mad = np.nanmedian(np.abs(sample - med), axis=1)
    mad = mad[np.isfinite(mad)]
    return float(np.median(mad)) if mad.size else float("nan")


@dataclass(frozen=True)
class AmplitudeCheck:
    """The robust amplitude of windows against the EEG range of their declared unit.

    Attributes
    ----------
    unit : str
        Declared unit (canonical spelling).
    amplitude : float
        :func:`robust_amplitude` in the declared unit.
    amplitude_volts : float
        The same in volts.
    plausible : bool
        Within :data:`EEG_ROBUST_RANGE_V`.
    suggested_unit : str or None
        When implausible: the unit under which the values would be plausible, if any.
    """

    unit: str
    amplitude: float
    amplitude_volts: float
    plausible: bool
    suggested_unit: str | None

    def message(self) -> str:
        """What was measured and how to fix it (empty when plausible)."""
        if self.plausible:
            return ""
        lo, hi = EEG_ROBUST_RANGE_V
        if self.suggested_unit is not None:
            fix = (
                f"The values look like {self.suggested_unit}: declare the unit (data.unit: "
                f"{self.suggested_unit} in the config, Experiment.run(..., unit="
                f"{self.suggested_unit!r}), or unit={self.suggested_unit!r} on the estimator), "
                "or rescale X to volts."
            )
        else:
            fix = (
                "No amplitude unit makes them plausible EEG: check the data (flat or "
                "saturated channels, wrong scaling) and rescale X to volts."
            )
        return (
            f"the input's robust amplitude (median over channels of the median absolute "
            f"deviation) is {self.amplitude:.3g} {self.unit} = {self.amplitude_volts:.3g} V, "
            f"outside the range of scalp EEG ({lo:g} .. {hi:g} V) for unit={self.unit!r}; "
            f"foundation models are sensitive to the input scale. {fix}"
        )

    def as_tags(self) -> dict[str, str]:
        """Run tags: ``data.unit`` and ``data.amplitude`` (``plausible`` / ``implausible``)."""
        return {
            "data.unit": self.unit,
            "data.amplitude": "plausible" if self.plausible else "implausible",
        }

    def as_params(self) -> dict[str, Any]:
        """Run params: ``data.robust_amplitude_volts``."""
        return {"data.robust_amplitude_volts": float(f"{self.amplitude_volts:.6g}")}


def check_amplitude(X: Any, unit: str = "V", max_windows: int = MAX_WINDOWS) -> AmplitudeCheck:
    """Whether windows in ``unit`` have the robust amplitude of scalp EEG.

    Parameters
    ----------
    X : array, shape (n_windows, n_channels, n_times)
    unit : str
        Declared unit of ``X`` (``"V"`` default, ``"mV"``, ``"uV"``, ``"nV"``).
    max_windows : int
        Windows sampled.

    Returns
    -------
    AmplitudeCheck

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(scale=10e-3, size=(4, 3, 256))  # 10 uV in mV
    >>> check_amplitude(X, unit="mV").plausible
    True
    """
    unit = canonical_unit(unit)
    amp = robust_amplitude(X, max_windows)
    volts = amp * UNITS[unit]
    lo, hi = EEG_ROBUST_RANGE_V
    plausible = bool(lo <= volts <= hi)
    suggested = None
    if not plausible and amp > 0 and np.isfinite(amp):
        for name in ("V", "mV", "uV", "nV"):
            if lo <= amp * UNITS[name] <= hi:
                suggested = name
                break
    return AmplitudeCheck(unit, amp, volts, plausible, suggested)


def warn_if_implausible(check: AmplitudeCheck, who: str, stacklevel: int = 3) -> None:
    """Issue an :class:`AmplitudeWarning` with ``check.message()`` when implausible."""
    if not check.plausible:
        import warnings

        warnings.warn(f"{who}: {check.message()}", AmplitudeWarning, stacklevel=stacklevel)


__all__ = [
    "EEG_ROBUST_RANGE_V",
    "UNITS",
    "AmplitudeCheck",
    "AmplitudeWarning",
    "canonical_unit",
    "check_amplitude",
    "robust_amplitude",
    "volts_per_unit",
    "warn_if_implausible",
]
