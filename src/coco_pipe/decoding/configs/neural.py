"""Configs for neural training: frozen head, full fine-tuning, LoRA, QLoRA, scratch nets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import StrictConfig

_SCRATCH_KEYS = ("eegnet", "shallow_fbcsp", "deep4", "eegconformer")


def _check_neural_model_key(value: str) -> str:
    """Accept ESTIMATOR_SPECS keys and scratch networks; list all known keys otherwise."""
    from ...foundation.specs import ESTIMATOR_SPECS

    if value in ESTIMATOR_SPECS or value in _SCRATCH_KEYS:
        return value
    raise ValueError(
        f"unknown model_key {value!r}; known foundation models: "
        f"{', '.join(sorted(ESTIMATOR_SPECS)) or 'none registered'}; "
        f"scratch networks: {', '.join(_SCRATCH_KEYS)}"
    )


class LoRAConfig(StrictConfig):
    """LoRA adapter hyper-parameters (peft)."""

    r: int = Field(16, ge=1, description="Rank of the update matrices.")
    alpha: float = Field(32, gt=0, description="Scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: list[str] | None = Field(
        None, description="Module names to adapt; None uses the spec row's default."
    )


class QuantizationConfig(StrictConfig):
    """4-bit quantisation of the backbone's Linear layers (bitsandbytes)."""

    enabled: bool = Field(False, description="Quantise the base model (required for qlora).")
    load_in_4bit: bool = Field(True, description="4-bit weights.")
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type.")
    double_quant: bool = Field(True, description="Quantise the quantisation constants too.")
    compute_dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "bfloat16", description="Compute dtype."
    )


