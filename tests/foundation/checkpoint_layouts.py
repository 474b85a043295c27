"""Synthetic checkpoints laid out exactly as the eight backbones' weights are published.

Values are random; file names, containers, key names, shapes and dtypes are the
published ones (read from the official sources, see ``docs/checkpoints.md``):

- :func:`hub_layout` writes the Hugging Face repository coco-pipe's spec row points at.
  For braindecode's re-hosted copies it is braindecode's class built with the
  repository's pretraining config and saved with braindecode's own
  ``save_pretrained`` (``config.json``, ``model.safetensors``, ``pytorch_model.bin``).
  LUNA (``PulpBio/LUNA``) and REVE (``brain-bzh/reve-base``) are the authors' own
  repositories: their files are written from the official modules' parameter names.
- :func:`official_layout` writes the authors' release files (LaBraM ``labram-base.pth``,
  EEGPT's Lightning ``.ckpt``, BENDR's ``encoder.pt`` + ``contextualizer.pt``, BIOT's
  ``.ckpt``, CBraMod's ``.pth``, LUNA's ``Base/LUNA_base.safetensors``). Signal-JEPA's
  and REVE's only release is their hub repository.

Official key names and shapes are described here from the official modules (one
builder per model), never derived from braindecode's state dict, so a test using them
checks a loader's remap instead of repeating it. Each :class:`Layout` also carries
``expected``: the tensors a braindecode backbone must hold after loading, by
braindecode name, as the correspondence read from the official code.
"""

from __future__ import annotations

import argparse
import json
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

#: Models whose authors distribute files other than the hub repository coco-pipe uses.
OFFICIAL_DIFFERS: tuple[str, ...] = ("bendr", "biot", "cbramod", "eegpt", "labram", "luna")

#: The 58 channels EEGPT was pretrained on (BINE022/EEGPT pretrain/engine_pretraining.py).
EEGPT_PRETRAIN_CHANNELS: tuple[str, ...] = (
    "FP1", "FPZ", "FP2", "AF3", "AF4", "F7", "F5", "F3", "F1", "FZ", "F2", "F4", "F6", "F8",
    "FT7", "FC5", "FC3", "FC1", "FCZ", "FC2", "FC4", "FC6", "FT8", "T7", "C5", "C3", "C1", "CZ",
    "C2", "C4", "C6", "T8", "TP7", "CP5", "CP3", "CP1", "CPZ", "CP2", "CP4", "CP6", "TP8", "P7",
    "P5", "P3", "P1", "PZ", "P2", "P4", "P6", "P8", "PO7", "PO3", "POZ", "PO4", "PO8", "O1",
    "OZ", "O2",
)  # fmt: skip

#: Pretraining config of each hub repository (what its config.json / loading call names).
HUB_CONFIGS: dict[str, dict] = {
    "bendr": {"repo": "braindecode/braindecode-bendr", "n_chans": 20, "n_times": 15360,
              "sfreq": 256.0, "n_outputs": 2},
    "biot": {"repo": "braindecode/biot-pretrained-prest-16chs", "n_chans": 16, "n_times": 2000,
             "sfreq": 200.0, "n_outputs": 2},
    "cbramod": {"repo": "braindecode/cbramod-pretrained", "return_encoder_output": True},
    "eegpt": {"repo": "braindecode/eegpt-pretrained", "ch_names": EEGPT_PRETRAIN_CHANNELS,
              "n_times": 1024, "sfreq": 256.0, "n_outputs": 2, "chan_proj_type": "none"},
    "labram": {"repo": "braindecode/labram-pretrained", "n_chans": 128, "n_times": 3000,
               "sfreq": 200.0, "n_outputs": 2},
    "luna": {"repo": "PulpBio/LUNA", "file": "LUNA_base.safetensors", "embed_dim": 64,
             "num_queries": 4, "depth": 8, "num_heads": 2, "patch_size": 40},
    "reve": {"repo": "brain-bzh/reve-base", "embed_dim": 512, "depth": 22, "heads": 8,
             "head_dim": 64, "mlp_dim_ratio": 2.66, "use_geglu": True, "freqs": 4,
             "patch_size": 200, "patch_overlap": 20},
    "signal_jepa": {"repo": "braindecode/signal-jepa", "sfreq": 128.0,
                    "input_window_seconds": 16.0, "channel_embedding": "pretrain_aligned"},
}  # fmt: skip


