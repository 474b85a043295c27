"""Decoding: configs, the experiment loop, estimators and results."""

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
]
