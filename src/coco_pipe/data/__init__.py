"""Data: inputs validated once into an :class:`EpochsData` value, and its fingerprint.

This package sits at the bottom of coco-pipe's layers: it imports nothing else of coco-pipe.
"""

from .fingerprint import data_fingerprint
from .inputs import DataInfo, EpochsData, validate_inputs

__all__ = ["DataInfo", "EpochsData", "validate_inputs", "data_fingerprint"]