@dataclass(frozen=True)
class Layout:
    """One written checkpoint and what a braindecode backbone must hold after loading it.

    Attributes
    ----------
    model_key, kind : str
        Spec row and ``"hub"`` or ``"official"``.
    path : Path
        What a user passes as ``weights=`` (a folder or a file).
    files : tuple of Path
        Every weight file written.
    checkpoint : dict
        Every tensor written, by its name in the file (``"<file>:<key>"`` when the
        release has several files).
    expected : dict
        Braindecode name -> tensor the backbone holds after loading, at the pretraining
        shapes (window- or montage-dependent tensors are adapted by the caller).
    ignored : tuple of str
        Checkpoint names with no place in a braindecode backbone (pretraining heads,
        classification heads, legacy buffers).
    rebuilt : tuple of str
        Checkpoint names of buffers derived from the config (rebuilt for the user's
        channels, never copied).
    """

    model_key: str
    kind: str
    path: Path
    files: tuple[Path, ...]
    checkpoint: dict[str, torch.Tensor]
    expected: dict[str, torch.Tensor]
    ignored: tuple[str, ...] = ()
    rebuilt: tuple[str, ...] = ()
    config: dict = field(default_factory=dict)


class _Release:
    """Accumulates (official name, braindecode name, tensor) triples of one release file."""

    def __init__(self, seed: int) -> None:
        self.gen = torch.Generator().manual_seed(seed)
        self.state: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.expected: dict[str, torch.Tensor] = {}
        self.ignored: list[str] = []

    def put(
        self,
        name: str,
        shape: tuple[int, ...],
        target: str | None,
        convert: Callable[[torch.Tensor], torch.Tensor] | None = None,
        value: torch.Tensor | None = None,
    ) -> None:
        t = value if value is not None else torch.randn(shape, generator=self.gen) * 0.05
        self.state[name] = t
        if target is None:
            self.ignored.append(name)
        else:
            self.expected[target] = convert(t) if convert else t

    def linear(self, name: str, out: int, inp: int, target: str | None, bias: bool = True):
        self.put(f"{name}.weight", (out, inp), target and f"{target}.weight")
        if bias:
            self.put(f"{name}.bias", (out,), target and f"{target}.bias")

    def norm(self, name: str, dim: int, target: str | None, bias: bool = True) -> None:
        self.put(f"{name}.weight", (dim,), target and f"{target}.weight")
        if bias:
            self.put(f"{name}.bias", (dim,), target and f"{target}.bias")

    def mha(self, name: str, dim: int, target: str | None) -> None:
        """torch.nn.MultiheadAttention (packed in-projection)."""
        self.put(f"{name}.in_proj_weight", (3 * dim, dim), target and f"{target}.in_proj_weight")
        self.put(f"{name}.in_proj_bias", (3 * dim,), target and f"{target}.in_proj_bias")
        self.linear(f"{name}.out_proj", dim, dim, target and f"{target}.out_proj")

    def torch_encoder_layer(self, name: str, dim: int, ff: int, target: str | None) -> None:
        """torch.nn.TransformerEncoderLayer parameters."""
        self.mha(f"{name}.self_attn", dim, target and f"{target}.self_attn")
        self.linear(f"{name}.linear1", ff, dim, target and f"{target}.linear1")
        self.linear(f"{name}.linear2", dim, ff, target and f"{target}.linear2")
        self.norm(f"{name}.norm1", dim, target and f"{target}.norm1")
        self.norm(f"{name}.norm2", dim, target and f"{target}.norm2")


def _seed(model_key: str, kind: str) -> int:
    return zlib.crc32(f"{model_key}:{kind}".encode())


def _save_torch(state: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def _save_safetensors(state: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})
    return path


