"""Build a foundation-model backbone and forward windows to pooled embeddings.

One spec row (:data:`~coco_pipe.foundation.specs.ESTIMATOR_SPECS`) says which
braindecode class to build and how the data are adapted
(:mod:`~coco_pipe.foundation.adaptation`); the model's module in
:mod:`coco_pipe.foundation.models` says how features are pulled out before the
classification head (its ``features`` hook). :func:`build_backbone` loads the weights
with the braindecode backend here, or dispatches to the Hugging Face backend
(:mod:`coco_pipe.foundation.hf`); both return a :class:`Backbone`.

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

import logging
import sys
from typing import Any

import numpy as np
import torch

from .architecture import (
    Backbone,
    FoundationBackboneModule,
    build_model,
    check_pooling,
    fingerprint,
    fingerprint_info,
    get_spec,
    load_backbone_weights,
    make_plan,
    probe_emb_dim,
    rebuild_braindecode_module,
)
from .models import get_model
from .weights import resolve_weights

logger = logging.getLogger(__name__)

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
    seed: int | None = None,
    allow_partial_weights: bool = False,
    unit: str = "V",
) -> Backbone:
    """Build (and load) a frozen backbone for data of the given shape.

    Input errors (unknown model, pooling, sfreq, channels, window length, weights)
    are raised before the model is built. The weights are loaded through the model's own
    ``load_state_dict`` (see :func:`~coco_pipe.foundation.weights.load_weights`); what
    was loaded is ``Backbone.load_report``.

    Parameters
    ----------
    model_key : str
        Row of ``ESTIMATOR_SPECS`` (see ``list_foundation_models()``).
    backend : {"braindecode", "hugging_face"}
    weights : str
        ``"pretrained"``, ``"random"``, a hub repo id, a local directory (a checkpoint folder
        or the folder of a several-file release) or a state-dict file, in braindecode's
        names or one of the model's published layouts (see
        :func:`~coco_pipe.foundation.weights.resolve_weights`).
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
    seed : int, optional
        The model is constructed under torch generators seeded with it, so
        ``weights="random"`` gives the same weights (and digest) for the same seed.
        None: torch's global random state.
    allow_partial_weights : bool, default False
        Accept a checkpoint that leaves backbone tensors freshly initialised (listed in
        the load report); by default that is a
        :class:`~coco_pipe.foundation.weights.PartialWeightsError` listing them.
    unit : str
        Unit of the data: ``"V"`` (default), ``"mV"``, ``"uV"``, ``"nV"``.

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
            seed=seed, allow_partial_weights=allow_partial_weights, unit=unit,
        )  # fmt: skip
    if trust_remote_code or quantization is not None or torch_dtype is not None:
        raise ValueError(
            "trust_remote_code, quantization and torch_dtype are options of backend='hugging_face'; "
            f"got backend={backend!r}"
        )
    check_pooling(spec, pooling)
    model_kwargs = dict(model_kwargs or {})
    plan = make_plan(
        spec, sfreq=sfreq, ch_names=ch_names, n_channels=n_channels, n_times=n_times, unit=unit
    )
    source = resolve_weights(weights, spec=spec, revision=revision)
    get_model(spec.key).check_plan(plan, weights)

    model = build_model(spec, plan, model_kwargs, seed=seed)
    report = load_backbone_weights(
        model, spec, source, allow_partial_weights=allow_partial_weights, seed=seed
    )
    digest = report.digest
    module = FoundationBackboneModule(model, spec, plan, pooling)
    emb_dim = probe_emb_dim(module, plan, spec)
    info = fingerprint_info(spec.key, digest, plan, pooling, model_kwargs)
    return Backbone(
        module=module,
        spec=spec,
        plan=plan,
        weights=source,
        weights_digest=digest,
        emb_dim=emb_dim,
        pooling=pooling,
        fingerprint=fingerprint(info),
        model_kwargs=model_kwargs,
        rebuild=rebuild_braindecode_module,
        load_report=report,
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


__all__ = [
    "Backbone",
    "FoundationBackboneModule",
    "build_backbone",
    "check_pooling",
    "embed",
    "get_spec",
    "make_plan",
    "resolve_device",
]
