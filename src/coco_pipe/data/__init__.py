"""Data: inputs validated once into an :class:`EpochsData` value, and its fingerprint.

This package sits at the bottom of coco-pipe's layers: it imports nothing else of coco-pipe.
"""

from .fingerprint import data_fingerprint
from .inputs import DataInfo, EpochsData, Windows, as_windows, validate_inputs

__all__ = ["DataInfo", "EpochsData", "Windows", "as_windows", "validate_inputs", "data_fingerprint"]
