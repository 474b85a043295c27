"""The safe loader: a model folder loads back to the same predictions; a tampered one (config
fields, file names, weights, skops payloads) is refused with a clear error and runs nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from coco_pipe.decoding.logged_model.files import UnsafeModelError, folder_digests
from coco_pipe.decoding.logged_model.pyfunc import predict_frame
from coco_pipe.decoding.logged_model.read import load_model_folder

MARKER = Path("payload-ran.txt")


class Payload(BaseEstimator):
    """Writes a marker file when skops rebuilds it: proof that loading ran its code."""

    def __setstate__(self, state):
        MARKER.write_text("ran")
        self.__dict__.update(state)


def _data(folder: Path) -> Path:
    return folder / "data" / "coco_pipe"


def _refresh_manifest(folder: Path) -> None:
    """Rewrite the manifest's digests to match the (tampered) files, as an attacker who can
    write the folder would: the digest check passes, the allowlists must still refuse."""
    data = _data(folder)
    manifest = json.loads((data / "manifest.json").read_text())
    files = folder_digests(data)
    files.pop("manifest.json")
    manifest["files"] = files
    (data / "manifest.json").write_text(json.dumps(manifest))


def _edit_json(path: Path, edit) -> None:
    value = json.loads(path.read_text())
    edit(value)
    path.write_text(json.dumps(value))


@pytest.mark.parametrize("kind", ["sklearn", "backbone_pipeline", "neural"])
def test_each_layout_loads_back_to_the_same_predictions(kind, fitted, model_folders, small_data):
    est, manifest = load_model_folder(_data(model_folders[kind]))
    assert manifest["kind"] == kind
    assert manifest["input"]["sfreq"] == small_data.sfreq
    assert manifest["input"]["ch_names"] == list(small_data.ch_names)
    X = small_data.X[:12]
    want = predict_frame(fitted[kind], X, "classification")
    got = predict_frame(est, X, "classification")
    assert list(got.columns) == ["y_pred", *[f"proba_{c}" for c in fitted[kind].classes_]]
    np.testing.assert_array_equal(got.y_pred.to_numpy(), want.y_pred.to_numpy())
    np.testing.assert_allclose(got.iloc[:, 1:].to_numpy(), want.iloc[:, 1:].to_numpy(), atol=1e-6)


def test_a_changed_file_is_refused_before_reading(model_copy):
    folder = model_copy("sklearn")
    (_data(folder) / "estimator.skops").write_bytes(b"not what was logged")
    with pytest.raises(UnsafeModelError, match=r"differ from those recorded.*changed: estimator.skops"):
        load_model_folder(_data(folder))
    (_data(folder) / "extra.py").write_text("print('hi')")
    with pytest.raises(UnsafeModelError, match=r"added: extra.py"):
        load_model_folder(_data(folder))


def test_a_skops_payload_is_refused_and_runs_nothing(model_copy, fitted):
    folder = model_copy("sklearn")
    path = _data(folder) / "estimator.skops"
    sio.dump(Pipeline([("payload", Payload()), ("clf", fitted["sklearn"].steps[-1][1])]), path)
    _refresh_manifest(folder)
    with pytest.raises(UnsafeModelError, match=r"type '.*Payload' is not trusted.*nothing was loaded"):
        load_model_folder(_data(folder))
    assert not MARKER.exists()
    # the same file loaded without the allowlist does run the payload: the test can fail
    sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert MARKER.exists()


@pytest.mark.parametrize("name", ["../outside.skops", "/etc/passwd", "a/../../b", "sub\\x"])
def test_file_names_leading_out_are_refused(model_copy, name):
    folder = model_copy("sklearn")
    _edit_json(_data(folder) / "manifest.json", lambda m: m["files"].update({name: "0" * 64}))
    with pytest.raises(UnsafeModelError, match="not a plain relative name"):
        load_model_folder(_data(folder))


def test_a_symbolic_link_is_refused(model_copy, tmp_path):
    folder = model_copy("sklearn")
    target = tmp_path / "elsewhere.skops"
    (_data(folder) / "estimator.skops").rename(target)
    (_data(folder) / "estimator.skops").symlink_to(target)
    with pytest.raises(UnsafeModelError, match="symbolic link"):
        load_model_folder(_data(folder))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["config"].update(trust_remote_code=True, backend="hugging_face"),
         "cannot turn on remote code"),
        (lambda m: m["config"].update(weights="attacker/repo"), "names a source outside the model folder"),
        (lambda m: m["config"].update(weights="/tmp/evil.pt"), "names a source outside the model folder"),
        (lambda m: m["config"].update(backend="torch.hub"), "not a valid NeuralFineTuneConfig"),
        (lambda m: m["files"].update(head="../../head.safetensors"), "not a plain relative name"),
        (lambda m: m["files"].update(head="head.pt"), r"only .safetensors / .json"),
        (lambda m: m.update(loader="os.system"), r"unexpected field\(s\) \['loader'\]"),
        (lambda m: m.update(classes_dtype="object; rm -rf"), "unexpected value"),
    ],
)
def test_tampered_neural_fields_are_refused(model_copy, edit, message):
    folder = model_copy("neural")
    _edit_json(_data(folder) / "neural" / "coco_pipe_model.json", edit)
    _refresh_manifest(folder)
    with pytest.raises(UnsafeModelError, match=message):
        load_model_folder(_data(folder))


def test_a_weights_source_the_caller_names_is_used(model_copy):
    """``weights=`` is the caller's choice, not the artifact's: a folder naming an outside
    source loads only when the caller passes one (here the random-init base it holds)."""
    folder = model_copy("neural")
    _edit_json(_data(folder) / "neural" / "coco_pipe_model.json",
               lambda m: m["config"].update(weights="attacker/repo"))
    _refresh_manifest(folder)
    est, _ = load_model_folder(_data(folder), weights="random")
    assert est.get_params()["weights"] == "random"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(model_key="../evil"), "is not a foundation model"),
        (lambda m: m.update(pooling="exec"), "is not a pooling"),
        (lambda m: m.update(model_kwargs={"__class__": "os.system"}), "plain values"),
        (lambda m: m.update(weights_digest="f" * 64), "the model was logged with"),
    ],
)
def test_tampered_backbone_fields_are_refused(model_copy, edit, message):
    folder = model_copy("backbone_pipeline")
    _edit_json(_data(folder) / "embedder.json", edit)
    _refresh_manifest(folder)
    with pytest.raises(UnsafeModelError, match=message):
        load_model_folder(_data(folder))


def test_expected_files_from_the_store_catch_a_consistent_attacker(model_copy, model_folders):
    """With the digests recorded at logging time (the tracking store's), even a folder whose
    manifest was rewritten to match is refused."""
    recorded = folder_digests(_data(model_folders["sklearn"]))
    folder = model_copy("sklearn")
    _edit_json(_data(folder) / "manifest.json", lambda m: m["input"].update(sfreq=1.0))
    with pytest.raises(UnsafeModelError, match="changed: manifest.json"):
        load_model_folder(_data(folder), expected_files=recorded)
