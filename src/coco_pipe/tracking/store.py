"""Reading back what an experiment recorded: runs, children, artifacts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from .client import PARENT_TAG, ROLE_TAG, auth_error, open_client, resolve_tracking_uri

#: Tag set on a fold run that a later attempt of the same fold replaced (resume, retry).
SUPERSEDED_TAG = "coco_pipe.superseded"


class RunStore:
    """Read-only view of a tracking store, for the results layer.

    Examples
    --------
    >>> store = RunStore("sqlite:///mlruns.db")   # doctest: +SKIP
    >>> store.children(parent_run_id, role="fold")  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | None = None):
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.client = open_client(self.tracking_uri)
        self._tmp = tempfile.TemporaryDirectory(prefix="coco-pipe-artifacts-")

    def get_run(self, run_id: str):
        """The MLflow run (raises a clear error if it does not exist)."""
        try:
            return self.client.get_run(run_id)
        except Exception as exc:
            err = auth_error(exc, self.tracking_uri)
            if err is not None:
                raise err from None
            raise LookupError(f"run {run_id!r} not found in tracking store {self.tracking_uri}") from exc

    def children(self, parent_id: str, role: str | None = None) -> list:
        """Nested runs of ``parent_id`` (optionally with tag coco_pipe.role == role)."""
        parent = self.get_run(parent_id)
        filt = f"tags.`{PARENT_TAG}` = '{parent_id}'"
        if role:
            filt += f" and tags.`{ROLE_TAG}` = '{role}'"
        return self.search([parent.info.experiment_id], filt)

    def search(self, experiment_ids: list[str], filter_string: str, order_by=None) -> list:
        """Every run matching ``filter_string`` (all pages)."""
        runs, token = [], None
        while True:
            page = self.client.search_runs(
                experiment_ids, filter_string=filter_string, max_results=1000, page_token=token,
                order_by=order_by,
            )  # fmt: skip
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def model_runs(self, parent_id: str) -> list:
        """The model runs (role ``model``) of an experiment's parent run."""
        return self.children(parent_id, role="model")

    def fold_runs(self, parent_id: str) -> list:
        """The fold runs of an experiment: nested under its model runs (the run tree
        parent -> model -> fold), or directly under the parent (runs written before the
        model level existed). Runs superseded by a later attempt of the same fold are left
        out (see :data:`SUPERSEDED_TAG`)."""
        runs = self.children(parent_id, role="fold")
        for model_run in self.model_runs(parent_id):
            runs += self.children(model_run.info.run_id, role="fold")
        return [r for r in runs if r.data.tags.get(SUPERSEDED_TAG) != "true"]

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        """All artifact file paths of a run (recursive), relative to its root."""
        out: list[str] = []
        for info in self.client.list_artifacts(run_id, path):
            if info.is_dir:
                out.extend(self.list_artifacts(run_id, info.path))
            else:
                out.append(info.path)
        return out

    def download(self, run_id: str, path: str) -> Path:
        """Download an artifact (file or folder) to a local temporary path."""
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        dst = Path(self._tmp.name) / run_id
        dst.mkdir(parents=True, exist_ok=True)
        return Path(self.client.download_artifacts(run_id, path, str(dst)))

    def read_table(self, run_id: str, path: str) -> pd.DataFrame:
        """Read a CSV artifact into a DataFrame."""
        return pd.read_csv(self.download(run_id, path))

    def read_text(self, run_id: str, path: str) -> str:
        return self.download(run_id, path).read_text()

    def artifact_uri(self, run, path: str) -> str:
        return f"{run.info.artifact_uri.rstrip('/')}/{path}"
