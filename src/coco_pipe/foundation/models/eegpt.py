"""EEGPT (Wang et al. 2024): a pretrained transformer for universal EEG representations.

EEGPT splits each channel into 64-sample patches (stride 32 in braindecode), embeds them
with a learned channel embedding looked up by electrode name, and summarises every patch
step into ``embed_num`` (4) summary tokens with a transformer encoder. It was pretrained
with a dual self-supervised task: spatio-temporal representation alignment and masked
reconstruction.

Pretraining data: several public EEG data sets, on 58 electrodes of the 10-10 system,
at 256 Hz, in 4 s windows, amplitudes in millivolts.

In coco-pipe: the user's channels are matched by name into the 62-row channel embedding
(``chan_proj_type="none"``); tokens are the summary tokens of every patch step.

References
----------
.. [1] Wang, G., Liu, W., He, Y., Xu, C., Ma, L., & Li, H. (2024). EEGPT: Pretrained
   transformer for universal and reliable representation of EEG signals. NeurIPS 37,
   39249-39280.

Examples
--------
>>> SPEC.patch_size, SPEC.patch_stride
(64, 32)
"""

from __future__ import annotations

from typing import Any

from .base import (
    ALL_BACKENDS,
    ALL_TRAIN_MODES,
    CheckpointLayout,
    FoundationModel,
    FoundationModelSpec,
)

#: braindecode.models.eegpt.EEGPT_CHANNELS (channel-embedding rows)
LAYOUT: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF7", "AF3", "AF4", "AF8", "F7", "F5", "F3", "F1", "FZ", "F2", "F4",
    "F6", "F8", "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3",
    "C1", "CZ", "C2", "C4", "C6", "T8", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6",
    "TP8", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7", "PO5", "PO3", "POZ",
    "PO4", "PO6", "PO8", "O1", "OZ", "O2",
)  # fmt: skip

#: The authors' PyTorch Lightning checkpoint ``eegpt_mcae_58chs_4s_large4E.ckpt`` (LitEEGPT,
#: BINE022/EEGPT): ``state_dict`` holds the online ``encoder``, its EMA copy
#: ``target_encoder`` (the one the authors' linear probes load, names equal braindecode's),
#: the ``predictor`` and the ``reconstructor``.
OFFICIAL = CheckpointLayout(
    name="official Lightning checkpoint (LitEEGPT)",
    source="figshare EEGPT/checkpoint/eegpt_mcae_58chs_4s_large4E.ckpt",
    markers=(r"^target_encoder\.", r"^predictor\.", r"^reconstructor\."),
    drop=(
        (r"^encoder\.", "online encoder of pretraining (downstream uses its EMA copy target_encoder)"),
        (r"^predictor\.", "pretraining predictor (representation alignment)"),
        (r"^reconstructor\.", "pretraining reconstructor (masked reconstruction)"),
    ),
)

SPEC = FoundationModelSpec(
    key="eegpt",
    display_name="EEGPT",
    braindecode_class="EEGPT",
    interpolated_class="InterpolatedEEGPT",
    hub_repo="braindecode/eegpt-pretrained",
    emb_dim=2048,  # embed_num (4) summary tokens x embed_dim (512), mean over patches
    sfreq=256.0,
    n_chans=None,
    channel_layout=LAYOUT,
    needs_channel_names=True,
    interpolate_channels=False,
    patch_size=64,
    min_times=64,
    max_times=None,
    default_n_times=1024,
    amplitude_scale=1e3,  # millivolts
    poolings=("mean", "flatten"),
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("attn.qkv", "attn.proj"),
    small_kwargs={"embed_dim": 32, "depth": 1, "num_heads": 2, "embed_num": 2},
    reference=(
        "Wang et al. 2024, NeurIPS; 58 10-10 channels at 256 Hz, 4 s windows, 64-sample patches "
        "(stride 32 in braindecode), amplitudes in mV; chan_proj_type='none' (channel embedding "
        "by name)."
    ),
    channel_mode="subset",
    patch_stride=32,
    license="Apache-2.0",
    checkpoint_layouts=(OFFICIAL,),
)


class EEGPT(FoundationModel):
    """EEGPT's quirks: built from ``chs_info`` (channel embedding by name, no channel
    projection) to return its encoder output."""

    spec = SPEC
    derived_buffers = (
        ("chans_id", "channel ids of the user's montage (prepare_chan_ids of the channel "
         "names), rebuilt for these channels, never copied"),
    )  # fmt: skip

    def constructor_kwargs(self, plan) -> dict[str, Any]:
        return {
            "chs_info": plan.chs_info(),
            "chan_proj_type": "none",
            "return_encoder_output": True,
        }


MODEL = EEGPT()
