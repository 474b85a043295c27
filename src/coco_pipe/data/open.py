"""as_source: any accepted input as a :class:`~coco_pipe.data.source.WindowSource`,
without reading or copying its windows.

=====================================  ==================================================
input                                  source
=====================================  ==================================================
a :class:`WindowSource`                itself
``np.memmap`` (fresh, C-ordered)       :class:`MemmapSource` (positioned reads, by path)
``"x.npy"`` / ``Path``                 :class:`MemmapSource` from its header
``"x.zarr"`` / zarr array              :class:`ZarrSource`
``mne.Epochs`` (``preload=False``)     :class:`EpochsSource` (reads from the recording)
``mne.Epochs`` (preloaded)             :class:`ArraySource` over its data
braindecode windows dataset            :class:`WindowsDatasetSource`
any other array-like                   :class:`ArraySource`
=====================================  ==================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .epochs_source import EpochsSource
from .memmap import MemmapSource
from .source import ArraySource, WindowSource
from .windows_dataset import WindowsDatasetSource, is_windows_dataset
from .zarr_source import ZarrSource, is_zarr_array


def is_epochs(X: Any) -> bool:
    """Whether ``X`` is an ``mne.Epochs`` (any kind of ``BaseEpochs``)."""
    from mne import BaseEpochs

    return isinstance(X, BaseEpochs)


def open_path(path: str | Path) -> WindowSource:
    """The windows stored at ``path``: a ``.npy`` file or a zarr array directory."""
    p = Path(path)
    if p.suffix == ".npy" and p.is_file():
        return MemmapSource.from_npy(p)
    if p.is_dir() and (p.suffix == ".zarr" or (p / "zarr.json").exists() or (p / ".zarray").exists()):
        return ZarrSource.open(p)
    raise ValueError(
        f"X={str(path)!r} is not a .npy file or a zarr array directory; pass an array, an "
        "np.memmap, a path to a .npy file (opened memory-mapped) or to a zarr array"
    )


def as_source(X: Any) -> WindowSource:
    """``X`` as a window source (see the module's table); nothing is read.

    Examples
    --------
    >>> import numpy as np
    >>> as_source(np.zeros((3, 2, 4), dtype=np.float64))
    ArraySource(shape=(3, 2, 4), dtype=float64 -> float32)
    """
    if isinstance(X, WindowSource):
        return X
    if isinstance(X, (str, Path)):
        return open_path(X)
    if isinstance(X, np.memmap):
        return MemmapSource.from_memmap(X)
    if isinstance(X, np.ndarray):
        return ArraySource(X)
    if is_zarr_array(X):
        return ZarrSource(X)
    if is_epochs(X):
        return ArraySource(X.get_data(copy=False)) if X.preload else EpochsSource(X)
    if is_windows_dataset(X):
        return WindowsDatasetSource(X)
    return ArraySource(np.asarray(X))


__all__ = ["as_source", "is_epochs", "open_path"]
