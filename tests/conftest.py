"""Shared fixtures: an isolated SQLite tracking store, a real mlflow server process,
and the built-in synthetic data at test size."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from servers import wait_until_up

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Every test runs in its own directory with no inherited tracking URI or cache."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.setenv("COCO_PIPE_CACHE_DIR", str(tmp_path / "coco-cache"))
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(scope="session")
def _template_store(tmp_path_factory) -> Path:
    """One SQLite store migrated once; each test gets a copy (migrations take seconds)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("template-store") / "mlruns.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_uri(tmp_path, _template_store) -> str:
    """A fresh (empty, already migrated) SQLite tracking store in the test's directory."""
    shutil.copy(_template_store, tmp_path / "mlruns.db")
    return f"sqlite:///{tmp_path}/mlruns.db"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` process on 127.0.0.1 (free port), stopped after the session."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = open(root / "server.log", "w")
    proc = subprocess.Popen(
        [mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root}/server.db",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, uri + "/health", root / "server.log", timeout=90)
    except RuntimeError:
        proc.kill()
        raise
    yield uri
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def mi_arrays():
    """Small built-in synthetic motor-imagery data: (X volts, y, metadata, info)."""
    from coco_pipe.datasets import make_motor_imagery

    return make_motor_imagery(n_subjects=5, n_epochs_per_class=20, sfreq=250.0, tmax=2.0,
                              random_state=0, return_epochs=False)
