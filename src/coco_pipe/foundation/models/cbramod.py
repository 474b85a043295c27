"""CBraMod (Wang et al. 2025): a criss-cross brain foundation model.

CBraMod cuts every channel into 1 s patches (200 samples at 200 Hz), embeds each patch
from its samples and its spectrum (a projection hard-wired to the 101 rFFT bins of a
200-sample patch), adds an asymmetric conditional positional encoding (a convolution
over the channel x patch grid), and alternates spatial attention (across channels,
patch by patch) and temporal attention (across patches, channel by channel): the
criss-cross transformer. It therefore takes any channel set, in any order.

Pretraining data: the Temple University Hospital EEG Corpus (TUEG) at 200 Hz, masked
patch reconstruction, amplitudes in units of 100 uV.

In coco-pipe: any channels, no names needed; tokens are the (channel x patch) outputs
of the encoder (``return_encoder_output=True``).

References
----------
.. [1] Wang, J., Zhao, S., Luo, Z., Zhou, Y., Jiang, H., Li, S., Li, T., & Pan, G. (2025).
   CBraMod: A Criss-Cross Brain Foundation Model for EEG Decoding. ICLR 2025.
   https://arxiv.org/abs/2412.07236

Examples
--------
>>> SPEC.patch_size, SPEC.channel_mode
(200, 'any')
"""

from __future__ import annotations

from typing import Any

from .base import ALL_BACKENDS, ALL_TRAIN_MODES, FoundationModel, FoundationModelSpec

SPEC = FoundationModelSpec(
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
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("linear1", "linear2"),
    small_kwargs={"n_layer": 1, "dim_feedforward": 64, "nhead": 2},
    reference=(
        "Wang et al. 2025, ICLR; TUEG at 200 Hz, 1 s patches, amplitudes in units of 100 uV; "
        "criss-cross attention over any channel set."
    ),
    channel_mode="any",
    license="MIT",
)


class CBraMod(FoundationModel):
    """CBraMod's quirk: built to return its encoder output (the tokens)."""

    spec = SPEC

    def constructor_kwargs(self, plan) -> dict[str, Any]:
        return {"n_chans": plan.n_channels, "return_encoder_output": True}


MODEL = CBraMod()
