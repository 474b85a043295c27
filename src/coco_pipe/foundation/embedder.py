"""BackboneEmbedder: a frozen foundation model as a stateless scikit-learn transformer.

``fit`` learns nothing from the data or the labels: it only builds (or reuses) the
backbone for the data's shape, sfreq and channels. ``transform`` adapts each window
(:mod:`~coco_pipe.foundation.adaptation`), forwards it without
gradients and returns pooled embeddings ``(n_windows, emb_dim)``; it changes nothing on
the estimator, and works unfitted too (``requires_fit=False``). ``X`` may be an
``mne.Epochs`` (its sfreq and channel names are used when the embedder's are None).
Built backbones are memoised per process, so the clones of every fold share one model;
with ``cache_embeddings=True`` each window is forwarded once per backbone fingerprint
(:class:`~coco_pipe.foundation.cache.EmbeddingCache`).

The cache counters of a fold (``cache.hits`` / ``cache.misses``) and the windows it
embedded are kept beside the estimator, not on it (a process-wide table keyed by the
estimator object, dropped with it); :meth:`BackboneEmbedder.tracking_report` reads them
and lists the cache manifest and the embeddings used as deferred parent artifacts.

``weights="random"`` builds the backbone under ``random_state`` (the experiment's), so the
same config gives the same weights, digest and cache keys in every run. ``fit`` checks
the amplitude of the windows against the declared ``unit`` (warns and tags the fold when
they do not look like EEG in that unit, see :func:`coco_pipe.data.units.check_amplitude`).

Examples
--------
>>> emb = BackboneEmbedder(model_key="cbramod", weights="random", sfreq=250.0,
...                        model_kwargs={"n_layer": 1, "dim_feedforward": 32, "nhead": 2})
>>> Z = emb.fit_transform(X)  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

from ..data import as_windows
from ..data.units import AmplitudeCheck, check_amplitude, warn_if_implausible
from ..tracking.report import FoldReport

if TYPE_CHECKING:  # pragma: no cover
    from ..data import DataInfo
    from ..decoding.configs.foundation import FoundationEmbeddingModelConfig
    from .architecture import Backbone
    from .cache import CacheStats

logger = logging.getLogger(__name__)

_MEMO: collections.OrderedDict[tuple, Backbone] = collections.OrderedDict()
_MEMO_MAX = 4
_MEMO_LOCK = threading.Lock()


@dataclass
class _CacheUse:
    """What the cached transforms of one embedder did: counters, and the windows embedded
    under each (cache root, fingerprint)."""

    stats: CacheStats | None = None
    digests: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    amplitude: AmplitudeCheck | None = None


# estimator -> its _CacheUse; telemetry beside the estimator, never its fitted state
_CACHE_USE: weakref.WeakKeyDictionary[BackboneEmbedder, _CacheUse] = weakref.WeakKeyDictionary()
_CACHE_USE_LOCK = threading.Lock()


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
    random_state : int, optional
        Seed the backbone is constructed under (what ``weights="random"`` gives; the
        experiment passes its ``random_state``). None: torch's global random state.
    allow_partial_weights : bool
        Accept a checkpoint that leaves backbone tensors freshly initialised (listed in
        the load report); by default that is an error listing them.
    unit : str
        Unit of the windows: ``"V"`` (default), ``"mV"``, ``"uV"``, ``"nV"``.

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
        random_state: int | None = None,
        allow_partial_weights: bool = False,
        unit: str = "V",
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
        self.random_state = random_state
        self.allow_partial_weights = allow_partial_weights
        self.unit = unit

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_config(
        cls,
        cfg: FoundationEmbeddingModelConfig,
        info: DataInfo | None = None,
        random_state: int | None = None,
    ) -> BackboneEmbedder:
        """Embedder for a :class:`FoundationEmbeddingModelConfig`, with sfreq, channels and
        unit from ``info`` and the experiment's ``random_state``.

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
            random_state=random_state,
            allow_partial_weights=cfg.allow_partial_weights,
            unit=getattr(info, "unit", "V") if info is not None else "V",
        )

    def _spec(self):
        from .architecture import get_spec

        return get_spec(self.model_key)

    def _check_params(self):
        from .architecture import check_pooling

        spec = self._spec()
        if self.backend not in spec.backends:
            raise ValueError(
                f"backend {self.backend!r} cannot load {self.model_key!r}; supported: {spec.backends}"
            )
        check_pooling(spec, self.pooling)
        if not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        return spec

    def _signal(self, sfreq: float | None, ch_names) -> tuple[float | None, tuple[str, ...] | None]:
        """The sfreq and channel names used: the embedder's own, else the data's."""
        sfreq = self.sfreq if self.sfreq is not None else sfreq
        names = self.ch_names if self.ch_names is not None else ch_names
        return sfreq, (tuple(names) if names is not None else None)

    def check_data_info(self, info: DataInfo) -> None:
        """Raise the clear input errors for data described by ``info`` (before any fitting).

        Checks the model key, backend, pooling, sfreq, channel names, window length
        after resampling and that the weights can be found; builds no model.
        """
        from .architecture import make_plan
        from .weights import resolve_weights

        spec = self._check_params()
        if info.ndim != 3:
            raise ValueError(
                f"{spec.display_name} embeds windows: X must be 3-D (n_windows, n_channels, n_times), "
                f"got ndim={info.ndim}"
            )
        sfreq, ch_names = self._signal(info.sfreq, info.ch_names)
        make_plan(
            spec, sfreq=sfreq, ch_names=ch_names, n_channels=info.n_channels, n_times=info.n_times,
            unit=self.unit,
        )  # fmt: skip
        resolve_weights(self.weights, spec=spec, revision=self.revision)

    def _memo_key(self, sfreq, ch_names, n_channels: int, n_times: int) -> tuple:
        return (
            self.model_key,
            self.backend,
            self.weights,
            self.revision,
            self.pooling,
            json.dumps(self.model_kwargs or {}, sort_keys=True, default=repr),
            bool(self.trust_remote_code),
            self.random_state,
            bool(self.allow_partial_weights),
            self.unit,
            None if sfreq is None else float(sfreq),
            ch_names,
            int(n_channels),
            int(n_times),
        )

    def _get_backbone(self, sfreq, ch_names, n_channels: int, n_times: int) -> Backbone:
        from .backbones import build_backbone

        key = self._memo_key(sfreq, ch_names, n_channels, n_times)
        with _MEMO_LOCK:
            bb = _MEMO.get(key)
            if bb is not None:
                _MEMO.move_to_end(key)
                return bb
        bb = build_backbone(
            self.model_key,
            backend=self.backend,
            weights=self.weights,
            revision=self.revision,
            pooling=self.pooling,
            model_kwargs=self.model_kwargs,
            sfreq=sfreq,
            ch_names=ch_names,
            n_channels=n_channels,
            n_times=n_times,
            trust_remote_code=self.trust_remote_code,
            seed=self.random_state,
            allow_partial_weights=self.allow_partial_weights,
            unit=self.unit,
        )
        with _MEMO_LOCK:
            _MEMO[key] = bb
            while len(_MEMO) > _MEMO_MAX:
                _MEMO.popitem(last=False)
        return bb

    def _windows(self, X: Any) -> tuple[np.ndarray, float | None, tuple[str, ...] | None]:
        w = as_windows(X)
        if w.X.ndim != 3:
            raise ValueError(
                f"X must be 3-D (n_windows, n_channels, n_times), got shape {w.X.shape}"
            )
        sfreq, ch_names = self._signal(w.sfreq, w.ch_names)
        return w.X, sfreq, ch_names

    def _backbone_for(self, X: np.ndarray, sfreq, ch_names) -> Backbone:
        """The fitted backbone when it was built for this input (an input without sfreq or
        channel names takes the fitted ones), else the memoised one for the input."""
        bb = getattr(self, "_backbone", None)
        if bb is not None:
            plan = bb.plan
            if (
                (X.shape[1], X.shape[2]) == (plan.src_n_channels, plan.src_n_times)
                and (sfreq is None or float(sfreq) == plan.src_sfreq)
                and (ch_names is None or ch_names == plan.src_ch_names)
            ):
                return bb
        self._check_params()
        return self._get_backbone(sfreq, ch_names, X.shape[1], X.shape[2])

    # ------------------------------------------------------------------ sklearn API
    def fit(self, X: Any, y: Any = None) -> BackboneEmbedder:
        """Build (or reuse) the backbone for X's shape; learns nothing from X's values or y.

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times), or mne.Epochs
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        X, sfreq, ch_names = self._windows(X)
        bb = self._get_backbone(sfreq, ch_names, X.shape[1], X.shape[2])
        if len(X):
            amplitude = check_amplitude(X, self.unit)
            warn_if_implausible(amplitude, f"BackboneEmbedder({self.model_key})")
            with _CACHE_USE_LOCK:
                _CACHE_USE.setdefault(self, _CacheUse()).amplitude = amplitude
        self._backbone = bb
        self.n_channels_in_ = int(X.shape[1])
        self.n_times_in_ = int(X.shape[2])
        self.emb_dim_ = int(bb.emb_dim)
        self.fingerprint_ = bb.fingerprint
        return self

    def _forward(self, bb: Backbone, windows: np.ndarray) -> np.ndarray:
        from .backbones import embed

        return embed(
            bb, windows, batch_size=self.batch_size, device=self.device, progress=self.progress
        )

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings of X; the estimator is left unchanged (fitted or not).

        Parameters
        ----------
        X : ndarray, shape (n_windows, n_channels, n_times), or mne.Epochs
            Windows in volts at ``sfreq``.

        Returns
        -------
        ndarray, float32, shape (n_windows, emb_dim)
        """
        X, sfreq, ch_names = self._windows(X)
        bb = self._backbone_for(X, sfreq, ch_names)
        if not self.cache_embeddings:
            return self._forward(bb, X)
        from .cache import EmbeddingCache, window_digests

        cache = EmbeddingCache(self.cache_dir)
        digests = window_digests(X)
        Z, stats = cache.get_or_compute(
            X,
            bb.fingerprint,
            lambda missing: self._forward(bb, missing),
            fingerprint_info=bb.fingerprint_info(),
            progress=self.progress,
            digests=digests,
        )
        with _CACHE_USE_LOCK:
            use = _CACHE_USE.setdefault(self, _CacheUse())
            use.stats = stats if use.stats is None else use.stats + stats
            use.digests.setdefault((str(cache.root), bb.fingerprint), set()).update(
                digests.tolist()
            )
        return Z

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``emb0 ... emb{D-1}``."""
        n = getattr(self, "emb_dim_", None)
        if n is None:
            raise NotFittedError("BackboneEmbedder is not fitted: call fit first")
        return np.asarray([f"emb{i}" for i in range(n)], dtype=object)

    @property
    def backbone_(self) -> Backbone:
        """The built backbone (after ``fit``)."""
        bb = getattr(self, "_backbone", None)
        if bb is None:
            raise NotFittedError("BackboneEmbedder is not fitted: call fit first")
        return bb

    # ------------------------------------------------------------------ tracking
    def tracking_report(self, workdir: Path | None = None) -> FoldReport:
        """Params (``adapt.*``, ``weights.*``, ``backbone.*``), weight tags and cache counters.

        The backbone's load report is the artifact ``weights/load_report.json`` (written
        into ``workdir``) and the params ``weights.n_loaded`` / ``weights.n_fresh`` /
        ``weights.n_ignored`` / ``weights.layout``; the amplitude check of ``fit`` gives
        the tags ``data.unit`` / ``data.amplitude`` and the param
        ``data.robust_amplitude_volts``; the tag ``backbone.license`` is the weights' licence.
        With the cache: ``cache.hits`` / ``cache.misses`` of the transforms so far (fold
        metrics, and summed on the parent), and, as deferred parent artifacts, the cache
        manifest of the fingerprints used and the embeddings of the windows embedded
        (the latter size-capped).
        """
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
        tags["backbone.license"] = bb.spec.license
        artifacts: list[tuple[str, Path]] = []
        if bb.load_report is not None:
            params.update(bb.load_report.as_params())
            if workdir is not None:
                path = bb.load_report.write(Path(workdir) / "load_report.json")
                artifacts.append(("weights", path))
        with _CACHE_USE_LOCK:
            use = _CACHE_USE.get(self)
            stats = use.stats if use is not None else None
            used = {k: frozenset(v) for k, v in use.digests.items()} if use is not None else {}
            amplitude = use.amplitude if use is not None else None
        if amplitude is not None:
            tags.update(amplitude.as_tags())
            params.update(amplitude.as_params())
        if not self.cache_embeddings or stats is None:
            return FoldReport(params=params, tags=tags, artifacts=artifacts)
        from .cache import CacheManifest, EmbeddingsExport, default_cache_dir

        params["backbone.cache_root"] = str(self.cache_dir or default_cache_dir())
        metrics = {"cache.hits": float(stats.hits), "cache.misses": float(stats.misses)}
        deferred: list[Any] = [CacheManifest(frozenset(used))]
        deferred += [EmbeddingsExport(root, fp, digests) for (root, fp), digests in used.items()]
        return FoldReport(
            params=params,
            metrics=metrics,
            tags=tags,
            artifacts=artifacts,
            parent_metrics=dict(metrics),
            deferred_parent_artifacts=deferred,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.target_tags.required = False
        tags.input_tags.three_d_array = True
        tags.input_tags.two_d_array = False
        return tags


__all__ = ["BackboneEmbedder", "clear_backbone_memo"]
