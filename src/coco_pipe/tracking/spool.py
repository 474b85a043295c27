"""A local spool of run results: written before they are sent, replayed after an outage.

A fold's results (params, metrics, tags, per-epoch metrics, artifacts, final status) are
first recorded into a :class:`RunRecorder`, which has the logging verbs of
:class:`~coco_pipe.tracking.Tracker`. :meth:`RunRecorder.commit` writes them as one
folder of the spool, atomically (a temporary folder renamed into place), and only then
:meth:`Spool.send` replays the folder into the tracking store and removes it. A tracking
server that goes away therefore costs nothing computed: the folder stays, and
:meth:`Spool.replay` (the next run, or ``coco-pipe sync``) sends it once the server is back.

Layout of a spool root::

    root/
      <run_id>/record.json      what to log on run <run_id> of store record["tracking_uri"]
      <run_id>/files/<n>/...    copies of the artifacts to log
      .tmp-<uuid>/              a record being written (or whose writer was killed): ignored

Replaying is idempotent: params and tags are set to the same values, metrics carry the
timestamps of their first recording, artifacts overwrite themselves.

Examples
--------
>>> import tempfile
>>> spool = Spool(tempfile.mkdtemp())
>>> rec = spool.recorder("run-1", "sqlite:///mlflow.db", label="logreg fold 0")
>>> rec.log_batch("run-1", metrics={"accuracy": 0.8})
>>> rec.end("run-1", "FINISHED")
>>> path = rec.commit()
>>> [p.name for p in spool.pending()]
['run-1']
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)

#: Environment variable naming the default spool folder.
SPOOL_ENV = "COCO_PIPE_SPOOL_DIR"
#: Default spool folder (relative to the working directory).
DEFAULT_SPOOL_DIR = "coco-pipe-spool"
_RECORD = "record.json"
_TMP = ".tmp-"


def default_spool_dir(spool_dir: str | os.PathLike | None = None) -> Path:
    """The spool folder in force: ``spool_dir``, else ``$COCO_PIPE_SPOOL_DIR``, else
    ``./coco-pipe-spool`` (made absolute).

    Examples
    --------
    >>> default_spool_dir("/tmp/spool").as_posix()
    '/tmp/spool'
    """
    return Path(spool_dir or os.environ.get(SPOOL_ENV) or DEFAULT_SPOOL_DIR).resolve()


class RunRecorder:
    """Collects what one run should receive, with the logging verbs of a Tracker.

    Made by :meth:`Spool.recorder`; nothing is sent until :meth:`Spool.send`.
    """

    def __init__(self, root: Path, run_id: str, tracking_uri: str, label: str = ""):
        self.root, self.run_id, self.label = Path(root), run_id, label or run_id
        self._dir = self.root / f"{_TMP}{uuid.uuid4().hex}"
        (self._dir / "files").mkdir(parents=True)
        self.record: dict[str, Any] = {
            "run_id": run_id, "tracking_uri": tracking_uri, "label": self.label,
            "status": None, "params": {}, "metrics": {}, "tags": {}, "step_metrics": [],
            "artifacts": [], "models": [], "timestamp_ms": int(time.time() * 1000),
        }  # fmt: skip

    def _check(self, run_id: str) -> None:
        if run_id != self.run_id:
            raise ValueError(f"this recorder holds run {self.run_id!r}, not {run_id!r}")

    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, Any] | None = None,
        step_metrics: list[tuple[str, float, int]] | None = None,
    ) -> None:
        """Record params, metrics, tags and per-step metrics (as :meth:`Tracker.log_batch`)."""
        self._check(run_id)
        rec = self.record
        rec["params"].update({str(k): _jsonable(v) for k, v in (params or {}).items()})
        rec["metrics"].update({str(k): float(v) for k, v in (metrics or {}).items() if v is not None})
        rec["tags"].update({str(k): str(v) for k, v in (tags or {}).items()})
        rec["step_metrics"] += [[str(k), float(v), int(s)] for k, v, s in (step_metrics or [])
                                if v is not None]  # fmt: skip

    def log_artifact(
        self, run_id: str, local_path: str | Path, artifact_path: str | None = None
    ) -> None:
        """Copy a file or folder into the record, to be logged under ``artifact_path``."""
        self._check(run_id)
        src = Path(local_path)
        slot = self._dir / "files" / str(len(self.record["artifacts"]))
        slot.mkdir()
        if src.is_dir():
            shutil.copytree(src, slot / src.name)
        else:
            shutil.copy2(src, slot / src.name)
        self.record["artifacts"].append([f"files/{slot.name}/{src.name}", artifact_path])

    def log_model_folder(self, run_id: str, folder: str | Path, name: str, *,
                         tags: dict[str, Any], metrics: dict[str, float] | None = None) -> None:  # fmt: skip
        """Copy an MLflow Model folder into the record, to be logged as a logged model of the
        run named ``name`` (through the spool's ``upload_model``) when the record is sent."""
        self._check(run_id)
        slot = self._dir / "files" / f"model-{len(self.record['models'])}"
        shutil.copytree(Path(folder), slot)
        self.record["models"].append({
            "path": f"files/{slot.name}", "name": name,
            "tags": {str(k): str(v) for k, v in tags.items()},
            "metrics": {str(k): float(v) for k, v in (metrics or {}).items() if v is not None},
        })  # fmt: skip

    def log_table(self, run_id: str, table: pd.DataFrame, artifact_file: str) -> None:
        """Record a DataFrame as a CSV artifact at ``artifact_file``."""
        self._write(run_id, artifact_file, lambda p: table.to_csv(p, index=False))

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Record a text artifact at ``artifact_file``."""
        self._write(run_id, artifact_file, lambda p: p.write_text(text))

    def _write(self, run_id: str, artifact_file: str, write: Callable[[Path], Any]) -> None:
        self._check(run_id)
        slot = self._dir / "files" / str(len(self.record["artifacts"]))
        slot.mkdir()
        path = slot / Path(artifact_file).name
        write(path)
        parent = str(Path(artifact_file).parent)
        self.record["artifacts"].append([f"files/{slot.name}/{path.name}", None if parent == "." else parent])

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        """Record the run's final status (FINISHED, FAILED or KILLED)."""
        self._check(run_id)
        self.record["status"] = status

    def commit(self) -> Path:
        """Write the record into the spool atomically and return its folder."""
        path = self._dir / _RECORD
        with open(path, "w") as fh:
            json.dump(self.record, fh)
            fh.flush()
            os.fsync(fh.fileno())
        final = self.root / self.run_id
        if final.exists():  # an earlier attempt's record of the same run: this one wins
            shutil.rmtree(final)
        os.replace(self._dir, final)
        return final

    def discard(self) -> None:
        """Drop a record that will not be committed."""
        shutil.rmtree(self._dir, ignore_errors=True)


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


class Spool:
    """A spool folder of run records (see the module docstring).

    Parameters
    ----------
    root : str or Path, optional
        See :func:`default_spool_dir`.
    upload_model : callable, optional
        ``upload_model(tracker, run_id, folder, name, tags=..., metrics=...)`` logs a model
        folder recorded with :meth:`RunRecorder.log_model_folder` (the MLflow Model format
        lives above this layer: :func:`coco_pipe.decoding.logged_model.upload_model_folder`).
        Without it, sending a record that holds a model raises, and the record stays.
    """

    def __init__(self, root: str | os.PathLike | None = None,
                 upload_model: Callable[..., Any] | None = None):  # fmt: skip
        self.root = default_spool_dir(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.upload_model = upload_model

    def recorder(self, run_id: str, tracking_uri: str, label: str = "") -> RunRecorder:
        """A new :class:`RunRecorder` for ``run_id`` of the store at ``tracking_uri``."""
        return RunRecorder(self.root, run_id, tracking_uri, label)

    def pending(self, tracking_uri: str | None = None) -> list[Path]:
        """Committed records not sent yet (of ``tracking_uri`` only, when given), oldest first."""
        out = []
        for path in self.root.iterdir() if self.root.exists() else []:
            if path.name.startswith(_TMP) or not (path / _RECORD).is_file():
                continue
            if tracking_uri is not None and read_record(path)["tracking_uri"] != tracking_uri:
                continue
            out.append(path)
        return sorted(out, key=lambda p: read_record(p)["timestamp_ms"])

    def send(self, path: Path, tracker) -> None:
        """Log one record into ``tracker``'s store, then remove it from the spool.

        Raises whatever the store raised; the record then stays for a later replay.
        """
        rec = read_record(path)
        run_id, ts = rec["run_id"], rec["timestamp_ms"]
        models = rec.get("models", [])
        if models and self.upload_model is None:
            raise RuntimeError(f"the spooled run {path} holds a model and this Spool has no "
                               "upload_model to log it; replay it with `coco-pipe sync`")  # fmt: skip
        tracker.log_batch(
            run_id, params=rec["params"], metrics=rec["metrics"], tags=rec["tags"],
            step_metrics=[tuple(m) for m in rec["step_metrics"]], timestamp_ms=ts,
        )  # fmt: skip
        for rel, artifact_path in rec["artifacts"]:
            tracker.log_artifact(run_id, path / rel, artifact_path)
        for model in models:
            self.upload_model(tracker, run_id, path / model["path"], model["name"],
                              tags=model["tags"], metrics=model["metrics"])  # fmt: skip
        if rec["status"]:
            tracker.end(run_id, rec["status"])
        gone = path.with_name(f"{_TMP}sent-{uuid.uuid4().hex}")
        os.replace(path, gone)  # a kill now leaves an ignored temporary folder, not a re-send
        shutil.rmtree(gone, ignore_errors=True)

    def replay(self, tracker) -> list[str]:
        """Send every pending record of ``tracker``'s store; returns the run ids sent."""
        sent = []
        for path in self.pending(tracker.tracking_uri):
            self.send(path, tracker)
            sent.append(path.name)
        if sent:
            logger.info("replayed %d spooled run(s) from %s into %s", len(sent), self.root,
                        tracker.tracking_uri)  # fmt: skip
        return sent

    def clean_temporary(self, older_than_s: float = 3600.0) -> None:
        """Remove temporary folders of writers killed more than ``older_than_s`` ago."""
        now = time.time()
        for path in self.root.glob(f"{_TMP}*"):
            if now - path.stat().st_mtime > older_than_s:
                shutil.rmtree(path, ignore_errors=True)


def read_record(path: Path) -> dict[str, Any]:
    """The ``record.json`` of a spooled run folder."""
    return json.loads((Path(path) / _RECORD).read_text())


__all__ = ["DEFAULT_SPOOL_DIR", "SPOOL_ENV", "RunRecorder", "Spool", "default_spool_dir", "read_record"]
