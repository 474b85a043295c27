"""The Ray backend: folds as Ray tasks with Ray's own CPU and GPU resources.

``execution.ray_address=None`` starts a local cluster for the experiment (and stops it at
the end; a cluster this process already joined is used as it is); ``"auto"`` joins the
cluster of this machine, ``"ray://host:10001"`` a remote one. Each fold reserves
``cpus_per_fold`` CPUs and ``gpus_per_fold`` GPUs, so a fine-tuning fold with
``gpus_per_fold=1`` gets a GPU of its own (Ray sets ``CUDA_VISIBLE_DEVICES``). A worker
that dies is retried by Ray itself (``max_retries``); after that its fold is FAILED.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from ..configs import ExecutionConfig
from ..fold import FoldOutcome
from ..planning import FoldTask
from .base import FoldJob, execute_with_threads

logger = logging.getLogger(__name__)


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "execution.backend='ray' needs Ray: pip install 'coco-pipe[ray]' (or 'ray[default]')"
        ) from exc
    return ray


class RayExecutor:
    """Run jobs as Ray tasks (``backend: ray``).

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ExecutionConfig
    >>> RayExecutor(ExecutionConfig(backend="ray")).abort()
    []
    """

    def __init__(self, execution: ExecutionConfig):
        self.execution = execution
        self._started = False
        self._inflight: dict[Any, FoldJob] = {}

    def start(self) -> Callable[[Any], Any]:
        """Join or start the cluster; returns ``ray.put`` (the data go once to the object store)."""
        ray = _ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
            if self.execution.ray_address is None:
                kwargs["runtime_env"] = self.local_runtime_env()
            else:
                kwargs["address"] = self.execution.ray_address
            ray.init(**kwargs)
            self._started = True
        return ray.put

    @staticmethod
    def local_runtime_env() -> dict[str, Any]:
        """The runtime environment of a local cluster: the driver's import path, so that
        workers import the very code the driver runs."""
        path = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
        return {"env_vars": {"PYTHONPATH": path}}

    def slots(self) -> int:
        """Folds that fit in the cluster at once (CPUs and GPUs per fold)."""
        res = _ray().cluster_resources()
        n = int(res.get("CPU", 1) // self.execution.cpus_per_fold)
        if self.execution.gpus_per_fold:
            n = min(n, int(res.get("GPU", 0) // self.execution.gpus_per_fold))
        return max(1, n)

    def run(
        self,
        tasks: Iterable[FoldTask],
        submit: Callable[[FoldTask], FoldJob],
        on_done: Callable[[FoldOutcome], None],
        on_crash: Callable[[FoldJob, str], FoldOutcome],
    ) -> None:
        """Submit the jobs as the cluster has room; hand back each outcome as it comes."""
        ray = _ray()
        ex = self.execution
        remote = ray.remote(execute_with_threads).options(
            num_cpus=ex.cpus_per_fold, num_gpus=ex.gpus_per_fold, max_retries=ex.max_retries,
            retry_exceptions=False,
        )  # fmt: skip
        threads = max(1, int(ex.cpus_per_fold))
        queue = list(tasks)[::-1]
        slots = self.slots()
        inflight = self._inflight
        while queue or inflight:
            while queue and len(inflight) < slots:
                job = submit(queue.pop())
                inflight[remote.remote(job, threads)] = job
            ready, _ = ray.wait(list(inflight), num_returns=1)
            for ref in ready:
                job = inflight.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # the fold's own exception
                    raise exc.as_instanceof_cause() from None
                except ray.exceptions.RayError as exc:  # the worker died, after Ray's retries
                    reason = f"the worker process died ({type(exc).__name__}: {str(exc)[:500]})"
                    outcome = on_crash(job, reason)
                on_done(outcome)

    def abort(self) -> list[FoldJob]:
        """Cancel what runs; return the jobs that were in flight."""
        jobs = list(self._inflight.values())
        if jobs:
            ray = _ray()
            for ref in list(self._inflight):
                ray.cancel(ref, force=True)
        self._inflight.clear()
        return jobs

    def close(self) -> None:
        """Stop the local cluster this executor started."""
        if self._started:
            _ray().shutdown()
            self._started = False
