"""Classical (scikit-learn) model config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from .base import StrictConfig


class ClassicalModelConfig(StrictConfig):
    """A scikit-learn (or coco-pipe baseline) estimator chosen by name from a registry.

    3-D input (windows x channels x times) goes through the vectorizing pipeline
    ``Vectorizer -> StandardScaler -> estimator`` unless the estimator consumes
    epochs itself (CSP, tangent space, band power pipelines).

    Examples
    --------
    >>> ClassicalModelConfig(estimator="LogisticRegression", params={"C": 1.0}).estimator
    'LogisticRegression'
    """

    kind: Literal["classical"] = "classical"
    estimator: str = Field(
        "LogisticRegression", description="Registry name, e.g. LogisticRegression, SVC, CSP_LDA."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Constructor parameters of the estimator."
    )
    scale: bool = Field(
        True, description="Standardize vectorized features (fit on the training partition only)."
    )

    @model_validator(mode="after")
    def _known_estimator_and_params(self) -> ClassicalModelConfig:
        from ..registry import check_classical_config

        check_classical_config(self.estimator, self.params)
        return self
