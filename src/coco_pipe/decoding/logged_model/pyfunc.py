"""A fitted fold estimator as an MLflow Model, and the loader MLflow calls for it.

The folder is what ``mlflow.pyfunc.save_model(loader_module=..., data_path=...)`` writes:
``MLmodel`` (flavour ``python_function`` with ``loader_module:
coco_pipe.decoding.logged_model.pyfunc``; for scikit-learn models also the ``sklearn``
flavour on the same skops file), a tensor signature ``float32 (-1, n_channels, n_times)``,
``input_example.json``, ``requirements.txt`` / ``python_env.yaml`` / ``conda.yaml``, and
the model files under ``data/coco_pipe/`` (see :mod:`.write`).

The loader is a module of the installed coco-pipe package, not code stored in the artifact
(as MLflow's models-from-code would copy a ``.py`` file into it, which anyone who can write
the artifact could change): ``mlflow.pyfunc.load_model`` and ``mlflow models serve`` reach
:func:`_load_pyfunc`, which loads through :func:`.read.load_model_folder`.

``predict(X)`` returns a DataFrame: ``y_pred`` and, for classifiers, ``proba_<class>`` per
class (or ``decision``), the same columns as a fold's ``predictions/predictions.csv``.
"""

from __future__ import annotations

import importlib.metadata
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .read import load_model_folder
from .write import write_model_files

DATA_DIR = "coco_pipe"
LOADER_MODULE = __name__
_BASE_REQUIREMENTS = ("coco-pipe", "mlflow", "numpy", "pandas", "scipy", "scikit-learn", "skops",
                      "mne", "pyriemann")  # fmt: skip
_TORCH_REQUIREMENTS = ("torch", "braindecode", "safetensors", "accelerate", "peft", "bitsandbytes",
                       "transformers")  # fmt: skip


def predict_frame(estimator: Any, X: np.ndarray, task: str) -> pd.DataFrame:
    """``y_pred`` and, for classifiers, ``proba_<class>`` (or ``decision``) for windows ``X``,
    computed as the experiment computes a fold's test predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> est = LogisticRegression().fit(np.eye(4), ["a", "b", "a", "b"])
    >>> predict_frame(est, np.eye(4)[:1], "classification").columns.tolist()
    ['y_pred', 'proba_a', 'proba_b']
    """
    from ..protocol import predict_scores, scoring_split

    scorer, Xs = scoring_split(estimator, X)
    out = pd.DataFrame({"y_pred": np.asarray(scorer.predict(Xs))})
    if task != "classification":
        return out
    score = predict_scores(scorer, Xs)
    classes = getattr(scorer, "classes_", None)
    if score is not None:
        score = np.asarray(score, dtype=float)
        if score.ndim == 2 and classes is not None and score.shape[1] == len(classes):
            for j, c in enumerate(classes):
                out[f"proba_{c}"] = score[:, j]
        elif score.ndim == 1:
            out["decision"] = score
    return out


def output_columns(estimator: Any, task: str) -> tuple[list[str], str]:
    """The columns :func:`predict_frame` returns for ``estimator`` and the dtype kind of
    ``y_pred``, read from the fitted estimator without predicting (logging a model never
    runs it: nothing is forwarded or transformed once more).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import LinearSVC
    >>> output_columns(LinearSVC().fit(np.eye(4), [0, 1, 0, 1]), "classification")
    (['y_pred', 'decision'], 'i')
    """
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    classes = getattr(final, "classes_", None)
    if task != "classification" or classes is None:
        return ["y_pred"], "f"
    classes = np.asarray(classes)
    per_class = [f"proba_{c}" for c in classes]
    if hasattr(final, "predict_proba"):
        return ["y_pred", *per_class], classes.dtype.kind
    if hasattr(final, "decision_function"):
        return ["y_pred", *(per_class if len(classes) > 2 else ["decision"])], classes.dtype.kind
    return ["y_pred"], classes.dtype.kind


def _signature(input_info: dict, columns: list[str], label_kind: str):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs = Schema([TensorSpec(np.dtype(np.float32), (-1, input_info["n_channels"], input_info["n_times"]))])
    label = {"i": "long", "u": "long", "f": "double", "b": "boolean"}.get(label_kind, "string")
    cols = [ColSpec(label, "y_pred")] + [ColSpec("double", c) for c in columns[1:]]
    return ModelSignature(inputs=inputs, outputs=Schema(cols))


