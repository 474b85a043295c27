"""Data: inputs validated once into an :class:`EpochsData` value, the window sources
that read them on demand, and the data's fingerprint.

This package sits at the bottom of coco-pipe's layers: it imports nothing else of coco-pipe.
"""

from .epochs_source import EpochsSource
from .fingerprint import data_fingerprint
from .inputs import DataInfo, EpochsData, Windows, as_windows, validate_inputs
from .memmap import MemmapSource
from .open import as_source
from .source import ArraySource, SubsetSource, WindowSource
from .windows_dataset import WindowsDatasetSource
from .zarr_source import ZarrSource

__all__ = [
    "ArraySource",
    "DataInfo",
    "EpochsData",
    "EpochsSource",
    "MemmapSource",
    "SubsetSource",
    "WindowSource",
    "Windows",
    "WindowsDatasetSource",
    "ZarrSource",
    "as_source",
    "as_windows",
    "data_fingerprint",
    "validate_inputs",
]
