"""Executors of an experiment's (model, fold) jobs: one module per backend.

- :mod:`.sequential`: in the driver's process, one after the other;
- :mod:`.joblib_backend`: local worker processes (loky);
- :mod:`.ray_backend`: a Ray cluster with CPU/GPU resources per fold.

All of them run :func:`.base.execute` on a :class:`.base.FoldJob` and report each outcome
as it finishes; :func:`make_executor` picks one from ``ExperimentConfig.execution``.
"""

from __future__ import annotations

from typing import Any

from .base import Executor, FoldJob, SharedData, execute, forwarded_env


def make_executor(execution: Any, tracker: Any) -> Executor:
    """The executor of ``execution.backend`` (``tracker`` is the sequential backend's).

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ExecutionConfig
    >>> type(make_executor(ExecutionConfig(), None)).__name__
    'SequentialExecutor'
    """
    if execution.backend == "joblib":
        from .joblib_backend import JoblibExecutor

        return JoblibExecutor(execution.n_jobs, execution.max_retries)
    if execution.backend == "ray":
        from .ray_backend import RayExecutor

        return RayExecutor(execution)
    from .sequential import SequentialExecutor

    return SequentialExecutor(tracker)


__all__ = ["Executor", "FoldJob", "SharedData", "execute", "forwarded_env", "make_executor"]
