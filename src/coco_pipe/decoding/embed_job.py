"""``coco-pipe embed``: fill the embedding cache for an experiment's data before running it.

Each backbone embeds every window once into the content-addressed cache
(:class:`~coco_pipe.foundation.cache.EmbeddingCache`). The windows are validated exactly as
:meth:`Experiment.run <coco_pipe.decoding.experiment.Experiment.run>` validates them, and
the backbones are the config's own (``frozen_backbone`` models), so the experiment's folds
then find every embedding in the cache (same window bytes, same backbone fingerprint).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..data import validate_inputs
from .configs import ExperimentConfig, FoundationEmbeddingModelConfig


@dataclass
class EmbedReport:
    """What one backbone put in the cache."""

    model: str
    model_key: str
    fingerprint: str
    n_windows: int
    emb_dim: int
    hits: int
    misses: int
    cache_dir: str
    seconds: float

    def line(self) -> str:
        """One line for the console."""
        return (
            f"{self.model}: {self.model_key} fingerprint {self.fingerprint[:16]}, "
            f"{self.n_windows} windows -> {self.emb_dim}-d embeddings ({self.misses} computed, "
            f"{self.hits} already cached) in {self.seconds:.1f} s; cache {self.cache_dir}"
        )


def job_backbones(cfg: ExperimentConfig, model_key: str | None = None,
                  weights: str = "pretrained") -> dict[str, FoundationEmbeddingModelConfig]:  # fmt: skip
    """The backbones to embed with: ``model_key`` (with ``weights``) if given, else the
    backbone of every ``frozen_backbone`` model of ``cfg``.

    Examples
    --------
    >>> cfg = ExperimentConfig(models={"lr": {"estimator": "LogisticRegression"}})
    >>> list(job_backbones(cfg, "cbramod", weights="random"))
    ['cbramod']
    """
    if model_key:
        return {model_key: FoundationEmbeddingModelConfig(model_key=model_key, weights=weights)}
    found = {name: m.backbone for name, m in cfg.models.items() if m.kind == "frozen_backbone"}
    if not found:
        raise ValueError(
            "the config has no frozen_backbone model to embed for; name a backbone with "
            "--model-key (e.g. --model-key cbramod --weights pretrained)"
        )
    return found


def fill_cache(cfg: ExperimentConfig, X: Any, y: Any = None, sample_metadata=None, *,
               backbones: dict[str, FoundationEmbeddingModelConfig], sfreq: float | None = None,
               ch_names: list[str] | None = None, cache_dir: str | None = None,
               batch_size: int | None = None) -> list[EmbedReport]:  # fmt: skip
    """Embed every window of the data with each backbone into the cache; return what each did.

    Parameters
    ----------
    cfg : ExperimentConfig
        Its task and group key validate the data as the experiment does.
    X, y, sample_metadata, sfreq, ch_names
        As for ``Experiment.run``.
    backbones : dict
        Name -> backbone config (see :func:`job_backbones`).
    cache_dir : str, optional
        Cache root (default: each backbone's ``cache_dir``, else the per-user cache).
    batch_size : int, optional
        Windows per forward batch (default: each backbone's).

    Examples
    --------
    >>> reports = fill_cache(cfg, X, y, meta, backbones=job_backbones(cfg))  # doctest: +SKIP
    >>> print(reports[0].line())                                             # doctest: +SKIP
    """
    from ..foundation.cache import default_cache_dir
    from ..foundation.embedder import BackboneEmbedder

    data = validate_inputs(X, y, sample_metadata, task=cfg.task, group_key=cfg.cv.group_key,
                           sfreq=sfreq, ch_names=ch_names)  # fmt: skip
    reports = []
    for name, backbone in backbones.items():
        update: dict[str, Any] = {"cache_embeddings": True}
        if cache_dir:
            update["cache_dir"] = cache_dir
        if batch_size:
            update["batch_size"] = int(batch_size)
        backbone = backbone.model_copy(update=update)
        t0 = time.perf_counter()
        embedder = BackboneEmbedder.from_config(backbone, info=data.info, random_state=cfg.random_state).set_params(progress=True)
        Z = embedder.fit(data.X).transform(data.X)
        counts = embedder.tracking_report().metrics
        reports.append(EmbedReport(
            name, backbone.model_key, embedder.fingerprint_, len(Z), int(Z.shape[1]),
            int(counts.get("cache.hits", 0)), int(counts.get("cache.misses", 0)),
            str(backbone.cache_dir or default_cache_dir()), time.perf_counter() - t0,
        ))  # fmt: skip
    return reports


__all__ = ["EmbedReport", "fill_cache", "job_backbones"]
