"""The Hugging Face backend: foundation backbones as transformers models.

``backend="hugging_face"`` loads a backbone with the transformers toolchain
(``AutoConfig`` / ``AutoModel.from_pretrained(repo_or_dir, revision=...,
quantization_config=BitsAndBytesConfig(...), dtype=..., trust_remote_code=...)``)
and returns the same :class:`~coco_pipe.foundation.backbones.Backbone`
as the braindecode backend, so :class:`BackboneEmbedder` and ``NeuralDecoder`` run one
loop over two loaders.

Every backbone of :data:`~coco_pipe.foundation.specs.ESTIMATOR_SPECS` has a
transformers form that works offline: :class:`CocoPipeEEGConfig` /
:class:`CocoPipeEEGModel` (``model_type="coco_pipe_eeg"``, registered with the Auto
classes) wrap the braindecode architecture, built exactly as the braindecode backend
builds it (``backbones._build_model`` and ``FoundationBackboneModule``), and return
pooled features ``(batch, emb_dim)``. ``save_pretrained`` writes ``config.json`` +
``model.safetensors``; :func:`export_to_hf` turns a braindecode backbone into such a
folder.

Weight sources of :func:`build_hf_backbone`:

- a folder written by ``CocoPipeEEGModel.save_pretrained`` / :func:`export_to_hf`;
- a hub repository id (``"org/name"``, ``"org/name@revision"``) or
  ``weights="pretrained"`` (the spec row's ``hub_repo``), read through the Hugging
  Face cache (offline with ``HF_HUB_OFFLINE=1``). A snapshot holding a
  ``coco_pipe_eeg`` config is loaded by ``AutoModel``; one published with its own
  modeling code (``auto_map`` in ``config.json``, e.g. REVE's ``brain-bzh/reve-base``)
  needs ``trust_remote_code=True``: ``AutoModel`` runs that code to load the
  checkpoint, and its weights are carried into the braindecode architecture (the same
  keys braindecode's ``from_pretrained`` reads); a braindecode checkpoint (plain
  ``config.json`` + weights) is converted;
- a braindecode checkpoint folder or a state-dict file (converted);
- ``"random"``: random initialisation (warns; tagged ``weights=random-init``).

A repository that is not in the cache while offline stops the build, before any
compute, with :class:`HFCheckpointNotAvailableError` naming the repository, the
revision and how to prefetch it.

4-bit loading: ``quantization`` (``QuantizationConfig`` or a dict) becomes a
``BitsAndBytesConfig(load_in_4bit=True, ...)`` passed to ``from_pretrained``;
transformers 5.24 with bitsandbytes 0.50.2 quantises on CPU as well as CUDA, so the
base ``nn.Linear`` layers are ``bitsandbytes.nn.Linear4bit`` with packed 4-bit weights.
As in :func:`~coco_pipe.foundation.peft_utils.quantize_linear_layers`,
``nn.MultiheadAttention``'s ``out_proj`` stays in full precision (transformers only
replaces exact ``nn.Linear`` instances; that module reads ``out_proj.weight`` directly).

Examples
--------
>>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
>>> from coco_pipe.foundation.backbones import build_backbone
>>> kw = ESTIMATOR_SPECS["cbramod"].small_kwargs
>>> bb = build_backbone("cbramod", weights="random", sfreq=200.0, ch_names=None,
...                     n_channels=3, n_times=400, model_kwargs=kw)  # doctest: +SKIP
>>> folder = export_to_hf(bb, "cbramod-hf")  # doctest: +SKIP
>>> hb = build_hf_backbone("cbramod", weights=str(folder), sfreq=200.0, ch_names=None,
...                        n_channels=3, n_times=400)  # doctest: +SKIP
>>> hb.emb_dim == bb.emb_dim  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers import initialization as hf_init
from transformers.modeling_utils import local_torch_dtype

from .adaptation import AdaptationPlan
from .backbones import (
    _SIGNAL_ARGS,
    Backbone,
    FoundationBackboneModule,
    _build_model,
    _fingerprint_info,
    _model_class,
    check_pooling,
    get_spec,
    make_plan,
)
from .peft_utils import keep_generic_cpu_kernel_for_odd_shapes
from .weights import (
    WeightsNotAvailableError,
    WeightsSource,
    hub_cache_dir,
    hub_offline,
    load_state_dict_file,
    load_weights_into,
    normalize_weights_arg,
    replace_directory_atomically,
    resolve_weights,
    state_dict_digest,
)

logger = logging.getLogger(__name__)

__all__ = [
    "MODEL_TYPE",
    "CocoPipeEEGConfig",
    "CocoPipeEEGModel",
    "HFCheckpointNotAvailableError",
    "HFWeightsSource",
    "build_hf_backbone",
    "export_to_hf",
    "hf_config_from_backbone",
]

#: ``model_type`` of coco-pipe's transformers wrapper (``config.json``).
MODEL_TYPE = "coco_pipe_eeg"
_PREFIX = "backbone.model."  # braindecode model keys inside CocoPipeEEGModel's state dict
_HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


class HFCheckpointNotAvailableError(WeightsNotAvailableError):
    """A hub checkpoint for the hugging_face backend is not in the cache and cannot be fetched.

    The message names the repository, the revision, the cache searched and the
    ``hf download`` command that prefetches it.

    Examples
    --------
    >>> issubclass(HFCheckpointNotAvailableError, FileNotFoundError)
    True
    """


# ----------------------------------------------------------------------------- config / model
class CocoPipeEEGConfig(PreTrainedConfig):
    """transformers config of a coco-pipe foundation backbone (``model_type="coco_pipe_eeg"``).

    Attributes
    ----------
    model_key : str
        Row of ``ESTIMATOR_SPECS``.
    braindecode_class : str
        The braindecode class built (``Interpolated*`` where the model interpolates).
    n_chans, n_times : int
        Adapted input shape (model channels, samples at ``sfreq``).
    sfreq : float
        Model sampling frequency.
    chs_info : list of dict
        ``[{"ch_name": ..., "kind": "eeg", "loc": [12 floats]}]`` (``loc`` where
        positions are used), plain JSON.
    model_kwargs : dict
        Extra constructor arguments (architecture size).
    pooling : {"mean", "cls", "flatten"}

    Examples
    --------
    >>> cfg = CocoPipeEEGConfig(model_key="cbramod", braindecode_class="CBraMod", n_chans=3,
    ...                         n_times=400, sfreq=200.0,
    ...                         chs_info=[{"ch_name": f"c{i}", "kind": "eeg"} for i in range(3)])
    >>> cfg.model_type
    'coco_pipe_eeg'
    """

    model_type = MODEL_TYPE

    model_key: str = ""
    braindecode_class: str = ""
    n_chans: int | None = None
    n_times: int | None = None
    sfreq: float | None = None
    chs_info: list | None = None
    model_kwargs: dict | None = None
    pooling: str = "mean"


@dataclass(frozen=True)
class _ConfigPlan:
    """The facts of an adaptation plan a model is built from, read back from a config."""

    ch_names: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...] | None
    n_times: int
    sfreq: float

    @property
    def n_channels(self) -> int:
        return len(self.ch_names)

    def chs_info(self) -> list[dict[str, Any]]:
        return AdaptationPlan.chs_info(self)  # type: ignore[arg-type] - same attributes

    @classmethod
    def from_config(cls, config: CocoPipeEEGConfig) -> _ConfigPlan:
        chs = list(config.chs_info or [])
        if not chs or config.n_times is None or config.sfreq is None:
            raise ValueError(
                f"{MODEL_TYPE} config of {config.model_key!r} needs chs_info, n_times and sfreq; got "
                f"{len(chs)} channels, n_times={config.n_times}, sfreq={config.sfreq}"
            )
        if config.n_chans is not None and int(config.n_chans) != len(chs):
            raise ValueError(
                f"config n_chans={config.n_chans} but chs_info lists {len(chs)} channels"
            )
        names = tuple(str(ch["ch_name"]) for ch in chs)
        has_loc = [ch.get("loc") is not None for ch in chs]
        positions = (
            tuple(tuple(float(v) for v in ch["loc"][:3]) for ch in chs) if all(has_loc) else None
        )
        return cls(
            ch_names=names,
            positions=positions,
            n_times=int(config.n_times),
            sfreq=float(config.sfreq),
        )


def _plan_chs_json(plan: Any) -> list[dict[str, Any]]:
    out = []
    for ch in plan.chs_info():
        item: dict[str, Any] = {"ch_name": str(ch["ch_name"]), "kind": str(ch.get("kind", "eeg"))}
        if ch.get("loc") is not None:
            item["loc"] = [float(v) for v in np.asarray(ch["loc"], dtype=float).ravel()]
        out.append(item)
    return out


class CocoPipeEEGModel(PreTrainedModel):
    """transformers model wrapping a braindecode foundation architecture: ``(B, C, T) -> (B, emb_dim)``.

    Built exactly as the braindecode backend builds it: the braindecode model (head
    removed) is ``backbone.model``, features are pulled out and pooled by
    :class:`~coco_pipe.foundation.backbones.FoundationBackboneModule`.
    ``forward`` returns the pooled features as a tensor (float of the input's dtype),
    so the module drops into the same embedding and training loops.

    The model is instantiated on the CPU, not on transformers' meta device:
    braindecode constructors compute buffers (positional tables, channel maps) that a
    meta-device build would leave empty, and braindecode initialises its own
    parameters, so transformers' generic ``_init_weights`` is not applied.

    Examples
    --------
    >>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
    >>> cfg = CocoPipeEEGConfig(model_key="cbramod", braindecode_class="CBraMod", n_chans=3,
    ...     n_times=400, sfreq=200.0, chs_info=[{"ch_name": f"c{i}", "kind": "eeg"} for i in range(3)],
    ...     model_kwargs=dict(ESTIMATOR_SPECS["cbramod"].small_kwargs))  # doctest: +SKIP
    >>> CocoPipeEEGModel(cfg)(torch.zeros(2, 3, 400)).shape  # doctest: +SKIP
    torch.Size([2, 200])
    """

    config_class = CocoPipeEEGConfig
    base_model_prefix = "coco_pipe_eeg"
    main_input_name = "x"
    _no_split_modules: list[str] = []

    def __init__(self, config: CocoPipeEEGConfig) -> None:
        super().__init__(config)
        spec = get_spec(config.model_key)
        check_pooling(spec, config.pooling)
        cls_name = _model_class(spec).__name__
        if config.braindecode_class and config.braindecode_class != cls_name:
            raise ValueError(
                f"{MODEL_TYPE} config names braindecode_class={config.braindecode_class!r} but model_key="
                f"{config.model_key!r} builds {cls_name!r}"
            )
        plan = _ConfigPlan.from_config(config)
        model = _build_model(spec, plan, dict(config.model_kwargs or {}))
        self.backbone = FoundationBackboneModule(model, spec, plan, config.pooling)
        self.post_init()

    @classmethod
    def get_init_context(cls, dtype, is_quantized, _is_ds_init_called, allow_all_kernels=None):
        """Build on the CPU (not the meta device): braindecode computes buffers in ``__init__``."""
        return [local_torch_dtype(dtype, cls.__name__), hf_init.no_tie_weights()]

    def _init_weights(self, module: nn.Module) -> None:
        """No-op: braindecode constructors initialise their own parameters."""

    def _move_missing_keys_from_meta_to_device(
        self, missing_keys, device_map, device_mesh, hf_quantizer
    ) -> None:
        """Nothing is on the meta device (see :meth:`get_init_context`); keep computed buffers."""
        still_meta = [
            k for k in missing_keys if self.get_parameter_or_buffer(k).device.type == "meta"
        ]
        if still_meta:  # missing keys are refused by build_hf_backbone anyway
            raise ValueError(
                f"{MODEL_TYPE}: tensors missing from the checkpoint: {sorted(still_meta)[:8]}"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of adapted windows ``x`` (B, n_chans, n_times) -> (B, emb_dim)."""
        dtype = next((p.dtype for p in self.parameters() if p.is_floating_point()), x.dtype)
        return self.backbone(x.to(dtype)).to(x.dtype)


def _register() -> None:
    try:
        AutoConfig.register(MODEL_TYPE, CocoPipeEEGConfig, exist_ok=True)
        AutoModel.register(CocoPipeEEGConfig, CocoPipeEEGModel, exist_ok=True)
    except TypeError:  # pragma: no cover - older transformers without exist_ok
        AutoConfig.register(MODEL_TYPE, CocoPipeEEGConfig)
        AutoModel.register(CocoPipeEEGConfig, CocoPipeEEGModel)


_register()


# ----------------------------------------------------------------------------- weights tags
@dataclass(frozen=True)
class HFWeightsSource:
    """A :class:`WeightsSource` plus what the hugging_face backend did with it.

    ``as_tags()`` adds ``backend``, ``hf.format`` (``coco_pipe_eeg``, ``braindecode``,
    ``remote_code`` or ``random-init``), ``hf.trust_remote_code``, ``hf.quantization``
    and ``hf.dtype`` to the weight tags.

    Examples
    --------
    >>> src = HFWeightsSource(WeightsSource("random", "random-init", None, None), "random-init", False, "none", "float32")
    >>> src.as_tags()["hf.trust_remote_code"]
    'false'
    """

    base: WeightsSource
    format: str
    trust_remote_code: bool
    quantization: str
    dtype: str

    kind = property(lambda self: self.base.kind)
    location = property(lambda self: self.base.location)
    revision = property(lambda self: self.base.revision)
    resolved_path = property(lambda self: self.base.resolved_path)
    is_random = property(lambda self: self.base.is_random)

    def as_tags(self) -> dict[str, str]:
        """Weight tags of the run (those of :meth:`WeightsSource.as_tags` plus ``hf.*``)."""
        return {
            **self.base.as_tags(),
            "backend": "hugging_face",
            "hf.format": self.format,
            "hf.trust_remote_code": "true" if self.trust_remote_code else "false",
            "hf.quantization": self.quantization,
            "hf.dtype": self.dtype,
        }


# ----------------------------------------------------------------------------- options
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _resolve_dtype(torch_dtype: Any) -> torch.dtype:
    if torch_dtype is None:
        return torch.float32
    if isinstance(torch_dtype, torch.dtype):
        return torch_dtype
    key = str(torch_dtype).removeprefix("torch.")
    if key not in _DTYPES:
        raise ValueError(
            f"torch_dtype must be one of {sorted(_DTYPES)} or a torch.dtype, got {torch_dtype!r}"
        )
    return _DTYPES[key]


def _bnb_config(quantization: Any):
    """``BitsAndBytesConfig`` for an enabled ``QuantizationConfig`` (or dict), else None."""
    if quantization is None or not _get(quantization, "enabled", True):
        return None
    if not _get(quantization, "load_in_4bit", True):
        raise ValueError("quantization.load_in_4bit=False: only 4-bit quantisation is supported")
    quant_type = _get(quantization, "quant_type", "nf4")
    if quant_type not in ("nf4", "fp4"):
        raise ValueError(f"quantization.quant_type must be 'nf4' or 'fp4', got {quant_type!r}")
    compute = _get(quantization, "compute_dtype", "bfloat16")
    compute_dtype = _resolve_dtype(compute)
    try:
        import bitsandbytes  # noqa: F401, PLC0415
    except ImportError as err:
        raise ImportError(
            "4-bit loading needs bitsandbytes; install it with `pip install coco-pipe[quant]`"
        ) from err
    from transformers import BitsAndBytesConfig  # noqa: PLC0415

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant_type,
        bnb_4bit_use_double_quant=bool(_get(quantization, "double_quant", True)),
        bnb_4bit_compute_dtype=compute_dtype,
        # [] (not None): quantise every nn.Linear, without transformers' language-model default skips
        llm_int8_skip_modules=[],
    )


