"""Foundation-model backbones: input adaptation, building, embedding.

Submodules import torch; names are resolved lazily so ``import coco_pipe`` stays light.

Examples
--------
>>> from coco_pipe.foundation import plan_adaptation  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "AdaptationPlan": "adaptation",
    "plan_adaptation": "adaptation",
    "CHANNEL_ALIASES": "channels",
    "Backbone": "architecture",
    "FoundationBackboneModule": "architecture",
    "build_backbone": "backbones",
    "embed": "backbones",
    "BackboneEmbedder": "embedder",
    "FoundationModel": "models",
    "get_model": "models",
    "CocoPipeEEGConfig": "hf",
    "CocoPipeEEGModel": "hf",
    "build_hf_backbone": "hf",
    "export_to_hf": "hf",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
