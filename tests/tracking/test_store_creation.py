"""A new SQLite store is created atomically: a kill at any moment leaves no store or a usable one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coco_pipe.tracking import Tracker
from coco_pipe.tracking.client import ensure_sqlite_store

CREATE = (
    "import sys; from coco_pipe.tracking import Tracker; "
    "t = Tracker(sys.argv[1], 'exp'); t.start_parent('r')"
)


def _usable(db: Path) -> None:
    tracker = Tracker(f"sqlite:///{db}", "after-kill")
    run = tracker.start_parent("run")
    tracker.log_batch(run, params={"a": 1}, metrics={"m": 0.5})
    tracker.end(run)
    assert tracker.client.get_run(run).data.metrics["m"] == 0.5


@pytest.mark.parametrize("delay", [0.0, 0.5, 1.5])
def test_kill_during_first_creation_leaves_no_store_or_a_usable_one(tmp_path, delay):
    db = tmp_path / "mlruns.db"
    proc = subprocess.Popen([sys.executable, "-c", CREATE, f"sqlite:///{db}"])
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(".mlruns.db.*.creating")):
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    creating = list(tmp_path.glob(".mlruns.db.*.creating"))
    assert creating or proc.returncode == 0, "the store was not built in a temporary file"
    time.sleep(delay)  # somewhere inside MLflow's schema migration
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not db.exists() or db.stat().st_size > 0
    _usable(db)  # a fresh process creates it (or opens the finished one) and uses it
    assert not list(tmp_path.glob(".mlruns.db.*.creating")), "stale temporary store left behind"


def test_existing_store_is_opened_not_recreated(tmp_path):
    db = tmp_path / "s.db"
    ensure_sqlite_store(f"sqlite:///{db}")
    inode = db.stat().st_ino
    ensure_sqlite_store(f"sqlite:///{db}")
    assert db.stat().st_ino == inode
    _usable(db)
