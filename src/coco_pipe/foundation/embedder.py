"""BackboneEmbedder: a frozen foundation model as a stateless scikit-learn transformer.

``fit`` learns nothing from the data or the labels: it only builds (or reuses) the
backbone for the data's shape, sfreq and channels. ``transform`` adapts each window
(:mod:`~coco_pipe.foundation.adaptation`), forwards it without
gradients and returns pooled embeddings ``(n_windows, emb_dim)``. Built backbones are
memoised per process, so the clones of every fold share one model; with
``cache_embeddings=True`` each window is forwarded once per backbone fingerprint
(:class:`~coco_pipe.foundation.cache.EmbeddingCache`).

:data:`FORWARD_COUNTER` counts the windows actually forwarded through each backbone
(by fingerprint), so tests can prove how often a backbone ran.

Examples
--------
>>> emb = BackboneEmbedder(model_key="cbramod", weights="random", sfreq=250.0,
...                        model_kwargs={"n_layer": 1, "dim_feedforward": 32, "nhead": 2})
>>> Z = emb.fit_transform(X)  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..tracking.report import FoldReport

if TYPE_CHECKING:  # pragma: no cover
    from ..data import DataInfo
    from ..decoding.configs.foundation import FoundationEmbeddingModelConfig
    from .backbones import Backbone

logger = logging.getLogger(__name__)

#: fingerprint -> number of windows forwarded through that backbone in this process.
FORWARD_COUNTER: collections.Counter = collections.Counter()

_MEMO: collections.OrderedDict[tuple, Backbone] = collections.OrderedDict()
_MEMO_MAX = 4
_MEMO_LOCK = threading.Lock()


def clear_backbone_memo() -> None:
    """Forget the process-level memo of built backbones (frees their memory)."""
    with _MEMO_LOCK:
        _MEMO.clear()


class BackboneEmbedder(TransformerMixin, BaseEstimator):
    """Frozen foundation-model embeddings as a scikit-learn transformer (no fitted state from y).

    Parameters
    ----------
    model_key : str
        Row of ``ESTIMATOR_SPECS`` (see ``list_foundation_models()``).
    backend : {"braindecode", "hugging_face"}
    weights : str
        ``"pretrained"`` (the spec's hub repository through the HF cache), ``"random"``
        (random init, warned and tagged), a hub repo id, a local directory or a
        ``.safetensors`` / ``.pt`` state-dict file.
    revision : str, optional
        Hub revision.
    pooling : {"mean", "cls", "flatten"}
    sfreq : float
        Sampling frequency of the data (Hz).
    ch_names : tuple of str, optional
        Channel names in data order (required by models that need names).
    batch_size : int
    device : str
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda[:N]"``.
    cache_embeddings : bool
        Store / reuse embeddings in the content-addressed cache.
    cache_dir : str, optional
        Cache root (default: per-user cache directory).
    model_kwargs : dict, optional
        Extra constructor arguments (e.g. smaller sizes).
    trust_remote_code : bool
        hugging_face backend only.
    progress : bool
        Progress bars (only on a TTY).

    Examples
    --------
    >>> from sklearn.base import clone
    >>> emb = BackboneEmbedder(model_key="labram", weights="random", sfreq=200.0,
    ...                        ch_names=("Fp1", "Fp2", "Cz"))
    >>> clone(emb).get_params()["model_key"]
    'labram'
    """

    def __init__(
        self,
        model_key: str = "labram",
        backend: str = "braindecode",
        weights: str = "pretrained",
        revision: str | None = None,
        pooling: str = "mean",
        sfreq: float | None = None,
        ch_names: tuple[str, ...] | None = None,
        batch_size: int = 32,
        device: str = "auto",
        cache_embeddings: bool = False,
        cache_dir: str | None = None,
        model_kwargs: dict[str, Any] | None = None,
        trust_remote_code: bool = False,
        progress: bool = True,
    ) -> None:
        self.model_key = model_key
        self.backend = backend
        self.weights = weights
        self.revision = revision
        self.pooling = pooling
        self.sfreq = sfreq
        self.ch_names = ch_names
        self.batch_size = batch_size
        self.device = device
        self.cache_embeddings = cache_embeddings
        self.cache_dir = cache_dir
        self.model_kwargs = model_kwargs
        self.trust_remote_code = trust_remote_code
        self.progress = progress

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(
        cls, cfg: FoundationEmbeddingModelConfig, info: DataInfo | None = None
    ) -> BackboneEmbedder:
        """Embedder for a :class:`FoundationEmbeddingModelConfig`, with sfreq/channels from ``info``.

        Examples
        --------
        >>> from coco_pipe.decoding.configs import FoundationEmbeddingModelConfig
        >>> cfg = FoundationEmbeddingModelConfig(model_key="cbramod", weights="random")
        >>> BackboneEmbedder.from_config(cfg).model_key
        'cbramod'
        """
        return cls(
            model_key=cfg.model_key,
            backend=cfg.backend,
            weights=cfg.weights,
            revision=cfg.revision,
            pooling=cfg.pooling,
            sfreq=info.sfreq if info is not None else None,
            ch_names=tuple(info.ch_names)
            if info is not None and info.ch_names is not None
            else None,
            batch_size=cfg.batch_size,
            device=cfg.device,
            cache_embeddings=cfg.cache_embeddings,
            cache_dir=cfg.cache_dir,
            model_kwargs=dict(cfg.model_kwargs) if cfg.model_kwargs else None,
            trust_remote_code=cfg.trust_remote_code,
        )

    def _spec(self):
        from .backbones import get_spec

        return get_spec(self.model_key)

    def _ch_names(self) -> tuple[str, ...] | None:
        return tuple(self.ch_names) if self.ch_names is not None else None

    def _check_params(self):
        from .backbones import check_pooling

        spec = self._spec()
        if self.backend not in spec.backends:
            raise ValueError(
                f"backend {self.backend!r} cannot load {self.model_key!r}; supported: {spec.backends}"
            )
        check_pooling(spec, self.pooling)
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        return spec

    def check_data_info(self, info: DataInfo) -> None:
        """Raise the clear input errors for data described by ``info`` (before any fitting).

        Checks the model key, backend, pooling, sfreq, channel names, window length
        after resampling and that the weights can be found; builds no model.
        """
        from .backbones import _weights_api, make_plan

        spec = self._check_params()
        if info.ndim != 3:
            raise ValueError(
                f"{spec.display_name} embeds windows: X must be 3-D (n_windows, n_channels, n_times), "
                f"got ndim={info.ndim}"
            )
        sfreq = self.sfreq if self.sfreq is not None else info.sfreq
        ch_names = self._ch_names() if self.ch_names is not None else info.ch_names
        make_plan(
            spec, sfreq=sfreq, ch_names=ch_names, n_channels=info.n_channels, n_times=info.n_times
        )
        resolve_weights, _, _ = _weights_api()
        resolve_weights(self.weights, spec=spec, revision=self.revision)

    def _memo_key(self, n_channels: int, n_times: int) -> tuple:
        return (
            self.model_key,
            self.backend,
            self.weights,
            self.revision,
            self.pooling,
            json.dumps(self.model_kwargs or {}, sort_keys=True, default=repr),
            bool(self.trust_remote_code),
            None if self.sfreq is None else float(self.sfreq),
            self._ch_names(),
            int(n_channels),
            int(n_times),
        )

    def _get_backbone(self, n_channels: int, n_times: int) -> Backbone:
        from .backbones import build_backbone

        key = self._memo_key(n_channels, n_times)
        with _MEMO_LOCK:
            bb = _MEMO.get(key)
            if bb is not None:
                _MEMO.move_to_end(key)
                return bb
        import torch

        # a random-init backbone is drawn from a seed of its identity, so that every process
        # (every executor backend) builds the same one
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(hashlib.sha256(repr(key).encode()).hexdigest()[:8], 16))
            bb = build_backbone(
                self.model_key,
                backend=self.backend,
                weights=self.weights,
                revision=self.revision,
                pooling=self.pooling,
                model_kwargs=self.model_kwargs,
                sfreq=self.sfreq,
                ch_names=self._ch_names(),
                n_channels=n_channels,
                n_times=n_times,
                trust_remote_code=self.trust_remote_code,
            )
        with _MEMO_LOCK:
            _MEMO[key] = bb
            while len(_MEMO) > _MEMO_MAX:
                _MEMO.popitem(last=False)
        return bb

    @staticmethod
    def _check_X(X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(f"X must be 3-D (n_windows, n_channels, n_times), got shape {X.shape}")
        return X

    # ------------------------------------------------------------------ sklearn API
    def fit(self, X: Any, y: Any = None) -> BackboneEmbedder:
        """Build (or reuse) the backbone for X's shape; learns nothing from X's values or y.

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times)
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X = self._check_X(X)
        bb = self._get_backbone(X.shape[1], X.shape[2])
        self._backbone = bb
        self.n_channels_in_ = int(X.shape[1])
        self.n_times_in_ = int(X.shape[2])
        self.emb_dim_ = int(bb.emb_dim)
        self.fingerprint_ = bb.fingerprint
        return self

    def _forward(self, bb: Backbone, windows: np.ndarray) -> np.ndarray:
        from .backbones import embed

        Z = embed(
            bb, windows, batch_size=self.batch_size, device=self.device, progress=self.progress
        )
        FORWARD_COUNTER[bb.fingerprint] += len(windows)
        return Z

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings of X.

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times)
            Windows in volts at ``sfreq``.

        Returns
        -------
        ndarray, float32, shape (n_windows, emb_dim)
        """
        X = self._check_X(X)
        bb = getattr(self, "_backbone", None)
        if bb is None or (X.shape[1], X.shape[2]) != (bb.plan.src_n_channels, bb.plan.src_n_times):
            self._check_params()
            bb = self._get_backbone(X.shape[1], X.shape[2])
            self._backbone = bb
        if not self.cache_embeddings:
            return self._forward(bb, X)
        from .cache import EmbeddingCache

        cache = EmbeddingCache(self.cache_dir)
        Z, stats = cache.get_or_compute(
            X,
            bb.fingerprint,
            lambda missing: self._forward(bb, missing),
            fingerprint_info=bb.fingerprint_info(),
            progress=self.progress,
        )
        total = getattr(self, "_cache_stats", None)
        self._cache_stats = stats if total is None else total + stats
        return Z

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``emb0 ... emb{D-1}``."""
        n = getattr(self, "emb_dim_", None)
        if n is None:
            raise ValueError("BackboneEmbedder is not fitted: call fit first")
        return np.asarray([f"emb{i}" for i in range(n)], dtype=object)

    @property
    def backbone_(self) -> Backbone:
        """The built backbone (after ``fit``)."""
        bb = getattr(self, "_backbone", None)
        if bb is None:
            raise AttributeError("BackboneEmbedder is not fitted: call fit first")
        return bb

    # ------------------------------------------------------------------ tracking
    def tracking_report(self, workdir: Path | None = None) -> FoldReport:
        """Params (``adapt.*``, ``weights.*``, ``backbone.*``), weight tags and cache counters."""
        bb = getattr(self, "_backbone", None)
        if bb is None:
            return FoldReport()
        w = bb.weights
        params: dict[str, Any] = dict(bb.plan.as_params())
        params.update(
            {
                "backbone.model_key": bb.spec.key,
                "backbone.class": type(bb.module.model).__name__,
                "backbone.fingerprint": bb.fingerprint,
                "backbone.emb_dim": bb.emb_dim,
                "backbone.pooling": bb.pooling,
                "weights.kind": getattr(w, "kind", "unknown"),
                "weights.location": getattr(w, "location", None) or "none",
                "weights.revision": getattr(w, "revision", None) or "none",
                "weights.digest": bb.weights_digest,
            }
        )
        tags = dict(w.as_tags()) if hasattr(w, "as_tags") else {}
        metrics: dict[str, float] = {}
        parent_metrics: dict[str, float] = {}
        stats = getattr(self, "_cache_stats", None)
        if self.cache_embeddings and stats is not None:
            from .cache import default_cache_dir

            metrics = {"cache.hits": float(stats.hits), "cache.misses": float(stats.misses)}
            parent_metrics = dict(metrics)
            params["backbone.cache_root"] = str(self.cache_dir or default_cache_dir())
        return FoldReport(params=params, metrics=metrics, tags=tags, parent_metrics=parent_metrics)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.target_tags.required = False
        tags.input_tags.three_d_array = True
        tags.input_tags.two_d_array = False
        return tags


__all__ = ["BackboneEmbedder", "FORWARD_COUNTER", "clear_backbone_memo"]
