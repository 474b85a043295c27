"""LaBraM (Jiang et al. 2024): a large brain model of generic EEG representations.

LaBraM cuts every channel into 1 s patches (200 samples at 200 Hz), tokenises them with
a temporal convolution, adds a temporal embedding and a spatial (position) embedding
looked up by electrode name, and runs a ViT-style transformer with a class token. It
was pretrained BEiT v2-style: a vector-quantised neural tokenizer learns to predict
Fourier amplitudes and phases, then the transformer predicts the codes of masked
patches.

Pretraining data: about 2,500 hours of EEG from around 20 data sets, at 200 Hz, in
units of 0.1 mV.

In coco-pipe: the user's channels are matched by name into the 128 rows of the position
embedding and passed as ``forward(ch_names=...)``; tokens are the patch tokens, the class
token is the ``cls`` pooling.

References
----------
.. [1] Jiang, W.-B., Zhao, L.-M., & Lu, B.-L. (2024). Large Brain Model for Learning Generic
   Representations with Tremendous EEG Data in BCI. ICLR 2024.

Examples
--------
>>> len(SPEC.channel_layout), SPEC.poolings
(128, ('mean', 'cls', 'flatten'))
"""

from __future__ import annotations

from .base import (
    ALL_BACKENDS,
    ALL_TRAIN_MODES,
    CheckpointLayout,
    Features,
    FoundationModel,
    FoundationModelSpec,
)

#: braindecode.models.labram.LABRAM_CHANNEL_ORDER (position-embedding rows)
LAYOUT: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF9", "AF7", "AF5", "AF3", "AF1", "AFZ", "AF2", "AF4", "AF6", "AF8",
    "AF10", "F9", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8", "F10", "FT9", "FT7",
    "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "FT10", "T9", "T7", "C5", "C3",
    "C1", "CZ", "C2", "C4", "C6", "T8", "T10", "TP9", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2",
    "CP4", "CP6", "TP8", "TP10", "P9", "P7", "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8",
    "P10", "PO9", "PO7", "PO5", "PO3", "PO1", "POZ", "PO2", "PO4", "PO6", "PO8", "PO10", "O1",
    "OZ", "O2", "O9", "CB1", "CB2", "IZ", "O10", "T3", "T5", "T4", "T6", "M1", "M2", "A1", "A2",
    "CFC1", "CFC2", "CFC3", "CFC4", "CFC5", "CFC6", "CFC7", "CFC8", "CCP1", "CCP2", "CCP3",
    "CCP4", "CCP5", "CCP6", "CCP7", "CCP8", "T1", "T2", "FTT9h", "TTP7h", "TPP9h", "FTT10h",
    "TPP8h", "TPP10h", "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP2-F8", "F8-T8", "T8-P8", "P8-O2",
)  # fmt: skip

#: The authors' ``checkpoints/labram-base.pth`` (935963004/LaBraM): ``{"model": state dict of
#: NeuralTransformerForMEM}``, the encoder under ``student.`` (modeling_pretrain.py).
OFFICIAL = CheckpointLayout(
    name="official labram-base.pth (NeuralTransformerForMEM)",
    source="github.com/935963004/LaBraM checkpoints/labram-base.pth",
    markers=(r"^student\.time_embed$", r"^student\.blocks\.0\."),
    rename=(
        (r"^student\.pos_embed$", "position_embedding"),
        (r"^student\.time_embed$", "temporal_embedding"),
        (r"^student\.patch_embed\.(conv|norm)(\d)\.", r"patch_embed.temporal_conv.\1\2."),
        (r"^student\.blocks\.(\d+)\.mlp\.fc1\.", r"blocks.\1.mlp.0."),
        (r"^student\.blocks\.(\d+)\.mlp\.fc2\.", r"blocks.\1.mlp.2."),
        (r"^student\.", ""),
    ),
    drop=(
        (r"^student\.mask_token$", "masked-patch token of pretraining (masked code prediction)"),
        (r"^(student\.)?lm_head\.", "pretraining head predicting the tokenizer's codes"),
        (r"^projection_head\.", "pretraining projection head"),
    ),
)

SPEC = FoundationModelSpec(
    key="labram",
    display_name="LaBraM",
    braindecode_class="Labram",
    interpolated_class="InterpolatedLaBraM",
    hub_repo="braindecode/labram-pretrained",
    emb_dim=200,
    sfreq=200.0,
    n_chans=None,
    channel_layout=LAYOUT,
    needs_channel_names=True,
    interpolate_channels=False,
    patch_size=200,
    min_times=200,
    max_times=None,
    default_n_times=800,
    amplitude_scale=1e4,  # microvolts / 100 (units of 0.1 mV)
    poolings=("mean", "cls", "flatten"),
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("attn.qkv", "attn.proj"),
    small_kwargs={"num_layers": 1, "num_heads": 2},
    reference=(
        "Jiang et al. 2024, ICLR; ~2,500 h of EEG at 200 Hz, 1 s patches, amplitudes in 0.1 mV; "
        "position embeddings indexed by channel name (forward(ch_names=...))."
    ),
    channel_mode="subset",
    license="MIT",
    checkpoint_layouts=(OFFICIAL,),
)


class LaBraM(FoundationModel):
    """LaBraM's quirks: ``forward(x, return_features=True, ch_names=...)`` gives patch
    tokens and the class token; a checkpoint's temporal embedding is cut to the window."""

    spec = SPEC

    def features(self, module, x) -> Features:
        out = module.model(x, return_features=True, ch_names=module.ch_names)
        return out["features"], out["cls_token"], None

    def prepare_checkpoint(self, state, model):
        """The temporal embedding cut to this window's patches.

        Both implementations add ``temporal_embedding[:, 0:n_patches]`` to the patch
        tokens (the official ``forward_features``; braindecode's
        ``_adj_temporal_embedding``), and braindecode allocates ``n_patches + 1`` rows, so
        a checkpoint pretrained on longer windows (16 rows: 15 s at 200 Hz) loads into a
        shorter window as its first ``n_patches + 1`` rows. A window with more patches
        than the checkpoint has rows for is an error naming the longest window.
        """
        saved = state.get("temporal_embedding")
        own = getattr(model, "temporal_embedding", None)
        if saved is None or own is None or saved.shape[1] == own.shape[1]:
            return state
        if saved.ndim != 3 or saved.shape[0] != 1 or saved.shape[2] != own.shape[2]:
            return state  # another size: reported as a shape mismatch by the loader
        n_rows, need = int(saved.shape[1]), int(own.shape[1])
        if need > n_rows:
            patch, sfreq = self.spec.patch_size, self.spec.sfreq
            longest = (n_rows - 1) * patch
            raise ValueError(
                f"LaBraM: this window has {need - 1} patches of {patch} samples "
                f"({(need - 1) * patch} samples at {sfreq:g} Hz) but the checkpoint's temporal "
                f"embedding has {n_rows} rows, so it supports at most {n_rows - 1} patches = "
                f"{longest} samples at {sfreq:g} Hz ({longest / sfreq:g} s). Crop the windows to at "
                f"most {longest / sfreq:g} s, or split them into shorter windows."
            )
        return {**state, "temporal_embedding": saved[:, :need].clone()}


MODEL = LaBraM()
