"""Kept for the seed's public import path ``coco_pipe.decoding.foundation_models``; the
foundation-model layer lives in :mod:`coco_pipe.foundation`.

Examples
--------
>>> from coco_pipe.decoding.foundation_models import list_foundation_models
>>> "cbramod" in set(list_foundation_models()["Model"])
True
"""

from ...foundation.listing import list_foundation_models

__all__ = ["list_foundation_models"]
