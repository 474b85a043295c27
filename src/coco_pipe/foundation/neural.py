"""NeuralDecoder: train a backbone (frozen, full, LoRA, QLoRA) or a scratch network per fold.

One scikit-learn estimator covers the neural model kinds of
:class:`~coco_pipe.decoding.configs.NeuralFineTuneConfig`:

================  ==========================================================================
train_mode        what is trained
================  ==========================================================================
``frozen``        the head only; the backbone runs in eval mode. With ``cache_embeddings``
                  the backbone embeds every window once (through the content-addressed
                  cache when ``cache_dir`` is set) and the head trains on the embeddings.
``full``          backbone and head (optional layer-wise lr decay); scratch networks
                  (``eegnet``, ``shallow_fbcsp``, ``deep4``, ``eegconformer``) always.
``lora``          LoRA adapters (peft) on the spec's target modules, plus the head.
``qlora``         as ``lora``, on a backbone whose ``nn.Linear`` layers are 4-bit
                  (bitsandbytes ``Linear4bit``, NF4/FP4); adapters stay in fp32.
================  ==========================================================================

Accelerate places the model and runs mixed precision (``bf16`` works on CPU, ``fp16``
needs CUDA). The early-stopping validation split is carved from the training partition
(grouped by ``groups`` when the experiment passes them). A diverging run (NaN/Inf)
stops, is reported as failed through :meth:`NeuralDecoder.tracking_report` and never
crashes ``fit``; ``predict`` on it raises.

The fitted model saves to a self-describing folder (:meth:`NeuralDecoder.save`,
:meth:`NeuralDecoder.save_adapter`) that :meth:`NeuralDecoder.load` turns back into an
estimator predicting exactly as the original.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from ..data import DataInfo
from ..decoding.configs.neural import NeuralFineTuneConfig

logger = logging.getLogger(__name__)

__all__ = ["NeuralTrainable", "NeuralDecoder", "NeuralNetwork", "MODEL_FILE"]

MODEL_FILE = "coco_pipe_model.json"
_FORMAT = "coco_pipe.neural/1"


@runtime_checkable
class NeuralTrainable(Protocol):
    """What a trained neural estimator tells the tracker and the reports."""

    def get_training_history(self) -> list[dict[str, Any]]:
        """One dict per epoch: train/val loss, metrics, lr, grad norm, seconds."""
        ...

    def get_checkpoint_manifest(self) -> dict[str, Any]:
        """Checkpoint policy, saved paths, best epoch and monitored value."""
        ...

    def get_model_card_info(self) -> dict[str, Any]:
        """Architecture, parameter counts, train mode, weights, input shape, precision."""
        ...

    def get_failure_diagnostics(self) -> dict[str, Any]:
        """Non-finite detection (step, kind), gradient-norm statistics, skipped steps."""
        ...

    def get_artifact_metadata(self) -> dict[str, Any]:
        """What the saved artifacts are and how to load them."""
        ...


# --------------------------------------------------------------------------- modules


def _make_head(kind: str, in_dim: int, n_out: int, hidden: int, dropout: float) -> nn.Module:
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
class _ScratchAdapter:
    """Input adaptation of scratch networks: resample, then scale volts to microvolts."""

    src_sfreq: float | None
    sfreq: float | None
    scale: float
    src_n_times: int
    n_times: int

    def apply(self, X: np.ndarray) -> np.ndarray:
        from .scratch import resample_windows

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
class _Source:
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


def _build_backbone(*args, **kwargs):
    """Indirection over ``backbones.build_backbone`` (monkeypatched in tests)."""
    try:
        from .backbones import build_backbone
    except ImportError as err:  # pragma: no cover - the backbones module ships with the package
        raise ImportError(f"foundation backbones are unavailable: {err}") from err
    return build_backbone(*args, **kwargs)


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


def _spec_for(key: str):
    from .scratch import SCRATCH_SPECS
    from .specs import ESTIMATOR_SPECS

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


def _count_params(module) -> tuple[int, int]:
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


def _versions() -> dict[str, str]:
    out = {}
    for name in ("torch", "braindecode", "peft", "bitsandbytes", "accelerate"):
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = str(getattr(mod, "__version__", "?"))
    return out


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    tmp.replace(path)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return str(obj)


# --------------------------------------------------------------------------- estimator


class NeuralDecoder(ClassifierMixin, BaseEstimator):
    """Train a foundation backbone (frozen/full/LoRA/QLoRA) or a scratch net with a head.

    Parameters
    ----------
    config : NeuralFineTuneConfig or dict
        Everything about the model and its training (validated in ``fit``).
    sfreq : float, optional
        Sampling rate of the windows (Hz); needed to adapt them to the model.
    ch_names : sequence of str, optional
        Channel names in data order (models with channel embeddings need them).
    task : {"classification", "regression"}
        Cross-entropy on classes, or MSE on standardised targets.
    random_state : int, optional
        Seed used when ``config.seed`` is None (0 when both are None).
    quiet : bool
        No progress bar (it is also off when stderr is not a terminal).
    epoch_callback : callable, optional
        ``epoch_callback(history_row)`` after every epoch; returning True stops.

    Attributes
    ----------
    classes_ : ndarray
        Class labels (classification).
    history_ : list of dict
        One row per epoch.
    failed_ : bool
        Training diverged; ``predict`` raises, :meth:`tracking_report` marks the fold failed.
    network_ : torch.nn.Module
        The trained backbone + head.

    Examples
    --------
    >>> import numpy as np
    >>> from coco_pipe.decoding.configs import NeuralFineTuneConfig, OptimConfig
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 4, 128)).astype("float32"); y = np.repeat([0, 1], 20)
    >>> cfg = NeuralFineTuneConfig(model_key="eegnet", scratch_sfreq=128.0,
    ...                            optim=OptimConfig(epochs=2, batch_size=16))
    >>> clf = NeuralDecoder(cfg, sfreq=128.0, quiet=True).fit(X, y)  # doctest: +SKIP
    >>> clf.predict(X[:3]).shape  # doctest: +SKIP
    (3,)
    """

    def __init__(
        self,
        config: NeuralFineTuneConfig | dict | None = None,
        *,
        sfreq: float | None = None,
        ch_names: list[str] | tuple[str, ...] | None = None,
        task: str = "classification",
        random_state: int | None = None,
        quiet: bool = False,
        epoch_callback=None,
    ):
        self.config = config
        self.sfreq = sfreq
        self.ch_names = ch_names
        self.task = task
        self.random_state = random_state
        self.quiet = quiet
        self.epoch_callback = epoch_callback

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_config(
        cls,
        cfg: NeuralFineTuneConfig,
        info: DataInfo | None = None,
        random_state: int | None = None,
    ) -> NeuralDecoder:
        """Build an unfitted decoder for data described by ``info``.

        Examples
        --------
        >>> from coco_pipe.decoding.configs import NeuralFineTuneConfig
        >>> est = NeuralDecoder.from_config(NeuralFineTuneConfig(model_key="eegnet"), None, 0)
        >>> est.get_params()["task"]
        'classification'
        """
        return cls(
            config=cfg,
            sfreq=info.sfreq if info is not None else None,
            ch_names=tuple(info.ch_names)
            if info is not None and info.ch_names is not None
            else None,
            task=info.task if info is not None else "classification",
            random_state=random_state,
        )

    def _cfg(self) -> NeuralFineTuneConfig:
        if self.config is None:
            raise ValueError("config is required: a NeuralFineTuneConfig (or a dict of its fields)")
        if isinstance(self.config, NeuralFineTuneConfig):
            return self.config
        if isinstance(self.config, dict):
            return NeuralFineTuneConfig.model_validate(self.config)
        raise ValueError(
            f"config must be a NeuralFineTuneConfig or a dict, got {type(self.config).__name__}"
        )

    def _seed(self, cfg: NeuralFineTuneConfig) -> int:
        if cfg.seed is not None:
            return int(cfg.seed)
        return int(self.random_state) if self.random_state is not None else 0

    def check_data_info(self, info: DataInfo) -> None:
        """Raise a clear ``ValueError`` / ``ImportError`` for data or settings the model
        cannot take, before any fitting (cheap: no weights are loaded).

        Examples
        --------
        >>> from coco_pipe.decoding.configs import NeuralFineTuneConfig
        >>> from coco_pipe.data import DataInfo
        >>> info = DataInfo(10, 2, None, None, None, None, "classification", (0, 1))
        >>> NeuralDecoder(NeuralFineTuneConfig(model_key="eegnet")).check_data_info(info)
        Traceback (most recent call last):
        ...
        ValueError: NeuralDecoder (eegnet) needs 3-D epochs (n_windows, n_channels, n_times); X is 2-D
        """
        cfg = self._cfg()
        if info.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {info.task!r}")
        if info.ndim != 3:
            raise ValueError(
                f"NeuralDecoder ({cfg.model_key}) needs 3-D epochs (n_windows, n_channels, n_times); "
                f"X is {info.ndim}-D"
            )
        if info.task == "classification" and info.classes is not None and len(info.classes) < 2:
            raise ValueError(f"classification needs at least 2 classes, got {list(info.classes)}")
        spec, scratch = _spec_for(cfg.model_key)
        if cfg.train_mode not in spec.train_modes:
            raise ValueError(
                f"train_mode={cfg.train_mode!r} is not allowed for model_key={cfg.model_key!r}; "
                f"allowed: {', '.join(spec.train_modes)}"
            )
        from .training import check_device

        check_device(cfg.device.device, cfg.device.precision)
        if cfg.train_mode in ("lora", "qlora"):
            from .peft_utils import require_peft

            require_peft()
        if cfg.train_mode == "qlora":
            from .peft_utils import require_bitsandbytes

            require_bitsandbytes()
        sfreq = info.sfreq if info.sfreq is not None else self.sfreq
        ch_names = info.ch_names if info.ch_names is not None else self.ch_names
        if scratch:
            if sfreq is None and cfg.scratch_sfreq is not None:
                raise ValueError(
                    f"scratch_sfreq={cfg.scratch_sfreq} needs the data's sfreq to resample; give sfreq"
                )
            target = cfg.scratch_sfreq or spec.sfreq
            n_times = info.n_times
            if sfreq is not None and n_times is not None:
                n_times = int(math.ceil(n_times * target / sfreq))
            if info.n_channels is not None and n_times is not None:
                from .scratch import build_scratch_net

                n_out = len(info.classes) if info.task == "classification" and info.classes else 2
                build_scratch_net(
                    cfg.model_key, n_chans=info.n_channels, n_outputs=n_out if info.task ==
                    "classification" else 1, n_times=n_times, sfreq=target, model_kwargs=cfg.model_kwargs,
                )  # fmt: skip
            return
        if cfg.backend not in spec.backends:
            raise ValueError(
                f"backend={cfg.backend!r} cannot load {cfg.model_key!r}; supported: {', '.join(spec.backends)}"
            )
        from .backbones import check_pooling

        check_pooling(spec, head_pooling(cfg, spec))
        try:
            from .adaptation import plan_adaptation
        except ImportError:  # pragma: no cover - adaptation ships with the package
            return
        plan_adaptation(
            spec, sfreq=sfreq, ch_names=ch_names, n_channels=info.n_channels, n_times=info.n_times
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        if self.task == "regression":
            from sklearn.utils import RegressorTags

            tags.estimator_type = "regressor"
            tags.classifier_tags = None
            tags.regressor_tags = RegressorTags()
        return tags

    # ----------------------------------------------------------------- building

    def _build_source(self, cfg, *, n_channels: int, n_times: int, n_out: int, scale: float | None,
                      X_train: np.ndarray | None) -> _Source:  # fmt: skip
        spec, scratch = _spec_for(cfg.model_key)
        if scratch:
            from .scratch import build_scratch_net

            target = cfg.scratch_sfreq or spec.sfreq
            if self.sfreq is None:
                logger.warning(
                    "sfreq unknown: %s gets the windows at their own rate (designed for %g Hz)",
                    spec.display_name, spec.sfreq,
                )  # fmt: skip
                src_sfreq, target_sfreq = None, None
                n_times_out = n_times
            else:
                src_sfreq, target_sfreq = float(self.sfreq), float(target)
                from .scratch import resample_windows

                probe = np.zeros((1, 1, int(n_times)), np.float32)  # exact length after resampling
                n_times_out = resample_windows(probe, src_sfreq, target_sfreq).shape[-1]
            if scale is None:
                from .scratch import volts_scale

                scale = volts_scale(X_train) if X_train is not None else 1.0
            adapter = _ScratchAdapter(
                src_sfreq, target_sfreq, float(scale), int(n_times), int(n_times_out)
            )
            net = build_scratch_net(
                cfg.model_key, n_chans=n_channels, n_outputs=n_out, n_times=n_times_out,
                sfreq=target_sfreq or spec.sfreq, model_kwargs=cfg.model_kwargs,
            )  # fmt: skip
            return _Source(
                module=net, scratch=True, emb_dim=None, adapter=adapter,
                weights_tags={"weights": "random-init", "weights.source": "random-init"},
                weights_digest=None, fingerprint=None, architecture=spec.braindecode_class,
                display_name=spec.display_name, spec=spec, random_weights=True,
            )  # fmt: skip
        bb = _build_backbone(
            cfg.model_key, backend=cfg.backend, weights=cfg.weights, revision=cfg.revision,
            pooling=head_pooling(cfg, spec), model_kwargs=dict(cfg.model_kwargs), sfreq=self.sfreq,
            ch_names=list(self.ch_names) if self.ch_names is not None else None,
            n_channels=n_channels, n_times=n_times, trust_remote_code=cfg.trust_remote_code,
            **_hf_load_options(cfg),
        )  # fmt: skip
        tags = dict(bb.weights.as_tags()) if hasattr(bb.weights, "as_tags") else {}
        random_w = cfg.weights == "random" or "random" in str(tags.get("weights", ""))
        return _Source(
            module=bb.module, scratch=False, emb_dim=int(bb.emb_dim), adapter=bb.plan,
            weights_tags={str(k): str(v) for k, v in tags.items()}, weights_digest=bb.weights_digest,
            fingerprint=bb.fingerprint, architecture=type(bb.module).__name__,
            display_name=getattr(bb.spec, "display_name", cfg.model_key), spec=bb.spec,
            random_weights=random_w,
        )  # fmt: skip

    def _assemble(self, cfg, source: _Source, *, n_out: int, seed: int, device, base_state=None,
                  adapter_dir: Path | None = None):  # fmt: skip
        """Backbone surgery for the train mode, head, network on ``device``."""
        backbone = source.module
        if base_state is not None:
            missing, unexpected = backbone.load_state_dict(base_state, strict=False)
            if missing or unexpected:
                raise ValueError(
                    f"saved base weights do not fit the rebuilt backbone (missing {missing[:5]}, "
                    f"unexpected {unexpected[:5]})"
                )
        keep_base = None
        if (
            source.random_weights
            and not source.scratch
            and cfg.train_mode in ("frozen", "lora", "qlora")
        ):
            keep_base = {k: v.detach().cpu().clone() for k, v in backbone.state_dict().items()}
        self._lora_config = None
        self._lora_layers: list[str] = []
        self._quantized_layers: list[str] = []
        mode = cfg.train_mode
        if mode == "frozen":
            backbone.requires_grad_(False)
        elif mode == "full":
            backbone.requires_grad_(True)
        else:
            from .peft_utils import apply_lora, load_adapter_files, quantize_linear_layers

            backbone.requires_grad_(False)
            if mode == "qlora" and _linear4bit_names(backbone):
                # hugging_face backend: transformers already loaded the base in 4-bit
                self._quantized_layers = _linear4bit_names(backbone)
            elif mode == "qlora":
                q = cfg.quantization
                self._quantized_layers = quantize_linear_layers(
                    backbone, quant_type=q.quant_type, double_quant=q.double_quant,
                    compute_dtype=q.compute_dtype, device=device,
                )  # fmt: skip
            if adapter_dir is not None:
                load_adapter_files(adapter_dir, backbone)
                data = json.loads((adapter_dir / "adapter_config.json").read_text())
                self._lora_layers = sorted(data["target_modules"])
            else:
                targets = list(
                    cfg.lora.target_modules or getattr(source.spec, "lora_target_modules", ())
                )
                self._lora_config = apply_lora(
                    backbone,
                    r=cfg.lora.r,
                    alpha=cfg.lora.alpha,
                    dropout=cfg.lora.dropout,
                    targets=targets,
                )
                self._lora_layers = sorted(self._lora_config.target_modules)
        if source.scratch:
            head = nn.Identity()
        else:
            head = _make_head(
                cfg.head.kind, source.emb_dim, n_out, cfg.head.hidden_dim, cfg.head.dropout
            )
        network = NeuralNetwork(backbone, head, frozen_backbone=(mode == "frozen"))
        network.to(device)
        return network, keep_base

    # ----------------------------------------------------------------- fitting

    def fit(self, X, y, groups=None) -> NeuralDecoder:
        """Train on (X, y); ``groups`` (one label per window) make the validation split grouped.

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times)
        y : array-like, shape (n_windows,)
        groups : array-like, shape (n_windows,), optional
            E.g. subjects: whole groups go to the early-stopping validation side.

        Returns
        -------
        self
        """
        cfg = self._cfg()
        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(f"X must be 3-D (n_windows, n_channels, n_times), got shape {X.shape}")
        X = X.astype(np.float32, copy=False)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must be 1-D with one target per window ({len(X)}), got shape {y.shape}"
            )
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', got {self.task!r}")
        classification = self.task == "classification"
        classes = np.unique(y) if classification else None
        info = DataInfo(
            n_samples=len(y), ndim=3, n_channels=X.shape[1], n_times=X.shape[2], sfreq=self.sfreq,
            ch_names=tuple(self.ch_names) if self.ch_names is not None else None, task=self.task,
            classes=tuple(classes.tolist()) if classes is not None else None,
        )  # fmt: skip
        self.check_data_info(info)
        if self.ch_names is not None and len(self.ch_names) != X.shape[1]:
            raise ValueError(
                f"ch_names has {len(self.ch_names)} names but X has {X.shape[1]} channels"
            )
        seed = self._seed(cfg)
        if classification:
            self.classes_ = classes
            y_t = torch.as_tensor(np.searchsorted(classes, y), dtype=torch.long)
            n_out = len(classes)
            self.y_mean_, self.y_std_ = 0.0, 1.0
        else:
            yf = y.astype(np.float64)
            self.y_mean_ = float(np.mean(yf))
            self.y_std_ = float(np.std(yf)) or 1.0
            y_t = torch.as_tensor((yf - self.y_mean_) / self.y_std_, dtype=torch.float32)
            n_out = 1
        train_idx, val_idx = self._split(cfg, y, groups, seed)

        nonfinite = ~np.isfinite(X).all(axis=(1, 2))
        self._input_diag = {
            "input_nonfinite_windows": int(nonfinite.sum()),
            "input_nonfinite_indices": np.flatnonzero(nonfinite)[:10].tolist(),
        }
        if nonfinite.any():
            logger.warning(
                "X has %d window(s) with NaN/Inf; training will likely diverge", nonfinite.sum()
            )

        from .training import make_accelerator, restore_snapshot, run_training

        accelerator = make_accelerator(cfg.device.device, cfg.device.precision)
        device = accelerator.device
        torch.manual_seed(seed)
        np.random.seed(seed % (2**32))
        t_build = time.perf_counter()
        source = self._build_source(
            cfg, n_channels=X.shape[1], n_times=X.shape[2], n_out=n_out, scale=None,
            X_train=X[train_idx] if not nonfinite.all() else X,
        )  # fmt: skip
        network, keep_base = self._assemble(cfg, source, n_out=n_out, seed=seed, device=device)
        self._source = source
        self._base_state = keep_base
        self.n_channels_in_, self.n_times_in_ = int(X.shape[1]), int(X.shape[2])
        self.n_outputs_ = n_out
        self.seed_ = seed
        self.device_ = str(device)
        self.network_ = network
        self.use_cached_embeddings_ = bool(
            cfg.train_mode == "frozen" and cfg.cache_embeddings and not source.scratch
        )
        self.cache_stats_: dict[str, float] = {}
        total, trainable = _count_params(network)
        self.n_params_, self.n_trainable_params_ = total, trainable
        build_seconds = time.perf_counter() - t_build

        t_prep = time.perf_counter()
        if self.use_cached_embeddings_:
            feats = self._embeddings(X, device=device, precision=cfg.device.precision)
            inputs = torch.from_numpy(feats)
            model = network.head
        else:
            inputs = torch.from_numpy(source.adapter.apply(X))
            model = network
        self.input_seconds_ = time.perf_counter() - t_prep
        tr = torch.as_tensor(train_idx)
        va = torch.as_tensor(val_idx)
        o = cfg.optim
        result = run_training(
            model, inputs[tr], y_t[tr], inputs[va], y_t[va], accelerator=accelerator, task=self.task,
            lr=o.lr, weight_decay=o.weight_decay, epochs=o.epochs, batch_size=o.batch_size,
            scheduler=o.scheduler, warmup_epochs=o.warmup_epochs, grad_clip=o.grad_clip,
            layer_decay=o.layer_decay if cfg.train_mode == "full" else None,
            patience=cfg.early_stopping_patience, monitor=cfg.checkpoints.monitor,
            divergence_patience=cfg.divergence_patience, seed=seed,
            progress=not self.quiet and sys.stderr.isatty(), epoch_callback=self.epoch_callback,
            desc=f"{cfg.model_key}/{cfg.train_mode}",
        )  # fmt: skip
        self.history_ = result.history
        self.failed_ = result.failed
        self.failure_reason_ = result.failure_reason
        self._train_diag = result.diagnostics
        self.best_epoch_ = result.best_epoch
        self.best_value_ = result.best_value
        self.weights_epoch_ = None
        if not result.failed:
            if cfg.checkpoints.save != "last" and result.best_state is not None:
                restore_snapshot(model, result.best_state)
                self.weights_epoch_ = result.best_epoch
            else:
                self.weights_epoch_ = result.history[-1]["epoch"] if result.history else None
        self.network_.eval()
        self.n_train_, self.n_val_ = len(train_idx), len(val_idx)
        self.timings_ = {"build_seconds": build_seconds, "input_seconds": self.input_seconds_}
        self._saved_paths: list[str] = []
        accelerator.free_memory()
        return self

    def _split(self, cfg, y, groups, seed):
        from .training import validation_split

        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise ValueError(
                    f"groups has {len(groups)} entries but y has {len(y)}; they must match"
                )
        return validation_split(y, groups, cfg.validation_fraction, seed, task=self.task)

    # ----------------------------------------------------------------- inference

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this NeuralDecoder is not fitted yet; call fit(X, y) first")
        if self.failed_:
            raise RuntimeError(
                f"training of this NeuralDecoder failed ({self.failure_reason_}); it cannot predict. "
                "See get_failure_diagnostics()"
            )

    def _features_adapted(self, Xa: np.ndarray, *, device, precision: str) -> np.ndarray:
        from .training import batch_slices, inference_autocast

        backbone = self.network_.backbone
        backbone.eval()
        bs = max(self._cfg().optim.batch_size, 64)
        out = []
        with torch.no_grad():
            for sl in batch_slices(len(Xa), bs):
                with inference_autocast(device, precision):
                    out.append(backbone(torch.from_numpy(Xa[sl]).to(device)).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self._source.emb_dim), np.float32)

    def _embeddings(self, X: np.ndarray, *, device, precision: str) -> np.ndarray:
        """Backbone embeddings of raw windows (through the on-disk cache when configured)."""
        cfg = self._cfg()
        adapter = self._source.adapter

        def compute(windows: np.ndarray) -> np.ndarray:
            return self._features_adapted(adapter.apply(np.asarray(windows, np.float32)), device=device,
                                          precision=precision)  # fmt: skip

        if cfg.cache_dir is None or self._source.fingerprint is None:
            return compute(X)
        try:
            from .cache import EmbeddingCache
        except ImportError:
            return compute(X)
        fingerprint = str(self._source.fingerprint)
        if precision != "fp32":  # mixed-precision embeddings are different numbers
            fingerprint = hashlib.sha256(f"{fingerprint}|autocast={precision}".encode()).hexdigest()
        emb, stats = EmbeddingCache(cfg.cache_dir).get_or_compute(X, fingerprint, compute)
        stats_d = (
            dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else dict(stats or {})
        )
        for key, value in stats_d.items():
            if isinstance(value, int | float):
                self.cache_stats_[key] = self.cache_stats_.get(key, 0) + value
        return np.asarray(emb, dtype=np.float32)

    def _outputs(self, X) -> np.ndarray:
        from .training import batch_slices, inference_autocast

        self._check_fitted()
        cfg = self._cfg()
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1:] != (self.n_channels_in_, self.n_times_in_):
            raise ValueError(
                f"X must have shape (n_windows, {self.n_channels_in_}, {self.n_times_in_}) as in fit; "
                f"got {X.shape}"
            )
        X = X.astype(np.float32, copy=False)
        device = torch.device(self.device_)
        precision = cfg.device.precision
        self.network_.eval()
        if self.use_cached_embeddings_:
            inputs = self._embeddings(X, device=device, precision=precision)
            model = self.network_.head
        else:
            inputs = self._source.adapter.apply(X)
            model = self.network_
        bs = max(cfg.optim.batch_size, 64)
        outs = []
        with torch.no_grad():
            for sl in batch_slices(len(inputs), bs):
                with inference_autocast(device, precision):
                    outs.append(model(torch.from_numpy(inputs[sl]).to(device)).float().cpu())
        return torch.cat(outs).numpy().astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_windows, n_classes), columns in ``classes_`` order."""
        if self.task != "classification":
            raise AttributeError("predict_proba is only available for task='classification'")
        logits = self._outputs(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def decision_function(self, X) -> np.ndarray:
        """Logits (classification), shape (n_windows, n_classes)."""
        return self._outputs(X)

    def predict(self, X) -> np.ndarray:
        """Class labels (classification) or targets (regression), shape (n_windows,)."""
        out = self._outputs(X)
        if self.task == "classification":
            return self.classes_[out.argmax(axis=1)]
        return out[:, 0] * self.y_std_ + self.y_mean_

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (classification) or R^2 (regression)."""
        if self.task == "regression":
            from sklearn.metrics import r2_score

            return float(r2_score(y, self.predict(X), sample_weight=sample_weight))
        return super().score(X, y, sample_weight=sample_weight)

    # ----------------------------------------------------------------- NeuralTrainable

    def get_training_history(self) -> list[dict[str, Any]]:
        """One dict per epoch (epoch, train_loss, val_loss, val_balanced_accuracy, lr,
        grad_norm, skipped_steps, train_seconds, seconds)."""
        return [dict(r) for r in getattr(self, "history_", [])]

    def get_checkpoint_manifest(self) -> dict[str, Any]:
        """Checkpoint policy, best epoch and value, the epoch whose weights the model holds,
        and the paths written by :meth:`save` / :meth:`tracking_report`."""
        from .training import monitor_mode

        cfg = self._cfg()
        hist = getattr(self, "history_", [])
        return {
            "policy": cfg.checkpoints.save,
            "monitor": cfg.checkpoints.monitor,
            "mode": monitor_mode(cfg.checkpoints.monitor),
            "best_epoch": getattr(self, "best_epoch_", None),
            "best_value": getattr(self, "best_value_", None),
            "last_epoch": hist[-1]["epoch"] if hist else None,
            "weights_epoch": getattr(self, "weights_epoch_", None),
            "format": "safetensors",
            "paths": list(getattr(self, "_saved_paths", [])),
        }

    def get_model_card_info(self) -> dict[str, Any]:
        """Architecture, parameter counts and fraction trained, train mode, weights source,
        input shape, precision and device."""
        cfg = self._cfg()
        src: _Source | None = getattr(self, "_source", None)
        total = getattr(self, "n_params_", None)
        trainable = getattr(self, "n_trainable_params_", None)
        card: dict[str, Any] = {
            "model_key": cfg.model_key,
            "display_name": src.display_name if src else None,
            "architecture": src.architecture if src else None,
            "scratch": bool(src.scratch) if src else None,
            "train_mode": cfg.train_mode,
            "head": "native" if (src and src.scratch) else cfg.head.kind,
            "pooling": None if (src is None or src.scratch) else head_pooling(cfg, src.spec),
            "total_params": total,
            "trainable_params": trainable,
            "trainable_fraction": (trainable / total) if total else None,
            "weights": dict(src.weights_tags) if src else {"weights": cfg.weights},
            "weights_digest": src.weights_digest if src else None,
            "input_shape": {
                "n_channels": getattr(self, "n_channels_in_", None),
                "n_times": getattr(self, "n_times_in_", None),
                "sfreq": self.sfreq,
            },
            "adaptation": src.adapter.as_params() if src else {},
            "precision": cfg.device.precision,
            "device": getattr(self, "device_", None),
            "task": self.task,
            "n_outputs": getattr(self, "n_outputs_", None),
            "classes": self.classes_.tolist() if hasattr(self, "classes_") else None,
            "seed": getattr(self, "seed_", None),
            "epochs_trained": len(getattr(self, "history_", [])),
            "best_epoch": getattr(self, "best_epoch_", None),
            "libraries": _versions(),
        }
        if cfg.train_mode in ("lora", "qlora"):
            card["lora"] = {"r": cfg.lora.r, "alpha": cfg.lora.alpha, "dropout": cfg.lora.dropout,
                            "layers": list(getattr(self, "_lora_layers", []))}  # fmt: skip
        if cfg.train_mode == "qlora":
            from .peft_utils import count_quantized_layers

            card["quantization"] = {
                "quant_type": cfg.quantization.quant_type, "double_quant": cfg.quantization.double_quant,
                "compute_dtype": cfg.quantization.compute_dtype,
                "n_4bit_layers": count_quantized_layers(self.network_) if hasattr(self, "network_") else 0,
            }  # fmt: skip
        return card

    def get_failure_diagnostics(self) -> dict[str, Any]:
        """Whether training failed and why, non-finite events (kind, epoch, step), skipped
        steps, gradient-norm statistics and non-finite input windows."""
        diag = dict(getattr(self, "_train_diag", {}))
        diag.update(getattr(self, "_input_diag", {}))
        diag["failed"] = bool(getattr(self, "failed_", False))
        diag["failure_reason"] = getattr(self, "failure_reason_", "")
        return diag

    def get_artifact_metadata(self) -> dict[str, Any]:
        """Artifact types this estimator logs and how to load the saved model."""
        cfg = self._cfg()
        weights_type = "adapter" if cfg.train_mode in ("lora", "qlora") else "checkpoints"
        return {
            "format": _FORMAT,
            "model_file": MODEL_FILE,
            "weights_artifact": weights_type if cfg.checkpoints.save != "none" else None,
            "artifact_types": [weights_type, "training_history", "plots", "model_card", "diagnostics"],
            "adapter_format": "peft (adapter_config.json + adapter_model.safetensors)"
            if weights_type == "adapter" else None,
            "loader": "coco_pipe.foundation.neural.NeuralDecoder.load(directory)",
            "model_key": cfg.model_key,
            "train_mode": cfg.train_mode,
            "weights": dict(self._source.weights_tags) if hasattr(self, "_source") else {},
        }  # fmt: skip

    # ----------------------------------------------------------------- saving / loading

    def save(self, directory: str | Path) -> Path:
        """Write the fitted model to a self-describing folder.

        Contents: ``coco_pipe_model.json`` (config, classes, sfreq, channel names, input
        shape, weights, checkpoint manifest), ``head.safetensors``; ``lora``/``qlora``:
        ``adapter_config.json`` + ``adapter_model.safetensors`` (peft) and
        ``backbone_buffers.safetensors``; ``full`` and scratch nets: ``model.safetensors``;
        random-init backbones also ``base_model.safetensors`` (the unadapted weights, as
        nothing else could rebuild them). Files are written atomically.

        Examples
        --------
        >>> clf.save("run/adapter")  # doctest: +SKIP
        >>> NeuralDecoder.load("run/adapter").predict(X)  # doctest: +SKIP
        """
        self._check_fitted()
        cfg = self._cfg()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        net = self.network_
        files: dict[str, str] = {}
        mode = cfg.train_mode
        if self._source.scratch or mode == "full":
            _save_tensors(directory / "model.safetensors", net.state_dict())
            files["model"] = "model.safetensors"
        else:
            _save_tensors(directory / "head.safetensors", net.head.state_dict())
            files["head"] = "head.safetensors"
            if self._base_state is not None:
                _save_tensors(directory / "base_model.safetensors", self._base_state)
                files["base_model"] = "base_model.safetensors"
            if mode in ("lora", "qlora"):
                from .peft_utils import save_adapter_files

                save_adapter_files(directory, net.backbone, self._adapter_lora_config())
                files["adapter_config"] = "adapter_config.json"
                files["adapter_weights"] = "adapter_model.safetensors"
                buffers = dict(net.backbone.named_buffers())
                if buffers:
                    _save_tensors(directory / "backbone_buffers.safetensors", buffers)
                    files["backbone_buffers"] = "backbone_buffers.safetensors"
        classes = getattr(self, "classes_", None)
        meta = {
            "format": _FORMAT,
            "config": cfg.model_dump(mode="json"),
            "task": self.task,
            "classes": classes.tolist() if classes is not None else None,
            "classes_dtype": str(classes.dtype) if classes is not None else None,
            "sfreq": self.sfreq,
            "ch_names": list(self.ch_names) if self.ch_names is not None else None,
            "n_channels": self.n_channels_in_,
            "n_times": self.n_times_in_,
            "n_outputs": self.n_outputs_,
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "seed": self.seed_,
            "random_state": self.random_state,
            "adapt_scale": getattr(self._source.adapter, "scale", None)
            if self._source.scratch
            else None,
            "weights": self._source.weights_tags,
            "weights_digest": self._source.weights_digest,
            "fingerprint": self._source.fingerprint,
            "use_cached_embeddings": self.use_cached_embeddings_,
            "checkpoint": self.get_checkpoint_manifest(),
            "files": files,
            "libraries": _versions(),
        }
        _atomic_write_text(
            directory / MODEL_FILE, json.dumps(meta, indent=2, default=_json_default)
        )
        self._saved_paths = sorted({*getattr(self, "_saved_paths", []), str(directory)})
        return directory

    def _adapter_lora_config(self):
        if self._lora_config is not None:
            return self._lora_config
        from peft import LoraConfig

        cfg = self._cfg()
        return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=list(self._lora_layers), bias="none")  # fmt: skip

    def save_adapter(self, directory: str | Path) -> Path:
        """Save the LoRA adapter (peft layout) with the head and a ``coco_pipe_model.json``
        describing how to rebuild the backbone; ``lora``/``qlora`` only.

        Examples
        --------
        >>> clf.save_adapter("adapter/")  # doctest: +SKIP
        """
        cfg = self._cfg()
        if cfg.train_mode not in ("lora", "qlora"):
            raise ValueError(
                f"save_adapter needs train_mode 'lora' or 'qlora', got {cfg.train_mode!r}; use save()"
            )
        return self.save(directory)

    @classmethod
    def load(cls, directory: str | Path, *, device: str | None = None) -> NeuralDecoder:
        """Rebuild a fitted decoder from a folder written by :meth:`save` / :meth:`save_adapter`.

        The backbone is rebuilt from its weights source (or the saved random-init base
        weights), quantised again for ``qlora``, the adapter and head are loaded; the
        result predicts exactly as the saved model on the same device.

        Raises
        ------
        FileNotFoundError
            When ``directory`` holds no ``coco_pipe_model.json``.
        ValueError
            When the rebuilt backbone's weights digest differs from the saved one.

        Examples
        --------
        >>> est = NeuralDecoder.load("adapter/")  # doctest: +SKIP
        """
        from safetensors.torch import load_file

        directory = Path(directory)
        path = directory / MODEL_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{str(directory)!r} holds no {MODEL_FILE}; not a saved NeuralDecoder"
            )
        meta = json.loads(path.read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} has format {meta.get('format')!r}, expected {_FORMAT!r}")
        cfg = NeuralFineTuneConfig.model_validate(meta["config"])
        if device is not None:
            cfg = cfg.model_copy(
                update={"device": cfg.device.model_copy(update={"device": device})}
            )
        est = cls(
            config=cfg, sfreq=meta["sfreq"], ch_names=tuple(meta["ch_names"]) if meta["ch_names"] else None,
            task=meta["task"], random_state=meta["random_state"], quiet=True,
        )  # fmt: skip
        from .training import check_device

        use_cpu = check_device(cfg.device.device, cfg.device.precision)
        dev = torch.device("cpu" if use_cpu else "cuda")
        files = meta["files"]
        torch.manual_seed(int(meta["seed"]))
        source = est._build_source(
            cfg, n_channels=meta["n_channels"], n_times=meta["n_times"], n_out=meta["n_outputs"],
            scale=meta.get("adapt_scale") if meta.get("adapt_scale") is not None else 1.0, X_train=None,
        )  # fmt: skip
        if (
            not source.scratch and "base_model" not in files and meta.get("weights_digest")
            and source.weights_digest and source.weights_digest != meta["weights_digest"]
        ):  # fmt: skip
            raise ValueError(
                f"the rebuilt backbone's weights digest {source.weights_digest} differs from the saved "
                f"{meta['weights_digest']}; the weights source changed since the model was saved"
            )
        base = load_file(str(directory / files["base_model"])) if "base_model" in files else None
        adapter_dir = directory if "adapter_weights" in files else None
        network, keep_base = est._assemble(
            cfg, source, n_out=meta["n_outputs"], seed=int(meta["seed"]), device=dev, base_state=base,
            adapter_dir=adapter_dir,
        )  # fmt: skip
        with torch.no_grad():
            if "model" in files:
                state = load_file(str(directory / files["model"]))
                network.load_state_dict(state, strict=True)
            if "head" in files:
                network.head.load_state_dict(load_file(str(directory / files["head"])), strict=True)
            if "backbone_buffers" in files:
                for name, value in load_file(str(directory / files["backbone_buffers"])).items():
                    network.backbone.get_buffer(name).copy_(value)
        network.to(dev).eval()
        est._source = source
        est._base_state = keep_base
        est.network_ = network
        est.device_ = str(dev)
        est.n_channels_in_, est.n_times_in_ = int(meta["n_channels"]), int(meta["n_times"])
        est.n_outputs_ = int(meta["n_outputs"])
        est.seed_ = int(meta["seed"])
        est.y_mean_, est.y_std_ = float(meta["y_mean"]), float(meta["y_std"])
        if meta["classes"] is not None:
            est.classes_ = np.asarray(meta["classes"], dtype=meta["classes_dtype"]
                                      if meta["classes_dtype"] != "object" else object)  # fmt: skip
        est.use_cached_embeddings_ = bool(meta["use_cached_embeddings"])
        est.cache_stats_ = {}
        est.history_ = []
        est.failed_ = False
        est.failure_reason_ = ""
        ck = meta.get("checkpoint", {})
        est.best_epoch_, est.best_value_ = ck.get("best_epoch"), ck.get("best_value")
        est.weights_epoch_ = ck.get("weights_epoch")
        total, trainable = _count_params(network)
        est.n_params_, est.n_trainable_params_ = total, trainable
        est._train_diag, est._input_diag = {}, {}
        est._saved_paths = [str(directory)]
        return est

    # ----------------------------------------------------------------- tracking

    def tracking_report(self, workdir: Path):
        """Everything to log on the fold's run: per-epoch metrics, history CSV, learning
        curve PNG, model card JSON, failure diagnostics and the checkpoint or adapter
        folder; ``failed=True`` when training diverged.
        """
        import pandas as pd

        from ..tracking.report import FoldReport

        cfg = self._cfg()
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        report = FoldReport()
        hist = self.get_training_history()
        for row in hist:
            for key, value in row.items():
                if key == "epoch" or not isinstance(value, int | float):
                    continue
                name = "epoch_seconds" if key == "seconds" else key
                if math.isfinite(float(value)):
                    report.step_metrics.append((name, float(value), int(row["epoch"])))
        artifacts: list[tuple[str, Path]] = []
        if hist:
            csv = workdir / "training_history.csv"
            pd.DataFrame(hist).to_csv(csv, index=False)
            artifacts.append(("training_history", csv))
            png = workdir / "learning_curves.png"
            try:
                self._plot_history(pd.DataFrame(hist), png)
                artifacts.append(("plots", png))
            except Exception as err:  # a plot never fails a fold
                logger.warning("learning-curve plot failed: %s", err)
        card = self.get_model_card_info()
        card_path = workdir / "model_card.json"
        _atomic_write_text(card_path, json.dumps(card, indent=2, default=_json_default))
        artifacts.append(("model_card", card_path))
        diag = self.get_failure_diagnostics()
        diag_path = workdir / "failure_diagnostics.json"
        _atomic_write_text(diag_path, json.dumps(diag, indent=2, default=_json_default))
        artifacts.append(("diagnostics", diag_path))
        failed = bool(getattr(self, "failed_", False))
        if not failed and cfg.checkpoints.save != "none" and hasattr(self, "network_"):
            kind = "adapter" if cfg.train_mode in ("lora", "qlora") else "checkpoints"
            folder = self.save(workdir / f"{cfg.model_key}-{cfg.train_mode}")
            manifest = folder / "checkpoint_manifest.json"
            _atomic_write_text(manifest, json.dumps(self.get_checkpoint_manifest(), indent=2,
                                                    default=_json_default))  # fmt: skip
            artifacts.append((kind, folder))
        report.artifacts = artifacts
        src = getattr(self, "_source", None)
        params: dict[str, Any] = {
            "neural.train_mode": cfg.train_mode,
            "neural.architecture": card["architecture"],
            "neural.total_params": card["total_params"],
            "neural.trainable_params": card["trainable_params"],
            "neural.precision": cfg.device.precision,
            "neural.device": card["device"],
            "neural.seed": card["seed"],
            "neural.n_train": getattr(self, "n_train_", None),
            "neural.n_val": getattr(self, "n_val_", None),
            "weights.source": (src.weights_tags.get("weights.source") or src.weights_tags.get("weights"))
            if src else cfg.weights,
        }  # fmt: skip
        if src is not None:
            for key, value in src.adapter.as_params().items():
                params[key if key.startswith("adapt.") else f"adapt.{key}"] = value
        if cfg.train_mode in ("lora", "qlora"):
            params["neural.lora_layers"] = len(getattr(self, "_lora_layers", []))
        if cfg.train_mode == "qlora":
            params["neural.n_4bit_layers"] = card.get("quantization", {}).get("n_4bit_layers")
        report.params = {k: v for k, v in params.items() if v is not None}
        metrics: dict[str, float] = {
            "epochs_trained": float(len(hist)),
            "skipped_steps": float(diag.get("skipped_steps", 0) or 0),
        }
        if card["trainable_fraction"] is not None:
            metrics["trainable_fraction"] = float(card["trainable_fraction"])
        if getattr(self, "best_epoch_", None) is not None:
            metrics["best_epoch"] = float(self.best_epoch_)
            if self.best_value_ is not None and math.isfinite(self.best_value_):
                metrics[f"best_{cfg.checkpoints.monitor}"] = float(self.best_value_)
        for key, value in getattr(self, "cache_stats_", {}).items():
            metrics[f"cache.{key}"] = float(value)
        report.metrics = metrics
        report.tags = dict(src.weights_tags) if src else {}
        if src is not None and src.random_weights:
            report.tags["weights"] = "random-init"
        if failed:
            report.failed = True
            report.failure_reason = self.failure_reason_
        return report

    @staticmethod
    def _plot_history(df, path: Path) -> None:
        try:
            from coco_pipe.reporting.plots import plot_learning_curves
        except ImportError:
            plot_learning_curves = None
        if plot_learning_curves is not None:
            plot_learning_curves(df, path)
            return
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 3.2))
        FigureCanvasAgg(fig)
        ax1, ax2 = fig.subplots(1, 2)
        for col in ("train_loss", "val_loss"):
            if col in df:
                ax1.plot(df["epoch"], df[col], marker="o", label=col)
        ax1.set_xlabel("epoch")
        ax1.set_ylabel("loss")
        ax1.legend()
        score_cols = [c for c in ("val_balanced_accuracy", "val_r2") if c in df]
        for col in score_cols:
            ax2.plot(df["epoch"], df[col], marker="o", label=col)
        ax2.set_xlabel("epoch")
        ax2.legend() if score_cols else None
        fig.tight_layout()
        fig.savefig(path, dpi=100)
