"""Shard files: atomic writes, checksummed reads, and the process-wide memory of verified
shards.

Examples
--------
>>> import numpy as np
>>> payload = encode_shard(np.array(["a" * 32]), np.ones((1, 2), np.float32))
>>> import hashlib
>>> decode_shard(payload, hashlib.sha256(payload).hexdigest(), len(payload))[1].shape
(1, 2)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import threading
import uuid
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .keys import DIGEST_HEX_CHARS

TMP_PREFIX = ".tmp-"
SHARD_PREFIX = "shard-"
SHARD_SUFFIX = ".npz"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every platform / FS
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary name in the same directory."""
    tmp = path.parent / f"{TMP_PREFIX}{uuid.uuid4().hex}{path.suffix}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def encode_shard(digests: np.ndarray, embeddings: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, digests=np.asarray(digests, dtype=f"<U{DIGEST_HEX_CHARS}"), embeddings=embeddings)
    return buf.getvalue()


class DamagedShard(Exception):
    pass


def decode_shard(
    payload: bytes, expected_checksum: str, expected_bytes: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(payload) != expected_bytes:
        raise DamagedShard(f"size {len(payload)} bytes, index says {expected_bytes}")
    checksum = hashlib.sha256(payload).hexdigest()
    if checksum != expected_checksum:
        raise DamagedShard(
            f"checksum {checksum[:12]}... does not match the index ({expected_checksum[:12]}...)"
        )
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            return npz["digests"], npz["embeddings"]
    except Exception as exc:  # a checksum collision is impossible in practice; belt and braces
        raise DamagedShard(f"unreadable ({exc})") from exc


#: Process-wide budget of verified shards kept in memory.
SHARD_MEMORY_BYTES = 256 * 2**20


class _ShardMemory:
    """Thread-safe LRU of verified shards keyed by (root, file, checksum)."""

    def __init__(self):
        self._items: OrderedDict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = (
            OrderedDict()
        )
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key, item) -> None:
        size = item[0].nbytes + item[1].nbytes
        if size > SHARD_MEMORY_BYTES:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = item
            self._used += size
            while self._used > SHARD_MEMORY_BYTES:
                _, (d, e) = self._items.popitem(last=False)
                self._used -= d.nbytes + e.nbytes

    def forget(self, root: str, file: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == root and k[1] == file]:
                d, e = self._items.pop(key)
                self._used -= d.nbytes + e.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._used = 0


SHARD_MEMORY = _ShardMemory()



def clear_shard_memory() -> None:
    """Forget every shard kept in this process's memory (e.g. to time a cold read).

    Examples
    --------
    >>> clear_shard_memory()
    """
    SHARD_MEMORY.clear()


__all__ = [
    "SHARD_MEMORY_BYTES",
    "DamagedShard",
    "atomic_write_bytes",
    "clear_shard_memory",
    "decode_shard",
    "encode_shard",
]
