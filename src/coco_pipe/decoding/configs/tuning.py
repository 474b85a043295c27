"""Optuna tuning configs (search inside each outer fold's training partition)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from .base import StrictConfig

#: Largest grid the grid sampler accepts for one study (a guard against typos).
MAX_GRID_SIZE = 100_000


class ParamSpec(StrictConfig):
    """One dimension of a search space.

    ``type`` float/int use ``low``/``high`` (and ``log`` or ``step``); categorical uses
    ``choices``.

    Examples
    --------
    >>> ParamSpec(type="float", low=1e-4, high=10.0, log=True).log
    True
    >>> ParamSpec(type="categorical", choices=["linear", "mlp"]).grid_values()
    ['linear', 'mlp']
    >>> ParamSpec(type="int", low=4, high=16, step=4).grid_values()
    [4, 8, 12, 16]
    """

    type: Literal["float", "int", "categorical"] = Field(..., description="Distribution type.")
    low: float | None = Field(None, description="Lower bound (float/int), inclusive.")
    high: float | None = Field(None, description="Upper bound (float/int), inclusive.")
    log: bool = Field(False, description="Sample on a log scale (float/int); excludes 'step'.")
    step: float | None = Field(
        None,
        description="Step between values (float/int); excludes 'log'. Needed by the grid "
        "sampler for floats (ints default to 1).",
    )
    choices: list[Any] | None = Field(None, description="Choices (categorical).")

    @model_validator(mode="after")
    def _bounds(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical ParamSpec needs non-empty 'choices'")
            given = [k for k in ("low", "high", "step") if getattr(self, k) is not None]
            if given or self.log:
                raise ValueError(
                    f"categorical ParamSpec takes only 'choices'; got {given + (['log'] if self.log else [])}"
                )
            return self
        if self.choices is not None:
            raise ValueError(
                f"{self.type} ParamSpec takes low/high, not 'choices' (use type='categorical')"
            )
        if self.low is None or self.high is None:
            raise ValueError(f"{self.type} ParamSpec needs 'low' and 'high'")
        if self.low > self.high:
            raise ValueError(f"ParamSpec low={self.low} is above high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"log-scale ParamSpec needs low > 0, got {self.low}")
        if self.log and self.step is not None:
            raise ValueError(
                "ParamSpec takes 'log' or 'step', not both (Optuna cannot sample both)"
            )
        if self.step is not None and not self.step > 0:
            raise ValueError(f"ParamSpec step must be > 0, got {self.step}")
        if self.type == "int":
            for key in ("low", "high", "step"):
                value = getattr(self, key)
                if value is not None and float(value) != int(value):
                    raise ValueError(f"int ParamSpec needs an integer {key!r}, got {value}")
        return self

    def grid_values(self) -> list[Any]:
        """The values the grid sampler tries; ``ValueError`` for a float without step."""
        if self.type == "categorical":
            return list(self.choices or [])
        if self.type == "int":
            step = int(self.step or 1)
            if self.log:
                raise ValueError(
                    "the grid sampler cannot enumerate a log-scale int ParamSpec; "
                    "use type='categorical' with explicit choices"
                )
            return list(range(int(self.low), int(self.high) + 1, step))
        if self.step is None:
            raise ValueError(
                "the grid sampler needs a 'step' for a float ParamSpec (or use type='categorical' "
                f"with explicit choices); got low={self.low}, high={self.high} without step"
            )
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [float(self.low + i * self.step) for i in range(n)]


class TuningConfig(StrictConfig):
    """Optuna search run inside the training partition of every outer fold.

    ``search_space`` maps a model name to ``{param_path: ParamSpec}`` where
    ``param_path`` is a dotted path into that model's config, e.g. ``params.C``
    (classical), ``head.params.C`` (frozen backbone), ``optim.lr``, ``optim.weight_decay``,
    ``lora.r`` (neural). One study runs per (model, outer fold); its name is
    ``{study_name or tracking.experiment_name}-{model}-fold{k}``.

    Examples
    --------
    >>> cfg = TuningConfig(enabled=True, n_trials=20, sampler="tpe", pruner="median",
    ...                    search_space={"logreg": {"params.C": {"type": "float", "low": 1e-4,
    ...                                                          "high": 10, "log": True}}})
    >>> cfg.search_space["logreg"]["params.C"].high
    10.0
    """

    enabled: bool = Field(False, description="Turn tuning on.")
    n_trials: int = Field(
        20,
        ge=1,
        description="Trials per study, in total over all workers sharing the study "
        "(complete, pruned or failed trials count).",
    )
    timeout: float | None = Field(
        None, gt=0, description="Seconds one worker spends on one study (None: no limit)."
    )
    sampler: Literal["tpe", "random", "grid"] = Field("tpe", description="Optuna sampler.")
    pruner: Literal["median", "hyperband", "none"] = Field("median", description="Optuna pruner.")
    n_startup_trials: int = Field(
        5,
        ge=0,
        description="Trials completed before the median pruner prunes and before TPE "
        "models the space (random sampling until then).",
    )
    n_warmup_steps: int = Field(
        0,
        ge=0,
        description="Reports a trial makes before the median pruner may stop it (classical: "
        "inner folds; neural: epochs of the first inner fold).",
    )
    metric: str | None = Field(
        None, description="Metric to optimise (default: the experiment's first metric)."
    )
    direction: Literal["maximize", "minimize"] | None = Field(
        None, description="Default from the metric."
    )
    inner_cv: int = Field(
        3, ge=2, description="Inner folds on the training partition (grouped like the outer CV)."
    )
    search_space: dict[str, dict[str, ParamSpec]] = Field(
        default_factory=dict, description="model -> param path -> spec."
    )
    storage: str | None = Field(
        None,
        description="None: in memory; an Optuna storage URL (sqlite:///study.db, "
        "postgresql://user@host/db) to share studies between worker processes. "
        "Environment variables ($VAR) are expanded when the study is opened, so passwords "
        "need not sit in the config.",
    )
    study_name: str | None = Field(
        None,
        description="Prefix of the study names (default: tracking.experiment_name); the "
        "model name and fold are appended.",
    )
    wait_for_workers: float = Field(
        600.0,
        ge=0,
        description="Shared storage only: after its last trial, seconds a worker waits "
        "for trials still running in other workers before it picks the best parameters.",
    )

    @model_validator(mode="after")
    def _checks(self) -> TuningConfig:
        if self.metric is not None:
            from ..metrics import METRICS

            if self.metric not in METRICS:
                raise ValueError(
                    f"tuning.metric={self.metric!r} is not a known metric (known: {', '.join(METRICS)})"
                )
        if self.sampler == "grid":
            for model, space in self.search_space.items():
                size = 1
                for path, spec in space.items():
                    try:
                        size *= len(spec.grid_values())
                    except ValueError as exc:
                        raise ValueError(
                            f"tuning.search_space[{model!r}][{path!r}]: {exc}"
                        ) from exc
                if size > MAX_GRID_SIZE:
                    raise ValueError(
                        f"tuning.search_space[{model!r}] spans a grid of {size} points "
                        f"(more than {MAX_GRID_SIZE}); use sampler='tpe' or 'random', or coarser steps"
                    )
        return self
