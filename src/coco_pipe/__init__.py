"""coco-pipe: decode EEG/MEG with foundation-model backbones and classical estimators,
inside honest cross-validation, tracked in MLflow."""

from __future__ import annotations

__version__ = "0.1.0"

from .decoding import Experiment, ExperimentConfig, ExperimentResult


def list_foundation_models():
    """The supported foundation models as a DataFrame (one row per ESTIMATOR_SPECS entry)."""
    from .foundation.listing import list_foundation_models as _list

    return _list()


def load_promoted(model_uri: str, tracking_uri: str | None = None):
    """Load a promoted adapter/checkpoint (``models:/NAME@alias``) as a ready NeuralDecoder."""
    from .registry import load_promoted as _load

    return _load(model_uri, tracking_uri=tracking_uri)


__all__ = ["Experiment", "ExperimentConfig", "ExperimentResult", "list_foundation_models",
           "load_promoted", "__version__"]
