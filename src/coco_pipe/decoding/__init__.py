"""Decoding: configs, the experiment loop, estimators and results."""

from ..foundation.listing import list_foundation_models
from .configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    NeuralFineTuneConfig,
    TrackingConfig,
)
from .experiment import Experiment
from .result import ExperimentResult

__all__ = [
    "Experiment",
    "ExperimentResult",
    "ExperimentConfig",
    "CVConfig",
    "ClassicalModelConfig",
    "FoundationEmbeddingModelConfig",
    "FrozenBackboneDecoderConfig",
    "NeuralFineTuneConfig",
    "TrackingConfig",
    "list_foundation_models",
]
