"""Where the (model, fold) tasks of an experiment run: this process, local processes, or Ray."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import StrictConfig


class ExecutionConfig(StrictConfig):
    """How the experiment's (model, outer fold) tasks are executed.

    Every task is independent and pickles (the estimator, its config, the fold's indices and
    a reference to the data). Scores do not depend on the backend: each task seeds its
    estimator from the experiment's ``random_state`` alone.

    Examples
    --------
    >>> ExecutionConfig(backend="joblib", n_jobs=2).n_jobs
    2
    >>> ExecutionConfig(backend="ray", ray_address="auto", gpus_per_fold=1).gpus_per_fold
    1.0
    """

    backend: Literal["sequential", "joblib", "ray"] = Field(
        "sequential",
        description="'sequential': one task after the other in this process; 'joblib': local "
        "worker processes (loky); 'ray': tasks on a Ray cluster with Ray's CPU/GPU resources.",
    )
    n_jobs: int = Field(
        2, ge=1, description="Worker processes of the joblib backend (ignored by the others)."
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster to join: None starts a local one (stopped at the end), 'auto' "
        "joins the cluster of this machine, 'ray://host:10001' a remote one.",
    )
    cpus_per_fold: float = Field(1.0, gt=0, description="CPUs Ray reserves for each task.")
    gpus_per_fold: float = Field(
        0.0, ge=0, description="GPUs Ray reserves for each task (1: one GPU per fine-tuning fold)."
    )
    max_retries: int = Field(
        0,
        ge=0,
        le=5,
        description="Times a task whose worker process died (killed, out of memory) is run "
        "again before its fold is recorded FAILED. An exception raised by the estimator is "
        "never retried.",
    )

    @model_validator(mode="after")
    def _ray_only_fields(self) -> ExecutionConfig:
        if self.backend != "ray" and self.ray_address is not None:
            raise ValueError(
                f"execution.ray_address={self.ray_address!r} is set but execution.backend="
                f"{self.backend!r}; set backend: ray to use a Ray cluster"
            )
        return self
