"""Input adaptation: from the user's epochs to what a foundation model was pretrained on.

:func:`plan_adaptation` decides, from a spec row of
:data:`~coco_pipe.foundation.specs.ESTIMATOR_SPECS` and what is known about the data
(sfreq, channel names, shape), every step that turns a user window into a model
input, and raises the clear input errors before any model is built:

1. **channels** (``spec.channel_mode``): matched by name, case-insensitive, with the
   10-20 aliases T3/T7, T4/T8, T5/P7, T6/P8 (and an ``EEG`` prefix or ``-REF`` /
   ``-LE`` suffix stripped), then selected (``subset``), given 3-D positions from MNE's
   ``standard_1005`` montage (``positions``, ``interpolated``) or turned into exact
   bipolar derivations (``bipolar``); the result is one linear channel map;
2. **resampling** to ``spec.sfreq``, anti-aliased (polyphase FIR,
   :func:`scipy.signal.resample_poly`);
3. **cropping** the trailing samples to the patch grid (``patch_size`` /
   ``patch_stride``) and to ``max_times``;
4. **amplitude**: inputs in their declared unit (volts by default; ``unit="uV"`` etc.)
   are converted to volts, multiplied by ``spec.amplitude_scale`` and normalized per
   window as in pretraining (``spec.normalization``).

The plan is a frozen value: :meth:`AdaptationPlan.apply` runs it on arrays,
:meth:`AdaptationPlan.as_params` gives the ``adapt.*`` params of a fold run and
:meth:`AdaptationPlan.fingerprint_dict` the JSON-able part of the cache key.

Examples
--------
>>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
>>> plan = plan_adaptation(ESTIMATOR_SPECS["cbramod"], sfreq=250.0, ch_names=None,
...                        n_channels=4, n_times=1000)
>>> plan.n_times, plan.sfreq
(800, 200.0)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..data.units import canonical_unit, volts_per_unit
from .channels import (
    CHANNEL_ALIASES,
    map_channels,
    match_channel,
    montage_position,
    normalize_channel_name,
)
from .models import get_model
from .models.base import FoundationModelSpec

logger = logging.getLogger(__name__)

_SUPPORTED_NORMALIZATIONS = ("none", "zscore_clip", "minmax", "quantile95")


@dataclass(frozen=True)
class AdaptationPlan:
    """Every step from a user window (n_channels, n_times) at ``src_sfreq`` to a model input.

    Attributes
    ----------
    model_key : str
    channel_mode : str
        See :class:`~coco_pipe.foundation.specs.FoundationModelSpec`.
    src_sfreq, sfreq : float
        Sampling frequency of the data and of the model.
    resample_up, resample_down : int
        Polyphase resampling factors (1, 1: none).
    src_n_channels, src_n_times : int
        Window shape the plan accepts.
    n_times_resampled : int
        Length after resampling, before cropping.
    n_times : int
        Model input length (after cropping).
    src_ch_names : tuple of str or None
    ch_names : tuple of str
        Names of the channels the model receives, in order (the model's spelling).
    positions : tuple of (x, y, z) or None
        3-D positions (metres) of ``ch_names`` where the model uses them.
    positions_source : str
        Where the positions come from (``"mne:standard_1005"``, ``"reve:position-bank"``).
    dropped_channels : tuple of str
        User channels the model cannot use.
    interpolated_channels : tuple of str
        Model channels/electrodes computed by spatial interpolation (not present in the data).
    amplitude_scale : float
        Factor from the data's unit to the model's (``spec.amplitude_scale`` times the
        volts per declared unit).
    normalization : str
    channel_matrix : ndarray (n_model_channels, src_n_channels) or None
        Linear channel map (selection, reordering, bipolar derivation); None: identity.
    unit : str
        Declared unit of the data (``"V"``, ``"mV"``, ``"uV"``, ``"nV"``).
    """

    model_key: str
    channel_mode: str
    src_sfreq: float
    sfreq: float
    resample_up: int
    resample_down: int
    src_n_channels: int
    src_n_times: int
    n_times_resampled: int
    n_times: int
    src_ch_names: tuple[str, ...] | None
    ch_names: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...] | None
    positions_source: str
    dropped_channels: tuple[str, ...]
    interpolated_channels: tuple[str, ...]
    amplitude_scale: float
    normalization: str
    channel_matrix: np.ndarray | None = field(default=None, compare=False, repr=False)
    unit: str = "V"

    @property
    def n_channels(self) -> int:
        """Number of channels the model receives."""
        return len(self.ch_names)

    @property
    def input_shape(self) -> tuple[int, int]:
        """(channels, times) of an adapted window."""
        return (self.n_channels, self.n_times)

    def chs_info(self) -> list[dict[str, Any]]:
        """MNE-style ``chs_info`` of the model channels (``loc`` set where positions are known)."""
        out = []
        for i, name in enumerate(self.ch_names):
            ch: dict[str, Any] = {"ch_name": name, "kind": "eeg"}
            if self.positions is not None:
                loc = np.zeros(12)
                loc[:3] = self.positions[i]
                ch["loc"] = loc
            out.append(ch)
        return out

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Adapt windows.

        Parameters
        ----------
        X : ndarray, shape (n_windows, src_n_channels, src_n_times)
            Windows in the plan's ``unit`` (volts by default) at ``src_sfreq``.

        Returns
        -------
        ndarray, float32, shape (n_windows, n_channels, n_times)
        """
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1:] != (self.src_n_channels, self.src_n_times):
            raise ValueError(
                f"X must have shape (n_windows, {self.src_n_channels}, {self.src_n_times}) for this "
                f"adaptation plan ({self.model_key}); got {X.shape}"
            )
        out = X.astype(np.float32, copy=False)
        if self.channel_matrix is not None:
            out = np.matmul(self.channel_matrix.astype(np.float32), out)  # (o, c) @ (n, c, t)
        if self.resample_up != 1 or self.resample_down != 1:
            from scipy.signal import resample_poly

            out = resample_poly(out, self.resample_up, self.resample_down, axis=-1).astype(
                np.float32
            )
        out = out[..., : self.n_times]
        if self.amplitude_scale != 1.0:
            out = out * np.float32(self.amplitude_scale)
        out = _normalize(out, self.normalization)
        return np.ascontiguousarray(out, dtype=np.float32)

    def as_params(self) -> dict[str, Any]:
        """Params logged on the fold run (``adapt.*``)."""
        p: dict[str, Any] = {
            "adapt.model": self.model_key,
            "adapt.channel_mode": self.channel_mode,
            "adapt.src_sfreq": self.src_sfreq,
            "adapt.sfreq": self.sfreq,
            "adapt.resample": f"{self.resample_up}/{self.resample_down}",
            "adapt.src_n_times": self.src_n_times,
            "adapt.n_times": self.n_times,
            "adapt.cropped_samples": self.n_times_resampled - self.n_times,
            "adapt.src_n_channels": self.src_n_channels,
            "adapt.n_channels": self.n_channels,
            "adapt.channels": ",".join(self.ch_names)[:500],
            "adapt.dropped_channels": ",".join(self.dropped_channels)[:500] or "none",
            "adapt.interpolated_channels": ",".join(self.interpolated_channels)[:500] or "none",
            "adapt.amplitude_scale": self.amplitude_scale,
            "adapt.normalization": self.normalization,
            "adapt.unit": self.unit,
        }
        if self.positions is not None:
            p["adapt.positions_source"] = self.positions_source
        return p

    def fingerprint_dict(self) -> dict[str, Any]:
        """Stable, JSON-able description of the adaptation (part of the cache key)."""
        d: dict[str, Any] = {
            "model_key": self.model_key,
            "channel_mode": self.channel_mode,
            "src_sfreq": float(self.src_sfreq),
            "sfreq": float(self.sfreq),
            "resample": [self.resample_up, self.resample_down],
            "src_shape": [self.src_n_channels, self.src_n_times],
            "n_times": self.n_times,
            "src_ch_names": list(self.src_ch_names) if self.src_ch_names is not None else None,
            "ch_names": list(self.ch_names),
            "positions": [[round(float(v), 7) for v in p] for p in self.positions]
            if self.positions is not None
            else None,
            "positions_source": self.positions_source,
            "amplitude_scale": float(self.amplitude_scale),
            "normalization": self.normalization,
        }
        if self.channel_matrix is not None:
            d["channel_matrix"] = np.round(self.channel_matrix.astype(np.float64), 7).tolist()
        return d


