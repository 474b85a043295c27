"""The spool: a fold's results are written locally (atomically) before they are sent; a
tracking server that stops mid-experiment costs nothing computed, and the replay puts
the spooled folds in the store once the server is back."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest

from coco_pipe.cli import main
from coco_pipe.tracking import Tracker
from coco_pipe.tracking.spool import Spool, read_record

SCRIPT = Path(__file__).parents[1] / "decoding" / "experiment_script.py"


def test_record_commit_and_replay(tracking_uri, tmp_path):
    tracker = Tracker(tracking_uri, "spool")
    parent = tracker.start_parent("p")
    run_id = tracker.start_child(parent, "lr/fold-0")
    spool = Spool(tmp_path / "spool")
    rec = spool.recorder(run_id, tracker.tracking_uri, label="lr fold 0")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    rec.log_batch(run_id, params={"model.C": 0.1}, metrics={"accuracy": 0.75}, tags={"t": "x"},
                  step_metrics=[("train_loss", 0.5, 1), ("train_loss", 0.25, 2)])  # fmt: skip
    rec.log_artifact(run_id, note, "notes")
    rec.log_text(run_id, "trace", "diagnostics/traceback.txt")
    rec.end(run_id, "FINISHED")
    assert spool.pending() == []  # nothing is visible before the commit
    path = rec.commit()
    note.unlink()  # the spool holds its own copy
    assert [p.name for p in spool.pending()] == [run_id]
    assert read_record(path)["metrics"] == {"accuracy": 0.75}
    assert spool.replay(tracker) == [run_id]
    assert spool.pending() == []
    client = mlflow.tracking.MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["model.C"] == "0.1"
    assert run.data.metrics["accuracy"] == 0.75 and run.data.tags["t"] == "x"
    assert [m.value for m in client.get_metric_history(run_id, "train_loss")] == [0.5, 0.25]
    paths = {a.path for a in client.list_artifacts(run_id, "notes")}
    assert paths == {"notes/note.txt"}

    # replaying a record again (a kill between sending and removing it) changes nothing
    rec = spool.recorder(run_id, tracker.tracking_uri)
    rec.log_batch(run_id, params={"model.C": 0.1}, metrics={"accuracy": 0.75})
    rec.end(run_id, "FINISHED")
    again = rec.commit()
    shutil.copytree(again, tmp_path / "copy")
    spool.replay(tracker)
    shutil.copytree(tmp_path / "copy", again)
    spool.replay(tracker)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["model.C"] == "0.1"
    assert [m.value for m in client.get_metric_history(run_id, "accuracy")] == [0.75, 0.75]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(root: Path, port: int) -> subprocess.Popen:
    mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    proc = subprocess.Popen(
        [mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root}/server.db",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=open(root / "server.log", "a"), stderr=subprocess.STDOUT, cwd=root,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, (root / "server.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("mlflow server did not start")


def _stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers
    proc.wait(timeout=30)


def _finished_folds(uri) -> list:
    client = mlflow.tracking.MlflowClient(uri)
    exp = client.get_experiment_by_name("killed")
    if exp is None:
        return []
    return client.search_runs([exp.experiment_id], "tags.`coco_pipe.role` = 'fold' and "
                              "attributes.status = 'FINISHED'", max_results=100)  # fmt: skip


@pytest.mark.server
def test_server_stopped_mid_experiment_nothing_lost(tmp_path):
    root, port = tmp_path / "server", _free_port()
    root.mkdir()
    uri = f"http://127.0.0.1:{port}"
    fits, spool = tmp_path / "fits.log", tmp_path / "spool"
    server = _start_server(root, port)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, str(SCRIPT), uri, str(fits), str(spool), "--timeout", "10"]
    proc = subprocess.Popen([*cmd, "--sleep", "3"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        deadline = time.time() + 300
        while not _finished_folds(uri):
            assert time.time() < deadline and proc.poll() is None, proc.stderr.read()[-3000:]
            time.sleep(0.2)
        _stop_server(server)  # for good: the next fold finishes while nobody answers
        _, err = proc.communicate(timeout=300)  # it stops (does not hang)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert f"the tracking server {uri} did not answer within tracking.timeout_s=10 s" in err
    assert str(spool) in err and "coco-pipe sync" in err
    held = Spool(spool).pending()
    assert held and all(read_record(p)["status"] == "FINISHED" for p in held)
    n_fits = len(fits.read_text().splitlines())

    server = _start_server(root, port)  # back, on the same backend store
    try:
        assert main(["sync", str(spool)]) == 0
        assert Spool(spool).pending() == []
        client = mlflow.tracking.MlflowClient(uri)
        for path in held:
            assert client.get_run(path.name).info.status == "FINISHED"
        assert len(fits.read_text().splitlines()) == n_fits  # replayed, not refitted
        out = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        folds = _finished_folds(uri)
        keys = {(r.data.tags["coco_pipe.model"], r.data.tags["coco_pipe.fold"]) for r in folds}
        assert len(keys) == 10  # every fold of count and chance FINISHED
        lines = fits.read_text().splitlines()
        assert len(lines) == len(set(lines)) == 5  # each fold of count fitted exactly once
    finally:
        _stop_server(server)
