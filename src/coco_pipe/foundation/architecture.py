"""What both backbone loaders share: spec lookup, the braindecode model, features, identity.

The braindecode backend (:func:`~coco_pipe.foundation.backbones.build_backbone`) and the
Hugging Face backend (:mod:`coco_pipe.foundation.hf`) build the same model for the same
adaptation plan, pull features out the same way and describe the result with the same
:class:`Backbone` value; the pieces live here so that neither loader imports the other.
A model's own quirks (constructor arguments, feature extraction, buffers, offline
construction) are hooks of its module in :mod:`coco_pipe.foundation.models`.

Examples
--------
>>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
>>> spec = get_spec("cbramod")
>>> plan = make_plan(spec, sfreq=200.0, ch_names=None, n_channels=3, n_times=400)
>>> model = build_model(spec, plan, dict(spec.small_kwargs))  # doctest: +SKIP
>>> FoundationBackboneModule(model, spec, plan, "mean")(torch.zeros(2, 3, 400)).shape  # doctest: +SKIP
torch.Size([2, 200])
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .adaptation import AdaptationPlan, plan_adaptation
from .models import get_model
from .models.base import Features, FoundationModel, FoundationModelSpec
from .specs import ESTIMATOR_SPECS
from .weights import LoadReport, load_weights

#: braindecode constructor arguments derived from the data and the plan (never model_kwargs).
SIGNAL_ARGS: tuple[str, ...] = (
    "n_chans",
    "n_times",
    "sfreq",
    "chs_info",
    "n_outputs",
    "input_window_seconds",
)
#: Pooling modes a backbone module knows.
POOLINGS: tuple[str, ...] = ("mean", "cls", "flatten")


# ----------------------------------------------------------------------------- specs
def get_spec(model_key: str) -> FoundationModelSpec:
    """Spec row of ``model_key``; the error lists the known keys.

    Examples
    --------
    >>> get_spec("labram").display_name
    'LaBraM'
    """
    try:
        return ESTIMATOR_SPECS[model_key]
    except KeyError:
        known = ", ".join(sorted(ESTIMATOR_SPECS))
        raise ValueError(
            f"unknown model_key {model_key!r}; known foundation models: {known}"
        ) from None


def check_pooling(spec: FoundationModelSpec, pooling: str) -> None:
    """Raise a clear error for a pooling the model does not support.

    Examples
    --------
    >>> check_pooling(get_spec("cbramod"), "cls")
    Traceback (most recent call last):
    ...
    ValueError: pooling='cls' is not supported by CBraMod ('cbramod') (it has no class token); supported: mean, flatten
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    if pooling not in spec.poolings:
        why = " (it has no class token)" if pooling == "cls" else ""
        raise ValueError(
            f"pooling={pooling!r} is not supported by {spec.display_name} ({spec.key!r}){why}; "
            f"supported: {', '.join(spec.poolings)}"
        )


def check_model_kwargs(model_kwargs: Mapping[str, Any]) -> None:
    """Refuse ``model_kwargs`` that set signal arguments (:data:`SIGNAL_ARGS`)."""
    bad = sorted(set(model_kwargs) & set(SIGNAL_ARGS))
    if bad:
        raise ValueError(
            f"model_kwargs must not set {bad}: signal arguments are derived from the data and the "
            "adaptation plan"
        )


def make_plan(
    spec: FoundationModelSpec,
    *,
    sfreq: float | None,
    ch_names,
    n_channels: int | None,
    n_times: int | None,
    unit: str = "V",
) -> AdaptationPlan:
    """:func:`plan_adaptation` with the model's extras (its position bank, when it has one).

    Examples
    --------
    >>> make_plan(get_spec("cbramod"), sfreq=250.0, ch_names=None, n_channels=4, n_times=1000).n_times
    800
    """
    bank = get_model(spec.key).position_bank()
    return plan_adaptation(
        spec,
        sfreq=sfreq,
        ch_names=ch_names,
        n_channels=n_channels,
        n_times=n_times,
        position_bank=bank[1] if bank is not None else None,
        position_bank_source=bank[0] if bank is not None else "position-bank",
        unit=unit,
    )