@contextlib.contextmanager
def _progress_bars():
    """transformers' own progress bars only on a TTY (restored afterwards)."""
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    turn_off = hf_logging.is_progress_bar_enabled() and not sys.stderr.isatty()
    if turn_off:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if turn_off:
            hf_logging.enable_progress_bar()


# ----------------------------------------------------------------------------- sources
@dataclass(frozen=True)
class _Resolved:
    kind: str  # "random" | "coco_pipe_eeg" | "remote_code" | "braindecode"
    source: WeightsSource
    folder: Path | None  # local folder or cached snapshot
    repo: str | None  # hub repository (None for local paths)
    revision: str | None  # requested revision


def _read_config(folder: Path) -> dict[str, Any] | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{str(path)!r} is not a readable JSON config: {err}") from err


def _classify(folder: Path) -> str:
    cfg = _read_config(folder) or {}
    if cfg.get("model_type") == MODEL_TYPE:
        return "coco_pipe_eeg"
    if cfg.get("auto_map"):
        return "remote_code"
    return "braindecode"


def _not_cached_error(
    repo: str, revision: str | None, cache: Path, err: Exception
) -> HFCheckpointNotAvailableError:
    rev = revision or "main"
    folder = "models--" + repo.replace("/", "--")
    return HFCheckpointNotAvailableError(
        f"backend='hugging_face': checkpoint {repo!r} (revision {rev!r}) is not in the Hugging Face cache "
        f"{str(cache)!r} and the hub cannot be used (HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}; "
        f"{type(err).__name__}). To prefetch it, run `hf download {repo} --revision {rev}` on a machine with "
        f"network (log in with `hf auth login` and accept the terms first for gated repositories), then copy "
        f"its cache folder {folder!r} into HF_HUB_CACHE on this machine (or point HF_HOME / HF_HUB_CACHE at a "
        "cache that holds it). Checkpoints published with their own modeling code also need "
        "trust_remote_code=True. Or pass weights='<folder written by save_pretrained>', or weights='random' "
        "for random initialisation."
    )


