"""The one place coco-pipe talks to MLflow: a few verbs over one MlflowClient.

The experiment loop never imports mlflow; it calls :class:`Tracker`.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from .lineage import EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND, source_tags

logger = logging.getLogger(__name__)

#: MLflow 3's own default store and artifact folder, so `coco-pipe run`, `mlflow run` and
#: `mlflow ui` (all started from one folder) share one store.
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_ARTIFACT_DIR = "mlruns"

ROLE_TAG = "coco_pipe.role"
MODEL_TAG = "coco_pipe.model"
FOLD_TAG = "coco_pipe.fold"
PARENT_TAG = "mlflow.parentRunId"


class TrackingUnavailableError(ConnectionError):
    """The tracking server named by a URI cannot be reached."""


class TrackingAuthError(PermissionError):
    """The tracking server refused the credentials (HTTP 401) or the permission (HTTP 403)."""


def auth_error(exc: BaseException, uri: str) -> TrackingAuthError | None:
    """A :class:`TrackingAuthError` naming the fix when ``exc`` is MLflow's answer to a
    request the server refused with HTTP 401 / 403, else None."""
    from mlflow.exceptions import MlflowException, RestException

    status = None
    if isinstance(exc, RestException | MlflowException):
        status = exc.get_http_status_code()
    text = str(exc)
    if status not in (401, 403):
        if "error code 401" in text or "not authenticated" in text.lower():
            status = 401
        elif "error code 403" in text or "permission denied" in text.lower():
            status = 403
        else:
            return None
    if status == 401:
        return TrackingAuthError(
            f"the tracking server {uri} refused the credentials (HTTP 401, not authenticated): set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to a user of that server"
        )
    return TrackingAuthError(
        f"the tracking server {uri} denied this user access (HTTP 403, permission denied): ask its "
        "admin for permission on the experiment, or set MLFLOW_TRACKING_USERNAME / "
        "MLFLOW_TRACKING_PASSWORD to a user who has it"
    )


def check_safe_name(name: str, field: str) -> str:
    """Refuse an experiment or run name that could leave the artifact root (``..``, an
    absolute path, a backslash or a control character); ``a/b`` nesting is allowed.

    Examples
    --------
    >>> check_safe_name("mi-study/cbramod", "tracking.experiment_name")
    'mi-study/cbramod'
    """
    text = str(name)
    parts = text.replace("\\", "/").split("/")
    bad = (
        not text.strip()
        or text.startswith(("/", "~"))
        or "\\" in text
        or any(p in ("..", ".") for p in parts)
        or any(ord(c) < 32 for c in text)
        or (len(text) > 1 and text[1] == ":")
    )
    if bad:
        raise ValueError(
            f"{field}={text!r} is not a safe name: it must not be empty, start with '/' or '~', "
            "contain '..' or '.' path parts, backslashes, drive letters or control characters "
            "(artifacts are stored under a folder named after it); e.g. 'mi-study' or 'team/mi-study'"
        )
    return text


def ensure_sqlite_store(uri: str) -> None:
    """Create the SQLite store of ``uri`` if it does not exist, so that a kill at any moment
    leaves either no store or a complete one.

    MLflow creates and migrates a new SQLite file in place, which takes seconds; a process
    killed meanwhile used to leave a store that neither MLflow nor ``mlflow db upgrade``
    could open again. Here the store is created and migrated under a file lock in a
    temporary file next to it, then renamed into place (an atomic step).
    """
    if not uri.startswith("sqlite:///"):
        return
    path = Path(uri[len("sqlite:///"):])
    if path.exists():
        return
    from filelock import FileLock

    with FileLock(str(path) + ".lock"):
        if path.exists():
            return
        for stale in path.parent.glob(f".{path.name}.*.creating"):
            stale.unlink(missing_ok=True)  # left by a process killed while creating
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.creating")
        try:
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            store = SqlAlchemyStore(f"sqlite:///{tmp}", str(path.parent / DEFAULT_ARTIFACT_DIR))
            store.engine.dispose()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The tracking URI in force: ``uri``, else ``$MLFLOW_TRACKING_URI``, else a SQLite
    store ``mlflow.db`` in the working directory (MLflow's default) (made absolute, so a later ``chdir``
    does not move it)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rel = uri[len("sqlite:///"):]
        uri = "sqlite:///" + str(Path(rel).resolve())
    elif "://" not in uri:  # a bare directory path -> file store is deprecated; use sqlite inside it
        uri = "sqlite:///" + str((Path(uri) / "mlflow.db").resolve())
    return uri


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Raise :class:`TrackingUnavailableError` naming ``uri`` if it cannot be used."""
    if uri.startswith(("http://", "https://")):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - user-given URI
                if resp.status >= 400:
                    raise TrackingUnavailableError(f"tracking server {uri} answered HTTP {resp.status}")
        except (urllib.error.URLError, OSError) as exc:
            raise TrackingUnavailableError(
                f"cannot reach the MLflow tracking server at {uri} ({exc}); start it "
                f"(`mlflow server --host 127.0.0.1 --port ...`) or set tracking.tracking_uri / "
                f"MLFLOW_TRACKING_URI to a reachable store (default sqlite:///mlflow.db)"
            ) from exc
    elif uri.startswith("sqlite:///"):
        parent = Path(uri[len("sqlite:///"):]).parent
        if not parent.exists():
            raise TrackingUnavailableError(
                f"tracking URI {uri}: directory {parent} does not exist"
            )


