"""ESTIMATOR_SPECS: one row per foundation model; the single source of truth.

Importable without torch: architecture classes are named by string and resolved
lazily by :mod:`coco_pipe.foundation.backbones`.

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
    channel_mode : str
        How the user's channels reach the model (added by issue 9):

        - ``"any"``: any channels, in the user's order; names not needed.
        - ``"subset"``: channels matched by name (10-20 aliases, case-insensitive)
          into ``channel_layout``; the model gets the matched subset (its
          channel/position embeddings are indexed by name); others are dropped.
        - ``"positions"``: any channel with a known 3-D position (MNE's
          ``standard_1005`` montage, or the model's own position bank).
        - ``"interpolated"``: the ``interpolated_class`` projects the user's
          channels (positions from ``standard_1005``) onto ``channel_layout``.
        - ``"bipolar"``: ``channel_layout`` holds bipolar derivations ``A-B``,
          computed exactly from the monopolar electrodes A and B (missing
          electrodes are spline-interpolated from the others).
    patch_stride : int or None
        With ``patch_size``: overlapping patches, valid lengths are
        ``patch_size + k * patch_stride`` (None: multiples of ``patch_size``).
    normalization : str
        Per-window normalization after the unit change, as in pretraining:
        ``"none"``, ``"zscore_clip"`` (per channel z-score, clipped at
        +-15 SD), ``"minmax"`` (whole window to [-1, 1]) or ``"quantile95"``
        (per channel, divided by the 95th percentile of ``|x|``).
    hub_filename : str or None
        Weight file inside ``hub_repo`` when the repository holds several.
    needs_n_outputs : bool
        Whether the braindecode constructor needs ``n_outputs`` (a throw-away
        head of size 1 is built then replaced by ``nn.Identity``).
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
    channel_mode: str = "any"
    patch_stride: int | None = None
    normalization: str = "none"
    hub_filename: str | None = None
    needs_n_outputs: bool = True


# braindecode.models.labram.LABRAM_CHANNEL_ORDER (position-embedding rows)
_LABRAM_LAYOUT: tuple[str, ...] = (
    "FP1",
    "FPZ",
    "FP2",
    "AF9",
    "AF7",
    "AF5",
    "AF3",
    "AF1",
    "AFZ",
    "AF2",
    "AF4",
    "AF6",
    "AF8",
    "AF10",
    "F9",
    "F7",
    "F5",
    "F3",
    "F1",
    "FZ",
    "F2",
    "F4",
    "F6",
    "F8",
    "F10",
    "FT9",
    "FT7",
    "FC5",
    "FC3",
    "FC1",
    "FCZ",
    "FC2",
    "FC4",
    "FC6",
    "FT8",
    "FT10",
    "T9",
    "T7",
    "C5",
    "C3",
    "C1",
    "CZ",
    "C2",
    "C4",
    "C6",
    "T8",
    "T10",
    "TP9",
    "TP7",
    "CP5",
    "CP3",
    "CP1",
    "CPZ",
    "CP2",
    "CP4",
    "CP6",
    "TP8",
    "TP10",
    "P9",
    "P7",
    "P5",
    "P3",
    "P1",
    "PZ",
    "P2",
    "P4",
    "P6",
    "P8",
    "P10",
    "PO9",
    "PO7",
    "PO5",
    "PO3",
    "PO1",
    "POZ",
    "PO2",
    "PO4",
    "PO6",
    "PO8",
    "PO10",
    "O1",
    "OZ",
    "O2",
    "O9",
    "CB1",
    "CB2",
    "IZ",
    "O10",
    "T3",
    "T5",
    "T4",
    "T6",
    "M1",
    "M2",
    "A1",
    "A2",
    "CFC1",
    "CFC2",
    "CFC3",
    "CFC4",
    "CFC5",
    "CFC6",
    "CFC7",
    "CFC8",
    "CCP1",
    "CCP2",
    "CCP3",
    "CCP4",
    "CCP5",
    "CCP6",
    "CCP7",
    "CCP8",
    "T1",
    "T2",
    "FTT9h",
    "TTP7h",
    "TPP9h",
    "FTT10h",
    "TPP8h",
    "TPP10h",
    "FP1-F7",
    "F7-T7",
    "T7-P7",
    "P7-O1",
    "FP2-F8",
    "F8-T8",
    "T8-P8",
    "P8-O2",
)

# braindecode.models.bendr.BENDR_CHANNEL_ORDER (19 EEG + SCALE)
_BENDR_LAYOUT: tuple[str, ...] = (
    "FP1",
    "FP2",
    "F7",
    "F3",
    "FZ",
    "F4",
    "F8",
    "T7",
    "C3",
    "CZ",
    "C4",
    "T8",
    "T5",
    "P3",
    "PZ",
    "P4",
    "T6",
    "O1",
    "O2",
    "SCALE",
)

# first 16 of braindecode.models.biot.BIOT_CHANNEL_ORDER (TCP bipolar montage)
_BIOT_LAYOUT: tuple[str, ...] = (
    "FP1-F7",
    "F7-T7",
    "T7-P7",
    "P7-O1",
    "FP2-F8",
    "F8-T8",
    "T8-P8",
    "P8-O2",
    "FP1-F3",
    "F3-C3",
    "C3-P3",
    "P3-O1",
    "FP2-F4",
    "F4-C4",
    "C4-P4",
    "P4-O2",
)

# braindecode.models.eegpt.EEGPT_CHANNELS (channel-embedding rows)
_EEGPT_LAYOUT: tuple[str, ...] = (
    "FP1",
    "FPZ",
    "FP2",
    "AF7",
    "AF3",
    "AF4",
    "AF8",
    "F7",
    "F5",
    "F3",
    "F1",
    "FZ",
    "F2",
    "F4",
    "F6",
    "F8",
    "FT7",
    "FC5",
    "FC3",
    "FC1",
    "FCZ",
    "FC2",
    "FC4",
    "FC6",
    "FT8",
    "T7",
    "C5",
    "C3",
    "C1",
    "CZ",
    "C2",
    "C4",
    "C6",
    "T8",
    "TP7",
    "CP5",
    "CP3",
    "CP1",
    "CPZ",
    "CP2",
    "CP4",
    "CP6",
    "TP8",
    "P7",
    "P5",
    "P3",
    "P1",
    "PZ",
    "P2",
    "P4",
    "P6",
    "P8",
    "PO7",
    "PO5",
    "PO3",
    "POZ",
    "PO4",
    "PO6",
    "PO8",
    "O1",
    "OZ",
    "O2",
)

# braindecode.models.signal_jepa._PRETRAIN_CHS_INFO names (pretrain_aligned rows)
_SIGNAL_JEPA_LAYOUT: tuple[str, ...] = (
    "Fp1",
    "Fp2",
    "F7",
    "F3",
    "Fz",
    "F4",
    "F8",
    "FC5",
    "FC1",
    "FC2",
    "FC6",
    "T7",
    "C3",
    "Cz",
    "C4",
    "T8",
    "TP9",
    "CP5",
    "CP1",
    "CP2",
    "CP6",
    "TP10",
    "P7",
    "P3",
    "Pz",
    "P4",
    "P8",
    "PO9",
    "O1",
    "Oz",
    "O2",
    "PO10",
    "FC3",
    "FC4",
    "C5",
    "C1",
    "C2",
    "C6",
    "CP3",
    "CPz",
    "CP4",
    "P1",
    "P2",
    "POz",
    "FT9",
    "FTT9h",
    "TTP7h",
    "TP7",
    "TPP9h",
    "FT10",
    "FTT10h",
    "TPP8h",
    "TP8",
    "TPP10h",
    "F9",
    "F10",
    "AF7",
    "AF3",
    "AF4",
    "AF8",
    "PO3",
    "PO4",
)
_ALL_TRAIN_MODES: tuple[str, ...] = ("frozen", "full", "lora", "qlora")
_BACKENDS: tuple[str, ...] = ("braindecode", "hugging_face")

ESTIMATOR_SPECS: dict[str, FoundationModelSpec] = {
    "bendr": FoundationModelSpec(
        key="bendr",
        display_name="BENDR",
        braindecode_class="BENDR",
        interpolated_class="InterpolatedBENDR",
        hub_repo="braindecode/braindecode-bendr",
        emb_dim=512,  # encoder_h: start-token ("cls") or mean of contextualized steps
        sfreq=256.0,
        n_chans=20,
        channel_layout=_BENDR_LAYOUT,
        needs_channel_names=True,
        interpolate_channels=True,
        patch_size=None,
        min_times=96,  # one encoded step: the conv encoder downsamples by 3*2^5 = 96
        max_times=None,
        default_n_times=1024,
        amplitude_scale=1.0,
        poolings=("mean", "cls", "flatten"),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("linear1", "linear2"),
        feature_strategy="bendr_context",
        small_kwargs={
            "encoder_h": 32,
            "contextualizer_hidden": 64,
            "transformer_layers": 1,
            "transformer_heads": 4,
        },
        reference=(
            "Kostas et al. 2021, Front. Hum. Neurosci.; TUEG at 256 Hz, 19 10-20 channels + SCALE "
            "(dn3 To1020), windows min-max scaled to [-1, 1] (dn3 MappingDeep1010)."
        ),
        channel_mode="interpolated",
        normalization="minmax",
    ),
    "biot": FoundationModelSpec(
        key="biot",
        display_name="BIOT",
        braindecode_class="BIOT",
        interpolated_class="InterpolatedBIOT",
        hub_repo="braindecode/biot-pretrained-prest-16chs",
        emb_dim=256,  # embed_dim; the encoder already averages its tokens
        sfreq=200.0,
        n_chans=16,
        channel_layout=_BIOT_LAYOUT,
        needs_channel_names=True,
        interpolate_channels=True,
        patch_size=None,
        min_times=200,  # one STFT frame (n_fft = sfreq = 200)
        max_times=None,
        default_n_times=2000,
        amplitude_scale=1e6,
        poolings=("mean",),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("to_q", "to_k", "to_v", "to_out"),
        feature_strategy="biot_encoder",
        small_kwargs={"embed_dim": 32, "num_heads": 2, "num_layers": 1},
        reference=(
            "Yang et al. 2023, NeurIPS; PREST 16-channel checkpoint, TCP bipolar montage at 200 Hz, "
            "channels divided by their 95th percentile of |x| (BIOT TUAB preprocessing)."
        ),
        channel_mode="bipolar",
        normalization="quantile95",
    ),
    "cbramod": FoundationModelSpec(
        key="cbramod",
        display_name="CBraMod",
        braindecode_class="CBraMod",
        interpolated_class=None,
        hub_repo="braindecode/cbramod-pretrained",
        emb_dim=200,
        sfreq=200.0,
        n_chans=None,
        channel_layout=None,
        needs_channel_names=False,
        interpolate_channels=False,
        patch_size=200,  # the spectral projection is hard-wired to 101 rFFT bins
        min_times=200,
        max_times=None,
        default_n_times=800,
        amplitude_scale=1e4,  # microvolts / 100
        poolings=("mean", "flatten"),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("linear1", "linear2"),
        feature_strategy="return_features",
        small_kwargs={"n_layer": 1, "dim_feedforward": 64, "nhead": 2},
        reference=(
            "Wang et al. 2025, ICLR; TUEG at 200 Hz, 1 s patches, amplitudes in units of 100 uV; "
            "criss-cross attention over any channel set."
        ),
        channel_mode="any",
    ),
    "eegpt": FoundationModelSpec(
        key="eegpt",
        display_name="EEGPT",
        braindecode_class="EEGPT",
        interpolated_class="InterpolatedEEGPT",
        hub_repo="braindecode/eegpt-pretrained",
        emb_dim=2048,  # embed_num (4) summary tokens x embed_dim (512), mean over patches
        sfreq=256.0,
        n_chans=None,
        channel_layout=_EEGPT_LAYOUT,
        needs_channel_names=True,
        interpolate_channels=False,
        patch_size=64,
        min_times=64,
        max_times=None,
        default_n_times=1024,
        amplitude_scale=1e3,  # millivolts
        poolings=("mean", "flatten"),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("attn.qkv", "attn.proj"),
        feature_strategy="return_features",
        small_kwargs={"embed_dim": 32, "depth": 1, "num_heads": 2, "embed_num": 2},
        reference=(
            "Wang et al. 2024, NeurIPS; 58 10-10 channels at 256 Hz, 4 s windows, 64-sample patches "
            "(stride 32 in braindecode), amplitudes in mV; chan_proj_type='none' (channel embedding "
            "by name)."
        ),
        channel_mode="subset",
        patch_stride=32,
    ),
    "labram": FoundationModelSpec(
        key="labram",
        display_name="LaBraM",
        braindecode_class="Labram",
        interpolated_class="InterpolatedLaBraM",
        hub_repo="braindecode/labram-pretrained",
        emb_dim=200,
        sfreq=200.0,
        n_chans=None,
        channel_layout=_LABRAM_LAYOUT,
        needs_channel_names=True,
        interpolate_channels=False,
        patch_size=200,
        min_times=200,
        max_times=None,
        default_n_times=800,
        amplitude_scale=1e4,  # microvolts / 100 (units of 0.1 mV)
        poolings=("mean", "cls", "flatten"),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("attn.qkv", "attn.proj"),
        feature_strategy="labram_tokens",
        small_kwargs={"num_layers": 1, "num_heads": 2},
        reference=(
            "Jiang et al. 2024, ICLR; ~2,500 h of EEG at 200 Hz, 1 s patches, amplitudes in 0.1 mV; "
            "position embeddings indexed by channel name (forward(ch_names=...))."
        ),
        channel_mode="subset",
    ),
    "luna": FoundationModelSpec(
        key="luna",
        display_name="LUNA",
        braindecode_class="LUNA",
        interpolated_class=None,
        hub_repo="PulpBio/LUNA",
        emb_dim=256,  # embed_dim (64) x num_queries (4) for LUNA-Base
        sfreq=256.0,
        n_chans=None,
        channel_layout=None,
        needs_channel_names=True,
        interpolate_channels=False,
        patch_size=40,
        min_times=40,
        max_times=None,
        default_n_times=1280,
        amplitude_scale=1e6,  # microvolts (assumed; not stated in the braindecode docstring)
        poolings=("mean", "flatten"),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("attn.qkv_proj", "attn.proj"),
        feature_strategy="luna_latent",
        small_kwargs={"embed_dim": 16, "num_queries": 2, "depth": 1, "num_heads": 1},
        reference=(
            "Doner et al. 2025, NeurIPS; topology-agnostic (channel positions -> learned queries), "
            "40-sample patches, LUNA_base.safetensors."
        ),
        channel_mode="positions",
        hub_filename="LUNA_base.safetensors",
        needs_n_outputs=False,
    ),
    "reve": FoundationModelSpec(
        key="reve",
        display_name="REVE",
        braindecode_class="REVE",
        interpolated_class=None,
        hub_repo="brain-bzh/reve-base",
        emb_dim=512,
        sfreq=200.0,
        n_chans=None,
        channel_layout=None,
        needs_channel_names=True,
        interpolate_channels=False,
        patch_size=200,
        min_times=200,
        max_times=None,
        default_n_times=1100,
        amplitude_scale=1.0,  # z-scored per channel anyway
        poolings=("mean", "flatten"),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("to_qkv", "to_out"),
        feature_strategy="return_features",
        small_kwargs={"embed_dim": 32, "depth": 1, "heads": 2, "head_dim": 16},
        reference=(
            "El Ouahidi et al. 2025, NeurIPS; 25,000 subjects at 200 Hz, 200-sample patches with "
            "20-sample overlap, 4-D (x, y, z, t) Fourier position embedding, z-score + clip at 15 SD."
        ),
        channel_mode="positions",
        patch_stride=180,
        normalization="zscore_clip",
    ),
    "signal_jepa": FoundationModelSpec(
        key="signal_jepa",
        display_name="Signal-JEPA",
        braindecode_class="SignalJEPA",
        interpolated_class="InterpolatedSignalJEPA",
        hub_repo="braindecode/signal-jepa",
        emb_dim=64,  # transformer__d_model
        sfreq=128.0,
        n_chans=None,
        channel_layout=_SIGNAL_JEPA_LAYOUT,
        needs_channel_names=True,
        interpolate_channels=False,
        patch_size=None,
        min_times=152,  # receptive field of one local token (1.1875 s at 128 Hz)
        max_times=None,
        default_n_times=2048,
        amplitude_scale=1e6,  # microvolts
        poolings=("mean", "flatten"),
        train_modes=_ALL_TRAIN_MODES,
        backends=_BACKENDS,
        lora_target_modules=("linear1", "linear2"),
        feature_strategy="return_features",
        small_kwargs={
            "transformer__num_encoder_layers": 1,
            "transformer__num_decoder_layers": 1,
            "transformer__nhead": 2,
        },
        reference=(
            "Guetschel et al. 2024, Graz BCI Conf.; Lee2019 62 channels at 128 Hz, 0.5-40 Hz, "
            "microvolts; channel_embedding='pretrain_aligned' (embedding rows by channel name)."
        ),
        channel_mode="subset",
        needs_n_outputs=False,
    ),
}
