"""Decoding: configs, the experiment loop, estimators and results.

Names are resolved on first use, so that a lower layer reading
:mod:`coco_pipe.decoding.configs` (pure pydantic) never runs the experiment loop's imports.
"""

from __future__ import annotations

import lazy_loader as lazy

__getattr__, __dir__, __all__ = lazy.attach(
    __name__,
    submod_attrs={
        "configs": [
            "ClassicalModelConfig",
            "CVConfig",
            "ExperimentConfig",
            "FoundationEmbeddingModelConfig",
            "FrozenBackboneDecoderConfig",
            "NeuralFineTuneConfig",
            "TrackingConfig",
        ],
        "experiment": ["Experiment"],
        "result": ["ExperimentResult"],
    },
)


def list_foundation_models():
    """The supported foundation models, one row per spec (see
    :func:`coco_pipe.foundation.listing.list_foundation_models`)."""
    from ..foundation.listing import list_foundation_models as _list

    return _list()


__all__ = [*__all__, "list_foundation_models"]