#: Retries of one request after its first attempt (MLflow's backoff: 0 s, then 2 s).
HTTP_RETRIES = 2
_BACKOFF_FACTOR = 1
_JITTER_S = 0.5


def http_settings(timeout_s: float) -> dict[str, str]:
    """MLflow's request settings under which one request gives up within ``timeout_s``.

    Worst case: ``(retries + 1) * timeout + backoff (2 s) + jitter (2 x 0.5 s)``.

    Examples
    --------
    >>> http_settings(30)["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    '9'
    """
    fixed = _BACKOFF_FACTOR * 2 + HTTP_RETRIES * _JITTER_S
    per_request = max(1, math.floor((timeout_s - fixed) / (HTTP_RETRIES + 1)))
    return {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(per_request),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(HTTP_RETRIES),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(_BACKOFF_FACTOR),
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": str(_JITTER_S),
    }


def bound_http_wait(timeout_s: float | None) -> None:
    """Set :func:`http_settings` for this process (and the workers it starts afterwards).

    MLflow's HTTP client retries each request with an exponential backoff (by default
    seven times, minutes in all); these are MLflow's own request settings
    (``MLFLOW_HTTP_REQUEST_TIMEOUT``, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``,
    ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``, ``MLFLOW_HTTP_REQUEST_BACKOFF_JITTER``), set so
    that one request gives up within ``tracking.timeout_s``."""
    if timeout_s is not None:
        os.environ.update(http_settings(timeout_s))


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def open_client(uri: str):
    """An MlflowClient on ``uri`` that has answered once: unreachable servers, refused
    credentials and a missing SQLite store are dealt with here, before any work."""
    check_reachable(uri)
    ensure_sqlite_store(uri)
    client = _client(uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as exc:
        err = auth_error(exc, uri)
        if err is not None:
            raise err from None
        raise
    return client


def _param_value(value: Any) -> str:
    text = "None" if value is None else str(value)
    return text if len(text) <= 6000 else text[:5990] + "...[cut]"


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Tracker:
    """Runs, params, metrics and artifacts of one experiment in one MLflow store.

    Parameters
    ----------
    tracking_uri : str, optional
        See :func:`resolve_tracking_uri`.
    experiment_name : str
        MLflow experiment (created on first use; with a local SQLite store its
        artifacts go to ``./mlruns``).

    Examples
    --------
    >>> tracker = Tracker("sqlite:///" + tmp + "/t.db", "demo")  # doctest: +SKIP
    >>> parent = tracker.start_parent("run-1")                    # doctest: +SKIP
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        experiment_name: str = "coco-pipe",
        timeout_s: float | None = None,
    ):
        self.experiment_name = check_safe_name(experiment_name, "tracking.experiment_name")
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.timeout_s = timeout_s
        bound_http_wait(timeout_s)
        self.client = open_client(self.tracking_uri)
        self._experiment_id: str | None = None
        self._parent_experiments: dict[str, str] = {}
        self.owned_parent = True

    @property
    def experiment_id(self) -> str:
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.experiment_name)
            if exp is None:
                artifact_location = None
                if self.tracking_uri.startswith("sqlite:///"):
                    root = Path.cwd() / DEFAULT_ARTIFACT_DIR
                    artifact_location = (root / self.experiment_name).resolve().as_uri()
                try:
                    self._experiment_id = self.client.create_experiment(
                        self.experiment_name, artifact_location=artifact_location,
                        tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND},  # the UI's training view
                    )
                except Exception:  # created concurrently by another process
                    exp = self.client.get_experiment_by_name(self.experiment_name)
                    if exp is None:
                        raise
                    self._experiment_id = exp.experiment_id
            else:
                self._experiment_id = exp.experiment_id
        return self._experiment_id

    # ----------------------------------------------------------------- runs
    def start_parent(self, run_name: str | None = None, tags: dict[str, str] | None = None) -> str:
        """Start the parent run, or adopt the active run (``mlflow run`` / a user's
        ``mlflow.start_run()``) as the parent."""
        import mlflow

        if run_name is not None:
            check_safe_name(run_name, "tracking.run_name")
        tags = {**source_tags(), ROLE_TAG: "experiment", **(tags or {})}
        active = mlflow.active_run()
        run_id = active.info.run_id if active is not None else os.environ.get("MLFLOW_RUN_ID")
        if run_id:
            run = self.client.get_run(run_id)
            self._experiment_id = run.info.experiment_id
            self.owned_parent = False
            self.log_batch(run_id, tags=tags)
            logger.info("using the active MLflow run %s as the parent run", run_id)
            return run_id
        self.owned_parent = True
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags)
        return run.info.run_id

    def start_child(self, parent_id: str, run_name: str, tags: dict[str, str] | None = None) -> str:
        """Start a nested run under ``parent_id``."""
        if parent_id not in self._parent_experiments:
            self._parent_experiments[parent_id] = self.client.get_run(parent_id).info.experiment_id
        run = self.client.create_run(
            self._parent_experiments[parent_id],
            run_name=run_name,
            tags={PARENT_TAG: parent_id, **{k: str(v) for k, v in (tags or {}).items()}},
        )
        return run.info.run_id

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        """Terminate a run (FINISHED, FAILED or KILLED)."""
        self.client.set_terminated(run_id, status=status)

    def reopen(self, run_id: str) -> None:
        """Set a terminated run back to RUNNING (a resumed experiment's parent and model runs)."""
        self.client.update_run(run_id, status="RUNNING")

    def log_dataset(self, run_id: str, dataset_input) -> None:
        """Log an MLflow ``DatasetInput`` (:func:`coco_pipe.tracking.lineage.dataset_input`)."""
        self.client.log_inputs(run_id, datasets=[dataset_input])

    # -------------------------------------------------------------- logging
    def log_batch(
        self,
        run_id: str,
        *,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        tags: dict[str, Any] | None = None,
        step_metrics: list[tuple[str, float, int]] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Log params, metrics (step 0), tags and stepped metrics in few requests.
        Non-finite metric values are skipped (MLflow cannot compare them); ``timestamp_ms``
        (default: now) makes a replay log the very same metric entries."""
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000) if timestamp_ms is None else int(timestamp_ms)
        p = [Param(k[:250], _param_value(v)) for k, v in (params or {}).items()]
        m = [
            Metric(k[:250], float(v), now, 0)
            for k, v in (metrics or {}).items()
            if v is not None and math.isfinite(float(v))
        ]
        m += [
            Metric(k[:250], float(v), now, int(s))
            for k, v, s in (step_metrics or [])
            if v is not None and math.isfinite(float(v))
        ]
        t = [RunTag(k[:250], _param_value(v)) for k, v in (tags or {}).items()]
        for chunk in _chunks(p, 100):
            self.client.log_batch(run_id, params=chunk)
        for chunk in _chunks(m, 1000):
            self.client.log_batch(run_id, metrics=chunk)
        for chunk in _chunks(t, 100):
            self.client.log_batch(run_id, tags=chunk)

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
        """Log a file or a whole folder under ``artifact_path``."""
        local_path = Path(local_path)
        if local_path.is_dir():
            self.client.log_artifacts(run_id, str(local_path), artifact_path)
        else:
            self.client.log_artifact(run_id, str(local_path), artifact_path)

    def log_table(self, run_id: str, table: pd.DataFrame, artifact_file: str) -> None:
        """Log a DataFrame as CSV at ``artifact_file`` (e.g. ``predictions/predictions.csv``)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(artifact_file).name
            table.to_csv(path, index=False)
            parent = str(Path(artifact_file).parent)
            self.client.log_artifact(run_id, str(path), None if parent == "." else parent)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Log a text file (e.g. the experiment config as YAML)."""
        self.client.log_text(run_id, text, artifact_file)


__all__ = [
    "Tracker", "TrackingUnavailableError", "TrackingAuthError", "resolve_tracking_uri",
    "check_reachable", "check_safe_name", "ensure_sqlite_store", "open_client",
    "ROLE_TAG", "MODEL_TAG", "FOLD_TAG", "PARENT_TAG", "DEFAULT_TRACKING_URI",
]
