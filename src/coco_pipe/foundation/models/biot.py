"""BIOT (Yang et al. 2023): a biosignal transformer for cross-data learning.

BIOT tokenises each channel separately with a short-time Fourier transform (one 1 s
frame, ``n_fft`` = sfreq = 200), adds channel and position embeddings and runs a linear
attention transformer over all channel tokens; its encoder returns the average of its
tokens (one vector per window).

Pretraining data: the paper pretrains with a contrastive loss on large EEG corpora
(the TUH Abnormal EEG Corpus, the Sleep Heart Health Study); the checkpoint used here is
the 16-channel ``biot-pretrained-prest-16chs``: 16 bipolar channels of the TCP montage at
200 Hz, each channel divided by its 95th percentile of ``|x|`` (BIOT's TUAB preprocessing).

In coco-pipe: the 16 bipolar derivations are computed exactly from the user's monopolar
electrodes (missing electrodes spline-interpolated), only ``mean`` pooling exists.

References
----------
.. [1] Yang, C., Westover, M. B., & Sun, J. (2023). BIOT: Biosignal Transformer for
   Cross-data Learning in the Wild. NeurIPS 2023.

Examples
--------
>>> SPEC.channel_layout[:2]
('FP1-F7', 'F7-T7')
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

#: the first 16 of braindecode.models.biot.BIOT_CHANNEL_ORDER (TCP bipolar montage)
LAYOUT: tuple[str, ...] = (
    "FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FP1-F3", "F3-C3",
    "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4", "P4-O2",
)  # fmt: skip

#: The authors' ``pretrained-models/EEG-PREST-16-channels.ckpt`` (ycq091044/BIOT): a plain
#: ``BIOTEncoder`` state dict (braindecode nests it under ``encoder.``), with the channel
#: index as a LongTensor parameter where braindecode has a non-persistent buffer.
OFFICIAL = CheckpointLayout(
    name="official BIOTEncoder state dict",
    source="github.com/ycq091044/BIOT pretrained-models/EEG-PREST-16-channels.ckpt",
    markers=(r"^channel_tokens\.weight$", r"^patch_embedding\.projection\."),
    rename=((r"^", "encoder."),),
    drop=((r"^index$", "channel index arange(n_channels); braindecode rebuilds it as a buffer"),),
)

SPEC = FoundationModelSpec(
    key="biot",
    display_name="BIOT",
    braindecode_class="BIOT",
    interpolated_class="InterpolatedBIOT",
    hub_repo="braindecode/biot-pretrained-prest-16chs",
    emb_dim=256,  # embed_dim; the encoder already averages its tokens
    sfreq=200.0,
    n_chans=16,
    channel_layout=LAYOUT,
    needs_channel_names=True,
    interpolate_channels=True,
    patch_size=None,
    min_times=200,  # one STFT frame (n_fft = sfreq = 200)
    max_times=None,
    default_n_times=2000,
    amplitude_scale=1e6,
    poolings=("mean",),
    train_modes=ALL_TRAIN_MODES,
    backends=ALL_BACKENDS,
    lora_target_modules=("to_q", "to_k", "to_v", "to_out"),
    small_kwargs={"embed_dim": 32, "num_heads": 2, "num_layers": 1},
    reference=(
        "Yang et al. 2023, NeurIPS; PREST 16-channel checkpoint, TCP bipolar montage at 200 Hz, "
        "channels divided by their 95th percentile of |x| (BIOT TUAB preprocessing)."
    ),
    channel_mode="bipolar",
    normalization="quantile95",
    license="MIT",
    checkpoint_layouts=(OFFICIAL,),
)


class BIOT(FoundationModel):
    """BIOT's quirk: the encoder already pools its tokens (``mean`` only)."""

    spec = SPEC

    def features(self, module, x) -> Features:
        return None, None, module.model.encoder(x)


MODEL = BIOT()
