"""What an estimator hands to the tracker after a fold: FoldReport."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FoldReport:
    """Everything a fitted estimator wants recorded on its fold's nested run.

    Estimators (or pipeline steps) expose it through an optional method
    ``tracking_report(workdir: pathlib.Path) -> FoldReport``; files they write
    go under ``workdir`` and are listed in ``artifacts``. The experiment merges
    the reports of all pipeline steps and logs them in one batch.

    Attributes
    ----------
    params : dict
        Extra params (e.g. input adaptation: ``adapt.sfreq``, ``weights.source``).
    metrics : dict
        Extra scalar metrics (e.g. ``cache.hits``).
    tags : dict
        Extra tags (e.g. ``weights=random-init``).
    step_metrics : list of (key, value, step)
        Per-epoch metrics (``train_loss`` at step = epoch).
    artifacts : list of (artifact_type, path)
        Files or folders to log under the artifact directory ``artifact_type``
        (e.g. ``("training_history", p)``, ``("checkpoints", p)``, ``("adapter", dir)``).
    parent_artifacts : list of (artifact_type, path)
        Files to log on the parent run once (last one with a given file name wins).
    parent_metrics : dict
        Scalar metrics for the parent run (summed over folds, e.g. cache counters).
    failed : bool
        The fold failed in a controlled way (e.g. diverged); it is recorded as FAILED.
    failure_reason : str
        One line on why.
    """

    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    step_metrics: list[tuple[str, float, int]] = field(default_factory=list)
    artifacts: list[tuple[str, Path]] = field(default_factory=list)
    parent_artifacts: list[tuple[str, Path]] = field(default_factory=list)
    parent_metrics: dict[str, float] = field(default_factory=dict)
    failed: bool = False
    failure_reason: str = ""

    def merge(self, other: FoldReport) -> FoldReport:
        """Combine two reports (other's keys win on conflicts)."""
        return FoldReport(
            params={**self.params, **other.params},
            metrics={**self.metrics, **other.metrics},
            tags={**self.tags, **other.tags},
            step_metrics=self.step_metrics + other.step_metrics,
            artifacts=self.artifacts + other.artifacts,
            parent_artifacts=self.parent_artifacts + other.parent_artifacts,
            parent_metrics={**self.parent_metrics, **other.parent_metrics},
            failed=self.failed or other.failed,
            failure_reason=self.failure_reason or other.failure_reason,
        )
