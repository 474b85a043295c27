"""MemmapSource: windows of a raw binary file (an ``np.memmap`` or a ``.npy`` file) read
with positioned reads, never through a mapping.

Reading a memory map makes every page it touches part of the process's resident set:
decoding a 20 GB memmap would show 20 GB of RSS even though the kernel could drop those
pages. A :class:`MemmapSource` instead reads the bytes of the rows it is asked for into a
fresh buffer (``os.preadv``; runs of consecutive rows in one call), so only that buffer
counts. It pickles as ``(path, dtype, shape, offset)``: a worker process opens the same
file, nothing is copied.

Examples
--------
>>> import tempfile, numpy as np
>>> path = tempfile.mkdtemp() + "/x.npy"
>>> np.save(path, np.arange(24, dtype=np.int16).reshape(4, 2, 3))
>>> src = MemmapSource.from_npy(path)
>>> src.shape, src.source_dtype, src.take([3, 1])[:, 0, 0].tolist()
((4, 2, 3), dtype('int16'), [18.0, 6.0])
"""

from __future__ import annotations

import mmap
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .source import ArraySource, WindowSource


class MemmapSource(WindowSource):
    """Rows of a C-ordered binary file: ``shape`` values of ``dtype`` from byte ``offset``.

    Parameters
    ----------
    path : str or Path
    dtype : numpy dtype
        Stored dtype (any real number type; reads return float32).
    shape : tuple of int
    offset : int
        Byte offset of the first window (the header length of a ``.npy`` file).
    scale : float, optional

    Examples
    --------
    >>> MemmapSource("x.dat", "float64", (10, 4, 100))
    MemmapSource('x.dat', shape=(10, 4, 100), dtype=float64 -> float32)
    """

    def __init__(
        self,
        path: str | Path,
        dtype: Any,
        shape: tuple[int, ...],
        offset: int = 0,
        scale: float | None = None,
    ):
        super().__init__(shape, dtype, scale)
        self.path = str(path)
        self.offset = int(offset)
        self._fd: int | None = None
        self._pid: int | None = None
        self._lock = threading.Lock()
        size = os.path.getsize(self.path) if os.path.exists(self.path) else None
        need = self.offset + self._row_bytes * self._shape[0]
        if size is not None and size < need:
            raise ValueError(
                f"{self.path} has {size} bytes but shape {self._shape} of {self._source_dtype} "
                f"from offset {self.offset} needs {need}; check shape, dtype and offset"
            )

    @property
    def _row_bytes(self) -> int:
        return int(np.prod(self._shape[1:], dtype=np.int64)) * self._source_dtype.itemsize

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_npy(cls, path: str | Path, scale: float | None = None) -> WindowSource:
        """The windows of a ``.npy`` file (its header gives dtype, shape and offset).

        A Fortran-ordered file cannot be read row by row; it is read through a read-only
        memory map instead (an :class:`ArraySource`).
        """
        return cls.from_memmap(np.load(path, mmap_mode="r"), scale=scale)

    @classmethod
    def from_memmap(cls, array: np.memmap, scale: float | None = None) -> WindowSource:
        """The windows an ``np.memmap`` maps, read from its file by position.

        A memmap that is a view of another (a slice, a transposition) or not C-ordered is
        kept as it is, in an :class:`ArraySource`.
        """
        fresh = isinstance(array.base, mmap.mmap) and array.flags.c_contiguous
        if not fresh or not getattr(array, "filename", None):
            return ArraySource(array, scale=scale)
        return cls(array.filename, array.dtype, array.shape, array.offset, scale=scale)

    # ------------------------------------------------------------------ pickling
    def __reduce__(self):
        return (type(self), (self.path, self._source_dtype.str, self._shape, self.offset, self.scale))

    def __repr__(self) -> str:
        cast = "" if self._source_dtype == self.dtype else f"{self._source_dtype} -> "
        return f"{type(self).__name__}({self.path!r}, shape={self._shape}, dtype={cast}float32)"

    # ------------------------------------------------------------------ reads
    def _file(self) -> int:
        with self._lock:
            if self._fd is None or self._pid != os.getpid():
                self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
                self._pid = os.getpid()
            return self._fd

    def _read_into(self, buf: memoryview, position: int) -> None:
        fd = self._file()
        done = 0
        while done < len(buf):
            if hasattr(os, "preadv"):
                got = os.preadv(fd, [buf[done:]], position + done)
            else:  # pragma: no cover - platforms without preadv
                with self._lock:
                    os.lseek(fd, position + done, os.SEEK_SET)
                    got = os.readv(fd, [buf[done:]])
            if got == 0:
                raise OSError(f"{self.path} ended at byte {position + done}; was it truncated?")
            done += got

    def _read(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self._shape[1:]), dtype=self._source_dtype)
        if not len(rows):
            return out
        flat = memoryview(out.reshape(-1).view(np.uint8))
        row = self._row_bytes
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        for run in np.split(np.arange(len(rows)), breaks):
            first, n = int(run[0]), len(run)
            self._read_into(flat[first * row : (first + n) * row], self.offset + int(rows[first]) * row)
        return out

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None and getattr(self, "_pid", None) == os.getpid():
            try:
                os.close(fd)
            except OSError:
                pass


__all__ = ["MemmapSource"]
