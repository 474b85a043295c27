"""Build a foundation-model backbone and forward windows to pooled embeddings.

One spec row (:data:`~coco_pipe.foundation.specs.ESTIMATOR_SPECS`) says which
braindecode class to build, how the data are adapted
(:mod:`~coco_pipe.foundation.adaptation`) and how features are
pulled out before the classification head (``spec.feature_strategy``):

``bendr_context``
    conv encoder + contextualizer; the start token is ``cls``, the other steps are tokens.
``biot_encoder``
    the BIOT encoder, which already averages its tokens (``mean`` only).
``return_features``
    ``model(x, return_features=True)["features"]``; all axes between batch and feature
    are tokens (CBraMod, EEGPT, REVE, Signal-JEPA).
``labram_tokens``
    LaBraM's ``return_features`` with ``ch_names`` (position embeddings by name);
    gives patch tokens and the class token.
``luna_latent``
    LUNA's encoder up to the normed latent (before its query-attention head).

:class:`Backbone` keeps the braindecode model as ``module.model`` so LoRA target
names (``spec.lora_target_modules``) resolve as suffixes of ``nn.Linear`` names.

Examples
--------
>>> bb = build_backbone("cbramod", weights="random", sfreq=250.0, ch_names=None,
...                     n_channels=4, n_times=1000,
...                     model_kwargs={"n_layer": 1, "dim_feedforward": 32, "nhead": 2})  # doctest: +SKIP
>>> embed(bb, X).shape  # doctest: +SKIP
(8, 200)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .adaptation import AdaptationPlan, plan_adaptation
from .specs import ESTIMATOR_SPECS, FoundationModelSpec

logger = logging.getLogger(__name__)

_SIGNAL_ARGS = ("n_chans", "n_times", "sfreq", "chs_info", "n_outputs", "input_window_seconds")
_POOLINGS = ("mean", "cls", "flatten")
_REVE_LOCK = threading.Lock()


# ----------------------------------------------------------------------------- specs
def get_spec(model_key: str) -> FoundationModelSpec:
    """Spec row of ``model_key``; the error lists the known keys."""
    try:
        return ESTIMATOR_SPECS[model_key]
    except KeyError:
        known = ", ".join(sorted(ESTIMATOR_SPECS))
        raise ValueError(
            f"unknown model_key {model_key!r}; known foundation models: {known}"
        ) from None


def check_pooling(spec: FoundationModelSpec, pooling: str) -> None:
    """Raise a clear error for a pooling the model does not support."""
    if pooling not in _POOLINGS:
        raise ValueError(f"pooling must be one of {_POOLINGS}, got {pooling!r}")
    if pooling not in spec.poolings:
        why = " (it has no class token)" if pooling == "cls" else ""
        raise ValueError(
            f"pooling={pooling!r} is not supported by {spec.display_name} ({spec.key!r}){why}; "
            f"supported: {', '.join(spec.poolings)}"
        )


# ----------------------------------------------------------------------------- weights
def _weights_api():
    """(resolve_weights, load_weights_into, state_dict_digest) of :mod:`.weights` (lazy import)."""
    from . import weights as w

    return w.resolve_weights, w.load_weights_into, w.state_dict_digest


# ----------------------------------------------------------------------------- REVE bank
def reve_position_bank() -> dict[str, tuple[float, float, float]] | None:
    """REVE's pretraining electrode bank when braindecode has it cached (no download), else None."""
    try:
        import mne

        # the folder braindecode's RevePositionBank reads (mne.datasets.utils._get_path), not created here
        root = (
            mne.get_config("REVE_POSITIONS_PATH")
            or mne.get_config("MNE_DATA")
            or os.path.expanduser("~/mne_data")
        )
        path = os.path.join(root, "reve_positions.json")
        with open(path) as f:
            data = json.load(f)
        return {str(k): tuple(float(x) for x in v) for k, v in data.items()}
    except Exception:  # noqa: BLE001 - any problem means "not available offline"
        return None