# ----------------------------------------------------------------------------- official
def _labram_student(r: _Release, depth: int = 12, dim: int = 200, heads: int = 10) -> None:
    """LaBraM NeuralTransformerForMEM (labram_base_patch200_1600_8k_vocab), modeling_pretrain.py:
    qkv_bias=False, qk_norm=LayerNorm(head_dim), init_values=0.1 (gamma_1/2), abs pos emb,
    no relative position bias, 128 + 1 position rows, 16 time rows, TemporalConv(out_chans=8)."""
    s = "student."
    r.put(s + "cls_token", (1, 1, dim), "cls_token")
    r.put(s + "mask_token", (1, 1, dim), None)
    r.put(s + "pos_embed", (1, 129, dim), "position_embedding")
    r.put(s + "time_embed", (1, 16, dim), "temporal_embedding")
    for i, (cin, k) in enumerate([(1, 15), (8, 3), (8, 3)], start=1):
        r.put(
            f"{s}patch_embed.conv{i}.weight",
            (8, cin, 1, k),
            f"patch_embed.temporal_conv.conv{i}.weight",
        )
        r.put(f"{s}patch_embed.conv{i}.bias", (8,), f"patch_embed.temporal_conv.conv{i}.bias")
        r.norm(f"{s}patch_embed.norm{i}", 8, f"patch_embed.temporal_conv.norm{i}")
    hd = dim // heads
    for i in range(depth):
        b, t = f"{s}blocks.{i}.", f"blocks.{i}."
        r.put(b + "gamma_1", (dim,), t + "gamma_1")
        r.put(b + "gamma_2", (dim,), t + "gamma_2")
        r.norm(b + "norm1", dim, t + "norm1")
        r.linear(b + "attn.qkv", 3 * dim, dim, t + "attn.qkv", bias=False)
        r.norm(b + "attn.q_norm", hd, t + "attn.q_norm")
        r.norm(b + "attn.k_norm", hd, t + "attn.k_norm")
        r.linear(b + "attn.proj", dim, dim, t + "attn.proj")
        r.norm(b + "norm2", dim, t + "norm2")
        r.linear(b + "mlp.fc1", 4 * dim, dim, t + "mlp.0")
        r.linear(b + "mlp.fc2", dim, 4 * dim, t + "mlp.2")
    r.norm(s + "norm", dim, "norm")
    r.linear(s + "lm_head", 8192, dim, None)
    r.linear("lm_head", 8192, dim, None)  # NeuralTransformerForMEM's own heads
    r.linear("projection_head.0", dim, dim, None)


def _eegpt_transformer(r: _Release, prefix: str, target: str | None, dim=512, depth=8, n=4):
    """EEGPT EEGTransformer (pretrain/modeling_pretraining.py), patch 64, 62-row chan_embed."""
    p, t = prefix, target
    r.put(p + "summary_token", (1, n, dim), t and t + "summary_token")
    r.put(p + "patch_embed.proj.weight", (dim, 1, 1, 64), t and t + "patch_embed.proj.weight")
    r.put(p + "patch_embed.proj.bias", (dim,), t and t + "patch_embed.proj.bias")
    r.put(p + "chan_embed.weight", (62, dim), t and t + "chan_embed.weight")
    _eegpt_blocks(r, p + "blocks", t and t + "blocks", dim, depth)
    r.norm(p + "norm", dim, t and t + "norm")


def _eegpt_blocks(r: _Release, prefix: str, target: str | None, dim: int, depth: int) -> None:
    for i in range(depth):
        b, t = f"{prefix}.{i}.", target and f"{target}.{i}."
        r.norm(b + "norm1", dim, t and t + "norm1")
        r.linear(b + "attn.qkv", 3 * dim, dim, t and t + "attn.qkv")
        r.linear(b + "attn.proj", dim, dim, t and t + "attn.proj")
        r.norm(b + "norm2", dim, t and t + "norm2")
        r.linear(b + "mlp.fc1", 4 * dim, dim, t and t + "mlp.fc1")
        r.linear(b + "mlp.fc2", dim, 4 * dim, t and t + "mlp.fc2")


