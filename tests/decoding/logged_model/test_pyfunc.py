"""The MLflow Model folder: flavours, tensor signature, input example, requirements, and
mlflow's own loaders reaching the safe one."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
import yaml
from mlflow.models import Model

from coco_pipe.decoding.logged_model.pyfunc import LOADER_MODULE, predict_frame


@pytest.mark.parametrize("kind", ["sklearn", "backbone_pipeline", "neural"])
def test_mlmodel_says_how_to_load_what_it_takes_and_needs(kind, model_folders, small_data):
    folder = model_folders[kind]
    mlmodel = Model.load(str(folder / "MLmodel"))
    pyfunc = mlmodel.flavors["python_function"]
    assert pyfunc["loader_module"] == LOADER_MODULE == "coco_pipe.decoding.logged_model.pyfunc"
    assert pyfunc["data"] == "data/coco_pipe"
    assert ("sklearn" in mlmodel.flavors) == (kind == "sklearn")
    inputs = mlmodel.signature.inputs.inputs
    assert len(inputs) == 1 and inputs[0].type == np.dtype("float32")
    assert inputs[0].shape == (-1, 19, 500)
    outputs = mlmodel.signature.outputs.input_names()
    assert outputs == ["y_pred", *[f"proba_{c}" for c in np.unique(small_data.y)]]
    assert mlmodel.metadata["coco_pipe"]["input"]["sfreq"] == 250.0
    assert mlmodel.metadata["coco_pipe"]["input"]["ch_names"] == list(small_data.ch_names)
    example = mlmodel.load_input_example(str(folder))
    assert np.asarray(example).shape == (1, 19, 500)
    reqs = (folder / "requirements.txt").read_text().split()
    assert any(r.startswith("coco-pipe==") for r in reqs) and any(r.startswith("skops==") for r in reqs)
    assert any(r.startswith("torch==") for r in reqs) == (kind != "sklearn")
    assert yaml.safe_load((folder / "python_env.yaml").read_text())["dependencies"] == ["-r requirements.txt"]


@pytest.mark.parametrize("kind", ["sklearn", "backbone_pipeline", "neural"])
def test_mlflow_pyfunc_load_model_predicts_as_the_estimator(kind, fitted, model_folders, small_data):
    model = mlflow.pyfunc.load_model(str(model_folders[kind]))
    X = small_data.X[:8]
    got = model.predict(X)
    want = predict_frame(fitted[kind], X, "classification")
    np.testing.assert_array_equal(got.y_pred.to_numpy(), want.y_pred.to_numpy())
    np.testing.assert_allclose(got.iloc[:, 1:].to_numpy(), want.iloc[:, 1:].to_numpy(), atol=1e-6)
    assert type(model.get_raw_model()) is type(fitted[kind])  # the coco-pipe estimator


def test_the_sklearn_flavour_loads_with_mlflow_sklearn(model_folders, fitted, small_data):
    est = mlflow.sklearn.load_model(str(model_folders["sklearn"]))
    np.testing.assert_array_equal(est.predict(small_data.X[:8]), fitted["sklearn"].predict(small_data.X[:8]))


def test_wrong_input_shape_says_what_the_model_takes(model_folders, small_data):
    model = mlflow.pyfunc.load_model(str(model_folders["sklearn"]))
    with pytest.raises(Exception, match=r"19, 500"):
        model.predict(small_data.X[:2, :5])
