"""Model registry: register a fold's MLflow Model (or a refit on all the data) as a version,
and load a version back as the coco-pipe estimator, checking its files first.

Registered versions are MLflow Models (pyfunc), so besides :func:`load_promoted`:
``mlflow.pyfunc.load_model("models:/NAME@champion").predict(X)`` and
``mlflow models serve -m models:/NAME@champion --env-manager local`` work on them.
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

from ..decoding.logged_model.files import UnsafeModelError, combined_digest
from ..decoding.logged_model.log import DIGEST_TAG, FILES_TAG
from ..foundation.specs import licence_note
from ..tracking.client import FOLD_TAG, resolve_tracking_uri
from ..tracking.store import RunStore
from .folds import choose_fold, logged_model_id

logger = logging.getLogger(__name__)

#: The logged-model tag listing its registered versions (mlflow.utils.mlflow_tags.MLFLOW_MODEL_VERSIONS).
MLFLOW_MODEL_VERSIONS = "mlflow.modelVersions"


def _version_tags(choice_run, parent, model: str, fold: str, how: str, metric: str,
                  value, cv_mean, model_id: str, digest: str) -> dict[str, str]:  # fmt: skip
    p, t = choice_run.data.params, choice_run.data.tags
    return {
        "coco_pipe.source_run": choice_run.info.run_id, "coco_pipe.parent_run": parent.info.run_id,
        "coco_pipe.model": model, "coco_pipe.fold": fold, "coco_pipe.fold_choice": how,
        "coco_pipe.metric": metric, "coco_pipe.metric_value": "" if value is None else str(value),
        "coco_pipe.cv_mean": "" if cv_mean is None else str(cv_mean),
        "coco_pipe.weights_source": p.get("weights.source", t.get("weights.source", t.get("weights", ""))),
        "coco_pipe.data_fingerprint": parent.data.tags.get("coco_pipe.data_fingerprint", ""),
        "coco_pipe.train_mode": p.get("neural.train_mode", ""),
        "coco_pipe.model_kind": t.get("coco_pipe.model_kind", ""),
        "coco_pipe.logged_model_id": model_id, DIGEST_TAG: digest,
        "coco_pipe.license": t.get("backbone.license", ""),
    }  # fmt: skip


def promote(run_id: str, *, model: str, fold: str | int = "best", name: str,
            alias: str | None = "champion", tracking_uri: str | None = None,
            data: dict[str, Any] | None = None):  # fmt: skip
    """Register a model of an experiment as a version of the registered model ``name``.

    Parameters
    ----------
    run_id : str
        The experiment (parent) run.
    model : str
        Model name in the experiment config.
    fold : "best", int or "refit"
        ``best``: the fold with the best first metric (ties: lowest fold); a number: that
        fold; ``refit``: train the model on all the data (``data``), logged as its own run.
        The version's description says how it was chosen (the best fold is optimistic).
    name : str
        Registered model name.
    alias : str, optional
        Alias pointed at the new version (``champion``); None sets none.
    tracking_uri : str, optional
    data : dict, optional
        For ``refit``: ``X`` and optionally ``y``, ``sample_metadata``, ``sfreq``,
        ``ch_names``, as given to ``Experiment.run`` (the experiment's own data).

    Returns
    -------
    mlflow.entities.model_registry.ModelVersion

    Examples
    --------
    >>> promote(run_id, model="csp_lda", fold="best", name="mi-decoder")  # doctest: +SKIP
    >>> import mlflow
    >>> mlflow.pyfunc.load_model("models:/mi-decoder@champion").predict(X)  # doctest: +SKIP
    """
    store = RunStore(tracking_uri)
    client = store.client
    parent = store.get_run(run_id)
    if str(fold) == "refit":
        if not data or "X" not in data:
            raise ValueError("fold='refit' needs the experiment's data: data={'X': ..., 'y': ...}")
        from .refit import refit

        done = refit(store, run_id, model, data["X"], data.get("y"), data.get("sample_metadata"),
                     sfreq=data.get("sfreq"), ch_names=data.get("ch_names"))  # fmt: skip
        source_run, model_id = store.get_run(done.run_id), done.model_id
        choice = choose_fold(store, run_id, model, "best")
        fold_tag, how, value = "refit", "refit", None
        description = (
            f"{model} of experiment run {run_id}, refit on all {done.n_windows} windows of its "
            f"data (run {done.run_id}). It has no held-out score: the cross-validated estimate is "
            f"the fold-mean {choice.metric} {choice.mean_text()}."
        )
    else:
        choice = choose_fold(store, run_id, model, fold)
        source_run, how, value = choice.run, choice.how, choice.value
        fold_tag = source_run.data.tags.get(FOLD_TAG, str(choice.fold))
        model_id = logged_model_id(source_run, model, choice.fold)
        description = choice.description(model, run_id)
    logged = client.get_logged_model(model_id)
    digest = logged.tags.get(DIGEST_TAG, "")
    p = source_run.data.params
    note = licence_note(p.get("model.model_key") or p.get("backbone.model_key", ""))
    if note:
        warnings.warn(f"promoting {model!r} as {name!r}: {note}", UserWarning, stacklevel=2)
        description = f"{description}\n\nLicence: {note}"
    try:
        client.get_registered_model(name)
    except Exception:
        client.create_registered_model(name, description="coco-pipe decoder promoted from an experiment")
    tags = _version_tags(source_run, parent, model, fold_tag, how, choice.metric, value,
                         choice.cv_mean, model_id, digest)  # fmt: skip
    version = client.create_model_version(
        # the storage location, as MLflow resolves ``models:/<model_id>`` (through the global
        # tracking URI, which need not be this store's)
        name, source=logged.artifact_location, run_id=source_run.info.run_id, tags=tags,
        description=description, model_id=model_id,
    )  # fmt: skip
    # as mlflow.register_model does: the logged model lists its versions (the UI links them)
    listed = json.loads(logged.tags.get(MLFLOW_MODEL_VERSIONS) or "[]")
    listed.append({"name": name, "version": version.version})
    client.set_logged_model_tags(model_id, {MLFLOW_MODEL_VERSIONS: json.dumps(listed)})
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    logger.info("registered %s version %s from logged model %s", name, version.version, model_id)
    return version


def _resolve_version(client, model_uri: str, uri: str):
    if not model_uri.startswith("models:/"):
        raise ValueError(f"model_uri must look like 'models:/NAME@alias' or 'models:/NAME/VERSION', got {model_uri!r}")
    ref = model_uri[len("models:/"):]
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return client.get_model_version_by_alias(name, alias)
        if "/" in ref:
            name, number = ref.split("/", 1)
            return client.get_model_version(name, number)
    except Exception as exc:
        raise LookupError(f"{model_uri} not found in the model registry at {uri}: {exc}") from exc
    raise ValueError(f"model_uri {model_uri!r} names neither an alias (@alias) nor a version (/N)")


def load_promoted(model_uri: str, tracking_uri: str | None = None, *, device: str | None = None,
                  weights: str | None = None):  # fmt: skip
    """Load a registered version (``models:/NAME@alias`` or ``models:/NAME/VERSION``) as the
    coco-pipe estimator it was logged from (pipeline, CSP, NeuralDecoder, ...).

    Before anything is read, every file of the downloaded model is checked against the
    SHA-256 digests the tracking store recorded when the model was logged; then the safe
    loader (:func:`coco_pipe.decoding.logged_model.load_model_folder`) reads only allowlisted
    values and safetensors / skops files.

    Parameters
    ----------
    model_uri : str
    tracking_uri : str, optional
    device : str, optional
        ``cpu`` / ``cuda`` for neural models and backbones.
    weights : str, optional
        A weights source you trust, for a neural model trained from weights outside its
        folder (a local checkpoint or another hub repository).

    Raises
    ------
    UnsafeModelError
        The files differ from what was logged, or ask for something the loader refuses.

    Examples
    --------
    >>> clf = load_promoted("models:/mi-decoder@champion")  # doctest: +SKIP
    >>> clf.predict(epochs.get_data())                     # doctest: +SKIP
    """
    from ..decoding.logged_model.files import verify_folder
    from ..decoding.logged_model.pyfunc import DATA_DIR
    from ..decoding.logged_model.read import load_model_folder
    from ..tracking.logged_models import download_logged_model

    uri = resolve_tracking_uri(tracking_uri)
    store = RunStore(uri)
    client = store.client
    version = _resolve_version(client, model_uri, uri)
    model_id = getattr(version, "model_id", None) or (version.tags or {}).get("coco_pipe.logged_model_id")
    if not model_id:
        raise ValueError(f"{model_uri} was not registered by coco-pipe promote (no logged model id)")
    logged = client.get_logged_model(model_id)
    files = json.loads(logged.tags.get(FILES_TAG) or "{}")
    digest = (version.tags or {}).get(DIGEST_TAG)
    if not files or combined_digest(files) != logged.tags.get(DIGEST_TAG) or digest != logged.tags.get(DIGEST_TAG):
        raise UnsafeModelError(
            f"{model_uri}: the digests recorded for logged model {model_id} are missing or "
            "disagree with the version's; it was not logged by coco-pipe: nothing was loaded"
        )
    with tempfile.TemporaryDirectory(prefix="coco-pipe-promoted-") as tmp:
        local = download_logged_model(client, model_id, Path(tmp) / "model")
        verify_folder(local, files, model_uri)
        estimator, _ = load_model_folder(local / "data" / DATA_DIR, device=device, weights=weights)
    return estimator


__all__ = ["load_promoted", "promote"]
