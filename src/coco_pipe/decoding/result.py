"""ExperimentResult: tidy tables rebuilt from what the tracking store holds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..tracking import FOLD_TAG, MODEL_TAG, RunStore
from .metrics import METRICS
from .prepare import CHANCE_MODEL

SCORE_COLUMNS = ["Model", "Fold", "Metric", "Value"]
SUBJECT_SCORE_COLUMNS = ["Model", "Subject", "Session", "Metric", "Value", "n_folds"]
MOABB_COLUMNS = ["score", "time", "samples", "samples_test", "subject", "session", "channels",
                 "n_sessions", "dataset", "pipeline"]
#: CV strategies whose folds each test one subject: results are summarised over subjects.
SUBJECT_PROTOCOLS = ("within_subject", "cross_session", "cross_subject", "few_shot")
ARTIFACT_COLUMNS = ["Model", "Fold", "ArtifactType", "ArtifactKey", "ArtifactValue"]


def _ranks(table: pd.DataFrame) -> pd.Series:
    """Rank of each model's mean per metric (1 = best). Models without a successful fold
    have no rank; the chance model is ranked only beside at least one other model that has
    scores, so it is never ranked first when every other model failed."""
    ranks = []
    for metric, grp in table.groupby("Metric", sort=False):
        asc = not METRICS[metric].greater_is_better if metric in METRICS else False
        others = grp[(grp.Model != CHANCE_MODEL) & grp.Mean.notna()]
        if others.empty:
            ranks.append(pd.Series(np.nan, index=grp.index))
        else:
            ranks.append(grp["Mean"].rank(ascending=asc, method="min"))
    return pd.concat(ranks).reindex(table.index)


def _subject_std(values: np.ndarray) -> float:
    """Sample sd over subjects (ddof=1, as MOABB's tables); NaN below two subjects."""
    finite = values[np.isfinite(values)]
    return float(np.std(finite, ddof=1)) if len(finite) > 1 else np.nan


class ExperimentResult:
    """Everything one experiment recorded, read from the tracking store.

    Build it from a run id alone: ``ExperimentResult.from_run(run_id)``. Every number
    it returns can be found in the tracking store.

    Examples
    --------
    >>> res = ExperimentResult.from_run("3f2a...", tracking_uri="sqlite:///mlruns.db")  # doctest: +SKIP
    >>> res.summary()                  # doctest: +SKIP
    >>> res.get_detailed_scores()      # doctest: +SKIP
    """

    def __init__(self, store: RunStore, parent_run, fold_runs: list):
        self._store = store
        self.parent_run = parent_run
        self.run_id: str = parent_run.info.run_id
        self.tracking_uri: str = store.tracking_uri
        self._fold_runs = sorted(
            fold_runs,
            key=lambda r: (r.data.tags.get(MODEL_TAG, ""), int(r.data.tags.get(FOLD_TAG, -1))),
        )
        tags = parent_run.data.tags
        self.models: list[str] = [m for m in tags.get("coco_pipe.models", "").split(",") if m]
        self.metrics: list[str] = [m for m in tags.get("coco_pipe.metrics", "").split(",") if m]
        self.task: str = tags.get("coco_pipe.task", "classification")
        self._predictions: pd.DataFrame | None = None

    @classmethod
    def from_run(cls, run_id: str, tracking_uri: str | None = None) -> ExperimentResult:
        """Rebuild the result of the experiment whose parent run is ``run_id``."""
        store = RunStore(tracking_uri)
        parent = store.get_run(run_id)
        return cls(store, parent, store.fold_runs(run_id))

    # ------------------------------------------------------------- run tree
    def get_model_runs(self) -> pd.DataFrame:
        """One row per model run (the level between the parent and the fold runs): Model,
        RunId, Status and its metrics (plain names: fold mean, ``<metric>_std``, ``n_folds``,
        ``n_failed_folds``). Empty for experiments recorded before the model level existed.

        Examples
        --------
        >>> res.get_model_runs()[["Model", "balanced_accuracy", "n_folds"]]  # doctest: +SKIP
        """
        rows = [
            {"Model": r.data.tags.get(MODEL_TAG, ""), "RunId": r.info.run_id,
             "Status": r.info.status, **r.data.metrics}
            for r in self._store.model_runs(self.run_id)
        ]  # fmt: skip
        table = pd.DataFrame(rows)
        if table.empty:
            return pd.DataFrame(columns=["Model", "RunId", "Status"])
        order = {m: i for i, m in enumerate(self.models)}
        return table.sort_values("Model", key=lambda s: s.map(order)).reset_index(drop=True)

    def failed_folds(self) -> pd.DataFrame:
        """The folds that failed, with their error: Model, Fold, RunId, Status, TestGroups,
        Failure (the exception, or why the worker died).

        Examples
        --------
        >>> res.failed_folds()[["Model", "Fold", "Failure"]]  # doctest: +SKIP
        """
        folds = self.get_fold_runs()
        failed = folds[folds.Status != "FINISHED"]
        return failed[["Model", "Fold", "RunId", "Status", "TestGroups", "Failure"]].reset_index(drop=True)

    def models_without_success(self) -> list[str]:
        """Models none of whose folds finished (what makes ``coco-pipe run`` exit non-zero).

        Examples
        --------
        >>> res.models_without_success()  # doctest: +SKIP
        []
        """
        folds = self.get_fold_runs()
        ok = set(folds.loc[folds.Status == "FINISHED", "Model"])
        return [m for m in self.models if m not in ok]

    # ---------------------------------------------------------------- tables
    def _fold_key(self, run) -> tuple[str, int]:
        return run.data.tags.get(MODEL_TAG, ""), int(run.data.tags.get(FOLD_TAG, -1))

    def get_fold_runs(self) -> pd.DataFrame:
        """One row per model x fold: Model, Fold, RunId, Status, n_train, n_test, Failure."""
        rows = []
        for r in self._fold_runs:
            model, fold = self._fold_key(r)
            rows.append(
                {
                    "Model": model,
                    "Fold": fold,
                    "RunId": r.info.run_id,
                    "Status": r.info.status,
                    "n_train": int(r.data.tags.get("n_train", 0)),
                    "n_test": int(r.data.tags.get("n_test", 0)),
                    "TestGroups": r.data.tags.get("test_groups", ""),
                    "Failure": r.data.tags.get("coco_pipe.failure", ""),
                }
            )
        return pd.DataFrame(
            rows,
            columns=[
                "Model",
                "Fold",
                "RunId",
                "Status",
                "n_train",
                "n_test",
                "TestGroups",
                "Failure",
            ],
        )

    def get_detailed_scores(self) -> pd.DataFrame:
        """Per-fold scores: columns Model, Fold, Metric, Value (successful folds only)."""
        rows = []
        for r in self._fold_runs:
            if r.info.status != "FINISHED":
                continue
            model, fold = self._fold_key(r)
            for metric in self.metrics:
                if metric in r.data.metrics:
                    rows.append(
                        {
                            "Model": model,
                            "Fold": fold,
                            "Metric": metric,
                            "Value": float(r.data.metrics[metric]),
                        }
                    )
        return pd.DataFrame(rows, columns=SCORE_COLUMNS)

    @property
    def protocol(self) -> str:
        """The outer CV strategy (``cv.strategy`` logged on the parent run)."""
        return self.parent_run.data.params.get("cv.strategy", "")

    def summary(self, over: str = "auto") -> pd.DataFrame:
        """Mean, std and rank per model and metric, with failed-fold counts, the chance
        level and whether each model differs from the best beyond fold-to-fold noise
        (the pairwise test logged on the parent run).

        Parameters
        ----------
        over : {"auto", "folds", "subjects"}
            What ``Mean`` / ``Std`` run over. ``"subjects"``: each subject's score is the
            mean of the folds that tested it, then mean +- sd (``ddof=1``) over subjects,
            as MOABB reports; a column ``n_subjects`` is added. ``"auto"``: subjects under
            the protocols (within_subject, cross_session, cross_subject, few_shot),
            folds otherwise (sd with ``ddof=0``).
        """
        if over not in ("auto", "folds", "subjects"):
            raise ValueError(f"over={over!r}; expected 'auto', 'folds' or 'subjects'")
        by_subject = over == "subjects" or (over == "auto" and self.protocol in SUBJECT_PROTOCOLS)
        scores = self.get_subject_scores() if by_subject else self.get_detailed_scores()
        folds = self.get_fold_runs()
        rows = []
        for model in self.models:
            n_failed = int((folds[(folds.Model == model)].Status == "FAILED").sum())
            n_ok = int((folds[(folds.Model == model)].Status == "FINISHED").sum())
            for metric in self.metrics:
                vals = scores[(scores.Model == model) & (scores.Metric == metric)][
                    "Value"
                ].to_numpy(float)
                row = {
                    "Model": model,
                    "Metric": metric,
                    "Mean": float(np.nanmean(vals)) if len(vals) else np.nan,
                    "Std": _subject_std(vals) if by_subject else (
                        float(np.nanstd(vals)) if len(vals) else np.nan),
                    "n_folds": n_ok,
                    "n_failed": n_failed,
                    "Status": "failed" if n_ok == 0 else ("partial" if n_failed else "ok"),
                }
                if by_subject:
                    row["n_subjects"] = int(np.isfinite(vals).sum())
                rows.append(row)
        columns = ["Model", "Metric", "Mean", "Std", "n_folds", "n_failed", "Status"]
        table = pd.DataFrame(rows, columns=columns + (["n_subjects"] if by_subject else []))
        if table.empty:
            return table
        table["Rank"] = _ranks(table)
        if "chance" in self.models:
            chance = table[table.Model == "chance"].set_index("Metric")["Mean"]
            table["Chance"] = table["Metric"].map(chance)
        pairwise = self.get_pairwise_tests()
        if not pairwise.empty and self.metrics:
            main = self.metrics[0]
            best = table[(table.Metric == main)].sort_values("Rank").iloc[0]["Model"]
            sig = {}
            for _, row in pairwise.iterrows():
                if best in (row["model_a"], row["model_b"]):
                    other = row["model_b"] if row["model_a"] == best else row["model_a"]
                    sig[other] = (float(row["p_value"]), bool(row["significant"]))
            table["p_vs_best"] = [
                sig.get(m, (np.nan, False))[0] if metric == main else np.nan
                for m, metric in zip(table.Model, table.Metric, strict=True)
            ]
            table["differs_from_best"] = [
                sig.get(m, (np.nan, False))[1] if metric == main and m != best else False
                for m, metric in zip(table.Model, table.Metric, strict=True)
            ]
        perm_p = self.parent_run.data.metrics.get("permutation.p_value")
        if perm_p is not None:
            table["permutation_p"] = np.where(
                (table.Model == self.parent_run.data.tags.get("permutation.model"))
                & (table.Metric == self.parent_run.data.tags.get("permutation.metric")),
                perm_p,
                np.nan,
            )
        return table.sort_values(
            ["Metric", "Rank"],
            key=lambda s: (
                s.map({m: i for i, m in enumerate(self.metrics)}) if s.name == "Metric" else s
            ),
        ).reset_index(drop=True)

    def get_subject_scores(self, by_session: bool = False) -> pd.DataFrame:
        """Scores per model, subject (and test session) and metric: the mean over the
        folds that tested that subject (columns Model, Subject, Session, Metric, Value,
        n_folds). ``Session`` is the fold's test sessions (``cv.session_key``), ``""``
        when none were given or ``by_session`` is False.

        Raises
        ------
        ValueError
            When a fold tests several subjects (e.g. ``group_kfold``): use a protocol or
            ``leave_one_group_out``.
        """
        rows = []
        for r in self._fold_runs:
            if r.info.status != "FINISHED":
                continue
            model, fold = self._fold_key(r)
            subject = r.data.tags.get("test_groups", "")
            if not subject or "," in subject:
                raise ValueError(
                    f"fold {fold} of {model!r} tests subjects {subject!r}: per-subject scores "
                    "need folds that each test one subject (cv.strategy within_subject, "
                    "cross_session, cross_subject, few_shot or leave_one_group_out on subjects)"
                )
            session = r.data.tags.get("test_sessions", "") if by_session else ""
            for metric in self.metrics:
                if metric in r.data.metrics:
                    rows.append((model, subject, session, metric, float(r.data.metrics[metric])))
        frame = pd.DataFrame(rows, columns=["Model", "Subject", "Session", "Metric", "Value"])
        if frame.empty:
            return pd.DataFrame(columns=SUBJECT_SCORE_COLUMNS)
        grouped = frame.groupby(["Model", "Subject", "Session", "Metric"], sort=False)["Value"]
        out = grouped.agg(Value="mean", n_folds="size").reset_index()
        return out[SUBJECT_SCORE_COLUMNS]

    def to_moabb(
        self, metric: str | None = None, dataset: str | None = None, include_chance: bool = False
    ) -> pd.DataFrame:
        """The results as MOABB's results frame, one row per pipeline x subject x test
        session, so ``moabb.analysis`` statistics and plots apply.

        Parameters
        ----------
        metric : str, optional
            The score column (default: the experiment's first metric).
        dataset : str, optional
            Dataset name (default: the parent run's ``dataset`` tag, else its run name).
        include_chance : bool
            Keep the chance model as a pipeline.

        Returns
        -------
        DataFrame
            Columns score, time (mean fit seconds), samples (mean training size),
            samples_test, subject, session (``"0"`` without sessions), channels,
            n_sessions, dataset, pipeline.

        Examples
        --------
        >>> from moabb.analysis.meta_analysis import compute_dataset_statistics  # doctest: +SKIP
        >>> compute_dataset_statistics(result.to_moabb())                        # doctest: +SKIP
        """
        metric = metric or (self.metrics[0] if self.metrics else None)
        if metric not in self.metrics:
            raise ValueError(f"metric={metric!r} was not recorded; recorded: {self.metrics}")
        tags, params = self.parent_run.data.tags, self.parent_run.data.params
        dataset = dataset or tags.get("dataset") or self.parent_run.info.run_name
        self.get_subject_scores()  # raises when folds do not each test one subject
        rows = []
        for r in self._fold_runs:
            model, _ = self._fold_key(r)
            if r.info.status != "FINISHED" or (model == "chance" and not include_chance):
                continue
            rows.append({
                "pipeline": model, "subject": r.data.tags.get("test_groups", ""),
                "session": r.data.tags.get("test_sessions", "") or "0",
                "score": float(r.data.metrics.get(metric, np.nan)),
                "time": float(r.data.metrics.get("fit_seconds", np.nan)),
                "samples": float(r.data.tags.get("n_train", np.nan)),
                "samples_test": float(r.data.tags.get("n_test", np.nan)),
            })
        frame = pd.DataFrame(rows, columns=["pipeline", "subject", "session", "score", "time",
                                            "samples", "samples_test"])
        out = (frame.groupby(["pipeline", "subject", "session"], sort=False)
               .mean(numeric_only=True).reset_index())
        sessions = frame.groupby("subject")["session"].agg(
            lambda s: len({x for v in s for x in v.split(",")}))
        out["n_sessions"] = out["subject"].map(sessions).astype(int)
        channels = params.get("data.n_channels")
        out["channels"] = int(channels) if channels not in (None, "None") else np.nan
        out["dataset"] = dataset
        return out[MOABB_COLUMNS]

    def get_pairwise_tests(self) -> pd.DataFrame:
        """The pairwise model comparison table logged on the parent run (may be empty)."""
        try:
            return self._store.read_table(self.run_id, "statistics/pairwise.csv")
        except Exception:
            return pd.DataFrame()

    def get_predictions(self) -> pd.DataFrame:
        """All folds' test predictions: Model, Fold, SampleIndex, y_true, y_pred (+ Group, proba_*)."""
        if self._predictions is None:
            frames = []
            for r in self._fold_runs:
                if r.info.status != "FINISHED":
                    continue
                try:
                    frames.append(
                        self._store.read_table(r.info.run_id, "predictions/predictions.csv")
                    )
                except Exception:
                    continue
            self._predictions = (
                pd.concat(frames, ignore_index=True)
                if frames
                else pd.DataFrame(columns=["Model", "Fold", "SampleIndex", "y_true", "y_pred"])
            )
        return self._predictions.copy()

    def get_model_artifacts(self, artifact_type: str | None = None) -> pd.DataFrame:
        """Artifacts of the fold runs: Model, Fold, ArtifactType, ArtifactKey, ArtifactValue.

        ``artifact_type`` is the artifact folder: ``predictions``, ``training_history``,
        ``checkpoints``, ``adapter``, ``model_card``, ``plots``, ``diagnostics``...
        ``ArtifactKey`` is the path inside the run, ``ArtifactValue`` its full URI.
        """
        rows = []
        for r in self._fold_runs:
            model, fold = self._fold_key(r)
            for path in self._store.list_artifacts(r.info.run_id, artifact_type):
                kind = path.split("/", 1)[0]
                rows.append(
                    {
                        "Model": model,
                        "Fold": fold,
                        "ArtifactType": kind,
                        "ArtifactKey": path,
                        "ArtifactValue": self._store.artifact_uri(r, path),
                    }
                )
        return pd.DataFrame(rows, columns=ARTIFACT_COLUMNS)

    def get_parent_artifacts(self, artifact_type: str | None = None) -> pd.DataFrame:
        """Artifacts of the parent run (plots, statistics, config, cache manifest)."""
        rows = [
            {
                "ArtifactType": p.split("/", 1)[0],
                "ArtifactKey": p,
                "ArtifactValue": self._store.artifact_uri(self.parent_run, p),
            }
            for p in self._store.list_artifacts(self.run_id, artifact_type)
        ]
        return pd.DataFrame(rows, columns=["ArtifactType", "ArtifactKey", "ArtifactValue"])

    def download_artifact(self, run_id: str, path: str) -> Path:
        """Download one artifact of any run of this experiment to a local path."""
        return self._store.download(run_id, path)

    def __repr__(self) -> str:
        return (
            f"ExperimentResult(run_id={self.run_id!r}, models={self.models}, "
            f"folds={len(self._fold_runs)}, tracking_uri={self.tracking_uri!r})"
        )
