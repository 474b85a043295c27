"""Pydantic configs of coco-pipe (strict; loadable from and dumpable to YAML)."""

from .base import StrictConfig, flatten_dict
from .classical import ClassicalModelConfig
from .core import (
    ChanceConfig,
    CVConfig,
    ExperimentConfig,
    ModelConfig,
    TrackingConfig,
)
from .data import DataConfig
from .execution import ExecutionConfig
from .foundation import FoundationEmbeddingModelConfig, FrozenBackboneDecoderConfig
from .neural import (
    CheckpointConfig,
    DeviceConfig,
    HeadConfig,
    LoRAConfig,
    NeuralFineTuneConfig,
    OptimConfig,
    QuantizationConfig,
)
from .tuning import ParamSpec, TuningConfig

__all__ = [
    "StrictConfig",
    "DataConfig",
    "ExecutionConfig",
    "flatten_dict",
    "ChanceConfig",
    "ClassicalModelConfig",
    "CVConfig",
    "ExperimentConfig",
    "ModelConfig",
    "TrackingConfig",
    "FoundationEmbeddingModelConfig",
    "FrozenBackboneDecoderConfig",
    "CheckpointConfig",
    "DeviceConfig",
    "HeadConfig",
    "LoRAConfig",
    "NeuralFineTuneConfig",
    "OptimConfig",
    "QuantizationConfig",
    "ParamSpec",
    "TuningConfig",
]