def _eegpt_lightning(r: _Release, dim: int = 512, depth: int = 8, n: int = 4) -> None:
    """LitEEGPT 'large' (embed_dim 512, embed_num 4, depth [8, 8, 8], 8 heads):
    encoder, target_encoder (EMA copy: the one the authors load downstream), predictor,
    reconstructor (rotary freqs of (512 // 8) // 2 // 2 = 16)."""
    _eegpt_transformer(r, "encoder.", None, dim, depth, n)
    _eegpt_transformer(r, "target_encoder.", "target_encoder.", dim, depth, n)
    r.linear("predictor.predictor_embed", dim, dim, None)
    r.put("predictor.mask_token", (1, 1, n, dim), None)
    r.put("predictor.time_embed.freqs", (16,), None)
    _eegpt_blocks(r, "predictor.predictor_blocks", None, dim, depth)
    r.norm("predictor.predictor_norm", dim, None)
    r.linear("predictor.predictor_proj", dim, dim, None)
    r.linear("reconstructor.reconstructor_embed", dim, dim, None)
    r.put("reconstructor.mask_token", (1, 1, dim), None)
    r.put("reconstructor.time_embed.freqs", (16,), None)
    r.put("reconstructor.chan_embed.weight", (62, dim), None)
    _eegpt_blocks(r, "reconstructor.reconstructor_blocks", None, dim, depth)
    r.norm("reconstructor.reconstructor_norm", dim, None)
    r.linear("reconstructor.reconstructor_proj", 64, dim, None)


def _bendr_encoder(r: _Release, h: int = 512, n_chans: int = 20) -> None:
    """dn3 ConvEncoderBENDR(20, encoder_h=512): Encoder_i = Conv1d, Dropout2d, GroupNorm, GELU."""
    cin = n_chans
    for i in range(6):
        r.put(f"encoder.Encoder_{i}.0.weight", (h, cin, 3), f"encoder.encoder.Encoder_{i}.0.weight")
        r.put(f"encoder.Encoder_{i}.0.bias", (h,), f"encoder.encoder.Encoder_{i}.0.bias")
        r.norm(f"encoder.Encoder_{i}.2", h, f"encoder.encoder.Encoder_{i}.2")
        cin = h


