"""The network a :class:`~coco_pipe.foundation.neural.NeuralDecoder` trains, built from its
config: the backbone source (a foundation backbone through
:func:`~coco_pipe.foundation.backbones.build_backbone`, or a scratch network), the
surgery of the train mode (frozen / full / LoRA / 4-bit base + LoRA) and the head.

Everything here is a function of its arguments: nothing is stored on the estimator, so
``fit``, :meth:`~coco_pipe.foundation.neural.NeuralDecoder.load` and unpickling build the
same network the same way.

Examples
--------
>>> head = make_head("linear", in_dim=8, n_out=2, hidden=16, dropout=0.0)
>>> sum(p.numel() for p in head.parameters())
18
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

logger = logging.getLogger(__name__)

__all__ = [
    "NeuralNetwork",
    "ScratchAdapter",
    "Source",
    "Assembly",
    "make_head",
    "spec_for",
    "head_pooling",
    "count_params",
    "build_source",
    "assemble",
    "check_buildable",
]


def make_head(kind: str, in_dim: int, n_out: int, hidden: int, dropout: float) -> nn.Module:
    """A linear head (dropout + Linear) or a one-hidden-layer GELU MLP."""
    if kind == "linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, n_out))
    return nn.Sequential(
        nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_out)
    )


class NeuralNetwork(nn.Module):
    """Backbone (features or, for scratch nets, logits) followed by the head.

    With ``frozen_backbone`` the backbone stays in eval mode (dropout off, batch-norm
    statistics fixed) even while the head trains.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, frozen_backbone: bool):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.frozen_backbone = frozen_backbone

    def forward(self, x):
        return self.head(self.backbone(x))

    def train(self, mode: bool = True):
        super().train(mode)
        if self.frozen_backbone:
            self.backbone.eval()
        return self


@dataclass
class ScratchAdapter:
    """Input adaptation of scratch networks: resample, then scale volts to microvolts."""

    src_sfreq: float | None
    sfreq: float | None
    scale: float
    src_n_times: int
    n_times: int

    def apply(self, X: np.ndarray) -> np.ndarray:
        from ..scratch import resample_windows

        X = np.asarray(X, dtype=np.float32)
        if self.src_sfreq is not None and self.sfreq is not None:
            X = resample_windows(X, self.src_sfreq, self.sfreq)
        X = X[..., : self.n_times]
        if self.scale != 1.0:
            X = X * np.float32(self.scale)
        return np.ascontiguousarray(X, dtype=np.float32)

    def as_params(self) -> dict[str, Any]:
        return {
            "adapt.src_sfreq": self.src_sfreq,
            "adapt.sfreq": self.sfreq,
            "adapt.src_n_times": self.src_n_times,
            "adapt.n_times": self.n_times,
            "adapt.amplitude_scale": self.scale,
        }


@dataclass
class Source:
    """The built backbone or scratch network and how inputs reach it."""

    module: Any
    scratch: bool
    emb_dim: int | None
    adapter: Any
    weights_tags: dict[str, str]
    weights_digest: str | None
    fingerprint: str | None
    architecture: str
    display_name: str
    spec: Any
    random_weights: bool
    load_report: Any = None
    amplitude: Any = None


@dataclass
class Assembly:
    """The network of one train mode and what was done to its backbone.

    Attributes
    ----------
    network : NeuralNetwork
    base_state : dict or None
        Random-init backbones trained without changing their base (frozen / LoRA / QLoRA):
        the unadapted weights, which nothing else could rebuild.
    lora_config : peft.LoraConfig or None
    lora_layers : list of str
    quantized_layers : list of str
    """

    network: NeuralNetwork
    base_state: dict[str, Any] | None = None
    lora_config: Any = None
    lora_layers: list[str] = field(default_factory=list)
    quantized_layers: list[str] = field(default_factory=list)


def spec_for(key: str):
    """``(spec, is_scratch)`` of a model key (foundation spec row or scratch network)."""
    from ..scratch import SCRATCH_SPECS
    from ..specs import ESTIMATOR_SPECS

    if key in SCRATCH_SPECS:
        return SCRATCH_SPECS[key], True
    if key in ESTIMATOR_SPECS:
        return ESTIMATOR_SPECS[key], False
    known = sorted(ESTIMATOR_SPECS) + sorted(SCRATCH_SPECS)
    raise ValueError(f"unknown model_key {key!r}; known: {', '.join(known)}")


