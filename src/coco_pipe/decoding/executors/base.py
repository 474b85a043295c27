"""What every executor shares: the picklable job of one fold, the function a worker runs,
and how the data reach a worker by reference.

A :class:`FoldJob` holds the experiment config, one :class:`~coco_pipe.decoding.planning.FoldTask`,
the id of the fold run the driver created, and a :class:`SharedData` handle. A worker
calls :func:`execute`: it opens (once per process) its own tracker on the same store, loads
the data by reference and runs :func:`~coco_pipe.decoding.fold.run_fold`.
"""

from __future__ import annotations

import mmap
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ...data import EpochsData
from ...tracking import Tracker
from ...tracking.spool import Spool
from ..configs import ExperimentConfig
from ..fold import FoldOutcome, run_fold
from ..logged_model import upload_model_folder
from ..metrics import resolve_metrics
from ..planning import FoldTask

#: Environment variables a worker takes over from the driver (cache, spool, tracking, hub).
FORWARDED_ENV_PREFIXES = ("COCO_PIPE_", "MLFLOW_", "HF_", "TQDM_")


@dataclass(frozen=True)
class _MemmapRef:
    """Where a worker re-opens an array memory-mapped (never pickles its values)."""

    path: str
    dtype: str
    shape: tuple[int, ...]
    offset: int
    order: str

    def open(self) -> np.ndarray:
        return np.memmap(self.path, dtype=self.dtype, mode="r", shape=self.shape,
                         offset=self.offset, order=self.order)  # fmt: skip


@dataclass
class SharedData:
    """The experiment's data as a worker receives it: small fields by value, the windows
    by reference.

    - an ``np.memmap`` with a file: its path, dtype, shape and offset;
    - an in-memory ``ndarray``: written once to a ``.npy`` in the driver's scratch folder,
      then referenced the same way (or, on Ray, put once in the object store);
    - anything else (the data layer's lazy windows): passed as it is, since it pickles by
      reference itself.
    """

    data: EpochsData
    ref: Any = None

    @classmethod
    def share(cls, data: EpochsData, scratch: Path | None, put: Callable[[Any], Any] | None = None):
        """Prepare ``data`` for workers; ``scratch`` receives the ``.npy`` of in-memory X,
        ``put`` (Ray's ``ray.put``) replaces that file."""
        X = data.X
        if _whole_memmap(X):
            ref = _memmap_ref(X)
        elif isinstance(X, np.ndarray) and put is not None:
            ref = put(np.asarray(X))
        elif isinstance(X, np.ndarray) and scratch is not None:
            path = Path(scratch) / "X.npy"
            np.save(path, X)
            ref = _memmap_ref(np.load(path, mmap_mode="r"))
        else:
            return cls(data)
        return cls(replace(data, X=np.empty((0,) + X.shape[1:], X.dtype)), ref)

    def load(self) -> EpochsData:
        """The data with their windows re-opened (in the worker)."""
        if self.ref is None:
            return self.data
        if isinstance(self.ref, _MemmapRef):
            X = self.ref.open()
        else:  # a Ray object reference
            import ray

            X = ray.get(self.ref)
        return replace(self.data, X=X)


def _memmap_ref(X: np.memmap) -> _MemmapRef:
    return _MemmapRef(str(X.filename), X.dtype.str, tuple(X.shape), int(X.offset), "C")


def _whole_memmap(X: Any) -> bool:
    """An ``np.memmap`` over its whole mapping (a sliced view keeps its base's offset, so
    only the mapping itself can be re-opened from file, dtype, shape and offset)."""
    return (
        isinstance(X, np.memmap) and bool(X.filename) and isinstance(X.base, mmap.mmap)
        and X.flags.c_contiguous
    )  # fmt: skip


def forwarded_env() -> dict[str, str]:
    """The driver's environment variables a worker must share (cache dir, spool, MLflow)."""
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}


@dataclass
class FoldJob:
    """One fold for a worker: config, task, its run id, the data handle and the spool."""

    cfg: ExperimentConfig
    task: FoldTask
    run_id: str
    data: SharedData
    tracking_uri: str
    spool_dir: str
    env: dict[str, str] = field(default_factory=dict)
    attempt: int = 0


_TRACKERS: dict[tuple, Tracker] = {}


def worker_tracker(uri: str, cfg: ExperimentConfig) -> Tracker:
    """The worker process's tracker on ``uri`` (one per process and store)."""
    key = (uri, cfg.tracking.experiment_name, cfg.tracking.timeout_s)
    if key not in _TRACKERS:
        _TRACKERS[key] = Tracker(uri, cfg.tracking.experiment_name, cfg.tracking.timeout_s)
    return _TRACKERS[key]


def execute(job: FoldJob, tracker: Tracker | None = None) -> FoldOutcome:
    """Run one fold job (the function every backend's worker calls).

    Examples
    --------
    >>> outcome = execute(job)            # doctest: +SKIP
    >>> outcome.model, outcome.fold       # doctest: +SKIP
    ('logreg', 0)
    """
    os.environ.update(job.env)
    cfg = job.cfg
    tracker = tracker or worker_tracker(job.tracking_uri, cfg)
    data = job.data.load()
    metrics = resolve_metrics(cfg.metrics, cfg.task)
    tuner = cfg.tuning if cfg.tuning.enabled else None
    return run_fold(cfg, tracker, job.run_id, data, job.task, metrics, tuner, Spool(job.spool_dir, upload_model=upload_model_folder))


def execute_with_threads(job: FoldJob, threads: int) -> FoldOutcome:
    """:func:`execute` with ``threads`` threads for the numerical libraries (BLAS, OpenMP,
    torch), so that workers sharing a machine do not oversubscribe its CPUs."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        torch = sys.modules.get("torch")  # imported by the job's estimators, if they use it
        if torch is not None:
            torch.set_num_threads(threads)
        return execute(job)


class Executor(Protocol):
    """Runs fold jobs and hands each outcome to a callback as it finishes.

    ``submit`` makes the job of a task (creating its fold run) just before the task is
    dispatched; ``on_crash(job, reason)`` is told of a job whose worker process died
    (after the retries) and returns its FAILED outcome.
    """

    def run(
        self,
        tasks: Iterable[FoldTask],
        submit: Callable[[FoldTask], FoldJob],
        on_done: Callable[[FoldOutcome], None],
        on_crash: Callable[[FoldJob, str], FoldOutcome],
    ) -> None: ...

    def abort(self) -> list[FoldJob]:
        """Stop what runs; return the jobs that were in flight."""
        ...


def scratch_dir() -> tempfile.TemporaryDirectory:
    """A scratch folder for the data shared with local workers."""
    return tempfile.TemporaryDirectory(prefix="coco-pipe-shared-")


__all__ = ["Executor", "FoldJob", "SharedData", "execute", "execute_with_threads",
           "forwarded_env", "scratch_dir", "worker_tracker"]  # fmt: skip