def _bendr_contextualizer(r: _Release, h: int = 512, ff: int = 3076, layers: int = 8) -> None:
    """dn3 BENDRContextualizer(512): torch.nn.utils.weight_norm (legacy weight_g / weight_v)
    on the grouped position conv, Conv1d(h, 3h, 1) input projection, post-norm layers
    whose norm1/norm2 are parameter-free, mask_replacement (pretraining only)."""
    c, d = "contextualizer.", 3 * h
    r.put("mask_replacement", (h,), None)
    r.put("relative_position.0.bias", (h,), c + "relative_position.0.bias")
    r.put(
        "relative_position.0.weight_g",
        (1, 1, 25),
        c + "relative_position.0.parametrizations.weight.original0",
    )
    r.put(
        "relative_position.0.weight_v",
        (h, h // 16, 25),
        c + "relative_position.0.parametrizations.weight.original1",
    )
    r.norm("input_conditioning.1", h, c + "input_conditioning.1")
    r.put(
        "input_conditioning.4.weight",
        (d, h, 1),
        c + "input_conditioning.3.weight",
        convert=lambda t: t.squeeze(-1),
    )
    r.put("input_conditioning.4.bias", (d,), c + "input_conditioning.3.bias")
    for i in range(layers):
        layer = f"transformer_layers.{i}"
        r.mha(f"{layer}.self_attn", d, f"{c}{layer}.self_attn")
        r.linear(f"{layer}.linear1", ff, d, f"{c}{layer}.linear1")
        r.linear(f"{layer}.linear2", d, ff, f"{c}{layer}.linear2")
    r.norm("norm", d, c + "norm")
    r.put("output_layer.weight", (h, d, 1), c + "output_layer.weight")
    r.put("output_layer.bias", (h,), c + "output_layer.bias")


def _biot_encoder(r: _Release, n_channels: int = 16, dim: int = 256, depth: int = 4) -> None:
    """BIOT BIOTEncoder (model/biot.py): linear_attention_transformer layers, a persistent
    sinusoid buffer pe (1, 1000, 256) and the LongTensor parameter index."""
    e = "encoder."
    r.linear("patch_embedding.projection", dim, 101, e + "patch_embedding.projection")
    for i in range(depth):
        a, f = f"transformer.layers.layers.{i}.0.", f"transformer.layers.layers.{i}.1."
        for q in ("to_q", "to_k", "to_v"):
            r.linear(a + "fn." + q, dim, dim, e + a + "fn." + q, bias=False)
        r.linear(a + "fn.to_out", dim, dim, e + a + "fn.to_out")
        r.norm(a + "norm", dim, e + a + "norm")
        r.linear(f + "fn.fn.w1", 4 * dim, dim, e + f + "fn.fn.w1")
        r.linear(f + "fn.fn.w2", dim, 4 * dim, e + f + "fn.fn.w2")
        r.norm(f + "norm", dim, e + f + "norm")
    r.put("positional_encoding.pe", (1, 1000, dim), e + "positional_encoding.pe")
    r.put("channel_tokens.weight", (n_channels, dim), e + "channel_tokens.weight")
    r.put("index", (n_channels,), None, value=torch.arange(n_channels))


def _cbramod(r: _Release, dim: int = 200, ff: int = 800, layers: int = 12) -> None:
    """CBraMod (models/cbramod.py + criss_cross_transformer.py); names equal braindecode's."""
    p = "patch_embedding."
    r.put(p + "mask_encoding", (dim,), p + "mask_encoding")
    r.put(p + "positional_encoding.0.weight", (dim, 1, 19, 7), p + "positional_encoding.0.weight")
    r.put(p + "positional_encoding.0.bias", (dim,), p + "positional_encoding.0.bias")
    for i, (cin, k) in zip((0, 3, 6), [(1, 49), (25, 3), (25, 3)], strict=True):
        r.put(f"{p}proj_in.{i}.weight", (25, cin, 1, k), f"{p}proj_in.{i}.weight")
        r.put(f"{p}proj_in.{i}.bias", (25,), f"{p}proj_in.{i}.bias")
        r.norm(f"{p}proj_in.{i + 1}", 25, f"{p}proj_in.{i + 1}")
    r.linear(p + "spectral_proj.0", dim, 101, p + "spectral_proj.0")
    for i in range(layers):
        b = f"encoder.layers.{i}."
        r.mha(b + "self_attn_s", dim // 2, b + "self_attn_s")
        r.mha(b + "self_attn_t", dim // 2, b + "self_attn_t")
        r.linear(b + "linear1", ff, dim, b + "linear1")
        r.linear(b + "linear2", dim, ff, b + "linear2")
        r.norm(b + "norm1", dim, b + "norm1")
        r.norm(b + "norm2", dim, b + "norm2")
    r.linear("proj_out.0", dim, dim, "proj_out.0")


#: LUNA's ChannelEmbeddings rows: 62 SEED + 22 TUEG bipolar + 6 Siena-only channels.
_LUNA_N_CHANNEL_NAMES = 90


def _luna(r: _Release, d: int = 64, q: int = 4, depth: int = 8, heads: int = 2, patch: int = 40):
    """BioFoundation models/LUNA.py with num_classes=0 (the pretraining checkpoint).
    timm Mlp(norm_layer=LayerNorm) puts a LayerNorm named 'norm' on the hidden layer of
    channel_location_embedder.0 and cross_attn.ffn; braindecode's LUNA has neither."""
    c = d // 4
    for i, (cin, k) in zip((0, 3, 6), [(1, patch // 2 - 1), (c, 3), (c, 3)], strict=True):
        r.put(f"patch_embed.proj_in.{i}.weight", (c, cin, 1, k), f"patch_embed.proj_in.{i}.weight")
        r.put(f"patch_embed.proj_in.{i}.bias", (c,), f"patch_embed.proj_in.{i}.bias")
        r.norm(f"patch_embed.proj_in.{i + 1}", c, f"patch_embed.proj_in.{i + 1}")
    nf = 2 * (patch // 2 + 1)
    r.linear("freq_embed.frequency_to_embed.fc1", 4 * nf, nf, "freq_embed.frequency_to_embed.fc1")
    r.linear("freq_embed.frequency_to_embed.fc2", d, 4 * nf, "freq_embed.frequency_to_embed.fc2")
    r.linear("channel_location_embedder.0.fc1", 2 * d, d, "channel_location_embedder.fc1")
    r.norm("channel_location_embedder.0.norm", 2 * d, None)
    r.linear("channel_location_embedder.0.fc2", d, 2 * d, "channel_location_embedder.fc2")
    r.put("mask_token", (1, 1, d), "mask_token")
    x = "cross_attn."
    r.put(x + "query_embed", (1, q, d), x + "query_embed")
    r.mha(x + "cross_attention", d, x + "cross_attention")
    r.put(x + "temparature", (), x + "temperature", value=torch.rand((), generator=r.gen) + 0.5)
    r.linear(x + "ffn.fc1", 4 * d, d, x + "ffn.fc1")
    r.norm(x + "ffn.norm", 4 * d, None)
    r.linear(x + "ffn.fc2", d, 4 * d, x + "ffn.fc2")
    for n in ("keys_norm", "values_norm", "queries_norm"):
        r.norm(x + n, d, x + n)
    for i in range(3):
        layer = f"{x}query_self_attn.layers.{i}"
        r.torch_encoder_layer(layer, d, 4 * d, layer)
    w = d * q
    for i in range(depth):
        b = f"blocks.{i}."
        r.norm(b + "norm1", w, b + "norm1")
        r.put(b + "attn.rotary_emb.freqs", (w // (heads * q) // 2,), b + "attn.rotary_emb.freqs")
        r.linear(b + "attn.qkv_proj", 3 * w, w, b + "attn.qkv_proj")
        r.linear(b + "attn.proj", w, w, b + "attn.proj")
        r.norm(b + "norm2", w, b + "norm2")
        r.linear(b + "mlp.fc1", 4 * w, w, b + "mlp.fc1")
        r.linear(b + "mlp.fc2", w, 4 * w, b + "mlp.fc2")
        r.norm(b + "mlp.norm", 4 * w, b + "mlp.norm")
    r.norm("norm", w, "norm")
    h = "decoder_head.decoder_pred.layers.0"
    r.torch_encoder_layer(h, d, 4 * d, h)  # self_attn, linear1/2, norm1/2 ...
    r.mha(h + ".multihead_attn", d, h + ".multihead_attn")  # ... + cross-attention, norm3
    r.norm(h + ".norm3", d, h + ".norm3")
    r.norm("decoder_head.norm", d, "decoder_head.norm")
    r.linear("decoder_head.decoder_linear.fc1", 4 * d, d, "decoder_head.decoder_linear.fc1")
    r.linear("decoder_head.decoder_linear.fc2", patch, 4 * d, "decoder_head.decoder_linear.fc2")
    r.put(
        "channel_emb.embeddings.weight", (_LUNA_N_CHANNEL_NAMES, d), "channel_emb.embeddings.weight"
    )


def _reve(r: _Release, dim: int = 512, depth: int = 22, heads: int = 8, head_dim: int = 64):
    """REVE ``Reve(PreTrainedModel)`` (modeling_reve.py of brain-bzh/reve-base): bias-free
    attention and GEGLU feed-forward with RMSNorm, cls_query_token for attention pooling."""
    mlp = int(dim * 2.66)
    for i in range(depth):
        a, f = f"transformer.layers.{i}.0.", f"transformer.layers.{i}.1."
        r.put(a + "norm.weight", (dim,), a + "norm.weight")
        r.linear(a + "to_qkv", 3 * heads * head_dim, dim, a + "to_qkv", bias=False)
        r.linear(a + "to_out", dim, heads * head_dim, a + "to_out", bias=False)
        r.put(f + "net.0.weight", (dim,), f + "net.0.weight")
        r.linear(f + "net.1", 2 * mlp, dim, f + "net.1", bias=False)
        r.linear(f + "net.3", dim, mlp, f + "net.3", bias=False)
    r.linear("to_patch_embedding.0", dim, 200, "to_patch_embedding.0")
    r.linear("mlp4d.0", dim, 4, "mlp4d.0", bias=False)
    r.norm("mlp4d.2", dim, "mlp4d.2")
    r.norm("ln", dim, "ln")
    r.put("cls_query_token", (1, 1, dim), None)  # braindecode builds it only with attention_pooling


# ----------------------------------------------------------------------------- hub copies
def _randomize(model: torch.nn.Module, seed: int) -> None:
    """Every float tensor random (so a tensor that is not loaded cannot equal the file)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in model.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen) * 0.05)


def _braindecode_hub_model(model_key: str) -> torch.nn.Module:
    import braindecode.models as bm

    cfg = {k: v for k, v in HUB_CONFIGS[model_key].items() if k != "repo"}
    if "ch_names" in cfg:
        cfg["chs_info"] = [{"ch_name": n, "kind": "eeg"} for n in cfg.pop("ch_names")]
    cls = {"bendr": bm.BENDR, "biot": bm.BIOT, "cbramod": bm.CBraMod, "eegpt": bm.EEGPT,
           "labram": bm.Labram, "signal_jepa": bm.SignalJEPA}[model_key]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(**cfg)


def hub_layout(model_key: str, folder: str | Path, *, keep_bin: bool = True) -> Layout:
    """Write ``model_key``'s hub repository (``HUB_CONFIGS[model_key]["repo"]``) into ``folder``.

    Parameters
    ----------
    model_key : str
        One of the eight spec rows.
    folder : path
        Created; receives the repository's files.
    keep_bin : bool
        Keep braindecode's ``pytorch_model.bin`` beside ``model.safetensors`` (both are
        in braindecode's hub repositories).

    Returns
    -------
    Layout
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    seed = _seed(model_key, "hub")
    if model_key == "luna":
        r = _Release(seed)
        _luna(r)
        f = _save_safetensors(r.state, folder / HUB_CONFIGS["luna"]["file"])
        return Layout("luna", "hub", folder, (f,), dict(r.state), r.expected, tuple(r.ignored),
                      config=HUB_CONFIGS["luna"])  # fmt: skip
    if model_key == "reve":
        r = _Release(seed)
        _reve(r)
        f = _save_safetensors(r.state, folder / "model.safetensors")
        cfg = {k: v for k, v in HUB_CONFIGS["reve"].items() if k != "repo"}
        config = {"architectures": ["Reve"], "model_type": "reve",
                  "auto_map": {"AutoConfig": "configuration_reve.ReveConfig",
                               "AutoModel": "modeling_reve.Reve"},
                  **cfg, "torch_dtype": "float32"}  # fmt: skip
        (folder / "config.json").write_text(json.dumps(config, indent=2))
        return Layout("reve", "hub", folder, (f,), dict(r.state), r.expected, tuple(r.ignored),
                      config=HUB_CONFIGS["reve"])  # fmt: skip
    model = _braindecode_hub_model(model_key)
    _randomize(model, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save_pretrained(folder)
    if not keep_bin:
        (folder / "pytorch_model.bin").unlink()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rebuilt = tuple(k for k in state if k == "chans_id")  # EEGPT: from chs_info
    ignored = tuple(k for k in state if k.startswith("final_layer."))
    expected = {k: v for k, v in state.items() if k not in rebuilt + ignored}
    files = tuple(sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin")))
    return Layout(model_key, "hub", folder, files, state, expected, ignored, rebuilt,
                  config=HUB_CONFIGS[model_key])  # fmt: skip


def official_layout(model_key: str, folder: str | Path) -> Layout:
    """Write the authors' release files of ``model_key`` into ``folder``.

    ``path`` of the result is the file (or, for BENDR's two files and LUNA's size
    folders, the folder) a user downloads and passes as ``weights=``. For REVE and
    Signal-JEPA, whose only release is the hub repository, this is :func:`hub_layout`.
    """
    folder = Path(folder)
    if model_key not in OFFICIAL_DIFFERS:
        return hub_layout(model_key, folder)
    r = _Release(_seed(model_key, "official"))
    if model_key == "bendr":
        enc, ctx = _Release(r.gen.initial_seed()), _Release(r.gen.initial_seed() + 1)
        _bendr_encoder(enc)
        _bendr_contextualizer(ctx)
        files = (_save_torch(enc.state, folder / "encoder.pt"),
                 _save_torch(ctx.state, folder / "contextualizer.pt"))  # fmt: skip
        ckpt = {f"encoder.pt:{k}": v for k, v in enc.state.items()}
        ckpt.update({f"contextualizer.pt:{k}": v for k, v in ctx.state.items()})
        ignored = tuple(f"contextualizer.pt:{k}" for k in ctx.ignored)
        return Layout("bendr", "official", folder, files, ckpt, {**enc.expected, **ctx.expected},
                      ignored)  # fmt: skip
    if model_key == "labram":
        _labram_student(r)
        # utils.save_model's container: the model, and the run's argparse arguments (whether
        # the published file kept "args" is unverified; with it, torch.load(weights_only=True)
        # needs argparse.Namespace allowed)
        args = argparse.Namespace(model="labram_base_patch200_1600_8k_vocab", epochs=50, lr=5e-4)
        path = _save_torch({"model": r.state, "epoch": 49, "args": args}, folder / "labram-base.pth")
    elif model_key == "eegpt":
        _eegpt_lightning(r)
        path = _save_torch(
            _lightning_container(r.state), folder / "eegpt_mcae_58chs_4s_large4E.ckpt"
        )
    elif model_key == "biot":
        _biot_encoder(r)
        path = _save_torch(r.state, folder / "EEG-PREST-16-channels.ckpt")
    elif model_key == "cbramod":
        _cbramod(r)
        path = _save_torch(r.state, folder / "pretrained_weights.pth")
    else:  # luna: thorir/LUNA keeps each size in its own folder
        _luna(r)
        _save_safetensors(r.state, folder / "Base" / "LUNA_base.safetensors")
        path = folder
    files = (path,) if path.is_file() else tuple(sorted(path.rglob("*.safetensors")))
    return Layout(model_key, "official", path, files, dict(r.state), r.expected, tuple(r.ignored))


def _lightning_container(state: dict) -> dict:
    """What ``pytorch_lightning.Trainer.save_checkpoint`` writes around a state dict (the
    LitEEGPT run: AdamW + OneCycleLR, default ModelCheckpoint); optimizer moments omitted."""
    return {
        "epoch": 199,
        "global_step": 200 * 64,
        "pytorch-lightning_version": "2.1.0",
        "state_dict": OrderedDict(state),
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"total": {"ready": 200}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 0, "
            "'every_n_epochs': 1, 'train_time_interval': None}": {
                "monitor": None,
                "best_model_score": None,
                "best_model_path": "",
                "current_score": None,
                "dirpath": "logs/checkpoints",
                "best_k_models": {},
                "kth_best_model_path": "",
                "kth_value": torch.tensor(float("inf")),
                "last_model_path": "",
            }
        },  # fmt: skip
        "optimizer_states": [
            {
                "state": {},
                "param_groups": [
                    {
                        "lr": 6e-5,
                        "betas": (0.9, 0.999),
                        "eps": 1e-8,
                        "weight_decay": 0.0,
                        "amsgrad": False,
                        "params": [0, 1],
                    }
                ],
            }
        ],  # fmt: skip
        "lr_schedulers": [
            {
                "total_steps": 200 * 64,
                "last_epoch": 200 * 64,
                "_step_count": 1,
                "_anneal_func_type": "cos",
                "base_lrs": [2.5e-4],
            }
        ],  # fmt: skip
    }


__all__ = ["EEGPT_PRETRAIN_CHANNELS", "HUB_CONFIGS", "Layout", "OFFICIAL_DIFFERS",
           "hub_layout", "official_layout"]  # fmt: skip