def _hub_snapshot(repo: str, revision: str | None) -> tuple[Path, str | None]:
    """Cached (or, online, downloaded) snapshot folder of ``repo`` and its commit."""
    from huggingface_hub import snapshot_download  # noqa: PLC0415
    from huggingface_hub.errors import (  # noqa: PLC0415
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cache = hub_cache_dir()
    try:
        path = snapshot_download(
            repo_id=repo,
            revision=revision,
            cache_dir=str(cache),
            local_files_only=hub_offline(),
            allow_patterns=["*.json", "*.safetensors", "*.py", "*.bin", "*.txt"],
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as err:
        raise HFCheckpointNotAvailableError(
            f"hub repository {repo!r} (revision {revision or 'main'!r}) was not found or is gated: {err}. "
            "Check the id, log in with `hf auth login` for gated repositories, or pass weights='random'."
        ) from err
    except (LocalEntryNotFoundError, OSError, ValueError) as err:
        raise _not_cached_error(repo, revision, cache, err) from err
    folder = Path(path)
    if (
        _read_config(folder) is None
        and not any(folder.glob("*.safetensors"))
        and not any(folder.glob("*.bin"))
    ):
        raise _not_cached_error(
            repo, revision, cache, FileNotFoundError("snapshot holds no config or weights")
        )
    return folder, folder.name


def _resolve(weights: str, *, spec: Any, revision: str | None) -> _Resolved:
    """Where the weights are and which loader reads them; cheap, before any model is built."""
    weights = normalize_weights_arg(weights)
    if weights in ("random", "random-init"):
        return _Resolved(
            "random", resolve_weights(weights, spec=spec, revision=revision), None, None, None
        )
    path = Path(weights).expanduser()
    if path.exists():
        if path.is_dir():
            kind = _classify(path)
            if kind in ("coco_pipe_eeg", "remote_code"):
                src = WeightsSource("local_dir", str(path.resolve()), None, str(path.resolve()))
                return _Resolved(kind, src, path.resolve(), None, None)
        return _Resolved(
            "braindecode", resolve_weights(weights, spec=spec, revision=revision), None, None, None
        )
    if weights == "pretrained":
        if not spec.hub_repo:
            raise ValueError(
                f"model {spec.key!r} has no pretrained hub repository; pass weights as a folder or hub id, "
                "or weights='random'"
            )
        text = spec.hub_repo
    else:
        text = weights
    try:  # paths that do not exist and malformed ids get weights.py's clear errors
        from .weights import _HUB_ID, _looks_like_path, _split_revision  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        raise
    if _looks_like_path(text):
        resolve_weights(
            text, spec=spec, revision=revision
        )  # raises FileNotFoundError naming the path
    repo, rev = _split_revision(text, revision)
    if not _HUB_ID.match(repo):
        resolve_weights(text, spec=spec, revision=revision)  # raises the ValueError
    folder, commit = _hub_snapshot(repo, rev)
    kind = _classify(folder)
    if kind == "braindecode":
        src = resolve_weights(folder.as_posix(), spec=spec)
        src = WeightsSource("hub", repo, commit, src.resolved_path)
    else:
        src = WeightsSource("hub", repo, commit, str(folder))
    return _Resolved(kind, src, folder, repo, rev)


def _weight_file(folder: Path) -> Path:
    for name in _HF_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{str(folder)!r} holds no {' / '.join(_HF_WEIGHT_FILES)}")


def _file_digest(folder: Path) -> str:
    """Digest of the braindecode weights in a ``coco_pipe_eeg`` folder (same as the braindecode backend's)."""
    state = load_state_dict_file(_weight_file(folder))
    return state_dict_digest(
        {k[len(_PREFIX) :] if k.startswith(_PREFIX) else k: v for k, v in state.items()}
    )


# ----------------------------------------------------------------------------- export
def hf_config_from_backbone(backbone: Backbone) -> CocoPipeEEGConfig:
    """:class:`CocoPipeEEGConfig` describing a built backbone (either backend).

    Examples
    --------
    >>> hf_config_from_backbone(bb).model_key  # doctest: +SKIP
    'cbramod'
    """
    spec, plan = backbone.spec, backbone.plan
    return _config_for(spec, plan, dict(backbone.model_kwargs or {}), backbone.pooling)


def _config_for(
    spec: Any, plan: Any, model_kwargs: dict[str, Any], pooling: str
) -> CocoPipeEEGConfig:
    return CocoPipeEEGConfig(
        model_key=spec.key,
        braindecode_class=_model_class(spec).__name__,
        n_chans=int(plan.n_channels),
        n_times=int(plan.n_times),
        sfreq=float(plan.sfreq),
        chs_info=_plan_chs_json(plan),
        model_kwargs=json.loads(json.dumps(model_kwargs, default=_json_default)),
        pooling=pooling,
    )


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"model_kwargs value {obj!r} ({type(obj).__name__}) is not JSON-serialisable")


def _braindecode_model(module: nn.Module) -> nn.Module:
    inner = getattr(module, "backbone", module)
    return inner.model


def _atomic_save(model: PreTrainedModel, directory: str | os.PathLike) -> Path:
    target = Path(directory).expanduser().absolute()
    if target.exists():
        if not target.is_dir():
            raise FileExistsError(f"directory={str(target)!r} exists and is not a directory")
        contents = {p.name for p in target.iterdir()}
        if contents and "config.json" not in contents:
            raise FileExistsError(
                f"directory={str(target)!r} is not empty and holds no checkpoint ({sorted(contents)[:8]}); "
                "choose a new or empty folder"
            )
    return replace_directory_atomically(
        target, lambda tmp: model.save_pretrained(str(tmp), safe_serialization=True)
    )


def export_to_hf(backbone: Backbone, directory: str | os.PathLike) -> Path:
    """Write a backbone's weights as a transformers folder (``config.json`` + ``model.safetensors``).

    The folder loads with ``AutoModel.from_pretrained`` (once this module is imported)
    and with ``build_hf_backbone(model_key, weights=str(folder), ...)``; the write is
    atomic (temporary folder renamed into place).

    Parameters
    ----------
    backbone : Backbone
        Built by either backend (full precision).
    directory : str or path-like
        Target folder (new, empty, or an earlier checkpoint, which is replaced).

    Returns
    -------
    pathlib.Path
        The absolute folder.

    Examples
    --------
    >>> folder = export_to_hf(bb, tmp_path / "labram-hf")  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())  # doctest: +SKIP
    ['config.json', 'model.safetensors']
    """
    if not isinstance(backbone, Backbone):
        raise TypeError(
            f"backbone must be a Backbone (from build_backbone), got {type(backbone).__name__}"
        )
    source = _braindecode_model(backbone.module)
    if any(getattr(p, "bnb_quantized", False) for p in source.parameters()):
        raise ValueError(
            "export_to_hf needs a full-precision backbone; this one holds 4-bit layers"
        )
    config = hf_config_from_backbone(backbone)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"braindecode\..*")
        model = CocoPipeEEGModel(config)
    result = model.backbone.model.load_state_dict(source.state_dict(), strict=True)
    if result.missing_keys or result.unexpected_keys:  # pragma: no cover - strict raises first
        raise ValueError(f"weights do not fit: {result}")
    with _progress_bars():
        folder = _atomic_save(model, directory)
    logger.info("hf: exported %s backbone to %s", backbone.spec.key, folder)
    return folder


