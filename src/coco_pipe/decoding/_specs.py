"""ESTIMATOR_SPECS: one row per foundation model; the single source of truth.

Importable without torch: architecture classes are named by string and resolved
lazily by :mod:`coco_pipe.decoding.foundation_models.backbones`.

Every value in a row must be what the code really does; ``tests/decoding/test_specs.py``
checks each row against a real forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FoundationModelSpec:
    """Facts about one foundation model and how coco-pipe drives it.

    Attributes
    ----------
    key : str
        Model key used in configs (``model_key``).
    display_name : str
        Human name (e.g. ``"LaBraM"``).
    braindecode_class : str
        Class name in :mod:`braindecode.models`.
    interpolated_class : str or None
        Interpolated* variant in braindecode (channels interpolated onto the
        model's canonical layout), when one exists.
    hub_repo : str or None
        Hugging Face repository of the pretrained weights.
    emb_dim : int
        Embedding dimension with ``pooling="mean"`` at default size.
    sfreq : float
        Sampling frequency the model was pretrained at (inputs are resampled to it).
    n_chans : int or None
        Fixed channel count the model requires (None: any).
    channel_layout : tuple of str or None
        Canonical channel order when the model needs one (interpolated onto).
    needs_channel_names : bool
        Whether channel names are required (channel embeddings / positions).
    interpolate_channels : bool
        Whether inputs are interpolated onto ``channel_layout``.
    patch_size : int or None
        ``n_times`` is cropped/padded to a multiple of this.
    min_times, max_times : int or None
        Window length bounds in samples at ``sfreq``.
    default_n_times : int
        Window length used when building the model for an input of unknown length.
    amplitude_scale : float
        Factor applied to inputs given in volts (e.g. 1e6 for microvolts).
    poolings : tuple of str
        Supported pooling modes.
    train_modes : tuple of str
        Allowed ``train_mode`` values.
    backends : tuple of str
        Backends that can load it.
    lora_target_modules : tuple of str
        Default LoRA target module names.
    feature_strategy : str
        How features are pulled out (name of a strategy in ``backbones``).
    small_kwargs : dict
        Constructor kwargs for a small model used in the tests.
    reference : str
        Paper / pretraining data, one line.
    """

    key: str
    display_name: str
    braindecode_class: str
    interpolated_class: str | None
    hub_repo: str | None
    emb_dim: int
    sfreq: float
    n_chans: int | None
    channel_layout: tuple[str, ...] | None
    needs_channel_names: bool
    interpolate_channels: bool
    patch_size: int | None
    min_times: int | None
    max_times: int | None
    default_n_times: int
    amplitude_scale: float
    poolings: tuple[str, ...]
    train_modes: tuple[str, ...]
    backends: tuple[str, ...]
    lora_target_modules: tuple[str, ...]
    feature_strategy: str
    small_kwargs: dict[str, Any] = field(default_factory=dict)
    reference: str = ""


# Filled in by the backbones work (issue 9): one row per model key
# bendr, biot, cbramod, eegpt, labram, luna, reve, signal_jepa.
ESTIMATOR_SPECS: dict[str, FoundationModelSpec] = {}
