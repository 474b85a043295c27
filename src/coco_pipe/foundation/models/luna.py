"""LUNA (Doner et al. 2025): an efficient, topology-agnostic EEG foundation model.

LUNA embeds 40-sample patches of every channel together with the channel's 3-D
electrode position, then compresses the variable set of channels into a fixed number of
learned queries with cross-attention (``num_queries``), so its cost is linear in the
number of channels, and runs a transformer over the patch steps of the query latents.
It was pretrained with masked patch reconstruction.

Pretraining data: large public EEG corpora of several montages (among them TUEG and
Siena) at 256 Hz; the checkpoint is ``LUNA_base.safetensors`` of ``PulpBio/LUNA``
(CC BY-ND 4.0).

In coco-pipe: any channel with a known position (MNE's ``standard_1005``); features are
the normed latent before LUNA's query-attention head, built with ``n_outputs=0``
(its pretraining reconstruction head, as in the checkpoint).

References
----------
.. [1] Doner, B., Ingolfsson, T. M., Benini, L., & Li, Y. (2025). LUNA: Efficient and
   Topology-Agnostic Foundation Model for EEG Signal Analysis. NeurIPS 2025.
   https://openreview.net/forum?id=uazfjnFL0G

Examples
--------
>>> SPEC.channel_mode, SPEC.hub_filename
('positions', 'LUNA_base.safetensors')
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

#: The authors' safetensors (``PulpBio/LUNA`` / ``thorir/LUNA``; the README's download keeps
#: it as ``Base/LUNA_base.safetensors``): official names, renamed by braindecode's own
#: ``LUNA.mapping`` inside ``load_state_dict``. timm's ``Mlp(norm_layer=LayerNorm)`` of the
#: official code has a hidden-layer LayerNorm that braindecode's ``_Mlp`` lacks.
OFFICIAL = CheckpointLayout(
    name="authors' LUNA safetensors (BioFoundation models/LUNA.py)",
    source="huggingface.co/PulpBio/LUNA LUNA_base.safetensors",
    markers=(r"^cross_attn\.temparature$",),
    drop=(
        (r"^(channel_location_embedder\.0|cross_attn\.ffn)\.norm\.",
         "hidden-layer LayerNorm of the official timm Mlp; braindecode's LUNA has none (its "
         "forward differs from the official one there)"),
    ),
)  # fmt: skip

SPEC = FoundationModelSpec(
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
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("attn.qkv_proj", "attn.proj"),
    small_kwargs={"embed_dim": 16, "num_queries": 2, "depth": 1, "num_heads": 1},
    reference=(
        "Doner et al. 2025, NeurIPS; topology-agnostic (channel positions -> learned queries), "
        "40-sample patches, LUNA_base.safetensors."
    ),
    channel_mode="positions",
    hub_filename="LUNA_base.safetensors",
    needs_n_outputs=False,
    license="CC-BY-ND-4.0",
    license_forbids_derivatives=True,
    checkpoint_layouts=(OFFICIAL,),
)


class LUNA(FoundationModel):
    """LUNA's quirks: built from ``chs_info`` with its pretraining head; the channel
    positions are a buffer; features are the encoder's normed latent."""

    spec = SPEC
    positions_buffer = True

    def constructor_kwargs(self, plan) -> dict[str, Any]:
        # n_outputs=0 builds LUNA's pretraining (reconstruction) head, as in its checkpoint
        return {"chs_info": plan.chs_info(), "n_outputs": 0}

    def features(self, module, x) -> Features:
        from einops import rearrange

        m = module.model
        b = x.shape[0]
        locs = module.channel_positions.to(dtype=x.dtype).unsqueeze(0).expand(b, -1, -1)
        tokens, _ = m.prepare_tokens(x, locs, mask=None)
        tokens, _ = m.cross_attn(tokens)
        tokens = rearrange(tokens, "(B t) Q D -> B t (Q D)", B=b)
        for blk in m.blocks:
            tokens = blk(tokens)
        return m.norm(tokens), None, None


MODEL = LUNA()