# ----------------------------------------------------------------------------- loading
def _check_loading_info(info: Mapping[str, Any], where: str) -> None:
    missing = sorted(info.get("missing_keys") or [])
    mismatched = [str(m) for m in (info.get("mismatched_keys") or [])]
    unexpected = sorted(info.get("unexpected_keys") or [])
    if missing or mismatched:
        raise ValueError(
            f"checkpoint {where!r} does not fit the model built for this data: missing {missing[:8]} "
            f"({len(missing)}), shape mismatches {mismatched[:8]} ({len(mismatched)}); is it a checkpoint of "
            "this model_key and size (model_kwargs), and were its windows of the same channels/length?"
        )
    if unexpected:
        logger.warning(
            "hf: %s: %d unexpected tensors ignored: %s", where, len(unexpected), unexpected[:8]
        )


def _from_pretrained_kwargs(bnb, dtype: torch.dtype) -> dict[str, Any]:
    kw: dict[str, Any] = {"dtype": dtype, "output_loading_info": True}
    if bnb is not None:
        kw["quantization_config"] = bnb
        kw["device_map"] = {"": "cuda" if torch.cuda.is_available() else "cpu"}
    return kw


def _load_coco_folder(
    name_or_path: str,
    *,
    revision: str | None,
    config: CocoPipeEEGConfig,
    bnb,
    dtype: torch.dtype,
    hub: bool,
) -> PreTrainedModel:
    extra: dict[str, Any] = {}
    if hub:
        extra = {
            "revision": revision,
            "cache_dir": str(hub_cache_dir()),
            "local_files_only": hub_offline(),
        }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"braindecode\..*")
        model, info = AutoModel.from_pretrained(
            name_or_path,
            config=config,
            trust_remote_code=False,
            **extra,
            **_from_pretrained_kwargs(bnb, dtype),
        )
    _check_loading_info(info, name_or_path)
    return model


