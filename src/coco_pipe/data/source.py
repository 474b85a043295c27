"""Window sources: windows that stay where they are (a file, a zarr store, an MNE
recording, a braindecode dataset) and are read on demand, a chunk at a time.

A :class:`WindowSource` is array-like: ``shape``, ``ndim``, ``len()``, ``dtype``
(always ``float32``, what every read returns) and NumPy indexing (``src[3]``,
``src[10:20]``, ``src[[4, 1, 7]]``, a boolean mask). Reading casts the chunk it reads
(``source_dtype`` -> float32, times ``scale``), so no full-size copy is ever made unless
asked for (``np.asarray(src)``). Its methods:

``take(indices)``
    The windows at ``indices`` (any order, repeats allowed) as one float32 array.
``batches(indices=None, batch_windows=None)``
    ``(position, windows)`` pairs over ``indices`` (default: all), a chunk at a time.
``subset(indices)``
    A lazy view on some windows (a fold's training partition); reads nothing.

Sources pickle *by reference* where the data live in a file (memmap and ``.npy`` paths,
on-disk zarr stores, MNE recordings read with ``preload=False``), so an executor can
hand one to a worker process without copying the windows; an in-memory array pickles
with its values.

Examples
--------
>>> import numpy as np
>>> src = ArraySource(np.arange(24.0).reshape(4, 2, 3))
>>> src.dtype, src.source_dtype
(dtype('float32'), dtype('float64'))
>>> src.take([3, 0])[:, 0, 0].tolist()
[18.0, 0.0]
>>> part = src.subset([1, 3])
>>> len(part), part[1][0, 0].item()
(2, 18.0)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from . import chunks


def check_indices(indices: Any, n: int, name: str = "indices") -> np.ndarray:
    """``indices`` as a 1-D int64 array of positions in ``[0, n)`` (negative ones count
    from the end; a boolean mask of length ``n`` selects its True positions).

    Examples
    --------
    >>> check_indices([0, -1], 5).tolist()
    [0, 4]
    """
    idx = np.asarray(indices)
    if idx.dtype == np.bool_:
        if idx.shape != (n,):
            raise IndexError(f"boolean {name} has shape {idx.shape}; expected ({n},)")
        return np.flatnonzero(idx)
    if idx.size == 0:
        return np.empty(0, dtype=np.int64)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise IndexError(
            f"{name} must be a 1-D array of integer positions or a boolean mask, got "
            f"dtype {idx.dtype} with shape {idx.shape}"
        )
    idx = idx.astype(np.int64, copy=True)
    idx[idx < 0] += n
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][:5].tolist()
        raise IndexError(f"{name} {bad} out of range for {n} windows")
    return idx


class WindowSource:
    """Base of the window sources: float32 windows read on demand (see the module).

    Subclasses implement ``_read(rows)``: the windows at ``rows`` (sorted, unique int64
    positions) in their stored dtype; everything else comes from here.

    Parameters
    ----------
    shape : tuple of int
        ``(n_windows, n_channels, n_times)`` or ``(n_samples, n_features)``.
    source_dtype : numpy dtype
        The stored dtype (what validation checks is real-valued).
    scale : float, optional
        Factor applied to every read (e.g. microvolts to volts).
    """

    dtype = np.dtype(np.float32)

    def __init__(self, shape: tuple[int, ...], source_dtype: Any, scale: float | None = None):
        self._shape = tuple(int(s) for s in shape)
        self._source_dtype = np.dtype(source_dtype)
        self.scale = None if scale is None or float(scale) == 1.0 else float(scale)

    # ------------------------------------------------------------------ array-like
    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def source_dtype(self) -> np.dtype:
        """The dtype the windows are stored in (reads return float32)."""
        return self._source_dtype

    @property
    def nbytes(self) -> int:
        """Bytes of all windows as float32 (what ``np.asarray`` would allocate)."""
        return int(np.prod(self._shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def window_bytes(self) -> int:
        """Bytes of one float32 window."""
        return int(np.prod(self._shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self._shape[0]

    def __repr__(self) -> str:
        cast = "" if self._source_dtype == self.dtype else f"{self._source_dtype} -> "
        return f"{type(self).__name__}(shape={self._shape}, dtype={cast}float32)"

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, tuple):
            if not key:
                return self.take(np.arange(len(self)))
            first, rest = key[0], key[1:]
            head = self[first]
            return head[rest] if isinstance(first, (int, np.integer)) else head[(slice(None), *rest)]
        if isinstance(key, (int, np.integer)):
            return self.take([int(key)])[0]
        if isinstance(key, slice):
            return self.take(np.arange(len(self))[key])
        if key is Ellipsis:
            return self.take(np.arange(len(self)))
        return self.take(key)

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, batch in self.batches():
            yield from batch

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            raise ValueError(
                f"{type(self).__name__} reads its windows on demand; it cannot be viewed "
                "as an array without a copy (use np.asarray(source) or source.take(indices))"
            )
        out = self.take(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype, copy=False)

    # ------------------------------------------------------------------ reads
    def _read(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rows_per_read(self) -> int:
        native = int(np.prod(self._shape[1:], dtype=np.int64)) * self._source_dtype.itemsize
        return chunks.window_chunks(1, max(native, self.window_bytes)).step

    def take(self, indices: Any) -> np.ndarray:
        """The windows at ``indices`` as a new float32 array, read a chunk at a time.

        Examples
        --------
        >>> ArraySource(np.eye(3)).take([2, 2]).tolist()
        [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]
        """
        idx = check_indices(indices, len(self))
        out = np.empty((len(idx), *self._shape[1:]), dtype=np.float32)
        step = self._rows_per_read()
        for start in range(0, len(idx), step):
            part = idx[start : start + step]
            rows, inverse = np.unique(part, return_inverse=True)
            block = self._read(rows)
            dest = out[start : start + len(part)]
            if len(rows) == len(part) and np.array_equal(rows, part):
                dest[...] = block
            else:
                dest[...] = block[inverse.reshape(-1)]
            if self.scale is not None:
                dest *= np.float32(self.scale)
        return out

    def batches(
        self, indices: Any = None, batch_windows: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """``(position, windows)`` over ``indices`` (default: all windows), about
        :data:`~coco_pipe.data.chunks.CHUNK_BYTES` (or ``batch_windows`` windows) at a
        time; ``position`` is where the batch starts within ``indices``.

        Examples
        --------
        >>> [(p, len(b)) for p, b in ArraySource(np.zeros((5, 2))).batches(batch_windows=2)]
        [(0, 2), (2, 2), (4, 1)]
        """
        idx = np.arange(len(self)) if indices is None else check_indices(indices, len(self))
        step = batch_windows or chunks.window_chunks(len(idx), self.window_bytes).step
        if step < 1:
            raise ValueError(f"batch_windows must be >= 1, got {batch_windows}")
        for start in range(0, len(idx), step):
            yield start, self.take(idx[start : start + step])

    def subset(self, indices: Any) -> WindowSource:
        """A lazy view on the windows at ``indices``; nothing is read.

        Examples
        --------
        >>> ArraySource(np.arange(5.0)[:, None]).subset([4, 0])[:].ravel().tolist()
        [4.0, 0.0]
        """
        return SubsetSource(self, check_indices(indices, len(self)))


class SubsetSource(WindowSource):
    """Some windows of another source (a view: reads go to the parent).

    Examples
    --------
    >>> SubsetSource(ArraySource(np.arange(6.0)[:, None]), np.array([5, 1])).take([1]).item()
    1.0
    """

    def __init__(self, parent: WindowSource, indices: np.ndarray):
        super().__init__((len(indices), *parent.shape[1:]), parent.source_dtype)
        self.parent = parent
        self.indices = np.asarray(indices, dtype=np.int64)

    def take(self, indices: Any) -> np.ndarray:
        return self.parent.take(self.indices[check_indices(indices, len(self))])

    def subset(self, indices: Any) -> WindowSource:
        return SubsetSource(self.parent, self.indices[check_indices(indices, len(self))])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} of {self.parent!r})"


class ArraySource(WindowSource):
    """Windows of an array already addressable in this process (in memory, or a memmap
    that is a view of another): reads index it and cast the chunk read.

    Parameters
    ----------
    array : ndarray (or any array-like with ``shape``, ``dtype`` and NumPy indexing)
    scale : float, optional

    Examples
    --------
    >>> ArraySource(np.ones((2, 3), dtype=np.int16), scale=0.5)[0].tolist()
    [0.5, 0.5, 0.5]
    """

    def __init__(self, array: Any, scale: float | None = None):
        super().__init__(array.shape, array.dtype, scale)
        self.array = array

    def _read(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
            return self.array[int(rows[0]) : int(rows[-1]) + 1]
        return self.array[rows]

    def take(self, indices: Any) -> np.ndarray:
        plain = self.scale is None and self._source_dtype == self.dtype
        if plain and isinstance(self.array, np.ndarray):
            idx = check_indices(indices, len(self))
            return np.take(self.array, idx, axis=0)  # one copy, as X[idx]
        return super().take(indices)


__all__ = ["ArraySource", "SubsetSource", "WindowSource", "check_indices"]
