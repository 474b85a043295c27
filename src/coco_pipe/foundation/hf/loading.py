"""Building a backbone through transformers (``backend="hugging_face"``).

Examples
--------
>>> bb = build_hf_backbone("cbramod", weights="random", sfreq=200.0, ch_names=None,
...                        n_channels=3, n_times=400)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import logging
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModel, PreTrainedModel

from ..architecture import (
    SIGNAL_ARGS,
    Backbone,
    check_model_kwargs,
    check_pooling,
    fingerprint,
    fingerprint_info,
    get_spec,
    load_backbone_weights,
    make_plan,
    model_class,
    probe_emb_dim,
)
from ..peft_utils import keep_generic_cpu_kernel_for_odd_shapes
from ..placement import seeded_rng
from ..weights import (
    LoadReport,
    WeightsSource,
    hub_cache_dir,
    hub_offline,
    state_dict_digest,
)
from .config import MODEL_TYPE, CocoPipeEEGConfig, config_for
from .export import atomic_save, file_digest
from .model import CocoPipeEEGModel, new_model
from .options import bnb_config, progress_bars, resolve_dtype
from .sources import HFWeightsSource, Resolved, resolve_checkpoint

logger = logging.getLogger(__name__)


def _folder_report(model: PreTrainedModel, info: Mapping[str, Any], where: str) -> LoadReport:
    """The load report of a coco_pipe_eeg folder read by transformers (its loading info)."""
    missing = set(info.get("missing_keys") or [])
    own = model.state_dict()
    return LoadReport(
        model=type(model).__name__, source=where, layout="coco_pipe_eeg (transformers)",
        loaded=sorted(k for k in own if k not in missing),
        fresh={k: "not in the checkpoint: freshly initialised" for k in sorted(missing)},
        ignored={k: "no place in the model" for k in sorted(info.get("unexpected_keys") or [])},
        files=[where], digest="",
    )  # fmt: skip


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


def load_coco_folder(
    name_or_path: str,
    *,
    revision: str | None,
    config: CocoPipeEEGConfig,
    bnb,
    dtype: torch.dtype,
    hub: bool,
) -> tuple[PreTrainedModel, LoadReport]:
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
    return model, _folder_report(model, info, name_or_path)


def folder_config(
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
    fresh = config_for(spec, plan, kwargs, pooling)
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
    cls = model_class(spec)
    params = set(inspect.signature(cls.__init__).parameters) - set(SIGNAL_ARGS) - {"self"}
    data = remote_config.to_dict() if hasattr(remote_config, "to_dict") else dict(remote_config)
    return {
        k: v
        for k, v in data.items()
        if k in params and isinstance(v, (int, float, str, bool, list))
    }


def strip_to_fit(state: dict[str, torch.Tensor], own: set[str]) -> dict[str, torch.Tensor]:
    """Drop the remote model's wrapper prefix (e.g. ``reve.``) when that makes its keys fit."""
    prefixes = {""} | {k.split(".", 1)[0] + "." for k in state if "." in k}

    def fit(prefix: str) -> int:
        return sum(1 for k in state if k.startswith(prefix) and k[len(prefix) :] in own)

    best = max(sorted(prefixes), key=fit)
    if not best:
        return state
    return {k[len(best) :]: v for k, v in state.items() if k.startswith(best)}


def load_remote(resolved: Resolved, spec: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
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
    seed: int | None = None,
    allow_partial_weights: bool = False,
    unit: str = "V",
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
    seed, allow_partial_weights, unit
        As for ``build_backbone``.

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
    check_model_kwargs(model_kwargs)
    dtype = resolve_dtype(torch_dtype)
    bnb = bnb_config(quantization)
    plan = make_plan(
        spec, sfreq=sfreq, ch_names=ch_names, n_channels=n_channels, n_times=n_times, unit=unit
    )
    resolved = resolve_checkpoint(weights, spec=spec, revision=revision)
    if resolved.kind == "remote_code" and not trust_remote_code:
        where = resolved.repo or str(resolved.folder)
        raise ValueError(
            f"checkpoint {where!r} is published with its own modeling code (auto_map in config.json); "
            "running it needs trust_remote_code=True (recorded on the run as hf.trust_remote_code=true). "
            "Read the repository's *.py files before turning it on."
        )

    with tempfile.TemporaryDirectory(prefix="coco-pipe-hf-") as tmp, progress_bars():
        if resolved.kind == "coco_pipe_eeg":
            config = folder_config(resolved.folder, spec, plan, model_kwargs, pooling)
            hub = resolved.repo is not None
            name = resolved.repo if hub else str(resolved.folder)
            model, report = load_coco_folder(
                name, revision=resolved.revision, config=config, bnb=bnb, dtype=dtype, hub=hub
            )
            digest = (
                file_digest(resolved.folder)
                if bnb is not None
                else state_dict_digest(model.backbone.model)
            )
            report.digest = digest
            kwargs_used = dict(config.model_kwargs or {})
        else:
            # random init, braindecode checkpoints and remote-code checkpoints: build the
            # coco_pipe_eeg model in full precision and load the weights into its braindecode model
            source = resolved.source
            state = None
            kwargs_used = dict(model_kwargs)
            if resolved.kind == "remote_code":
                state, remote_kwargs = load_remote(resolved, spec)
                kwargs_used = {**remote_kwargs, **model_kwargs}
            config = config_for(spec, plan, kwargs_used, pooling)
            if seed is None:
                model = new_model(config)
            else:
                with seeded_rng(int(seed)):
                    model = new_model(config)
            if state is not None:
                from safetensors.torch import save_file  # noqa: PLC0415

                state = strip_to_fit(state, set(model.backbone.model.state_dict()))

                tmp_file = Path(tmp) / "remote.safetensors"
                save_file(state, str(tmp_file))
                source = WeightsSource(source.kind, source.location, source.revision, str(tmp_file))
            report = load_backbone_weights(
                model.backbone.model, spec, source,
                allow_partial_weights=allow_partial_weights, seed=seed,
            )  # fmt: skip
            digest = report.digest
            if bnb is not None or dtype != torch.float32:
                # 4-bit / dtype loading goes through transformers: save, then from_pretrained
                folder = atomic_save(model, Path(tmp) / "model")
                model, _ = load_coco_folder(
                    str(folder), revision=None, config=config, bnb=bnb, dtype=dtype, hub=False
                )
            model.config.name_or_path = resolved.repo or str(
                resolved.folder or resolved.source.location
            )

    module = model
    if bnb is not None:
        keep_generic_cpu_kernel_for_odd_shapes(module)
    emb_dim = probe_emb_dim(module, plan, spec)

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
    info = fingerprint_info(spec.key, digest, plan, pooling, kwargs_used)
    import transformers  # noqa: PLC0415

    info.update(
        backend="hugging_face",
        dtype=str(dtype).removeprefix("torch."),
        quantization=qdesc,
        transformers=transformers.__version__,
    )
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
        emb_dim=emb_dim,
        pooling=pooling,
        fingerprint=fingerprint(info),
        model_kwargs=kwargs_used,
        # full-precision float32 modules are rebuilt on unpickling; others pickle as they are
        rebuild=rebuild_module if bnb is None and dtype == torch.float32 else None,
        load_report=report,
    )


def rebuild_module(backbone: Backbone) -> CocoPipeEEGModel:
    """A freshly initialised :class:`CocoPipeEEGModel` of ``backbone``'s architecture."""
    config = config_for(
        backbone.spec, backbone.plan, dict(backbone.model_kwargs or {}), backbone.pooling
    )
    return new_model(config)


__all__ = ["build_hf_backbone"]
