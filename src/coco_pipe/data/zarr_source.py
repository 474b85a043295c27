"""ZarrSource: windows of a zarr array, read one chunk selection at a time.

A zarr array on disk (or in any store) decompresses only the chunks a read touches. It
pickles through zarr itself: an array in a local directory (or any store zarr pickles
by address) travels to a worker as its path, not its values.

Examples
--------
>>> import zarr, numpy as np                                          # doctest: +SKIP
>>> z = zarr.open_array("x.zarr", mode="w", shape=(1000, 32, 512), chunks=(64, 32, 512),
...                     dtype="f4")                                   # doctest: +SKIP
>>> ZarrSource(z).take([10, 3]).shape                                 # doctest: +SKIP
(2, 32, 512)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .source import WindowSource


def is_zarr_array(X: Any) -> bool:
    """Whether ``X`` is a zarr array (checked by its module, zarr need not be installed)."""
    return type(X).__module__.split(".")[0] == "zarr" and hasattr(X, "oindex")


class ZarrSource(WindowSource):
    """Windows of a zarr array (any dtype; reads return float32).

    Parameters
    ----------
    array : zarr.Array
    scale : float, optional
    """

    def __init__(self, array: Any, scale: float | None = None):
        super().__init__(array.shape, array.dtype, scale)
        self.array = array

    @classmethod
    def open(cls, path: str | Path, scale: float | None = None) -> ZarrSource:
        """The zarr array stored at ``path``, opened read-only."""
        import zarr

        return cls(zarr.open_array(str(path), mode="r"), scale=scale)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
            return np.asarray(self.array[int(rows[0]) : int(rows[-1]) + 1])
        return np.asarray(self.array.oindex[rows])


__all__ = ["ZarrSource", "is_zarr_array"]
