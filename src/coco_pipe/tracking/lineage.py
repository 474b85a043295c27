"""Where a run comes from: the data set as an MLflow dataset input, and the source tags
(``mlflow.source.name``, ``mlflow.source.type``, ``mlflow.source.git.commit``, ``mlflow.user``)
resolved by MLflow's own run-context providers, as ``mlflow.start_run`` sets them."""

from __future__ import annotations

import json
from collections.abc import Sequence

#: The experiment tag MLflow's UI reads to choose its view, and its model-training kind.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"


def source_tags() -> dict[str, str]:
    """The tags MLflow's fluent ``start_run`` gives a run started from this process.

    Examples
    --------
    >>> "mlflow.source.type" in source_tags()
    True
    """
    from mlflow.tracking.context.registry import resolve_tags

    return {k: str(v) for k, v in resolve_tags({}).items()}


def dataset_input(name: str, digest: str, shape: Sequence[int], source: str, *,
                  context: str = "cross-validation", profile: dict | None = None):  # fmt: skip
    """An MLflow ``DatasetInput`` for the data an experiment decodes.

    Parameters
    ----------
    name : str
        Shown in the UI's Dataset column.
    digest : str
        The data fingerprint (:func:`coco_pipe.data.data_fingerprint`).
    shape : sequence of int
        Shape of X.
    source : str
        Where the data come from (a path, ``synthetic:...``, ``in-memory``).
    context : str
        The ``mlflow.data.context`` input tag.
    profile : dict, optional
        Extra facts (number of windows, sfreq, classes).

    Examples
    --------
    >>> ds = dataset_input("mi", "ab12", (80, 19, 100), "synthetic")
    >>> ds.dataset.digest, json.loads(ds.dataset.profile)["shape"]
    ('ab12', [80, 19, 100])
    """
    from mlflow.entities import Dataset, DatasetInput, InputTag

    schema = {"mlflow_tensorspec": {"features": json.dumps([{"type": "tensor", "tensor-spec": {
        "dtype": "float32", "shape": [-1, *list(shape)[1:]]}}]), "targets": None}}  # fmt: skip
    dataset = Dataset(
        name=name, digest=digest, source_type="local" if "://" not in source else "http",
        source=json.dumps({"uri": source}), schema=json.dumps(schema),
        profile=json.dumps({"shape": [int(s) for s in shape], **(profile or {})}),
    )  # fmt: skip
    return DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])


__all__ = ["EXPERIMENT_KIND_TAG", "MODEL_TRAINING_KIND", "dataset_input", "source_tags"]