def _normalize(x: np.ndarray, mode: str) -> np.ndarray:
    if mode == "none":
        return x
    if mode == "zscore_clip":
        mu = x.mean(axis=-1, keepdims=True)
        sd = x.std(axis=-1, keepdims=True)
        return np.clip((x - mu) / np.maximum(sd, 1e-12), -15.0, 15.0)
    if mode == "minmax":
        lo = x.min(axis=(-2, -1), keepdims=True)
        hi = x.max(axis=(-2, -1), keepdims=True)
        return 2.0 * (x - lo) / np.maximum(hi - lo, 1e-12) - 1.0
    if mode == "quantile95":
        q = np.quantile(np.abs(x), 0.95, axis=-1, keepdims=True)
        return x / np.maximum(q, 1e-12)
    raise ValueError(f"normalization must be one of {_SUPPORTED_NORMALIZATIONS}, got {mode!r}")


def _valid_length(spec: FoundationModelSpec, n: int) -> int:
    """Largest model-valid length <= n (patch grid and max_times)."""
    if spec.max_times is not None:
        n = min(n, spec.max_times)
    if spec.patch_size:
        if spec.patch_stride:
            if n < spec.patch_size:
                return n
            n = spec.patch_size + ((n - spec.patch_size) // spec.patch_stride) * spec.patch_stride
        else:
            n = (n // spec.patch_size) * spec.patch_size
    return n


def _resample_factors(src: float, dst: float) -> tuple[int, int]:
    frac = Fraction(float(dst) / float(src)).limit_denominator(1000)
    if abs(float(frac) - dst / src) > 1e-6 * dst / src:
        frac = Fraction(int(round(dst * 1000)), int(round(src * 1000)))
    return frac.numerator, frac.denominator


def plan_adaptation(
    spec: FoundationModelSpec,
    *,
    sfreq: float | None,
    ch_names: tuple[str, ...] | list[str] | None,
    n_channels: int | None,
    n_times: int | None,
    position_bank: Mapping[str, tuple[float, float, float]] | None = None,
    position_bank_source: str = "position-bank",
    unit: str = "V",
) -> AdaptationPlan:
    """Plan how user windows become inputs of ``spec``'s model; raise input errors now.

    Parameters
    ----------
    spec : FoundationModelSpec
        Row of :data:`~coco_pipe.foundation.specs.ESTIMATOR_SPECS`.
    sfreq : float
        Sampling frequency of the data (Hz). Required.
    ch_names : sequence of str or None
        Channel names in data order (from ``mne.Epochs`` or given with arrays).
        Required unless ``spec.needs_channel_names`` is False.
    n_channels, n_times : int
        Window shape of the data (``n_channels`` may be None when ``ch_names`` is given).
    position_bank : dict, optional
        Upper-cased name -> (x, y, z) positions used instead of the MNE montage for
        ``channel_mode="positions"`` (e.g. REVE's pretraining bank, see the model hook
        :meth:`~coco_pipe.foundation.models.base.FoundationModel.position_bank`).
    position_bank_source : str
        ``positions_source`` of the plan when the positions come from ``position_bank``.
    unit : str
        Unit of the data: ``"V"`` (default), ``"mV"``, ``"uV"`` or ``"nV"``; converted to
        volts before ``spec.amplitude_scale``.

    Returns
    -------
    AdaptationPlan

    Raises
    ------
    ValueError
        sfreq missing or not positive; channels without names where names are needed;
        names matching none of the model's layout; window too short after resampling.

    Examples
    --------
    >>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
    >>> names = ["Fp1", "Fp2", "T3", "T4", "Cz"]
    >>> plan = plan_adaptation(ESTIMATOR_SPECS["labram"], sfreq=250.0, ch_names=names,
    ...                        n_channels=5, n_times=1000)
    >>> plan.ch_names
    ('FP1', 'FP2', 'T3', 'T4', 'CZ')
    """
    key = spec.key
    unit = canonical_unit(unit)
    if sfreq is None:
        raise ValueError(
            f"sfreq is missing: {spec.display_name} ({key!r}) resamples inputs to {spec.sfreq:g} Hz and "
            "needs the data's sampling frequency (pass mne.Epochs, or sfreq= with arrays)"
        )
    if not (
        isinstance(sfreq, (int, float, np.floating, np.integer))
        and math.isfinite(sfreq)
        and sfreq > 0
    ):
        raise ValueError(f"sfreq must be a positive number (Hz), got {sfreq!r}")
    if spec.normalization not in _SUPPORTED_NORMALIZATIONS:
        raise ValueError(
            f"spec {key!r}: normalization {spec.normalization!r} is not one of {_SUPPORTED_NORMALIZATIONS}"
        )
    if ch_names is not None:
        ch_names = tuple(str(c) for c in ch_names)
        if n_channels is not None and len(ch_names) != n_channels:
            raise ValueError(
                f"ch_names has {len(ch_names)} names but the data have {n_channels} channels"
            )
        n_channels = len(ch_names)
    if n_channels is None or n_channels < 1:
        raise ValueError(
            f"n_channels must be a positive integer (data shape (n_windows, n_channels, n_times)), got {n_channels!r}"
        )
    if n_times is None or n_times < 1:
        raise ValueError(
            f"n_times must be a positive integer (data shape (n_windows, n_channels, n_times)), got {n_times!r}"
        )
    if spec.needs_channel_names and ch_names is None:
        raise ValueError(
            f"channel names are required by {spec.display_name} ({key!r}, channel_mode={spec.channel_mode!r}); "
            "pass mne.Epochs or ch_names= with array input"
        )

    # ---- time axis -------------------------------------------------------------
    up, down = _resample_factors(float(sfreq), spec.sfreq)
    n_res = int(math.ceil(n_times * up / down))
    n_final = _valid_length(spec, n_res)
    min_times = max(spec.min_times or 1, spec.patch_size or 1)
    if n_final < min_times or n_res < min_times:
        raise ValueError(
            f"windows are too short for {spec.display_name} ({key!r}): {n_times} samples at {float(sfreq):g} Hz "
            f"become {n_res} samples at {spec.sfreq:g} Hz, but the model needs at least {min_times} samples "
            f"({min_times / spec.sfreq:.3g} s)"
        )

    # ---- channels --------------------------------------------------------------
    chmap = map_channels(
        spec,
        ch_names,
        n_channels,
        subset_positions=get_model(key).subset_positions,
        position_bank=position_bank,
        position_bank_source=position_bank_source,
    )
    if chmap.dropped:
        logger.warning(
            "%s: %d channel(s) not usable by the model are dropped: %s",
            spec.display_name,
            len(chmap.dropped),
            ", ".join(chmap.dropped[:20]),
        )
    return AdaptationPlan(
        model_key=key,
        channel_mode=spec.channel_mode,
        src_sfreq=float(sfreq),
        sfreq=float(spec.sfreq),
        resample_up=up,
        resample_down=down,
        src_n_channels=int(n_channels),
        src_n_times=int(n_times),
        n_times_resampled=n_res,
        n_times=n_final,
        src_ch_names=ch_names,
        ch_names=chmap.ch_names,
        positions=chmap.positions,
        positions_source=chmap.positions_source,
        dropped_channels=chmap.dropped,
        interpolated_channels=chmap.interpolated,
        amplitude_scale=float(spec.amplitude_scale) * volts_per_unit(unit),
        normalization=spec.normalization,
        channel_matrix=chmap.matrix,
        unit=unit,
    )


__all__ = [
    "CHANNEL_ALIASES",
    "AdaptationPlan",
    "match_channel",
    "montage_position",
    "normalize_channel_name",
    "plan_adaptation",
]
