"""RunStore reads back what a Tracker wrote: runs, children by role, artifacts, tables."""

from __future__ import annotations

import pandas as pd
import pytest

from coco_pipe.tracking import FOLD_TAG, ROLE_TAG, RunStore, Tracker


@pytest.fixture
def written(tracking_uri, tmp_path):
    """A parent with 3 fold runs, 2 trial runs (under the parent) and a grandchild."""
    tracker = Tracker(tracking_uri, "store-test")
    parent = tracker.start_parent("exp")
    folds = [tracker.start_child(parent, f"m/fold-{k}", tags={ROLE_TAG: "fold", FOLD_TAG: k})
             for k in range(3)]  # fmt: skip
    trials = [tracker.start_child(parent, f"m/trial-{k}", tags={ROLE_TAG: "trial"}) for k in range(2)]
    grandchild = tracker.start_child(folds[0], "m/fold-0/trial-0", tags={ROLE_TAG: "trial"})
    (tmp_path / "ckpt" / "sub").mkdir(parents=True)
    (tmp_path / "ckpt" / "a.bin").write_bytes(b"a")
    (tmp_path / "ckpt" / "sub" / "b.json").write_text('{"b": 1}')
    tracker.log_artifact(folds[0], tmp_path / "ckpt", "checkpoints/ckpt")
    tracker.log_table(folds[0], pd.DataFrame({"y_true": [0, 1], "y_pred": [0, 0]}),
                      "predictions/predictions.csv")  # fmt: skip
    tracker.log_text(parent, "task: classification\n", "config/experiment.yaml")
    return {"parent": parent, "folds": folds, "trials": trials, "grandchild": grandchild}


def test_children_by_role(tracking_uri, written):
    store = RunStore(tracking_uri)
    parent = written["parent"]
    ids = lambda runs: sorted(r.info.run_id for r in runs)  # noqa: E731
    assert ids(store.children(parent, role="fold")) == sorted(written["folds"])
    assert ids(store.children(parent, role="trial")) == sorted(written["trials"])
    assert ids(store.children(parent)) == sorted(written["folds"] + written["trials"])
    assert ids(store.children(written["folds"][0], role="trial")) == [written["grandchild"]]
    assert store.children(written["folds"][1]) == []
    assert store.get_run(parent).info.run_name == "exp"


def test_list_download_and_read_artifacts(tracking_uri, written):
    store = RunStore(tracking_uri)
    fold = written["folds"][0]
    assert sorted(store.list_artifacts(fold)) == [
        "checkpoints/ckpt/a.bin", "checkpoints/ckpt/sub/b.json", "predictions/predictions.csv",
    ]  # fmt: skip
    assert store.list_artifacts(fold, "checkpoints/ckpt/sub") == ["checkpoints/ckpt/sub/b.json"]
    assert store.list_artifacts(written["folds"][1]) == []
    folder = store.download(fold, "checkpoints/ckpt")
    assert folder.is_dir() and (folder / "sub" / "b.json").read_text() == '{"b": 1}'
    table = store.read_table(fold, "predictions/predictions.csv")
    pd.testing.assert_frame_equal(table, pd.DataFrame({"y_true": [0, 1], "y_pred": [0, 0]}))
    assert store.read_text(written["parent"], "config/experiment.yaml") == "task: classification\n"
    run = store.get_run(fold)
    uri = store.artifact_uri(run, "predictions/predictions.csv")
    assert uri == run.info.artifact_uri.rstrip("/") + "/predictions/predictions.csv"


def test_unknown_run_is_a_clear_error(tracking_uri, written):
    store = RunStore(tracking_uri)
    with pytest.raises(LookupError, match=r"run 'f00' not found in tracking store sqlite:///"):
        store.get_run("f00")
    with pytest.raises(LookupError, match="run 'f00' not found"):
        store.children("f00")
