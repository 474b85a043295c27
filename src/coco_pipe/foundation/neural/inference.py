"""Forward passes of a built network without gradients: batched outputs, and the frozen
backbone's embeddings (precomputed once, through the disk cache when asked).

Nothing here touches the estimator: the functions take the network and return arrays
(and cache counters), so ``predict`` leaves fitted state alone.

Examples
--------
>>> import numpy as np, torch
>>> out = forward_batches(torch.nn.Linear(3, 2), np.zeros((5, 3), np.float32),
...                       device=torch.device("cpu"), precision="fp32", batch_size=2)
>>> out.shape
(5, 2)
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import torch

from ..placement import inference_autocast
from ..training import batch_slices

__all__ = ["forward_batches", "frozen_embeddings"]


def forward_batches(module, inputs: np.ndarray, *, device, precision: str, batch_size: int,
                    width: int | None = None) -> np.ndarray:  # fmt: skip
    """``module`` on ``inputs`` in batches (eval mode, no gradients, the training
    precision), as float32 on the CPU; ``width`` shapes the result of empty inputs."""
    was_training = module.training
    module.eval()
    out = []
    try:
        with torch.no_grad():
            for sl in batch_slices(len(inputs), batch_size):
                with inference_autocast(device, precision):
                    out.append(module(torch.from_numpy(inputs[sl]).to(device)).float().cpu())
    finally:
        module.train(was_training)
    if not out:
        return np.zeros((0, width or 0), np.float32)
    return torch.cat(out).numpy()


def frozen_embeddings(network, source, X: np.ndarray, *, device, precision: str, batch_size: int,
                      cache: bool, cache_dir: str | None) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    """The frozen backbone's embeddings of raw windows ``X`` and the disk-cache counters.

    With ``cache`` the embeddings go through the content-addressed
    :class:`~coco_pipe.foundation.cache.EmbeddingCache` at ``cache_dir`` (None: the
    per-user default); mixed-precision embeddings are other numbers, so the precision
    joins the backbone fingerprint.
    """

    def compute(windows: np.ndarray) -> np.ndarray:
        adapted = source.adapter.apply(np.asarray(windows, np.float32))
        return forward_batches(network.backbone, adapted, device=device, precision=precision,
                               batch_size=batch_size, width=source.emb_dim)  # fmt: skip

    if not cache or source.fingerprint is None:
        return compute(X), {}
    from ..cache import EmbeddingCache

    fingerprint = str(source.fingerprint)
    if precision != "fp32":
        fingerprint = hashlib.sha256(f"{fingerprint}|autocast={precision}".encode()).hexdigest()
    emb, stats = EmbeddingCache(cache_dir).get_or_compute(X, fingerprint, compute)
    counters = dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else dict(stats or {})
    counters = {k: v for k, v in counters.items() if isinstance(v, int | float)}
    return np.asarray(emb, dtype=np.float32), counters