class _OfflinePositionBank(nn.Module):
    """Stand-in for braindecode's RevePositionBank that never touches the network."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.position_names: list[str] = []
        self.mapping: dict[str, int] = {}
        self.register_buffer("embedding", torch.zeros(0, 3), persistent=False)

    def forward(self, channel_names: list[str]) -> torch.Tensor:  # pragma: no cover - unused
        raise RuntimeError("positions are supplied by coco-pipe's adaptation plan")


@contextlib.contextmanager
def _offline_reve():
    """Build REVE without downloading its position bank (positions come from the plan)."""
    import braindecode.models.reve as reve_mod

    with _REVE_LOCK:
        original = reve_mod.RevePositionBank
        reve_mod.RevePositionBank = _OfflinePositionBank
        try:
            yield
        finally:
            reve_mod.RevePositionBank = original


# ----------------------------------------------------------------------------- model
def _model_class(spec: FoundationModelSpec):
    import braindecode.models as bm

    name = (
        spec.interpolated_class if spec.channel_mode == "interpolated" else spec.braindecode_class
    )
    return getattr(bm, name)


def _build_model(
    spec: FoundationModelSpec, plan: AdaptationPlan, model_kwargs: dict[str, Any]
) -> nn.Module:
    """Braindecode model for ``plan`` with its classification head removed."""
    bad = sorted(set(model_kwargs) & set(_SIGNAL_ARGS))
    if bad:
        raise ValueError(
            f"model_kwargs must not set {bad}: signal arguments are derived from the data and the adaptation plan"
        )
    cls = _model_class(spec)
    kw: dict[str, Any] = {"n_times": plan.n_times, "sfreq": plan.sfreq}
    if spec.needs_n_outputs:
        kw["n_outputs"] = 1
    key = spec.key
    if key == "bendr":
        kw.update(chs_info=plan.chs_info(), final_layer=False)
    elif key == "biot":
        kw.update(n_chans=plan.n_channels)
    elif key == "cbramod":
        kw.update(n_chans=plan.n_channels, return_encoder_output=True)
    elif key == "eegpt":
        kw.update(chs_info=plan.chs_info(), chan_proj_type="none", return_encoder_output=True)
    elif key == "labram":
        kw.update(n_chans=plan.n_channels)
    elif key == "luna":
        # n_outputs=0 builds LUNA's pretraining (reconstruction) head, as in its checkpoint
        kw.update(chs_info=plan.chs_info(), n_outputs=0)
    elif key == "reve":
        kw.update(n_chans=plan.n_channels)
    elif key == "signal_jepa":
        kw.update(chs_info=plan.chs_info(), channel_embedding="pretrain_aligned")
    kw.update(model_kwargs)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"braindecode\..*")
        if key == "reve":
            with _offline_reve():
                model = cls(**kw)
        else:
            model = cls(**kw)
    head = getattr(model, "final_layer", None)
    if head is not None and not isinstance(head, nn.Identity):
        model.final_layer = nn.Identity()
    return model


class FoundationBackboneModule(nn.Module):
    """Braindecode model + feature extraction + pooling: ``(B, C, T) -> (B, emb_dim)``.

    The input must already be adapted (:meth:`AdaptationPlan.apply`). The braindecode
    model is the submodule ``model``.
    """

    def __init__(
        self, model: nn.Module, spec: FoundationModelSpec, plan: AdaptationPlan, pooling: str
    ) -> None:
        super().__init__()
        self.model = model
        self.strategy = spec.feature_strategy
        self.pooling = pooling
        self.ch_names = list(plan.ch_names)
        if spec.key == "reve":
            pos = torch.tensor(plan.positions, dtype=torch.float32)
            self.register_buffer("channel_positions", pos, persistent=False)
        elif spec.key == "luna":
            locs = torch.tensor(plan.positions, dtype=torch.float32)
            self.register_buffer("channel_positions", locs, persistent=False)

    def tokens(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """(tokens (B, L, D) or None, class token (B, D) or None, pooled (B, D) or None)."""
        m = self.model
        s = self.strategy
        if s == "bendr_context":
            if getattr(m, "interpolation_layer", None) is not None:
                x = m.interpolation_layer(x)
            context = m.contextualizer(m.encoder(x))  # (B, D, 1 + steps)
            return context[:, :, 1:].transpose(1, 2), context[:, :, 0], None
        if s == "biot_encoder":
            return None, None, m.encoder(x)
        if s == "labram_tokens":
            out = m(x, return_features=True, ch_names=self.ch_names)
            return out["features"], out["cls_token"], None
        if s == "luna_latent":
            return self._luna_latent(x), None, None
        if s == "return_features":
            if hasattr(self, "channel_positions"):  # REVE
                pos = self.channel_positions.unsqueeze(0).expand(x.shape[0], -1, -1)
                feats = m(x, pos=pos, return_features=True)["features"]
            else:
                feats = m(x, return_features=True)["features"]
            return feats.reshape(feats.shape[0], -1, feats.shape[-1]), None, None
        raise ValueError(f"unknown feature_strategy {s!r}")

    def _luna_latent(self, x: torch.Tensor) -> torch.Tensor:
        from einops import rearrange

        m = self.model
        b = x.shape[0]
        locs = self.channel_positions.to(dtype=x.dtype).unsqueeze(0).expand(b, -1, -1)
        tokens, _ = m.prepare_tokens(x, locs, mask=None)
        tokens, _ = m.cross_attn(tokens)
        tokens = rearrange(tokens, "(B t) Q D -> B t (Q D)", B=b)
        for blk in m.blocks:
            tokens = blk(tokens)
        return m.norm(tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        toks, cls_tok, pooled = self.tokens(x)
        if self.pooling == "mean":
            return pooled if toks is None else toks.mean(dim=1)
        if self.pooling == "cls":
            return cls_tok
        return toks.flatten(1)


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

    def fingerprint_info(self) -> dict[str, Any]:
        """What the fingerprint hashes (JSON-able)."""
        return _fingerprint_info(
            self.spec.key, self.weights_digest, self.plan, self.pooling, self.model_kwargs or {}
        )


def _fingerprint_info(
    key: str, digest: str, plan: AdaptationPlan, pooling: str, model_kwargs: dict
) -> dict[str, Any]:
    import braindecode

    return {
        "model_key": key,
        "weights_digest": digest,
        "plan": plan.fingerprint_dict(),
        "pooling": pooling,
        "dtype": "float32",
        "model_kwargs": json.loads(json.dumps(model_kwargs, sort_keys=True, default=repr)),
        "torch": torch.__version__,
        "braindecode": braindecode.__version__,
    }


def make_plan(
    spec: FoundationModelSpec,
    *,
    sfreq: float | None,
    ch_names,
    n_channels: int | None,
    n_times: int | None,
) -> AdaptationPlan:
    """:func:`plan_adaptation` with the model-specific extras (REVE's cached position bank)."""
    bank = reve_position_bank() if spec.key == "reve" else None
    return plan_adaptation(
        spec,
        sfreq=sfreq,
        ch_names=ch_names,
        n_channels=n_channels,
        n_times=n_times,
        position_bank=bank,
    )


def build_backbone(
    model_key: str,
    *,
    backend: str = "braindecode",
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
    """Build (and load) a frozen backbone for data of the given shape.

    Input errors (unknown model, pooling, sfreq, channels, window length, weights)
    are raised before the model is built.

    Parameters
    ----------
    model_key : str
        Row of ``ESTIMATOR_SPECS`` (see ``list_foundation_models()``).
    backend : {"braindecode", "hugging_face"}
    weights : str
        ``"pretrained"``, ``"random"``, a hub repo id, a local directory or a state-dict file
        (see :func:`~coco_pipe.foundation.weights.resolve_weights`).
    revision : str, optional
        Hub revision.
    pooling : {"mean", "cls", "flatten"}
    model_kwargs : dict, optional
        Extra constructor arguments (e.g. ``spec.small_kwargs``).
    sfreq : float
        Sampling frequency of the data.
    ch_names : sequence of str or None
    n_channels, n_times : int
        Window shape of the data.
    trust_remote_code : bool
        hugging_face backend only.

    Returns
    -------
    Backbone

    Examples
    --------
    >>> from coco_pipe.foundation.specs import ESTIMATOR_SPECS
    >>> bb = build_backbone("cbramod", weights="random", sfreq=200.0, ch_names=None, n_channels=3,
    ...                     n_times=400, model_kwargs=ESTIMATOR_SPECS["cbramod"].small_kwargs)  # doctest: +SKIP
    >>> bb.emb_dim  # doctest: +SKIP
    200
    """
    spec = get_spec(model_key)
    if backend not in spec.backends:
        raise ValueError(
            f"backend {backend!r} cannot load {model_key!r}; supported: {', '.join(spec.backends)}"
        )
    if backend == "hugging_face":
        from .hf import build_hf_backbone

        return build_hf_backbone(
            model_key, weights=weights, revision=revision, pooling=pooling, model_kwargs=model_kwargs,
            sfreq=sfreq, ch_names=ch_names, n_channels=n_channels, n_times=n_times,
            trust_remote_code=trust_remote_code, quantization=quantization, torch_dtype=torch_dtype,
        )  # fmt: skip
    if trust_remote_code or quantization is not None or torch_dtype is not None:
        raise ValueError(
            "trust_remote_code, quantization and torch_dtype are options of backend='hugging_face'; "
            f"got backend={backend!r}"
        )
    check_pooling(spec, pooling)
    model_kwargs = dict(model_kwargs or {})
    plan = make_plan(spec, sfreq=sfreq, ch_names=ch_names, n_channels=n_channels, n_times=n_times)
    resolve_weights, load_weights_into, _ = _weights_api()
    source = resolve_weights(weights, spec=spec, revision=revision)
    if spec.key == "reve" and plan.positions_source != "reve:position-bank" and weights != "random":
        logger.warning(
            "REVE: braindecode's electrode position bank (reve_positions.json) is not cached, so "
            "positions come from MNE's standard_1005 montage (metres); they may differ from the "
            "coordinates REVE was pretrained with. Prefetch the bank into the folder named by the "
            "REVE_POSITIONS_PATH / MNE_DATA config (default ~/mne_data) to use it."
        )

    model = _build_model(spec, plan, model_kwargs)
    digest = load_weights_into(model, source)
    module = FoundationBackboneModule(model, spec, plan, pooling)
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
        p.requires_grad_(True)
    info = _fingerprint_info(spec.key, digest, plan, pooling, model_kwargs)
    fp = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()
    return Backbone(
        module=module,
        spec=spec,
        plan=plan,
        weights=source,
        weights_digest=digest,
        emb_dim=int(probe.shape[1]),
        pooling=pooling,
        fingerprint=fp,
        model_kwargs=model_kwargs,
    )


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` -> CUDA when present, else CPU; otherwise ``torch.device(device)``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}") from exc


def _progress_enabled(progress: bool) -> bool:
    return bool(progress) and sys.stderr.isatty()


def embed(
    backbone: Backbone,
    X: np.ndarray,
    *,
    batch_size: int = 32,
    device: str = "auto",
    progress: bool = True,
    adapted: bool = False,
) -> np.ndarray:
    """Forward windows through the backbone without gradients, batch by batch.

    Parameters
    ----------
    backbone : Backbone
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows as recorded (volts, data sfreq): each batch is adapted with
        ``backbone.plan.apply`` first, unless ``adapted=True``.
    batch_size : int
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda[:N]"``.
    progress : bool
        tqdm bar (shown only on a TTY).
    adapted : bool
        ``X`` is already adapted (shape ``plan.input_shape``).

    Returns
    -------
    ndarray, float32, shape (n_windows, emb_dim)

    Examples
    --------
    >>> Z = embed(bb, X, batch_size=16, device="cpu")  # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D (n_windows, n_channels, n_times), got shape {X.shape}")
    n = len(X)
    out = np.empty((n, backbone.emb_dim), dtype=np.float32)
    if n == 0:
        return out
    dev = resolve_device(device)
    module = backbone.module
    module.to(dev)
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            for start in tqdm(
                range(0, n, batch_size),
                desc=f"embed {backbone.spec.key}",
                unit="batch",
                disable=not _progress_enabled(progress),
            ):
                xb = X[start : start + batch_size]
                if not adapted:
                    xb = backbone.plan.apply(xb)
                t = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32)).to(
                    dev, non_blocking=True
                )
                z = module(t)
                out[start : start + len(xb)] = z.detach().float().cpu().numpy()
    finally:
        module.train(was_training)
    return out
