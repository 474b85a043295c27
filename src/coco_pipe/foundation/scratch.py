"""Specialist EEG networks trained from scratch: the baselines beside the foundation models.

Recent benchmarks of EEG foundation models (EEG-FM-Bench, AdaBrain-Bench, Brain4FMs)
find that compact networks trained from random initialisation stay competitive on
many tasks, so every experiment can run them through the same
:class:`~coco_pipe.foundation.neural.NeuralDecoder` loop
(``NeuralFineTuneConfig(model_key="eegnet", train_mode="full", weights="random")``).

No pretrained weights exist for these networks: they are always randomly initialised
(tagged ``weights=random-init``) and trained end to end (``train_mode="full"``); the
network's own classification layer is the head (``head`` in the config is not used).

Input adaptation (documented per row of :data:`SCRATCH_SPECS`):

- windows are resampled (polyphase, :func:`scipy.signal.resample_poly`) to the rate
  the architecture was designed for: 128 Hz for EEGNet (Lawhern et al. used 128 Hz),
  250 Hz for ShallowFBCSPNet, Deep4Net and EEGConformer (BCI Competition IV 2a rate);
  ``NeuralFineTuneConfig.scratch_sfreq`` overrides it (give the data's own rate to skip
  resampling);
- inputs that look like volts (99th percentile of ``|X|`` below 1e-2 on the training
  partition) are multiplied by 1e6 (microvolts), the scale these networks expect;
- the window length is whatever the data give after resampling; each network checks
  at build time that it is long enough (e.g. ShallowFBCSPNet needs about 0.4 s at
  250 Hz; Deep4Net wants 1.76 s and braindecode shrinks its kernels, with a warning,
  for shorter windows).

Examples
--------
>>> sorted(SCRATCH_SPECS)
['deep4', 'eegconformer', 'eegnet', 'shallow_fbcsp']
>>> SCRATCH_SPECS["eegnet"].sfreq
128.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "ScratchNetSpec",
    "SCRATCH_SPECS",
    "is_scratch_key",
    "list_scratch_networks",
    "build_scratch_net",
    "resample_windows",
    "volts_scale",
]


@dataclass(frozen=True)
class ScratchNetSpec:
    """Facts about one specialist network trained from scratch.

    Attributes
    ----------
    key : str
        Model key used in configs (``model_key``).
    display_name : str
        Human name.
    braindecode_class : str
        Class name in :mod:`braindecode.models` (braindecode 1.8).
    sfreq : float
        Sampling rate the architecture was designed for; inputs are resampled to it.
    min_seconds : float
        Shortest window (seconds at ``sfreq``) the default architecture accepts.
    train_modes : tuple of str
        Allowed ``train_mode`` values (always ``("full",)``: nothing is pretrained).
    small_kwargs : dict
        Constructor kwargs of a small variant used in tests and quick runs.
    reference : str
        Paper, one line.
    """

    key: str
    display_name: str
    braindecode_class: str
    sfreq: float
    min_seconds: float
    train_modes: tuple[str, ...] = ("full",)
    small_kwargs: dict[str, Any] = field(default_factory=dict)
    reference: str = ""


SCRATCH_SPECS: dict[str, ScratchNetSpec] = {
    "eegnet": ScratchNetSpec(
        key="eegnet",
        display_name="EEGNet",
        braindecode_class="EEGNet",
        sfreq=128.0,
        min_seconds=0.5,
        small_kwargs={"F1": 4, "D": 2, "kernel_length": 32},
        reference="Lawhern et al. 2018, J. Neural Eng. 15:056013 (EEGNet-8,2 at 128 Hz).",
    ),
    "shallow_fbcsp": ScratchNetSpec(
        key="shallow_fbcsp",
        display_name="ShallowFBCSPNet",
        braindecode_class="ShallowFBCSPNet",
        sfreq=250.0,
        min_seconds=0.4,
        small_kwargs={"n_filters_time": 16, "n_filters_spat": 16},
        reference="Schirrmeister et al. 2017, Hum. Brain Mapp. 38:5391 (BCI IV 2a, 250 Hz).",
    ),
    "deep4": ScratchNetSpec(
        key="deep4",
        display_name="Deep4Net",
        braindecode_class="Deep4Net",
        sfreq=250.0,
        min_seconds=1.76,  # 441 samples; braindecode shrinks the kernels (with a warning) below
        small_kwargs={
            "n_filters_time": 8,
            "n_filters_spat": 8,
            "n_filters_2": 16,
            "n_filters_3": 16,
            "n_filters_4": 16,
        },  # fmt: skip
        reference="Schirrmeister et al. 2017, Hum. Brain Mapp. 38:5391 (BCI IV 2a, 250 Hz).",
    ),
    "eegconformer": ScratchNetSpec(
        key="eegconformer",
        display_name="EEGConformer",
        braindecode_class="EEGConformer",
        sfreq=250.0,
        min_seconds=0.4,
        small_kwargs={"n_filters_time": 16, "num_layers": 1, "num_heads": 2},
        reference="Song et al. 2023, IEEE TNSRE 31:710 (BCI IV 2a / 2b, 250 Hz).",
    ),
}


def is_scratch_key(key: str) -> bool:
    """Whether ``key`` names a specialist network trained from scratch."""
    return key in SCRATCH_SPECS


def list_scratch_networks():
    """The scratch-network table as a DataFrame (one row per model key).

    Examples
    --------
    >>> float(list_scratch_networks().loc["deep4", "sfreq"])
    250.0
    """
    import pandas as pd

    rows = [
        {"key": s.key, "display_name": s.display_name, "braindecode_class": s.braindecode_class,
         "sfreq": s.sfreq, "min_seconds": s.min_seconds, "train_modes": ",".join(s.train_modes),
         "reference": s.reference}
        for s in SCRATCH_SPECS.values()
    ]  # fmt: skip
    return pd.DataFrame(rows).set_index("key")


def resample_windows(X: np.ndarray, sfreq: float, target_sfreq: float) -> np.ndarray:
    """Resample windows along the last axis (polyphase, anti-aliased).

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
    sfreq, target_sfreq : float
        Current and wanted rates in Hz.

    Returns
    -------
    ndarray, float32, shape (n_windows, n_channels, n_times')

    Examples
    --------
    >>> resample_windows(np.zeros((2, 3, 100), np.float32), 100.0, 50.0).shape
    (2, 3, 50)
    """
    if sfreq <= 0 or target_sfreq <= 0:
        raise ValueError(
            f"sampling rates must be positive, got sfreq={sfreq}, target={target_sfreq}"
        )
    if np.isclose(sfreq, target_sfreq):
        return np.asarray(X, dtype=np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(float(target_sfreq) / float(sfreq)).limit_denominator(1000)
    out = resample_poly(
        np.asarray(X, dtype=np.float64), ratio.numerator, ratio.denominator, axis=-1
    )
    return out.astype(np.float32)


def volts_scale(X: np.ndarray) -> float:
    """1e6 when ``X`` looks like volts (99th percentile of |X| < 1e-2), else 1.0.

    Examples
    --------
    >>> volts_scale(np.full((1, 1, 4), 2e-5, np.float32))
    1000000.0
    """
    finite = np.abs(np.asarray(X)[np.isfinite(X)])
    if finite.size == 0:
        return 1.0
    sample = finite if finite.size <= 1_000_000 else finite[:: finite.size // 1_000_000 + 1]
    return 1e6 if float(np.percentile(sample, 99)) < 1e-2 else 1.0


def build_scratch_net(
    key: str,
    *,
    n_chans: int,
    n_outputs: int,
    n_times: int,
    sfreq: float,
    model_kwargs: dict[str, Any] | None = None,
):
    """Build a randomly initialised specialist network and check it accepts the input.

    Parameters
    ----------
    key : str
        A key of :data:`SCRATCH_SPECS`.
    n_chans, n_times : int
        Input shape after adaptation (``n_times`` at ``sfreq``).
    n_outputs : int
        Classes (or 1 for regression).
    sfreq : float
        Rate of the adapted input.
    model_kwargs : dict, optional
        Extra constructor arguments (e.g. :attr:`ScratchNetSpec.small_kwargs`).

    Returns
    -------
    torch.nn.Module
        Maps (B, n_chans, n_times) to (B, n_outputs) logits.

    Raises
    ------
    ValueError
        Unknown key, unknown constructor argument, or a window too short for the network.

    Examples
    --------
    >>> net = build_scratch_net("eegnet", n_chans=4, n_outputs=2, n_times=128, sfreq=128.0)
    >>> type(net).__name__
    'EEGNet'
    """
    import torch
    from braindecode import models as bd_models

    if key not in SCRATCH_SPECS:
        raise ValueError(
            f"unknown scratch network {key!r}; known: {', '.join(sorted(SCRATCH_SPECS))}"
        )
    spec = SCRATCH_SPECS[key]
    cls = getattr(bd_models, spec.braindecode_class)
    kwargs = dict(model_kwargs or {})
    try:
        net = cls(
            n_chans=int(n_chans),
            n_outputs=int(n_outputs),
            n_times=int(n_times),
            sfreq=float(sfreq),
            **kwargs,
        )
    except TypeError as err:
        raise ValueError(
            f"model_kwargs {sorted(kwargs)} not accepted by {spec.braindecode_class}: {err}"
        ) from err
    except (ValueError, RuntimeError, AssertionError) as err:
        raise ValueError(
            f"{spec.display_name} cannot be built for n_chans={n_chans}, n_times={n_times} at "
            f"{sfreq:g} Hz ({err}); it needs windows of at least ~{spec.min_seconds:g} s at "
            f"{spec.sfreq:g} Hz with its default sizes"
        ) from err
    net.eval()
    try:
        with torch.no_grad():
            out = net(torch.zeros(2, int(n_chans), int(n_times)))
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"{spec.display_name} cannot run on windows of n_times={n_times} at {sfreq:g} Hz "
            f"({str(err).splitlines()[0]}); it needs windows of at least ~{spec.min_seconds:g} s "
            f"at {spec.sfreq:g} Hz with its default sizes (or smaller pooling via model_kwargs)"
        ) from err
    if tuple(out.shape) != (2, int(n_outputs)):
        raise ValueError(
            f"{spec.display_name} returned shape {tuple(out.shape)}, expected (2, {n_outputs})"
        )
    net.train()
    return net
