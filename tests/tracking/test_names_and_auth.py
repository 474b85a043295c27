"""Names that could leave the artifact root are refused; refused credentials name the fix."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from coco_pipe.tracking import RunStore, Tracker, TrackingAuthError


@pytest.mark.parametrize("name", ["../../x", "/etc/x", "a/../../b", "a\\b", ".", ""])
def test_unsafe_experiment_names_are_refused_before_any_write(tmp_path, tracking_uri, name):
    with pytest.raises(ValueError, match="tracking.experiment_name=.*is not a safe name"):
        Tracker(tracking_uri, name)
    assert not (tmp_path / "mlruns").exists()


def test_unsafe_run_name_is_refused(tracking_uri):
    tracker = Tracker(tracking_uri, "ok")
    with pytest.raises(ValueError, match="tracking.run_name='../up' is not a safe name"):
        tracker.start_parent("../up")


def test_nested_experiment_name_stays_inside_the_artifact_root(tmp_path, tracking_uri):
    tracker = Tracker(tracking_uri, "team/mi-study")
    run = tracker.start_parent("r")
    tracker.log_text(run, "x", "notes/a.txt")
    root = (tmp_path / "mlruns").resolve()
    written = [p.resolve() for p in root.rglob("a.txt")]
    assert written and all(root in p.parents for p in written)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """A real `mlflow server --app-name basic-auth` on 127.0.0.1 (admin user: admin/coco-pipe-test-Pw-7731)."""
    root = tmp_path_factory.mktemp("auth-server")
    port = _free_port()
    (root / "auth.ini").write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{root}/auth.db\n"
        "admin_username = admin\nadmin_password = coco-pipe-test-Pw-7731\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    log = open(root / "server.log", "w")
    env = {**__import__("os").environ, "MLFLOW_AUTH_CONFIG_PATH": str(root / "auth.ini"),
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-secret"}
    proc = subprocess.Popen(
        [mlflow_bin, "server", "--app-name", "basic-auth", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{root}/server.db",
         "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((root / "server.log").read_text()[-3000:])
        try:
            with urllib.request.urlopen(uri + "/health", timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    yield uri
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.mark.server
def test_wrong_credentials_name_the_environment_variables(auth_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(TrackingAuthError, match=r"HTTP 401.*MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"):
        Tracker(auth_server, "exp")
    with pytest.raises(TrackingAuthError, match=auth_server):
        RunStore(auth_server)


@pytest.mark.server
def test_right_credentials_work_and_a_missing_run_is_not_found(auth_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "coco-pipe-test-Pw-7731")
    tracker = Tracker(auth_server, "auth-exp")
    run = tracker.start_parent("r")
    tracker.end(run)
    store = RunStore(auth_server)
    assert store.get_run(run).info.status == "FINISHED"
    with pytest.raises(LookupError, match="not found"):
        store.get_run("0" * 32)