class DeviceConfig(StrictConfig):
    """Device placement and precision (torch autocast; fp16 also a gradient scaler)."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="'auto' uses CUDA when present."
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="Mixed precision mode.")


class CheckpointConfig(StrictConfig):
    """What to keep of the trained model."""

    save: Literal["best", "last", "none"] = Field(
        "best", description="Keep the best, the last, or no checkpoint."
    )
    monitor: str = Field(
        "val_loss", description="Quantity that defines 'best' (val_loss or val_<metric>)."
    )


class HeadConfig(StrictConfig):
    """The trainable head on top of the backbone features."""

    kind: Literal["linear", "mlp"] = Field("linear", description="Linear layer or a small MLP.")
    hidden_dim: int = Field(128, ge=1, description="MLP hidden width.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout before the output layer.")


class OptimConfig(StrictConfig):
    """Optimisation of the trainable parameters."""

    lr: float = Field(1e-3, gt=0, description="Peak learning rate (AdamW).")
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay.")
    epochs: int = Field(20, ge=1, description="Maximum epochs.")
    batch_size: int = Field(32, ge=1, description="Training batch size.")
    scheduler: Literal["cosine", "constant", "linear"] = Field(
        "cosine", description="LR schedule after warmup."
    )
    warmup_epochs: float = Field(0.0, ge=0, description="Linear warmup length in epochs.")
    grad_clip: float | None = Field(1.0, description="Max gradient norm (None: no clipping).")
    layer_decay: float | None = Field(
        None, description="Layer-wise lr decay for full fine-tuning (e.g. 0.75)."
    )


class NeuralFineTuneConfig(StrictConfig):
    """Train a backbone (frozen, full, LoRA or QLoRA) with a head, per outer fold.

    Examples
    --------
    >>> cfg = NeuralFineTuneConfig(model_key="cbramod", train_mode="lora", weights="random",
    ...                            lora=LoRAConfig(r=16, alpha=32, dropout=0.05))
    >>> cfg.train_mode
    'lora'
    """

    kind: Literal["neural"] = "neural"
    backend: Literal["braindecode", "hugging_face"] = Field(
        "braindecode", description="Loader backend."
    )
    model_key: str = Field(
        ...,
        description="Foundation model key (ESTIMATOR_SPECS) or a scratch network "
        "(eegnet, shallow_fbcsp, deep4, eegconformer).",
    )
    weights: str = Field(
        "pretrained",
        description="As FoundationEmbeddingModelConfig.weights; scratch nets use 'random'.",
    )
    revision: str | None = Field(None, description="Hub revision.")
    input_kind: Literal["epoched"] = Field("epoched", description="Input layout: epoched windows.")
    train_mode: Literal["frozen", "full", "lora", "qlora"] = Field(
        "frozen", description="What is trained."
    )
    pooling: Literal["mean", "cls", "flatten"] | None = Field(
        None,
        description="Feature pooling before the head. None: 'flatten' where the model supports "
        "it (keeps one feature block per channel and patch, so the head sees where on the scalp "
        "an effect is, as braindecode's own CBraMod/EEGPT heads do), else the model's only "
        "pooling (BIOT: 'mean'). 'mean' averages channel identity away.",
    )
    head: HeadConfig = Field(default_factory=HeadConfig, description="Trainable head.")
    lora: LoRAConfig = Field(default_factory=LoRAConfig, description="LoRA settings (lora/qlora).")
    quantization: QuantizationConfig = Field(
        default_factory=QuantizationConfig, description="4-bit base (qlora)."
    )
    device: DeviceConfig = Field(default_factory=DeviceConfig, description="Device and precision.")
    checkpoints: CheckpointConfig = Field(
        default_factory=CheckpointConfig, description="Checkpoint policy."
    )
    optim: OptimConfig = Field(default_factory=OptimConfig, description="Optimisation.")
    early_stopping_patience: int | None = Field(
        5, description="Epochs without improvement before stopping."
    )
    validation_fraction: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of the training partition held out "
        "for early stopping (grouped by subject when the CV has a group key).",
    )
    precompute_embeddings: bool = Field(
        True,
        description="frozen mode: forward every window through the backbone once, keep the "
        "embeddings in memory and train the head on them instead of running the backbone every "
        "epoch (same result, many times faster).",
    )
    cache_embeddings: bool = Field(
        False,
        description="frozen mode: store / reuse the precomputed embeddings in the "
        "content-addressed disk cache, as FoundationEmbeddingModelConfig.cache_embeddings does "
        "(each window embedded once per backbone, across folds, trials and runs).",
    )
    cache_dir: str | None = Field(
        None,
        description="Disk cache directory for cache_embeddings (default: the per-user cache "
        "directory, coco_pipe.foundation.cache.default_cache_dir()).",
    )
    seed: int | None = Field(
        None, description="Training seed (None: the experiment's random_state)."
    )
    model_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra architecture arguments."
    )
    trust_remote_code: bool = Field(False, description="hugging_face backend: allow remote code.")
    allow_partial_weights: bool = Field(
        False,
        description="Accept a checkpoint that leaves backbone tensors freshly initialised (they "
        "are listed in the fold's weights/load_report.json); by default that is an error "
        "listing them.",
    )
    scratch_sfreq: float | None = Field(
        None,
        gt=0,
        description="Scratch networks only: rate (Hz) inputs are resampled to; None uses the "
        "network's design rate (EEGNet 128 Hz; ShallowFBCSPNet, Deep4Net, EEGConformer 250 Hz); give "
        "the data's own rate to skip resampling.",
    )
    divergence_patience: int = Field(
        10,
        ge=1,
        description="Consecutive non-finite training steps (NaN/Inf loss or gradient) after "
        "which training stops and the fold is reported as failed (diverged).",
    )

    @field_validator("model_key")
    @classmethod
    def _known_model_key(cls, value: str) -> str:
        return _check_neural_model_key(value)

    @model_validator(mode="before")
    @classmethod
    def _defaults_for_kind(cls, data: Any) -> Any:
        """Scratch networks default to weights='random', train_mode='full'; train_mode='qlora'
        defaults to quantization.enabled=True."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("model_key") in _SCRATCH_KEYS:
            data.setdefault("weights", "random")
            data.setdefault("train_mode", "full")
        if data.get("train_mode") == "qlora":
            quant = data.get("quantization")
            if quant is None:
                data["quantization"] = {"enabled": True}
            elif isinstance(quant, dict) and "enabled" not in quant:
                data["quantization"] = {**quant, "enabled": True}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> NeuralFineTuneConfig:
        if self.model_key in _SCRATCH_KEYS:
            if self.weights != "random":
                raise ValueError(
                    f"model_key={self.model_key!r} is a network trained from scratch: no pretrained "
                    f"weights exist, so weights must be 'random', got {self.weights!r}"
                )
            if self.train_mode != "full":
                raise ValueError(
                    f"model_key={self.model_key!r} is trained from scratch: train_mode must be 'full', "
                    f"got {self.train_mode!r}"
                )
        if self.train_mode == "qlora" and not self.quantization.enabled:
            raise ValueError(
                "train_mode='qlora' needs quantization.enabled=True (the 4-bit base); use "
                "train_mode='lora' for a full-precision base"
            )
        if self.quantization.enabled and self.train_mode != "qlora":
            raise ValueError(
                f"quantization.enabled=True is only used with train_mode='qlora' (4-bit base + LoRA); "
                f"got train_mode={self.train_mode!r}"
            )
        if self.cache_embeddings and self.train_mode != "frozen":
            raise ValueError(
                f"cache_embeddings=True caches a frozen backbone's embeddings; with "
                f"train_mode={self.train_mode!r} the backbone changes while it trains, so there is "
                "nothing to cache. Use train_mode='frozen' or cache_embeddings=False"
            )
        if self.cache_embeddings and not self.precompute_embeddings:
            raise ValueError(
                "cache_embeddings=True stores precomputed embeddings, but precompute_embeddings=False "
                "runs the backbone every epoch; set precompute_embeddings=True or cache_embeddings=False"
            )
        if self.quantization.enabled and not self.quantization.load_in_4bit:
            raise ValueError(
                "quantization.load_in_4bit=False: only 4-bit quantisation is supported"
            )
        return self