def _folder_config(
    folder: Path, spec: Any, plan: Any, model_kwargs: dict, pooling: str
) -> CocoPipeEEGConfig:
    config = AutoConfig.from_pretrained(str(folder), trust_remote_code=False)
    if not isinstance(config, CocoPipeEEGConfig):  # pragma: no cover - classified by model_type
        raise ValueError(
            f"{str(folder)!r} holds a {type(config).__name__}, not a {MODEL_TYPE} config"
        )
    if config.model_key != spec.key:
        raise ValueError(
            f"checkpoint {str(folder)!r} holds a {config.model_key!r} backbone, but model_key={spec.key!r}"
        )
    kwargs = {**dict(config.model_kwargs or {}), **model_kwargs}
    fresh = _config_for(spec, plan, kwargs, pooling)
    for name in (
        "n_chans",
        "n_times",
        "sfreq",
        "chs_info",
        "model_kwargs",
        "pooling",
        "braindecode_class",
    ):
        setattr(config, name, getattr(fresh, name))
    return config


def _remote_model_kwargs(remote_config: Any, spec: Any) -> dict[str, Any]:
    """Architecture arguments of a remote-code config that the braindecode class accepts."""
    cls = _model_class(spec)
    params = set(inspect.signature(cls.__init__).parameters) - set(_SIGNAL_ARGS) - {"self"}
    data = remote_config.to_dict() if hasattr(remote_config, "to_dict") else dict(remote_config)
    return {
        k: v
        for k, v in data.items()
        if k in params and isinstance(v, (int, float, str, bool, list))
    }