# ----------------------------------------------------------------------------- model
def model_class(spec: FoundationModelSpec) -> type[nn.Module]:
    """The braindecode class built for ``spec`` (its ``Interpolated*`` variant where the
    channels are interpolated)."""
    import braindecode.models as bm

    name = (
        spec.interpolated_class if spec.channel_mode == "interpolated" else spec.braindecode_class
    )
    return getattr(bm, name)


def build_model(
    spec: FoundationModelSpec, plan: Any, model_kwargs: dict[str, Any], seed: int | None = None
) -> nn.Module:
    """Braindecode model for ``plan`` (an :class:`AdaptationPlan` or anything with its
    ``n_times``, ``sfreq``, ``n_channels``, ``positions`` and ``chs_info()``), head removed.

    The signal arguments come from the plan and the model's
    :meth:`~coco_pipe.foundation.models.base.FoundationModel.constructor_kwargs`;
    ``model_kwargs`` (architecture size) come on top. With ``seed``, the constructor's
    random initialisation runs under torch generators seeded with it (the caller's random
    state is left as it was), so the same seed gives the same weights.
    """
    if seed is not None:
        from .placement import seeded_rng

        with seeded_rng(int(seed)):
            return build_model(spec, plan, model_kwargs)
    check_model_kwargs(model_kwargs)
    quirks = get_model(spec.key)
    kw: dict[str, Any] = {"n_times": plan.n_times, "sfreq": plan.sfreq}
    if spec.needs_n_outputs:
        kw["n_outputs"] = 1
    kw.update(quirks.constructor_kwargs(plan))
    kw.update(model_kwargs)
    cls = model_class(spec)
    with warnings.catch_warnings(), quirks.constructing():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"braindecode\..*")
        model = cls(**kw)
    head = getattr(model, "final_layer", None)
    if head is not None and not isinstance(head, nn.Identity):
        model.final_layer = nn.Identity()
    return model


