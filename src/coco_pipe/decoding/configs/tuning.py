"""Optuna tuning configs (search inside each outer fold's training partition)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import StrictConfig


class ParamSpec(StrictConfig):
    """One dimension of a search space.

    ``type`` float/int use ``low``/``high`` (and ``log``); categorical uses ``choices``.
    """

    type: Literal["float", "int", "categorical"] = Field(..., description="Distribution type.")
    low: float | None = Field(None, description="Lower bound (float/int).")
    high: float | None = Field(None, description="Upper bound (float/int).")
    log: bool = Field(False, description="Sample on a log scale (float/int).")
    step: float | None = Field(None, description="Step (float/int), optional.")
    choices: list[Any] | None = Field(None, description="Choices (categorical).")

    @model_validator(mode="after")
    def _bounds(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical ParamSpec needs non-empty 'choices'")
        else:
            if self.low is None or self.high is None:
                raise ValueError(f"{self.type} ParamSpec needs 'low' and 'high'")
            if self.low > self.high:
                raise ValueError(f"ParamSpec low={self.low} is above high={self.high}")
            if self.log and self.low <= 0:
                raise ValueError(f"log-scale ParamSpec needs low > 0, got {self.low}")
        return self


class TuningConfig(StrictConfig):
    """Optuna search run inside the training partition of every outer fold.

    ``search_space`` maps a model name to ``{param_path: ParamSpec}`` where
    ``param_path`` is a dotted path into that model's config, e.g. ``params.C``
    (classical), ``head.params.C`` (frozen backbone), ``optim.lr``, ``lora.r``.
    """

    enabled: bool = Field(False, description="Turn tuning on.")
    n_trials: int = Field(20, ge=1, description="Trials per study.")
    timeout: float | None = Field(None, description="Seconds per study (None: no limit).")
    sampler: Literal["tpe", "random", "grid"] = Field("tpe", description="Optuna sampler.")
    pruner: Literal["median", "hyperband", "none"] = Field("median", description="Optuna pruner.")
    metric: str | None = Field(None, description="Metric to optimise (default: the experiment's first metric).")
    direction: Literal["maximize", "minimize"] | None = Field(None, description="Default from the metric.")
    inner_cv: int = Field(3, ge=2, description="Inner folds on the training partition (grouped like the outer CV).")
    search_space: dict[str, dict[str, ParamSpec]] = Field(default_factory=dict, description="model -> param path -> spec.")
    storage: str | None = Field(None, description="None: in memory; an Optuna storage URL (sqlite:///..., postgresql://...) to share a study.")
    study_name: str | None = Field(None, description="Study name (default derived from run, model and fold).")