def _strip_to_fit(state: dict[str, torch.Tensor], own: set[str]) -> dict[str, torch.Tensor]:
    """Drop the remote model's wrapper prefix (e.g. ``reve.``) when that makes its keys fit."""
    prefixes = {""} | {k.split(".", 1)[0] + "." for k in state if "." in k}

    def fit(prefix: str) -> int:
        return sum(1 for k in state if k.startswith(prefix) and k[len(prefix) :] in own)

    best = max(sorted(prefixes), key=fit)
    if not best:
        return state
    return {k[len(best) :]: v for k, v in state.items() if k.startswith(best)}


def _load_remote(resolved: _Resolved, spec: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Run the checkpoint's own modeling code (trust_remote_code) and return its weights and arch kwargs."""
    name = resolved.repo or str(resolved.folder)
    extra: dict[str, Any] = {"trust_remote_code": True}
    if resolved.repo is not None:
        extra.update(
            revision=resolved.revision,
            cache_dir=str(hub_cache_dir()),
            local_files_only=hub_offline(),
        )
    remote_config = AutoConfig.from_pretrained(name, **extra)
    remote = AutoModel.from_pretrained(name, **extra)
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous().clone()
        for k, v in remote.state_dict().items()
    }
    logger.info("hf: loaded %s with its own modeling code (%s)", name, type(remote).__name__)
    return state, _remote_model_kwargs(remote_config, spec)


