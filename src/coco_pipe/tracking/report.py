"""What an estimator hands to the tracker after a fold: FoldReport.

A report can also describe artifacts of the experiment's parent run that only exist once
every fold is done (e.g. the embeddings all folds used): :class:`DeferredArtifact`. The
experiment collects them from every fold, combines those that name the same file, and
writes them once with :func:`write_deferred_artifacts`; artifacts marked ``size_capped``
are logged only when the written file is at most the experiment's size cap
(``tracking.log_embeddings_max_mb``). The experiment loop needs to know nothing else
about them.

Examples
--------
>>> report = FoldReport(metrics={"cache.hits": 3.0})
>>> report.merge(FoldReport(metrics={"cache.misses": 1.0})).metrics
{'cache.hits': 3.0, 'cache.misses': 1.0}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class DeferredArtifact(Protocol):
    """A parent-run artifact described by a fold and written after the last fold.

    Implementations are small picklable values (folds may run in other processes).

    Attributes
    ----------
    artifact_type : str
        Artifact directory on the parent run (e.g. ``"cache"``).
    name : str
        File name; artifacts of one ``(artifact_type, name)`` from several folds are
        combined with :meth:`combine` into one file.
    size_capped : bool
        Log the file only when it is at most the experiment's size cap.
    """

    artifact_type: str
    name: str
    size_capped: bool

    def combine(self, other: DeferredArtifact) -> DeferredArtifact:
        """The same artifact with what ``other`` (same type and name) describes added."""
        ...

    def write(self, directory: Path) -> Path | None:
        """Write the file into ``directory``; return its path, or None when there is nothing."""
        ...


def write_deferred_artifacts(
    artifacts: Iterable[DeferredArtifact], directory: Path, *, max_capped_bytes: float
) -> list[tuple[str, Path]]:
    """Combine, write and size-check deferred artifacts; returns ``(artifact_type, path)``
    of the files to log.

    Parameters
    ----------
    artifacts : iterable of DeferredArtifact
        From the fold reports, in fold order.
    directory : pathlib.Path
        A folder that outlives the logging calls (the files are written here).
    max_capped_bytes : float
        Largest file (bytes) logged for a ``size_capped`` artifact; 0 logs none of them.

    Examples
    --------
    >>> write_deferred_artifacts([], Path("."), max_capped_bytes=0)
    []
    """
    combined: dict[tuple[str, str], DeferredArtifact] = {}
    for item in artifacts:
        key = (item.artifact_type, item.name)
        combined[key] = combined[key].combine(item) if key in combined else item
    out: list[tuple[str, Path]] = []
    for (artifact_type, _), item in combined.items():
        if item.size_capped and max_capped_bytes <= 0:
            continue
        path = item.write(Path(directory))
        if path is None:
            continue
        if item.size_capped and Path(path).stat().st_size > max_capped_bytes:
            continue
        out.append((artifact_type, Path(path)))
    return out


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
    deferred_parent_artifacts : list of DeferredArtifact
        Parent-run files written once after the last fold (combined across folds by
        name; ``size_capped`` ones only below the experiment's size cap), see
        :func:`write_deferred_artifacts`.
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
    deferred_parent_artifacts: list[DeferredArtifact] = field(default_factory=list)
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
            deferred_parent_artifacts=self.deferred_parent_artifacts
            + other.deferred_parent_artifacts,
            failed=self.failed or other.failed,
            failure_reason=self.failure_reason or other.failure_reason,
        )
