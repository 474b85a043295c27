"""`mlflow models serve` serves a promoted version: POST /invocations gives the fold's predictions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from promotable import fold_predictions

from coco_pipe.registry import promote
from servers import wait_until_up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(promotable, tmp_path):
    """``mlflow models serve -m models:/mi-serve@champion --env-manager local`` on a free port."""
    version = promote(promotable.result.run_id, model="lora", fold="best", name="mi-serve",
                      tracking_uri=promotable.uri)  # fmt: skip
    port = _free_port()
    mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen(
        [mlflow_bin, "models", "serve", "-m", "models:/mi-serve@champion", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "--workers", "1"],
        env={**os.environ, "MLFLOW_TRACKING_URI": promotable.uri}, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, url + "/ping", tmp_path / "serve.log", timeout=240)
        yield url, version
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and its workers, started here
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.mark.server
def test_mlflow_models_serve_answers_with_the_folds_predictions(served, promotable):
    url, version = served
    preds = fold_predictions(promotable.result, "lora", int(version.tags["coco_pipe.fold"]))
    windows = promotable.X[preds.SampleIndex.to_numpy()].astype(np.float32)
    body = json.dumps({"inputs": windows.tolist()}).encode()
    request = urllib.request.Request(url + "/invocations", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=120) as r:
        answer = json.loads(r.read())["predictions"]
    assert [str(row["y_pred"]) for row in answer] == preds.y_pred.astype(str).tolist()
    cols = [c for c in preds.columns if c.startswith("proba_")]
    got = np.asarray([[row[c] for c in cols] for row in answer])
    np.testing.assert_allclose(got, preds[cols].to_numpy(), rtol=1e-5, atol=1e-6)