def build_hf_backbone(
    model_key: str,
    *,
    weights: str = "pretrained",
    revision: str | None = None,
    pooling: str = "mean",
    model_kwargs: dict[str, Any] | None = None,
    sfreq: float | None,
    ch_names,
    n_channels: int | None,
    n_times: int | None,
    trust_remote_code: bool = False,
    quantization: Any = None,
    torch_dtype: Any = None,
) -> Backbone:
    """Build a backbone through transformers (``backend="hugging_face"``).

    Same arguments and return type as
    :func:`~coco_pipe.foundation.backbones.build_backbone`; the
    module is a :class:`CocoPipeEEGModel`. Input errors (model key, pooling, sfreq,
    channels, window length, weights path, uncached repository, remote code without
    ``trust_remote_code``, quantization options) are raised before any model is built.

    Parameters
    ----------
    model_key : str
        Row of ``ESTIMATOR_SPECS``.
    weights : str
        ``"pretrained"`` (the spec's ``hub_repo``), ``"random"``, a hub id
        ``"org/name[@revision]"``, a ``save_pretrained`` folder (coco_pipe_eeg,
        remote-code or braindecode), or a state-dict file.
    revision : str, optional
        Hub revision (branch, tag or commit).
    pooling : {"mean", "cls", "flatten"}
    model_kwargs : dict, optional
        Architecture arguments; a coco_pipe_eeg folder's own ``model_kwargs`` are the
        defaults.
    sfreq, ch_names, n_channels, n_times
        The data (as for ``build_backbone``).
    trust_remote_code : bool, default False
        Allow running a checkpoint's own modeling code; recorded in the weight tags
        (``hf.trust_remote_code``).
    quantization : QuantizationConfig or dict, optional
        When enabled, the model is loaded in 4-bit through ``BitsAndBytesConfig``.
    torch_dtype : torch.dtype or str, optional
        Load dtype (``"float32"`` default, ``"bfloat16"``, ``"float16"``).

    Returns
    -------
    Backbone

    Raises
    ------
    HFCheckpointNotAvailableError
        A hub checkpoint that is not cached while offline.
    ValueError
        Remote code without ``trust_remote_code=True``; a checkpoint of another
        model or size; bad options.

    Examples
    --------
    >>> bb = build_hf_backbone("labram", weights="./labram-hf", sfreq=250.0, ch_names=names,
    ...                        n_channels=19, n_times=1000,
    ...                        quantization={"enabled": True})  # doctest: +SKIP
    """
    spec = get_spec(model_key)
    check_pooling(spec, pooling)
    if not isinstance(trust_remote_code, bool):
        raise ValueError(f"trust_remote_code must be True or False, got {trust_remote_code!r}")
    model_kwargs = dict(model_kwargs or {})
    bad = sorted(set(model_kwargs) & set(_SIGNAL_ARGS))
    if bad:
        raise ValueError(
            f"model_kwargs must not set {bad}: signal arguments are derived from the data and the adaptation plan"
        )
    dtype = _resolve_dtype(torch_dtype)
    bnb = _bnb_config(quantization)
    plan = make_plan(spec, sfreq=sfreq, ch_names=ch_names, n_channels=n_channels, n_times=n_times)
    resolved = _resolve(weights, spec=spec, revision=revision)
    if resolved.kind == "remote_code" and not trust_remote_code:
        where = resolved.repo or str(resolved.folder)
        raise ValueError(
            f"checkpoint {where!r} is published with its own modeling code (auto_map in config.json); "
            "running it needs trust_remote_code=True (recorded on the run as hf.trust_remote_code=true). "
            "Read the repository's *.py files before turning it on."
        )

    with tempfile.TemporaryDirectory(prefix="coco-pipe-hf-") as tmp, _progress_bars():
        if resolved.kind == "coco_pipe_eeg":
            config = _folder_config(resolved.folder, spec, plan, model_kwargs, pooling)
            hub = resolved.repo is not None
            name = resolved.repo if hub else str(resolved.folder)
            model = _load_coco_folder(
                name, revision=resolved.revision, config=config, bnb=bnb, dtype=dtype, hub=hub
            )
            digest = (
                _file_digest(resolved.folder)
                if bnb is not None
                else state_dict_digest(model.backbone.model)
            )
            kwargs_used = dict(config.model_kwargs or {})
        else:
            # random init, braindecode checkpoints and remote-code checkpoints: build the
            # coco_pipe_eeg model in full precision and load the weights into its braindecode model
            source = resolved.source
            state = None
            kwargs_used = dict(model_kwargs)
            if resolved.kind == "remote_code":
                state, remote_kwargs = _load_remote(resolved, spec)
                kwargs_used = {**remote_kwargs, **model_kwargs}
            config = _config_for(spec, plan, kwargs_used, pooling)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module=r"braindecode\..*")
                model = CocoPipeEEGModel(config)
            if state is not None:
                from safetensors.torch import save_file  # noqa: PLC0415

                state = _strip_to_fit(state, set(model.backbone.model.state_dict()))

                tmp_file = Path(tmp) / "remote.safetensors"
                save_file(state, str(tmp_file))
                source = WeightsSource(source.kind, source.location, source.revision, str(tmp_file))
            digest = load_weights_into(model.backbone.model, source)
            if bnb is not None or dtype != torch.float32:
                # 4-bit / dtype loading goes through transformers: save, then from_pretrained
                folder = _atomic_save(model, Path(tmp) / "model")
                model = _load_coco_folder(
                    str(folder), revision=None, config=config, bnb=bnb, dtype=dtype, hub=False
                )
            model.config.name_or_path = resolved.repo or str(
                resolved.folder or resolved.source.location
            )

    module = model
    if bnb is not None:
        keep_generic_cpu_kernel_for_odd_shapes(module)
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        probe = module(torch.zeros(1, plan.n_channels, plan.n_times))
    if probe.ndim != 2 or probe.shape[0] != 1:
        raise RuntimeError(
            f"{spec.display_name}: feature extraction gave shape {tuple(probe.shape)}, expected (1, D)"
        )
    for p in module.parameters():
        if p.is_floating_point():
            p.requires_grad_(True)

    qdesc = "none"
    if bnb is not None:
        qdesc = f"bnb-4bit-{bnb.bnb_4bit_quant_type}" + (
            "-dq" if bnb.bnb_4bit_use_double_quant else ""
        )
    wsource = HFWeightsSource(
        base=resolved.source,
        format="random-init" if resolved.kind == "random" else resolved.kind,
        trust_remote_code=trust_remote_code,
        quantization=qdesc,
        dtype=str(dtype).removeprefix("torch."),
    )
    info = _fingerprint_info(spec.key, digest, plan, pooling, kwargs_used)
    import transformers  # noqa: PLC0415

    info.update(
        backend="hugging_face",
        dtype=str(dtype).removeprefix("torch."),
        quantization=qdesc,
        transformers=transformers.__version__,
    )
    fp = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()
    logger.info(
        "hf: built %s from %s (%s, quantization %s, trust_remote_code=%s), digest %s",
        spec.key,
        wsource.as_tags()["weights.source"],
        wsource.format,
        qdesc,
        trust_remote_code,
        digest[:12],
    )
    return Backbone(
        module=module,
        spec=spec,
        plan=plan,
        weights=wsource,
        weights_digest=digest,
        emb_dim=int(probe.shape[1]),
        pooling=pooling,
        fingerprint=fp,
        model_kwargs=kwargs_used,
    )
