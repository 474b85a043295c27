"""Signal-JEPA (Guetschel et al. 2024): joint-embedding predictive pretraining of EEG.

S-JEPA encodes each channel with a convolutional feature encoder into local tokens
(one per 1.1875 s receptive field at 128 Hz), adds a channel embedding and runs a
transformer with dynamic spatial attention over all (channel x time) tokens. It was
pretrained as a joint-embedding predictive architecture: predicting, in latent space,
the representations of spatially masked blocks of channels.

Pretraining data: the Lee2019 motor-imagery / ERP / SSVEP data set, 62 channels at
128 Hz, band-passed 0.5-40 Hz, in microvolts.

In coco-pipe: the user's channels are matched by name into the 62 pretraining channels
(``channel_embedding="pretrain_aligned"``), and given their ``standard_1005`` positions in
``chs_info``.

References
----------
.. [1] Guetschel, P., Moreau, T., & Tangermann, M. (2024). S-JEPA: towards seamless
   cross-dataset transfer through dynamic spatial attention. 9th Graz Brain-Computer
   Interface Conference. https://www.doi.org/10.3217/978-3-99161-014-4-003

Examples
--------
>>> SPEC.sfreq, MODEL.subset_positions
(128.0, True)
"""

from __future__ import annotations

from typing import Any

from .base import ALL_BACKENDS, ALL_TRAIN_MODES, FoundationModel, FoundationModelSpec

#: braindecode.models.signal_jepa._PRETRAIN_CHS_INFO names (pretrain_aligned rows)
LAYOUT: tuple[str, ...] = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "FC5", "FC1", "FC2", "FC6", "T7", "C3", "Cz",
    "C4", "T8", "TP9", "CP5", "CP1", "CP2", "CP6", "TP10", "P7", "P3", "Pz", "P4", "P8", "PO9",
    "O1", "Oz", "O2", "PO10", "FC3", "FC4", "C5", "C1", "C2", "C6", "CP3", "CPz", "CP4", "P1",
    "P2", "POz", "FT9", "FTT9h", "TTP7h", "TP7", "TPP9h", "FT10", "FTT10h", "TPP8h", "TP8",
    "TPP10h", "F9", "F10", "AF7", "AF3", "AF4", "AF8", "PO3", "PO4",
)  # fmt: skip

SPEC = FoundationModelSpec(
    key="signal_jepa",
    display_name="Signal-JEPA",
    braindecode_class="SignalJEPA",
    interpolated_class="InterpolatedSignalJEPA",
    hub_repo="braindecode/signal-jepa",
    emb_dim=64,  # transformer__d_model
    sfreq=128.0,
    n_chans=None,
    channel_layout=LAYOUT,
    needs_channel_names=True,
    interpolate_channels=False,
    patch_size=None,
    min_times=152,  # receptive field of one local token (1.1875 s at 128 Hz)
    max_times=None,
    default_n_times=2048,
    amplitude_scale=1e6,  # microvolts
    poolings=("mean", "flatten"),
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("linear1", "linear2"),
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
    license="BSD-3-Clause",
)


class SignalJEPA(FoundationModel):
    """Signal-JEPA's quirks: built from ``chs_info`` (with positions) and the
    pretraining-aligned channel embedding."""

    spec = SPEC
    subset_positions = True

    def constructor_kwargs(self, plan) -> dict[str, Any]:
        return {"chs_info": plan.chs_info(), "channel_embedding": "pretrain_aligned"}


MODEL = SignalJEPA()
