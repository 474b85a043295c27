"""Load a model folder written by :mod:`.write`, safely: files are checked against the
manifest (and, when the caller has them, against the digests recorded in the tracking store)
before anything is read; every value read back passes :mod:`.trust`; weights come only from
safetensors files inside the folder or the sources :func:`.trust.check_neural_meta` allows."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...data.units import AmplitudeWarning
from .files import UnsafeModelError, check_name, inside, read_json, verify_folder
from .trust import (
    check_classes,
    check_embedder,
    check_input,
    check_neural_meta,
    trusted_skops_types,
)
from .write import FORMAT, KINDS, MANIFEST


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The validated manifest of a model folder, after checking the folder holds exactly
    the files it lists with their digests."""
    folder = Path(folder)
    what = f"model folder {folder}"
    raw = read_json(inside(folder, MANIFEST, what), what)
    if raw.get("format") != FORMAT:
        raise UnsafeModelError(f"{what}: format {raw.get('format')!r}, expected {FORMAT!r}")
    if raw.get("kind") not in KINDS:
        raise UnsafeModelError(f"{what}: kind {raw.get('kind')!r} is not one of {KINDS}")
    if raw.get("task") not in ("classification", "regression"):
        raise UnsafeModelError(f"{what}: task {raw.get('task')!r} is not known")
    files = raw.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise UnsafeModelError(f"{what}: manifest 'files' must map names to SHA-256 digests")
    for name in files:
        check_name(name, f"{what} manifest")
    verify_folder(folder, {**files, MANIFEST: _sha(folder / MANIFEST)}, what)
    outputs = raw.get("outputs")
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise UnsafeModelError(f"{what}: manifest 'outputs' must be a list of column names")
    return {
        "kind": raw["kind"], "task": raw["task"], "files": dict(files), "outputs": list(outputs),
        "classes": check_classes(raw.get("classes"), f"{what} classes"),
        "input": check_input(raw.get("input"), f"{what} input"),
        "skops_types": trusted_skops_types(raw.get("skops_types") or [], what),
    }  # fmt: skip


def _sha(path: Path) -> str:
    from .files import sha256_file

    return sha256_file(path)


def _load_skops(path: Path, allowed: list[str], what: str):
    import skops.io as sio

    found = trusted_skops_types(sio.get_untrusted_types(file=path), what)
    extra = sorted(set(found) - set(allowed))
    if extra:
        raise UnsafeModelError(f"{what}: {path.name} holds types the manifest does not list: {extra}")
    return sio.load(path, trusted=found)


def _load_backbone_pipeline(folder: Path, manifest: dict, what: str, device: str | None):
    from sklearn.pipeline import Pipeline

    from ...foundation.embedder import BackboneEmbedder

    info = check_embedder(read_json(inside(folder, "embedder.json", what), what), f"{what} embedder")
    shape = manifest["input"]
    embedder = BackboneEmbedder(
        model_key=info["model_key"], backend="braindecode",
        weights=str(inside(folder, "backbone.safetensors", what)), pooling=info["pooling"],
        sfreq=shape["sfreq"], ch_names=tuple(shape["ch_names"]) if shape["ch_names"] else None,
        batch_size=info["batch_size"], device=device or "auto", cache_embeddings=False,
        model_kwargs=info["model_kwargs"] or None, trust_remote_code=False, progress=False,
        unit=info["unit"],
    )  # fmt: skip
    with warnings.catch_warnings():  # the shape probe is all zeros: no amplitude to check
        warnings.filterwarnings("ignore", category=AmplitudeWarning)
        embedder.fit(np.zeros((1, shape["n_channels"], shape["n_times"]), dtype=np.float32))
    if embedder.backbone_.weights_digest != info["weights_digest"]:
        raise UnsafeModelError(
            f"{what}: the backbone weights have digest {embedder.backbone_.weights_digest}, the "
            f"model was logged with {info['weights_digest']}"
        )
    head = _load_skops(inside(folder, "head.skops", what), manifest["skops_types"], what)
    steps = head.steps if isinstance(head, Pipeline) else [("estimator", head)]
    return Pipeline([("embed", embedder), *steps])


def _check_adapter_config(path: Path, what: str) -> None:
    cfg = read_json(path, what)
    ok = (
        isinstance(cfg.get("r"), int) and isinstance(cfg.get("lora_alpha"), int | float)
        and isinstance(cfg.get("lora_dropout"), int | float)
        and isinstance(cfg.get("target_modules"), list)
        and all(isinstance(t, str) and t.replace(".", "_").isidentifier() for t in cfg["target_modules"])
        and cfg.get("bias", "none") in ("none", "all", "lora_only")
    )  # fmt: skip
    if not ok:
        raise UnsafeModelError(f"{what}: adapter_config.json has unexpected values: refused")


def _load_neural(folder: Path, what: str, device: str | None, weights: str | None):
    from ...foundation.neural import MODEL_FILE, NeuralDecoder

    src = inside(folder, "neural", what)
    meta = check_neural_meta(read_json(inside(src, MODEL_FILE, what), what), f"{what} neural",
                             weights=weights)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="coco-pipe-load-") as tmp:
        for name in meta["files"].values():  # only the listed files travel, by plain name
            if name == "adapter_config.json":
                _check_adapter_config(inside(src, name, what), what)
            shutil.copyfile(inside(src, name, what), Path(tmp) / name)
        (Path(tmp) / MODEL_FILE).write_text(json.dumps(meta))
        return NeuralDecoder.load(tmp, device=device)


def load_model_folder(folder: str | Path, *, expected_files: dict[str, str] | None = None,
                      device: str | None = None, weights: str | None = None):  # fmt: skip
    """The coco-pipe estimator stored in ``folder`` (the ``coco_pipe`` data folder of a logged
    MLflow Model), and its manifest.

    Parameters
    ----------
    folder : path-like
    expected_files : dict, optional
        ``{name: sha256}`` recorded in the tracking store when the model was logged; the
        folder must match it exactly (checked first).
    device : str, optional
        ``cpu`` / ``cuda`` for neural models and backbones (default: as trained / auto).
    weights : str, optional
        A weights source *you* trust for a neural model trained from weights outside the
        folder (a local checkpoint, another hub repository).

    Returns
    -------
    (estimator, manifest)

    Raises
    ------
    UnsafeModelError
        The folder differs from what was logged, or asks for something the loader refuses.

    Examples
    --------
    >>> est, manifest = load_model_folder("model/data/coco_pipe")  # doctest: +SKIP
    """
    folder = Path(folder)
    what = f"model folder {folder}"
    if expected_files is not None:
        verify_folder(folder, expected_files, what)
    manifest = read_manifest(folder)
    if manifest["kind"] == "neural":
        estimator = _load_neural(folder, what, device, weights)
    elif manifest["kind"] == "backbone_pipeline":
        estimator = _load_backbone_pipeline(folder, manifest, what, device)
    else:
        estimator = _load_skops(inside(folder, "estimator.skops", what), manifest["skops_types"], what)
    return estimator, manifest


__all__ = ["load_model_folder", "read_manifest"]
