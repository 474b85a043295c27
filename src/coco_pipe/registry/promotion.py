"""Model registry: promote a fold's adapter or checkpoint, load it back as a decoder."""

from __future__ import annotations

import logging
import warnings

from ..foundation.specs import licence_note
from ..tracking.client import FOLD_TAG, MODEL_TAG, resolve_tracking_uri
from ..tracking.store import RunStore

logger = logging.getLogger(__name__)

MODEL_FILE = "coco_pipe_model.json"
PROMOTABLE_TYPES = ("adapter", "checkpoints")


def _fold_runs(store: RunStore, run_id: str, model: str) -> list:
    runs = [r for r in store.fold_runs(run_id) if r.data.tags.get(MODEL_TAG) == model]
    if not runs:
        known = sorted({r.data.tags.get(MODEL_TAG) for r in store.fold_runs(run_id)})
        raise ValueError(f"model {model!r} has no fold runs under run {run_id}; models: {known}")
    return runs


def _pick_fold(store: RunStore, run_id: str, model: str, fold: str | int):
    parent = store.get_run(run_id)
    metric = (parent.data.tags.get("coco_pipe.metrics") or "balanced_accuracy").split(",")[0]
    runs = [r for r in _fold_runs(store, run_id, model) if r.info.status == "FINISHED"]
    if not runs:
        raise ValueError(f"model {model!r} has no successful fold under run {run_id}")
    if str(fold) == "best":
        from ..decoding.metrics import METRICS

        greater = METRICS[metric].greater_is_better if metric in METRICS else True
        scored = [r for r in runs if metric in r.data.metrics]
        if not scored:
            raise ValueError(f"no fold of {model!r} has metric {metric!r}")
        best = (max if greater else min)(scored, key=lambda r: r.data.metrics[metric])
        return best, metric
    k = int(fold)
    for r in runs:
        if int(r.data.tags.get(FOLD_TAG, -1)) == k:
            return r, metric
    raise ValueError(f"fold {k} of model {model!r} not found (or failed) under run {run_id}")


def _model_folder(store: RunStore, run) -> str:
    for path in store.list_artifacts(run.info.run_id):
        parts = path.split("/")
        if parts[0] in PROMOTABLE_TYPES and parts[-1] == MODEL_FILE:
            return "/".join(parts[:-1])
    raise ValueError(
        f"fold run {run.info.run_id} has no adapter or checkpoint folder to promote "
        f"(neural models with checkpoints.save != 'none' log one)"
    )


def promote(run_id: str, *, model: str, fold: str | int = "best", name: str, alias: str | None = "champion",
            tracking_uri: str | None = None):
    """Register a fold's adapter (lora/qlora) or checkpoint (frozen/full) as a model version.

    Parameters
    ----------
    run_id : str
        Parent run id of the experiment.
    model : str
        Model name in the experiment config.
    fold : "best" or int
        The fold whose artifact is promoted; ``best`` by the experiment's first metric.
    name : str
        Registered model name.
    alias : str, optional
        Alias to point at the new version (e.g. ``champion``).

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion

    Examples
    --------
    >>> promote(run_id, model="cbramod_lora", name="mi-decoder", alias="champion")  # doctest: +SKIP
    >>> load_promoted("models:/mi-decoder@champion").predict(X_new)                 # doctest: +SKIP
    """
    store = RunStore(tracking_uri)
    client = store.client
    fold_run, metric = _pick_fold(store, run_id, model, fold)
    folder = _model_folder(store, fold_run)
    parent = store.get_run(run_id)
    tags = {
        "coco_pipe.source_run": fold_run.info.run_id,
        "coco_pipe.parent_run": run_id,
        "coco_pipe.model": model,
        "coco_pipe.fold": fold_run.data.tags.get(FOLD_TAG, ""),
        "coco_pipe.metric": metric,
        "coco_pipe.metric_value": str(fold_run.data.metrics.get(metric, "")),
        "coco_pipe.weights_source": fold_run.data.params.get("weights.source", fold_run.data.tags.get("weights.source", "")),
        "coco_pipe.data_fingerprint": parent.data.tags.get("coco_pipe.data_fingerprint", ""),
        "coco_pipe.train_mode": fold_run.data.params.get("neural.train_mode", ""),
        "coco_pipe.artifact": folder,
        "coco_pipe.license": fold_run.data.tags.get("backbone.license", ""),
    }
    key = fold_run.data.params.get("model.model_key") or fold_run.data.params.get("backbone.model_key", "")
    note = licence_note(key)
    if note:
        warnings.warn(f"promoting {model!r} as {name!r}: {note}", UserWarning, stacklevel=2)
    try:
        client.get_registered_model(name)
    except Exception:
        client.create_registered_model(name, description="coco-pipe decoder promoted from a fold run")
    source = store.artifact_uri(fold_run, folder)
    version = client.create_model_version(name, source=source, run_id=fold_run.info.run_id, tags=tags,
                                          description=f"Licence: {note}" if note else None)
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    logger.info("registered %s version %s from %s", name, version.version, source)
    return version


def load_promoted(model_uri: str, tracking_uri: str | None = None, *, device: str | None = None):
    """Load a promoted decoder (``models:/NAME@alias`` or ``models:/NAME/VERSION``) as a ready
    :class:`~coco_pipe.foundation.neural.NeuralDecoder` with the same input
    adaptation as in training.

    Examples
    --------
    >>> clf = load_promoted("models:/mi-decoder@champion")  # doctest: +SKIP
    >>> clf.predict(epochs.get_data())                     # doctest: +SKIP
    """
    uri = resolve_tracking_uri(tracking_uri)
    if not model_uri.startswith("models:/"):
        raise ValueError(f"model_uri must look like 'models:/NAME@alias' or 'models:/NAME/VERSION', got {model_uri!r}")
    ref = model_uri[len("models:/"):]
    store = RunStore(uri)
    client = store.client
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            version = client.get_model_version_by_alias(name, alias)
        elif "/" in ref:
            name, number = ref.split("/", 1)
            version = client.get_model_version(name, number)
        else:
            raise ValueError(f"model_uri {model_uri!r} names neither an alias (@alias) nor a version (/N)")
    except ValueError:
        raise
    except Exception as exc:
        raise LookupError(f"{model_uri} not found in the model registry at {uri}: {exc}") from exc
    folder = (version.tags or {}).get("coco_pipe.artifact")
    if not folder or not version.run_id:
        raise ValueError(f"{model_uri} was not registered by coco-pipe promote (no coco_pipe.artifact tag)")
    local = store.download(version.run_id, folder)
    if not (local / MODEL_FILE).exists():
        found = list(local.rglob(MODEL_FILE))
        if not found:
            raise FileNotFoundError(f"{model_uri} holds no {MODEL_FILE}; not a coco-pipe decoder")
        local = found[0].parent
    from ..foundation.neural import NeuralDecoder

    return NeuralDecoder.load(local, device=device)