def head_pooling(cfg, spec) -> str:
    """The pooling a fine-tuning config uses: its own, else 'flatten' where the model has it.

    Examples
    --------
    >>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
    >>> from coco_pipe.decoding.configs import NeuralFineTuneConfig
    >>> cfg = NeuralFineTuneConfig(model_key="cbramod", weights="random")
    >>> head_pooling(cfg, ESTIMATOR_SPECS["cbramod"]), head_pooling(cfg, ESTIMATOR_SPECS["biot"])
    ('flatten', 'mean')
    """
    if cfg.pooling is not None:
        return cfg.pooling
    return "flatten" if "flatten" in spec.poolings else spec.poolings[0]


def count_params(module) -> tuple[int, int]:
    """(total, trainable) parameter counts; 4-bit weights count their unpacked size."""
    total = trainable = 0
    for p in module.parameters():
        qs = getattr(p, "quant_state", None)
        n = (
            int(np.prod(qs.shape))
            if qs is not None and getattr(qs, "shape", None) is not None
            else p.numel()
        )
        total += n
        if p.requires_grad:
            trainable += n
    return total, trainable


def _hf_load_options(cfg) -> dict:
    """hugging_face backend + qlora: transformers loads the base in 4-bit (BitsAndBytesConfig)."""
    if cfg.backend == "hugging_face" and cfg.train_mode == "qlora":
        return {"quantization": cfg.quantization}
    return {}


