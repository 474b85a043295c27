"""BENDR (Kostas et al. 2021): a wav2vec 2.0-style contrastive model of raw EEG.

BENDR (BErt-inspired Neural Data Representations) is a convolutional encoder that
downsamples the signal by 96 (six strided convolutions, 3 x 2^5) into 512-dimensional
steps, followed by a transformer "contextualizer" trained with a contrastive
self-supervised task on masked steps, as in wav2vec 2.0.

Pretraining data: the Temple University Hospital EEG Corpus (TUEG, more than 10,000
people), at 256 Hz, on the 19 electrodes of the 10-20 system plus a relative-amplitude
``SCALE`` channel (dn3's ``To1020`` mapping), windows min-max scaled to [-1, 1] (dn3's
``MappingDeep1010``).

In coco-pipe: the user's channels are interpolated onto the 20-channel layout
(``InterpolatedBENDR``), the input is min-max normalised per window, and the
contextualizer's start token is the ``cls`` pooling; the other steps are tokens.

References
----------
.. [1] Kostas, D., Aroca-Ouellette, S., & Rudzicz, F. (2021). BENDR: Using transformers and a
   contrastive self-supervised learning task to learn from massive amounts of EEG data.
   Frontiers in Human Neuroscience, 15, 653659.

Examples
--------
>>> SPEC.n_chans, SPEC.sfreq
(20, 256.0)
"""

from __future__ import annotations

from typing import Any

from .base import (
    ALL_BACKENDS,
    ALL_TRAIN_MODES,
    CheckpointLayout,
    Features,
    FoundationModel,
    FoundationModelSpec,
)

#: braindecode.models.bendr.BENDR_CHANNEL_ORDER (19 EEG + SCALE)
LAYOUT: tuple[str, ...] = (
    "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T7", "C3", "CZ", "C4", "T8", "T5", "P3", "PZ",
    "P4", "T6", "O1", "O2", "SCALE",
)  # fmt: skip

#: The authors' release (SPOClab-ca/BENDR v0.1-alpha): two plain state dicts of dn3's
#: ``ConvEncoderBENDR`` and ``BENDRContextualizer``. The contextualizer's position conv uses
#: the legacy ``weight_norm`` names ``weight_g`` / ``weight_v``, which torch's own load hook
#: of ``parametrizations.weight_norm`` converts inside ``load_state_dict``; its input
#: projection is a 1x1 ``Conv1d`` where braindecode has a ``Linear`` (squeezed by
#: :meth:`BENDR.prepare_checkpoint`).
OFFICIAL = CheckpointLayout(
    name="official encoder.pt + contextualizer.pt (dn3)",
    source="github.com/SPOClab-ca/BENDR releases v0.1-alpha",
    files=(("encoder.pt", "encoder."), ("contextualizer.pt", "contextualizer.")),
    rename=((r"^contextualizer\.input_conditioning\.4\.", "contextualizer.input_conditioning.3."),),
    drop=((r"^contextualizer\.mask_replacement$", "mask vector of contrastive pretraining"),),
)

SPEC = FoundationModelSpec(
    key="bendr",
    display_name="BENDR",
    braindecode_class="BENDR",
    interpolated_class="InterpolatedBENDR",
    hub_repo="braindecode/braindecode-bendr",
    emb_dim=512,  # encoder_h: start-token ("cls") or mean of contextualized steps
    sfreq=256.0,
    n_chans=20,
    channel_layout=LAYOUT,
    needs_channel_names=True,
    interpolate_channels=True,
    patch_size=None,
    min_times=96,  # one encoded step: the conv encoder downsamples by 3*2^5 = 96
    max_times=None,
    default_n_times=1024,
    amplitude_scale=1.0,
    poolings=("mean", "cls", "flatten"),
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("linear1", "linear2"),
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
    license="unknown (no licence stated in SPOClab-ca/BENDR; dn3 code is BSD-3-Clause)",
    checkpoint_layouts=(OFFICIAL,),
)


class BENDR(FoundationModel):
    """BENDR's quirks: built from ``chs_info`` without its final layer; features are the
    contextualizer's output (start token = class token)."""

    spec = SPEC

    def constructor_kwargs(self, plan) -> dict[str, Any]:
        return {"chs_info": plan.chs_info(), "final_layer": False}

    def features(self, module, x) -> Features:
        m = module.model
        if getattr(m, "interpolation_layer", None) is not None:
            x = m.interpolation_layer(x)
        context = m.contextualizer(m.encoder(x))  # (B, D, 1 + steps)
        return context[:, :, 1:].transpose(1, 2), context[:, :, 0], None

    def prepare_checkpoint(self, state, model):
        """dn3's 1x1 ``Conv1d`` input projection (out, in, 1) as braindecode's ``Linear``
        (out, in): the same map, the kernel axis squeezed."""
        name = "contextualizer.input_conditioning.3.weight"
        own = model.state_dict().get(name)
        saved = state.get(name)
        if saved is None or own is None or saved.ndim != 3 or saved.shape[-1] != 1:
            return state
        if tuple(saved.shape[:-1]) != tuple(own.shape):
            return state  # another size: reported as a shape mismatch by the loader
        return {**state, name: saved[..., 0].clone()}


MODEL = BENDR()