def requirements(kind: str) -> list[str]:
    """Pinned pip requirements of a model of this layout (the installed versions)."""
    names = _BASE_REQUIREMENTS + (_TORCH_REQUIREMENTS if kind != "sklearn" else ())
    out = []
    for name in names:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def save_mlflow_model(estimator: Any, path: str | Path, *, input_info: dict[str, Any], task: str,
                      example: np.ndarray, mlflow_model=None,
                      source: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Write ``estimator`` as an MLflow Model folder at ``path`` (which must not exist).

    Parameters
    ----------
    estimator : fitted estimator (any coco-pipe model kind)
    path : path-like
    input_info : dict
        ``n_channels``, ``n_times``, ``sfreq``, ``ch_names`` of the windows it takes.
    task : {"classification", "regression"}
    example : ndarray, float32, shape (n, n_channels, n_times)
        The input example (saved, not predicted: logging never runs the model).
    mlflow_model : mlflow.models.Model, optional
        Carries the logged model's id and run id (from :func:`.log.log_fold_model`).
    source : dict, optional
        Where the model came from (run, model name, fold), recorded in the manifest.

    Returns
    -------
    dict
        The manifest written under ``data/coco_pipe/``.

    Examples
    --------
    >>> save_mlflow_model(est, "model", input_info=info, task="classification",
    ...                   example=X[:1])  # doctest: +SKIP
    >>> mlflow.pyfunc.load_model("model").predict(X)  # doctest: +SKIP
    """
    import mlflow
    import sklearn

    example = np.ascontiguousarray(example, dtype=np.float32)
    columns, label_kind = output_columns(estimator, task)
    classes = getattr(estimator, "classes_", None)
    classes = np.asarray(classes).tolist() if classes is not None else None
    with tempfile.TemporaryDirectory(prefix="coco-pipe-model-") as tmp:
        data = Path(tmp) / DATA_DIR
        manifest = write_model_files(
            estimator, data, input_info=input_info, task=task, classes=classes,
            outputs=columns, source=source,
        )  # fmt: skip
        metadata = {"coco_pipe": {k: manifest[k] for k in ("kind", "task", "classes", "input")}}
        mlflow_model = mlflow_model if mlflow_model is not None else mlflow.models.Model()
        mlflow.pyfunc.save_model(
            str(path), loader_module=LOADER_MODULE, data_path=str(data), mlflow_model=mlflow_model,
            signature=_signature(input_info, columns, label_kind), input_example=example,
            pip_requirements=requirements(manifest["kind"]), metadata=metadata,
        )  # fmt: skip
    if manifest["kind"] == "sklearn":  # MLflow's own flavour on the same skops file
        mlflow_model.add_flavor(
            "sklearn", pickled_model=f"data/{DATA_DIR}/estimator.skops",
            sklearn_version=sklearn.__version__, serialization_format="skops", code=None,
            skops_trusted_types=manifest["skops_types"],
        )  # fmt: skip
        mlflow_model.save(str(Path(path) / "MLmodel"))
    return manifest


class PyfuncDecoder:
    """What :func:`_load_pyfunc` returns to MLflow: ``predict(X)`` on float32 windows.

    Attributes
    ----------
    estimator : the coco-pipe estimator (``load_promoted`` returns it)
    manifest : dict, the validated manifest (input shape, sfreq, channel names, classes)
    """

    def __init__(self, estimator: Any, manifest: dict[str, Any]):
        self.estimator = estimator
        self.manifest = manifest

    def get_raw_model(self) -> Any:
        """The coco-pipe estimator (``mlflow.pyfunc.load_model(uri).get_raw_model()``)."""
        return self.estimator

    def predict(self, model_input: Any, params: dict | None = None) -> pd.DataFrame:
        X = np.asarray(model_input, dtype=np.float32)
        shape = self.manifest["input"]
        if X.ndim != 3 or X.shape[1:] != (shape["n_channels"], shape["n_times"]):
            raise ValueError(
                f"model input has shape {X.shape}; this model takes float32 windows of shape "
                f"(n, {shape['n_channels']}, {shape['n_times']}) (n_channels, n_times) at "
                f"{shape['sfreq']} Hz"
            )
        return predict_frame(self.estimator, X, self.manifest["task"])


def _load_pyfunc(data_path: str) -> PyfuncDecoder:
    """MLflow's entry point (``loader_module``): the model in ``data_path``, loaded safely."""
    estimator, manifest = load_model_folder(data_path)
    return PyfuncDecoder(estimator, manifest)


__all__ = ["DATA_DIR", "LOADER_MODULE", "PyfuncDecoder", "output_columns", "predict_frame",
           "requirements", "save_mlflow_model"]  # fmt: skip
