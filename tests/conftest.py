"""Shared fixtures: an isolated SQLite tracking store, a real mlflow server process, a
real PostgreSQL server, and the built-in synthetic data at test size."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from servers import PostgresServer, mlflow_server_process, postgres_bindir

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


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` process on 127.0.0.1 (free port), stopped after the session."""
    root = tmp_path_factory.mktemp("mlflow-server")
    with mlflow_server_process(root, f"sqlite:///{root}/server.db") as uri:
        yield uri


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server (see tests/servers.py), started once, stopped and removed
    after the session. Without PostgreSQL binaries the tests that use it are skipped,
    unless ``COCO_PIPE_REQUIRE_POSTGRES=1`` (CI) makes that an error."""
    bindir = postgres_bindir()
    if bindir is None:
        msg = ("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install "
               "Debian's postgresql package or set COCO_PIPE_PG_BINDIR")  # fmt: skip
        if os.environ.get("COCO_PIPE_REQUIRE_POSTGRES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    server = PostgresServer(bindir).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mi_arrays():
    """Small built-in synthetic motor-imagery data: (X volts, y, metadata, info)."""
    from coco_pipe.datasets import make_motor_imagery

    return make_motor_imagery(n_subjects=5, n_epochs_per_class=20, sfreq=250.0, tmax=2.0,
                              random_state=0, return_epochs=False)


class ForwardCounter:
    """Windows forwarded (in inference mode, as ``embed`` runs them) through each backbone
    module; the build-time probe forward (``no_grad``) is not counted."""

    def __init__(self):
        self.by_module: dict[int, int] = {}

    def of(self, module) -> int:
        """Windows forwarded through ``module`` (a ``FoundationBackboneModule``)."""
        return self.by_module.get(id(module), 0)

    def total(self) -> int:
        return sum(self.by_module.values())


@pytest.fixture
def forward_counter(monkeypatch) -> ForwardCounter:
    """Counts the windows every backbone forwards during the test, by wrapping
    ``FoundationBackboneModule.forward``."""
    import torch

    from coco_pipe.foundation.architecture import FoundationBackboneModule

    counter = ForwardCounter()
    real = FoundationBackboneModule.forward

    def counting(self, x):
        if torch.is_inference_mode_enabled():
            counter.by_module[id(self)] = counter.by_module.get(id(self), 0) + int(x.shape[0])
        return real(self, x)

    monkeypatch.setattr(FoundationBackboneModule, "forward", counting)
    return counter

#: Real EEG kept in the repository: two subjects of Kalunga2016 (see its README, CC0).
KALUNGA_SLICE = Path(__file__).resolve().parent / "data" / "kalunga2016_slice"


@pytest.fixture(scope="session")
def kalunga_slice():
    """The Kalunga2016 slice as EpochArrays: 2 subjects x 2 runs x 8 trials, volts."""
    from coco_pipe.datasets.kalunga import load_kalunga2016

    return load_kalunga2016(KALUNGA_SLICE)
