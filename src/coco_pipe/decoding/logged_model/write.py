"""Write a fitted estimator into a model folder that :mod:`.read` loads back safely.

Three layouts, told apart by what the estimator is (never by a model key):

``sklearn``
    any scikit-learn estimator or pipeline (classical models, CSP, Riemannian pipelines):
    ``estimator.skops`` (skops, no pickle).
``backbone_pipeline``
    a pipeline whose first step is a fitted :class:`~coco_pipe.foundation.embedder.BackboneEmbedder`:
    ``backbone.safetensors`` (the backbone's weights, whatever their source), ``embedder.json``
    (model key, pooling, architecture arguments, weights digest) and ``head.skops`` (the
    steps after it).
``neural``
    a fitted :class:`~coco_pipe.foundation.neural.NeuralDecoder`: its own ``save`` folder
    under ``neural/`` (safetensors weights, peft adapter, ``coco_pipe_model.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .files import folder_digests
from .trust import trusted_skops_types

MANIFEST = "manifest.json"
FORMAT = "coco-pipe-logged-model/1"
KINDS = ("sklearn", "backbone_pipeline", "neural")


def model_kind(estimator: Any) -> str:
    """Which layout stores ``estimator`` (see the module docstring).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> model_kind(LogisticRegression())
    'sklearn'
    """
    neural = sys.modules.get("coco_pipe.foundation.neural")  # never imported here for nothing
    if neural is not None and isinstance(estimator, neural.NeuralDecoder):
        return "neural"
    steps = getattr(estimator, "steps", None)
    embedder = sys.modules.get("coco_pipe.foundation.embedder")
    if steps and embedder is not None and isinstance(steps[0][1], embedder.BackboneEmbedder):
        return "backbone_pipeline"
    return "sklearn"


def _dump_skops(obj: Any, path: Path) -> list[str]:
    import skops.io as sio

    sio.dump(obj, path)
    return trusted_skops_types(sio.get_untrusted_types(file=path), f"writing {path.name}")


def _write_backbone_pipeline(estimator, folder: Path) -> dict[str, Any]:
    from safetensors.torch import save_file
    from sklearn.pipeline import Pipeline

    embedder = estimator.steps[0][1]
    bb = embedder.backbone_
    state = {k: v.detach().cpu().contiguous().clone() for k, v in bb.module.model.state_dict().items()}
    save_file(state, str(folder / "backbone.safetensors"))
    info = {
        "model_key": bb.spec.key, "pooling": bb.pooling, "weights_digest": bb.weights_digest,
        "batch_size": int(embedder.batch_size), "model_kwargs": dict(bb.model_kwargs or {}),
        "emb_dim": int(bb.emb_dim), "fingerprint": bb.fingerprint,
        "unit": str(getattr(embedder, "unit", "V")),
        "trained_with": {"backend": embedder.backend, "weights": str(embedder.weights),
                         "revision": embedder.revision},
    }  # fmt: skip
    (folder / "embedder.json").write_text(json.dumps(info, indent=2, default=str))
    rest = estimator.steps[1:]
    head = rest[0][1] if len(rest) == 1 else Pipeline(rest)
    return {"skops_types": _dump_skops(head, folder / "head.skops")}


def write_model_files(estimator: Any, folder: str | Path, *, input_info: dict[str, Any],
                      task: str, classes: list | None, outputs: list[str],
                      source: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Write ``estimator`` and ``manifest.json`` into the new folder ``folder``; return the
    manifest (its ``files`` map every other file of the folder to its SHA-256).

    Raises
    ------
    UnsafeModelError
        When the estimator holds a type the loader would refuse (see :mod:`.trust`).

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> est = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    >>> m = write_model_files(est, tempfile.mkdtemp() + "/m", input_info={"n_channels": 4,
    ...     "n_times": 1, "sfreq": None, "ch_names": None}, task="classification",
    ...     classes=[0, 1], outputs=["y_pred", "proba_0", "proba_1"])
    >>> m["kind"], sorted(m["files"])
    ('sklearn', ['estimator.skops'])
    """
    folder = Path(folder)
    folder.mkdir(parents=True)
    kind = model_kind(estimator)
    extra: dict[str, Any] = {}
    if kind == "neural":
        estimator.save(folder / "neural")
    elif kind == "backbone_pipeline":
        extra = _write_backbone_pipeline(estimator, folder)
    else:
        extra = {"skops_types": _dump_skops(estimator, folder / "estimator.skops")}
    manifest = {
        "format": FORMAT, "kind": kind, "task": task, "classes": classes, "input": input_info,
        "outputs": list(outputs), **extra, "source": source or {},
        "files": folder_digests(folder),
    }  # fmt: skip
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


__all__ = ["FORMAT", "KINDS", "MANIFEST", "model_kind", "write_model_files"]