class FoundationBackboneModule(nn.Module):
    """Braindecode model + feature extraction + pooling: ``(B, C, T) -> (B, emb_dim)``.

    The input must already be adapted (:meth:`AdaptationPlan.apply`). The braindecode
    model is the submodule ``model``; the features are pulled out by the model's hook
    :meth:`~coco_pipe.foundation.models.base.FoundationModel.features`.

    Examples
    --------
    >>> module = FoundationBackboneModule(model, spec, plan, "mean")  # doctest: +SKIP
    >>> module.tokens(x)[0].shape  # doctest: +SKIP
    torch.Size([2, 12, 200])
    """

    def __init__(
        self, model: nn.Module, spec: FoundationModelSpec, plan: Any, pooling: str
    ) -> None:
        super().__init__()
        self.model = model
        self.model_key = spec.key
        self.pooling = pooling
        self.ch_names = list(plan.ch_names)
        self.quirks.register_buffers(self, plan)

    @property
    def quirks(self) -> FoundationModel:
        """The hooks of this model (:func:`~coco_pipe.foundation.models.get_model`)."""
        return get_model(self.model_key)

    def tokens(self, x: torch.Tensor) -> Features:
        """(tokens (B, L, D) or None, class token (B, D) or None, pooled (B, D) or None)."""
        return self.quirks.features(self, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        toks, cls_tok, pooled = self.tokens(x)
        if self.pooling == "mean":
            return pooled if toks is None else toks.mean(dim=1)
        if self.pooling == "cls":
            return cls_tok
        return toks.flatten(1)


def load_backbone_weights(
    model: nn.Module,
    spec: FoundationModelSpec,
    source: Any,
    *,
    allow_partial_weights: bool = False,
    seed: int | None = None,
) -> LoadReport:
    """Load ``source`` into the braindecode ``model`` of ``spec`` with the model's checkpoint
    rules: its published layouts (``spec.checkpoint_layouts``), config-derived buffers and
    :meth:`~coco_pipe.foundation.models.base.FoundationModel.prepare_checkpoint` (both
    loaders call this)."""
    quirks = get_model(spec.key)
    return load_weights(
        model,
        source,
        layouts=spec.checkpoint_layouts,
        derived_buffers=quirks.derived_buffers,
        prepare=quirks.prepare_checkpoint,
        allow_partial=allow_partial_weights,
        seed=seed,
    )


def rebuild_braindecode_module(backbone: Backbone) -> FoundationBackboneModule:
    """A freshly initialised module of ``backbone``'s architecture (braindecode backend)."""
    model = build_model(backbone.spec, backbone.plan, dict(backbone.model_kwargs or {}))
    return FoundationBackboneModule(model, backbone.spec, backbone.plan, backbone.pooling)


def probe_emb_dim(module: nn.Module, plan: Any, spec: FoundationModelSpec) -> int:
    """Put ``module`` in eval mode, forward one zero window and return the embedding width.

    Floating-point parameters keep ``requires_grad=True`` afterwards (fine-tuning decides).
    """
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
    return int(probe.shape[1])


# ----------------------------------------------------------------------------- identity
def fingerprint_info(
    key: str, digest: str, plan: AdaptationPlan, pooling: str, model_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """What a backbone's fingerprint hashes (JSON-able): model key, weight digest, plan,
    pooling, dtype, model kwargs and library versions."""
    import braindecode

    return {
        "model_key": key,
        "weights_digest": digest,
        "plan": plan.fingerprint_dict(),
        "pooling": pooling,
        "dtype": "float32",
        "model_kwargs": json.loads(json.dumps(dict(model_kwargs), sort_keys=True, default=repr)),
        "torch": torch.__version__,
        "braindecode": braindecode.__version__,
    }


def fingerprint(info: Mapping[str, Any]) -> str:
    """sha256 of the sorted JSON of a fingerprint info."""
    return hashlib.sha256(json.dumps(dict(info), sort_keys=True).encode()).hexdigest()


@dataclass
class Backbone:
    """A built backbone: module, the facts that produced it, and its fingerprint.

    Attributes
    ----------
    module : FoundationBackboneModule
        ``forward(x)`` with ``x`` (B, C, T) already adapted by ``plan`` -> (B, emb_dim).
    spec : FoundationModelSpec
    plan : AdaptationPlan
    weights : WeightsSource
    weights_digest : str
        sha256 of the model's state dict after loading.
    emb_dim : int
    pooling : str
    fingerprint : str
        sha256 over model key, weights digest, plan, pooling, dtype, model kwargs and
        torch / braindecode versions (the embedding-cache key with the window bytes).
    model_kwargs : dict or None
        Architecture arguments the module was built with.
    rebuild : callable or None
        ``rebuild(backbone) -> module``: a freshly initialised module of the same
        architecture (a module-level function, pickled by reference). With it, a
        backbone pickles as its facts and the module's state dict, and is rebuilt on
        unpickling, so braindecode modules that do not pickle themselves (dynamically
        built ``Interpolated*`` classes, lambdas) travel to other processes. None: the
        module is pickled as it is.
    load_report : LoadReport or None
        What loading the weights did (tensors loaded / fresh / ignored).
    """

    module: nn.Module
    spec: FoundationModelSpec
    plan: AdaptationPlan
    weights: Any
    weights_digest: str
    emb_dim: int
    pooling: str
    fingerprint: str
    model_kwargs: dict[str, Any] | None = None
    rebuild: Callable[[Backbone], nn.Module] | None = field(default=None, repr=False)
    load_report: LoadReport | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.rebuild is not None:
            module = state.pop("module")
            state["module_state"] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
            state["module_training"] = module.training
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        tensors = state.pop("module_state", None)
        training = state.pop("module_training", False)
        self.__dict__.update(state)
        if tensors is not None:
            module = self.rebuild(self)
            module.load_state_dict(tensors, strict=True)
            self.module = module.train(training)

    def fingerprint_info(self) -> dict[str, Any]:
        """What the fingerprint hashes (JSON-able)."""
        return fingerprint_info(
            self.spec.key, self.weights_digest, self.plan, self.pooling, self.model_kwargs or {}
        )


__all__ = [
    "POOLINGS",
    "SIGNAL_ARGS",
    "Backbone",
    "FoundationBackboneModule",
    "build_model",
    "check_model_kwargs",
    "check_pooling",
    "fingerprint",
    "fingerprint_info",
    "get_spec",
    "load_backbone_weights",
    "make_plan",
    "model_class",
    "probe_emb_dim",
    "rebuild_braindecode_module",
]
