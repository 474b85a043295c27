"""Kept for the seed's public name ``coco_pipe.decoding._specs.ESTIMATOR_SPECS``; the table
lives in :mod:`coco_pipe.foundation.specs`."""

from ..foundation.specs import ESTIMATOR_SPECS, FoundationModelSpec

__all__ = ["ESTIMATOR_SPECS", "FoundationModelSpec"]