def _linear4bit_names(module) -> list[str]:
    """Names of the 4-bit layers a backbone was loaded with (hugging_face backend), [] if none."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return []
    return [
        n for n, m in module.named_modules()
        if isinstance(m, bnb.nn.Linear4bit) and getattr(m.weight, "bnb_quantized", False)
    ]  # fmt: skip


def _build_scratch_source(cfg, spec, *, sfreq, n_channels, n_times, n_out, scale, X_train):
    from ..scratch import build_scratch_net, resample_windows, volts_scale

    target = cfg.scratch_sfreq or spec.sfreq
    if sfreq is None:
        logger.warning(
            "sfreq unknown: %s gets the windows at their own rate (designed for %g Hz)",
            spec.display_name, spec.sfreq,
        )  # fmt: skip
        src_sfreq, target_sfreq = None, None
        n_times_out = n_times
    else:
        src_sfreq, target_sfreq = float(sfreq), float(target)
        probe = np.zeros((1, 1, int(n_times)), np.float32)  # exact length after resampling
        n_times_out = resample_windows(probe, src_sfreq, target_sfreq).shape[-1]
    if scale is None:
        scale = volts_scale(X_train) if X_train is not None else 1.0
    adapter = ScratchAdapter(src_sfreq, target_sfreq, float(scale), int(n_times), int(n_times_out))
    net = build_scratch_net(
        cfg.model_key, n_chans=n_channels, n_outputs=n_out, n_times=n_times_out,
        sfreq=target_sfreq or spec.sfreq, model_kwargs=cfg.model_kwargs,
    )  # fmt: skip
    return Source(
        module=net, scratch=True, emb_dim=None, adapter=adapter,
        weights_tags={"weights": "random-init", "weights.source": "random-init"},
        weights_digest=None, fingerprint=None, architecture=spec.braindecode_class,
        display_name=spec.display_name, spec=spec, random_weights=True,
    )  # fmt: skip


def build_source(cfg, *, sfreq: float | None, ch_names, n_channels: int, n_times: int,
                 n_out: int, scale: float | None, X_train: np.ndarray | None,
                 seed: int | None = None, unit: str = "V") -> Source:  # fmt: skip
    """Build the backbone (weights loaded) or the scratch network for windows of
    ``(n_channels, n_times)`` at ``sfreq``.

    ``scale`` is the scratch networks' amplitude factor (None: measured on ``X_train``);
    ``seed`` the seed the backbone is built under (recorded in its load report); ``unit``
    the amplitude unit of the windows (foundation backbones convert it to volts).
    """
    spec, scratch = spec_for(cfg.model_key)
    if scratch:
        return _build_scratch_source(
            cfg, spec, sfreq=sfreq, n_channels=n_channels, n_times=n_times, n_out=n_out,
            scale=scale, X_train=X_train,
        )  # fmt: skip
    from ...data.units import check_amplitude, warn_if_implausible
    from ..backbones import build_backbone

    amplitude = None
    if X_train is not None and len(X_train):  # pretrained on a known scale: check the unit
        amplitude = check_amplitude(X_train, unit)
        warn_if_implausible(amplitude, f"NeuralDecoder({cfg.model_key})", stacklevel=4)
    bb = build_backbone(
        cfg.model_key, backend=cfg.backend, weights=cfg.weights, revision=cfg.revision,
        pooling=head_pooling(cfg, spec), model_kwargs=dict(cfg.model_kwargs), sfreq=sfreq,
        ch_names=list(ch_names) if ch_names is not None else None,
        n_channels=n_channels, n_times=n_times, trust_remote_code=cfg.trust_remote_code,
        seed=seed, allow_partial_weights=cfg.allow_partial_weights, unit=unit,
        **_hf_load_options(cfg),
    )  # fmt: skip
    tags = dict(bb.weights.as_tags()) if hasattr(bb.weights, "as_tags") else {}
    random_w = cfg.weights == "random" or "random" in str(tags.get("weights", ""))
    return Source(
        module=bb.module, scratch=False, emb_dim=int(bb.emb_dim), adapter=bb.plan,
        weights_tags={str(k): str(v) for k, v in tags.items()}, weights_digest=bb.weights_digest,
        fingerprint=bb.fingerprint, architecture=type(bb.module).__name__,
        display_name=getattr(bb.spec, "display_name", cfg.model_key), spec=bb.spec,
        random_weights=random_w, load_report=bb.load_report, amplitude=amplitude,
    )  # fmt: skip


def _adapt_backbone(cfg, source: Source, backbone, *, device, adapter):
    """LoRA (over a 4-bit base for qlora) on the frozen backbone, in place; returns
    ``(lora_config, quantized layer names)``."""
    from ..peft_utils import apply_lora, load_adapter, quantize_linear_layers

    backbone.requires_grad_(False)
    quantized: list[str] = []
    if cfg.train_mode == "qlora" and _linear4bit_names(backbone):
        # hugging_face backend: transformers already loaded the base in 4-bit
        quantized = _linear4bit_names(backbone)
    elif cfg.train_mode == "qlora":
        q = cfg.quantization
        quantized = quantize_linear_layers(
            backbone, quant_type=q.quant_type, double_quant=q.double_quant,
            compute_dtype=q.compute_dtype, device=device,
        )  # fmt: skip
    if adapter is not None:
        return load_adapter(backbone, *adapter), quantized
    targets = list(cfg.lora.target_modules or getattr(source.spec, "lora_target_modules", ()))
    lora = apply_lora(backbone, r=cfg.lora.r, alpha=cfg.lora.alpha, dropout=cfg.lora.dropout,
                      targets=targets)  # fmt: skip
    return lora, quantized


def assemble(cfg, source: Source, *, n_out: int, device, base_state: dict | None = None,
             adapter: tuple[dict, dict] | None = None) -> Assembly:  # fmt: skip
    """Backbone surgery for the train mode, head, and the network on ``device``.

    Parameters
    ----------
    base_state : dict, optional
        Saved random-init base weights to load into the backbone first.
    adapter : (adapter_config dict, adapter weights), optional
        A saved LoRA adapter to inject instead of fresh LoRA layers.
    """
    backbone = source.module
    if base_state is not None:
        missing, unexpected = backbone.load_state_dict(base_state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"saved base weights do not fit the rebuilt backbone (missing {missing[:5]}, "
                f"unexpected {unexpected[:5]})"
            )
    keep_base = None
    mode = cfg.train_mode
    if source.random_weights and not source.scratch and mode in ("frozen", "lora", "qlora"):
        keep_base = {k: v.detach().cpu().clone() for k, v in backbone.state_dict().items()}
    lora, quantized = None, []
    if mode in ("lora", "qlora"):
        lora, quantized = _adapt_backbone(cfg, source, backbone, device=device, adapter=adapter)
    else:
        backbone.requires_grad_(mode == "full")
    if source.scratch:
        head = nn.Identity()
    else:
        head = make_head(cfg.head.kind, source.emb_dim, n_out, cfg.head.hidden_dim, cfg.head.dropout)
    network = NeuralNetwork(backbone, head, frozen_backbone=(mode == "frozen"))
    network.to(device)
    return Assembly(
        network=network, base_state=keep_base, lora_config=lora,
        lora_layers=sorted(lora.target_modules) if lora is not None else [],
        quantized_layers=quantized,
    )  # fmt: skip


def check_buildable(cfg, info, *, sfreq: float | None, ch_names, unit: str = "V") -> None:
    """Raise a clear ``ValueError`` / ``ImportError`` when the network of ``cfg`` cannot be
    built for data described by ``info`` (cheap: no weights are loaded).

    Examples
    --------
    >>> from coco_pipe.decoding.configs import NeuralFineTuneConfig
    >>> from coco_pipe.data import DataInfo
    >>> info = DataInfo(10, 2, None, None, None, None, "classification", (0, 1))
    >>> check_buildable(NeuralFineTuneConfig(model_key="eegnet"), info, sfreq=None, ch_names=None)
    Traceback (most recent call last):
    ...
    ValueError: NeuralDecoder (eegnet) needs 3-D epochs (n_windows, n_channels, n_times); X is 2-D
    """
    if info.task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {info.task!r}")
    if info.ndim != 3:
        raise ValueError(
            f"NeuralDecoder ({cfg.model_key}) needs 3-D epochs (n_windows, n_channels, n_times); "
            f"X is {info.ndim}-D"
        )
    if info.task == "classification" and info.classes is not None and len(info.classes) < 2:
        raise ValueError(f"classification needs at least 2 classes, got {list(info.classes)}")
    spec, scratch = spec_for(cfg.model_key)
    if cfg.train_mode not in spec.train_modes:
        raise ValueError(
            f"train_mode={cfg.train_mode!r} is not allowed for model_key={cfg.model_key!r}; "
            f"allowed: {', '.join(spec.train_modes)}"
        )
    from ..peft_utils import require_bitsandbytes, require_peft
    from ..placement import check_device

    check_device(cfg.device.device, cfg.device.precision)
    if cfg.train_mode in ("lora", "qlora"):
        require_peft()
    if cfg.train_mode == "qlora":
        require_bitsandbytes()
    if scratch:
        _check_scratch(cfg, spec, info, sfreq)
        return
    if cfg.backend not in spec.backends:
        raise ValueError(
            f"backend={cfg.backend!r} cannot load {cfg.model_key!r}; supported: {', '.join(spec.backends)}"
        )
    from ..adaptation import plan_adaptation
    from ..backbones import check_pooling

    check_pooling(spec, head_pooling(cfg, spec))
    plan_adaptation(
        spec, sfreq=sfreq, ch_names=ch_names, n_channels=info.n_channels, n_times=info.n_times,
        unit=unit,
    )  # fmt: skip


def _check_scratch(cfg, spec, info, sfreq: float | None) -> None:
    """A scratch network builds for the windows' length after resampling (built under a
    forked generator: a check draws nothing from the caller's random stream)."""
    from ..placement import seeded_rng
    from ..scratch import build_scratch_net

    if sfreq is None and cfg.scratch_sfreq is not None:
        raise ValueError(
            f"scratch_sfreq={cfg.scratch_sfreq} needs the data's sfreq to resample; give sfreq"
        )
    target = cfg.scratch_sfreq or spec.sfreq
    n_times = info.n_times
    if sfreq is not None and n_times is not None:
        n_times = int(math.ceil(n_times * target / sfreq))
    if info.n_channels is not None and n_times is not None:
        classification = info.task == "classification"
        n_out = (len(info.classes) if info.classes else 2) if classification else 1
        with seeded_rng(0):
            build_scratch_net(cfg.model_key, n_chans=info.n_channels, n_outputs=n_out,
                              n_times=n_times, sfreq=target, model_kwargs=cfg.model_kwargs)  # fmt: skip
