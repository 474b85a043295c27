"""Content-addressed embedding cache: each window is embedded once per backbone.

A frozen backbone is a deterministic function of the window it is given, and it never
sees a label. Its output can therefore be stored under a key made of the window's
content and the backbone's identity, and re-used across folds, heads, tuning trials
and runs, without leaking anything between training and test partitions:

``key = (window digest, backbone fingerprint)``

- the *window digest* hashes the window exactly as given (dtype, shape and bytes,
  before any input adaptation), see :func:`window_digests`;
- the *fingerprint* hashes everything that changes the backbone's output (model key,
  weight digest, sfreq, channels, crop, pooling, dtype, library versions), see
  :func:`fingerprint_of`. Labels and fold ids are never part of a key: the API does
  not even receive them.

Layout of a cache root::

    root/
      index.sqlite            fingerprints, shards (file, rows, bytes, checksum), entries
      index.lock              file lock held around every index write
      <fingerprint>/
        shard-<uuid>.npz      one per batch of newly computed rows: digests + embeddings
        .tmp-<uuid>.npz       a write in progress (or a writer that was killed): ignored

Shards are written atomically (temporary name in the same directory, ``fsync``,
``os.replace``) and registered in the index only afterwards, inside one SQLite
transaction under a :class:`filelock.FileLock`; two processes can fill the same cache
at once. Every shard's SHA-256 is kept in the index and checked when the shard is read;
a damaged or truncated shard is reported with a warning, dropped, and its windows are
recomputed.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> cache = EmbeddingCache(tempfile.mkdtemp())
>>> X = np.random.default_rng(0).standard_normal((8, 4, 50)).astype("float32")
>>> fp = fingerprint_of({"model_key": "toy", "pooling": "mean"})
>>> emb, stats = cache.get_or_compute(X, fp, lambda w: w.mean(axis=2))
>>> emb.shape, stats.misses
((8, 4), 8)
>>> again, stats = cache.get_or_compute(X[::-1], fp, lambda w: w.mean(axis=2))
>>> stats.hits, bool((again == emb[::-1]).all())
(8, True)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import shutil
import sqlite3
import sys
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from filelock import FileLock

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_ENV_VAR",
    "CacheStats",
    "EmbeddingCache",
    "cache_info_command",
    "cache_prune_command",
    "default_cache_dir",
    "fingerprint_of",
    "window_digests",
]

#: Environment variable that overrides the default cache location.
CACHE_ENV_VAR = "COCO_PIPE_CACHE_DIR"
#: Hex characters kept of each window's SHA-256 (128 bits).
DIGEST_HEX_CHARS = 32
_INDEX_NAME = "index.sqlite"
_LOCK_NAME = "index.lock"
_TMP_PREFIX = ".tmp-"
_SHARD_PREFIX = "shard-"
_SHARD_SUFFIX = ".npz"
_SCHEMA_VERSION = 1
_now = time.time  # patched in tests to age entries
_TOUCH_EVERY_S = 600.0  # a shard's last_used is refreshed at most this often (prune works in days)


# --------------------------------------------------------------------------- keys
@dataclass
class CacheStats:
    """What one (or several, summed) :meth:`EmbeddingCache.get_or_compute` calls did.

    Attributes
    ----------
    hits : int
        Windows of the input whose embedding was read from the cache.
    misses : int
        Windows of the input that were not in the cache (duplicates counted each time);
        ``hits + misses`` is the number of windows given.
    bytes_written : int
        Bytes of new shards written.
    recomputed_damaged : int
        Unique windows recomputed because their shard was damaged or missing.
    computed : int
        Unique windows passed to ``compute`` (what the backbone really forwarded).

    Examples
    --------
    >>> (CacheStats(hits=3, misses=1) + CacheStats(hits=4, misses=0)).hits
    7
    """

    hits: int
    misses: int
    bytes_written: int = 0
    recomputed_damaged: int = 0
    computed: int = 0

    def __add__(self, other: CacheStats) -> CacheStats:
        if not isinstance(other, CacheStats):
            return NotImplemented
        return CacheStats(**{k: v + getattr(other, k) for k, v in asdict(self).items()})

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for metric logging)."""
        return asdict(self)


def default_cache_dir() -> Path:
    """Root of the embedding cache when no directory is configured.

    ``$COCO_PIPE_CACHE_DIR`` if set, else the per-user cache directory of the platform
    (``~/.cache/coco-pipe/embeddings`` on Linux).

    Examples
    --------
    >>> default_cache_dir().name  # doctest: +SKIP
    'embeddings'
    """
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("coco-pipe")) / "embeddings"


def _window_header(windows: np.ndarray) -> bytes:
    return f"{windows.dtype.str}|{tuple(windows.shape[1:])}|".encode()


def window_digests(windows: np.ndarray) -> np.ndarray:
    """One content digest per window (row) of ``windows``.

    The digest is the SHA-256 (first 128 bits, hex) of the window's dtype, shape and
    bytes exactly as given: the same values in another dtype or shape are another
    window. Rows are hashed one at a time, so a memory-mapped array is never loaded
    whole.

    Parameters
    ----------
    windows : ndarray, shape (n_windows, ...)
        The windows (e.g. ``(n_windows, n_channels, n_times)``).

    Returns
    -------
    ndarray of str, shape (n_windows,)
        32 hex characters per window.

    Examples
    --------
    >>> X = np.zeros((3, 2, 4), dtype="float32"); X[2] = 1
    >>> d = window_digests(X)
    >>> d[0] == d[1], d[0] == d[2], len(d[0])
    (True, False, 32)
    """
    if not isinstance(windows, np.ndarray):
        raise TypeError(f"windows must be a numpy array, got {type(windows).__name__}")
    if windows.ndim < 1:
        raise ValueError(
            f"windows must have a leading window axis, got a 0-d array of shape {windows.shape}"
        )
    base = hashlib.sha256(_window_header(windows))
    out = np.empty(len(windows), dtype=f"<U{DIGEST_HEX_CHARS}")
    for i in range(len(windows)):
        h = base.copy()
        h.update(np.ascontiguousarray(windows[i]).data)
        out[i] = h.hexdigest()[:DIGEST_HEX_CHARS]
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(
        f"fingerprint info values must be JSON-like (str, numbers, bools, None, lists, dicts, "
        f"numpy scalars/arrays, paths); got {type(value).__name__}: {value!r}"
    )


def _canonical_json(info: dict) -> str:
    return json.dumps(
        info, sort_keys=True, separators=(",", ":"), default=_json_default, allow_nan=True
    )


def fingerprint_of(info: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``info`` (sorted keys, compact).

    Parameters
    ----------
    info : dict
        Everything that changes the backbone's output: model key, weight digest,
        sfreq, channels, crop, pooling, dtype, library versions. Never labels or folds.

    Examples
    --------
    >>> fingerprint_of({"a": 1, "b": [1, 2]}) == fingerprint_of({"b": [1, 2], "a": 1})
    True
    """
    if not isinstance(info, dict):
        raise TypeError(f"fingerprint info must be a dict, got {type(info).__name__}")
    return hashlib.sha256(_canonical_json(info).encode()).hexdigest()


def _check_fingerprint(fingerprint: str) -> str:
    if (
        not isinstance(fingerprint, str)
        or not fingerprint
        or not all(c.isalnum() or c in "-_." for c in fingerprint)
        or fingerprint.startswith(".")
    ):
        raise ValueError(
            f"fingerprint must be a non-empty string of letters, digits, '-', '_' or '.' "
            f"(e.g. fingerprint_of(info)); got {fingerprint!r}"
        )
    return fingerprint


def _as_digest_array(digests: Any, n: int | None, name: str = "digests") -> np.ndarray:
    arr = np.asarray(digests)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} must hold one digest per window ({n}), got {len(arr)}")
    if arr.dtype.kind == "S" or arr.dtype == object:
        arr = np.array([d.decode() if isinstance(d, bytes) else str(d) for d in arr], dtype=str)
    if arr.dtype.kind != "U":
        raise TypeError(
            f"{name} must hold hex strings (from window_digests), got dtype {arr.dtype}"
        )
    return arr


# --------------------------------------------------------------------------- I/O
def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not supported on every platform / FS
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` through a temporary name in the same directory."""
    tmp = path.parent / f"{_TMP_PREFIX}{uuid.uuid4().hex}{path.suffix}"
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


def _encode_shard(digests: np.ndarray, embeddings: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, digests=np.asarray(digests, dtype=f"<U{DIGEST_HEX_CHARS}"), embeddings=embeddings)
    return buf.getvalue()


class _DamagedShard(Exception):
    pass


def _decode_shard(
    payload: bytes, expected_checksum: str, expected_bytes: int
) -> tuple[np.ndarray, np.ndarray]:
    if len(payload) != expected_bytes:
        raise _DamagedShard(f"size {len(payload)} bytes, index says {expected_bytes}")
    checksum = hashlib.sha256(payload).hexdigest()
    if checksum != expected_checksum:
        raise _DamagedShard(
            f"checksum {checksum[:12]}... does not match the index ({expected_checksum[:12]}...)"
        )
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            return npz["digests"], npz["embeddings"]
    except Exception as exc:  # a checksum collision is impossible in practice; belt and braces
        raise _DamagedShard(f"unreadable ({exc})") from exc


# --------------------------------------------------------------------------- cache
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS fingerprints(
    id INTEGER PRIMARY KEY, fingerprint TEXT UNIQUE NOT NULL, info TEXT, dim INTEGER,
    created REAL, last_used REAL);
CREATE TABLE IF NOT EXISTS shards(
    id INTEGER PRIMARY KEY, fp_id INTEGER NOT NULL, file TEXT UNIQUE NOT NULL, n_rows INTEGER,
    dim INTEGER, nbytes INTEGER, checksum TEXT NOT NULL, created REAL, last_used REAL);
CREATE TABLE IF NOT EXISTS entries(
    fp_id INTEGER NOT NULL, digest TEXT NOT NULL, shard_id INTEGER NOT NULL, row INTEGER NOT NULL,
    PRIMARY KEY(fp_id, digest)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS entries_by_shard ON entries(shard_id);
CREATE INDEX IF NOT EXISTS shards_by_fp ON shards(fp_id);
"""


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


_SHARD_MEMORY = _ShardMemory()
_READY_ROOTS: set[str] = set()  # roots whose index schema this process has checked


class _GatherState:
    """Embeddings of the unique windows of one call, filled from shards and compute."""

    def __init__(self, uniq: np.ndarray):
        self.uniq = uniq
        self.have = np.zeros(len(uniq), dtype=bool)
        self.emb: np.ndarray | None = None  # (n_unique, d), allocated once d is known
        self.used_shards: set[int] = set()
        self.recomputed_damaged = 0

    @property
    def dim(self) -> int | None:
        return None if self.emb is None else self.emb.shape[1]

    def put(self, idx: np.ndarray, values: np.ndarray) -> None:
        if self.emb is None:
            self.emb = np.empty((len(self.uniq), values.shape[1]), dtype=np.float32)
        self.emb[idx] = values
        self.have[idx] = True


class EmbeddingCache:
    """A content-addressed store of embeddings, keyed by (window digest, fingerprint).

    Parameters
    ----------
    root : str | Path | None
        Cache directory; ``None`` uses :func:`default_cache_dir`. Created on first use.
    shard_rows : int
        At most this many new windows are computed and written per shard; a long fill
        therefore keeps its progress if it is interrupted.
    memory : bool
        Keep verified shards in a process-wide memory (least recently used dropped
        first, :data:`SHARD_MEMORY_BYTES` in all), so the folds and heads of one
        experiment read each shard from disk once. ``False`` reads and verifies every
        shard on every call.
    lock_timeout : float
        Seconds to wait for the index lock before raising ``filelock.Timeout``.

    Examples
    --------
    >>> cache = EmbeddingCache(tmp_path)                                   # doctest: +SKIP
    >>> emb, stats = cache.get_or_compute(X, fp, embed_fn)                 # doctest: +SKIP
    >>> cache.info()[["fingerprint", "entries", "bytes"]]                  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        shard_rows: int = 4096,
        memory: bool = True,
        lock_timeout: float = 600.0,
    ):
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be >= 1, got {shard_rows}")
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.shard_rows = int(shard_rows)
        self.memory = bool(memory)
        self.lock_timeout = float(lock_timeout)
        self._ready = False

    def __repr__(self) -> str:
        return f"EmbeddingCache(root={str(self.root)!r})"

    # ----------------------------------------------------------- plumbing
    @property
    def index_path(self) -> Path:
        """The SQLite index of this cache."""
        return self.root / _INDEX_NAME

    def _lock(self) -> FileLock:
        return FileLock(str(self.root / _LOCK_NAME), timeout=self.lock_timeout)

    def _compute_lock(self, fingerprint: str, enabled: bool = True):
        """Held while one process computes the missing windows of ``fingerprint``."""
        if not enabled:
            return contextlib.nullcontext()
        return FileLock(str(self.root / f"compute-{fingerprint}.lock"))

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self._ensure_ready()
        con = sqlite3.connect(str(self.index_path), timeout=self.lock_timeout, isolation_level=None)
        try:
            con.execute("PRAGMA foreign_keys=OFF")
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """An index write: file lock + one IMMEDIATE transaction (committed or rolled back)."""
        with self._lock(), self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _ensure_ready(self) -> None:
        if self._ready and self.index_path.exists():
            return
        key = str(self.root.resolve()) if self.root.exists() else None
        if key in _READY_ROOTS and self.index_path.exists():
            self._ready = True
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock():
            con = sqlite3.connect(
                str(self.index_path), timeout=self.lock_timeout, isolation_level=None
            )
            try:
                con.executescript(_SCHEMA)
                row = con.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is None:
                    con.execute("INSERT INTO meta VALUES ('schema', ?)", (str(_SCHEMA_VERSION),))
                elif int(row[0]) != _SCHEMA_VERSION:
                    raise RuntimeError(
                        f"cache index {self.index_path} has schema {row[0]}, this coco-pipe reads "
                        f"{_SCHEMA_VERSION}; use another cache_dir or delete the cache"
                    )
            finally:
                con.close()
        self._ready = True
        _READY_ROOTS.add(str(self.root.resolve()))

    def _fp_dir(self, fingerprint: str) -> Path:
        return self.root / fingerprint

    def _fp_row(self, con: sqlite3.Connection, fingerprint: str) -> tuple[int, int | None] | None:
        row = con.execute(
            "SELECT id, dim FROM fingerprints WHERE fingerprint=?", (fingerprint,)
        ).fetchone()
        return None if row is None else (int(row[0]), row[1])

    # ----------------------------------------------------------- lookup
    def _lookup_arrays(
        self, fingerprint: str, digests: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[int, tuple[str, str, int, float]]]:
        """Index rows of the unique ``digests`` under ``fingerprint``.

        Returns the digests found, their shard ids and rows (arrays), and per shard
        ``(file, checksum, nbytes, last_used)``, all from one consistent snapshot.
        """
        shards: dict[int, tuple[str, str, int, float]] = {}
        empty = (
            np.empty(0, dtype=f"<U{DIGEST_HEX_CHARS}"),
            np.empty(0, np.int64),
            np.empty(0, np.int64),
        )
        with self._connect() as con:
            con.execute("BEGIN")  # one consistent snapshot of entries and shards
            fp = self._fp_row(con, fingerprint)
            if fp is None or len(digests) == 0:
                con.execute("COMMIT")
                return (*empty, shards)
            con.execute("CREATE TEMP TABLE q(digest TEXT PRIMARY KEY) WITHOUT ROWID")
            con.executemany("INSERT OR IGNORE INTO q VALUES (?)", zip(digests.tolist()))
            rows = con.execute(
                "SELECT e.digest, e.shard_id, e.row FROM q JOIN entries e ON e.fp_id=? AND e.digest=q.digest",
                (fp[0],),
            ).fetchall()
            ids = sorted({r[1] for r in rows})
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                for sid, file, checksum, nbytes, last_used in con.execute(
                    f"SELECT id, file, checksum, nbytes, COALESCE(last_used, 0) FROM shards WHERE id IN ({marks})",
                    chunk,
                ):
                    shards[sid] = (file, checksum, nbytes, last_used)
            con.execute("COMMIT")
        if not rows:
            return (*empty, shards)
        found_d, found_s, found_r = zip(*rows, strict=True)
        return (
            np.array(found_d, dtype=f"<U{DIGEST_HEX_CHARS}"),
            np.array(found_s, dtype=np.int64),
            np.array(found_r, dtype=np.int64),
            shards,
        )

    def _lookup(
        self, fingerprint: str, digests: np.ndarray
    ) -> tuple[dict[str, tuple[int, int]], dict[int, tuple[str, str, int, float]]]:
        """Like :meth:`_lookup_arrays`, as a dict digest -> (shard id, row)."""
        found_d, found_s, found_r, shards = self._lookup_arrays(fingerprint, digests)
        found = dict(
            zip(found_d.tolist(), zip(found_s.tolist(), found_r.tolist(), strict=True), strict=True)
        )
        return found, shards

    def _read_shard(self, file: str, checksum: str, nbytes: int) -> tuple[np.ndarray, np.ndarray]:
        key = (str(self.root.resolve()), file, checksum)
        if self.memory:
            hit = _SHARD_MEMORY.get(key)
            if hit is not None:
                return hit
        payload = (self.root / file).read_bytes()
        digests, emb = _decode_shard(payload, checksum, nbytes)
        if self.memory:
            _SHARD_MEMORY.put(key, (digests, emb))
        return digests, emb

    def _drop_shards(self, shard_ids: Iterable[int], *, delete_files: bool = True) -> int:
        """Remove shards and their entries from the index (and disk). Returns entries removed."""
        ids = sorted(set(shard_ids))
        removed = 0
        files: list[str] = []
        with self._write() as con:
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                files += [
                    r[0]
                    for r in con.execute(f"SELECT file FROM shards WHERE id IN ({marks})", chunk)
                ]
                removed += con.execute(
                    f"DELETE FROM entries WHERE shard_id IN ({marks})", chunk
                ).rowcount
                con.execute(f"DELETE FROM shards WHERE id IN ({marks})", chunk)
        for file in files:
            _SHARD_MEMORY.forget(str(self.root.resolve()), file)
            if delete_files:
                with contextlib.suppress(OSError):
                    (self.root / file).unlink()
        return removed

    def _shard_still_indexed(self, shard_id: int, checksum: str) -> bool:
        with self._connect() as con:
            row = con.execute("SELECT checksum FROM shards WHERE id=?", (shard_id,)).fetchone()
        return row is not None and row[0] == checksum

    # ----------------------------------------------------------- write
    def _write_shard(
        self, fingerprint: str, fingerprint_info: dict | None, digests: np.ndarray, emb: np.ndarray
    ) -> int:
        fp_dir = self._fp_dir(fingerprint)
        fp_dir.mkdir(parents=True, exist_ok=True)
        payload = _encode_shard(digests, emb)
        checksum = hashlib.sha256(payload).hexdigest()
        name = f"{_SHARD_PREFIX}{uuid.uuid4().hex}{_SHARD_SUFFIX}"
        _atomic_write_bytes(fp_dir / name, payload)
        rel = f"{fingerprint}/{name}"
        now = _now()
        info_json = _canonical_json(fingerprint_info) if fingerprint_info is not None else None
        try:
            with self._write() as con:
                fp = self._fp_row(con, fingerprint)
                if fp is None:
                    cur = con.execute(
                        "INSERT INTO fingerprints(fingerprint, info, dim, created, last_used) VALUES (?,?,?,?,?)",
                        (fingerprint, info_json, int(emb.shape[1]), now, now),
                    )
                    fp_id = int(cur.lastrowid)
                else:
                    fp_id, dim = fp
                    if dim is not None and int(dim) != emb.shape[1]:
                        raise ValueError(
                            f"compute returned embeddings of dimension {emb.shape[1]} for fingerprint "
                            f"{fingerprint[:12]}..., but the cache holds dimension {dim} for it; the "
                            "fingerprint does not describe the backbone fully"
                        )
                    con.execute(
                        "UPDATE fingerprints SET last_used=?, info=COALESCE(?, info), dim=? WHERE id=?",
                        (now, info_json, int(emb.shape[1]), fp_id),
                    )
                cur = con.execute(
                    "INSERT INTO shards(fp_id, file, n_rows, dim, nbytes, checksum, created, last_used) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (fp_id, rel, len(digests), int(emb.shape[1]), len(payload), checksum, now, now),
                )
                shard_id = int(cur.lastrowid)
                # another process may have stored some of these windows meanwhile: keep theirs
                before = con.total_changes
                con.executemany(
                    "INSERT OR IGNORE INTO entries(fp_id, digest, shard_id, row) VALUES (?,?,?,?)",
                    ((fp_id, str(d), shard_id, i) for i, d in enumerate(digests)),
                )
                useless = con.total_changes == before  # every row was stored meanwhile
                if useless:
                    con.execute("DELETE FROM shards WHERE id=?", (shard_id,))
        except BaseException:
            with contextlib.suppress(OSError):
                (fp_dir / name).unlink()
            raise
        if useless:
            with contextlib.suppress(OSError):
                (fp_dir / name).unlink()
            return 0
        return len(payload)

    # ----------------------------------------------------------- public API
    def get_or_compute(
        self,
        windows: np.ndarray,
        fingerprint: str,
        compute: Callable[[np.ndarray], np.ndarray],
        *,
        fingerprint_info: dict | None = None,
        progress: bool = False,
        digests: np.ndarray | None = None,
    ) -> tuple[np.ndarray, CacheStats]:
        """Embeddings of ``windows`` under ``fingerprint``, computing only what is missing.

        Parameters
        ----------
        windows : ndarray, shape (n_windows, ...)
            Windows as given to the backbone's adapter (a memmap is fine).
        fingerprint : str
            Backbone fingerprint (:func:`fingerprint_of`).
        compute : callable
            ``compute(missing) -> (m, d)`` float32 embeddings of the ``m`` windows it is
            given. It receives only windows that are not cached, each unique window once,
            in batches of at most ``shard_rows``.
        fingerprint_info : dict, optional
            The information the fingerprint was computed from; stored beside it so
            :meth:`info` can show the model key etc.
        progress : bool
            Show a progress bar over batches of missing windows (only on a TTY).
        digests : ndarray of str, optional
            ``window_digests(windows)`` if the caller already has them.

        Returns
        -------
        embeddings : ndarray, shape (n_windows, d), float32
            In input order; cached rows are bit-identical to what ``compute`` returned.
        stats : CacheStats

        Examples
        --------
        >>> emb, stats = cache.get_or_compute(X, fp, embed_fn)         # doctest: +SKIP
        >>> stats.hits + stats.misses == len(X)                         # doctest: +SKIP
        True
        """
        if not isinstance(windows, np.ndarray):
            raise TypeError(
                f"windows must be a numpy array (n_windows, ...), got {type(windows).__name__}"
            )
        if windows.ndim < 2:
            raise ValueError(
                f"windows must have shape (n_windows, ...) with ndim >= 2, got shape {windows.shape}"
            )
        _check_fingerprint(fingerprint)
        if not callable(compute):
            raise TypeError(f"compute must be callable, got {type(compute).__name__}")
        if fingerprint_info is not None and not isinstance(fingerprint_info, dict):
            raise TypeError(
                f"fingerprint_info must be a dict or None, got {type(fingerprint_info).__name__}"
            )
        if fingerprint_info is not None:
            _canonical_json(fingerprint_info)  # fail early on values that cannot be stored
        n = len(windows)
        digests = window_digests(windows) if digests is None else _as_digest_array(digests, n)
        if n == 0:
            return np.empty((0, 0), dtype=np.float32), CacheStats(hits=0, misses=0)

        uniq, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        state = _GatherState(uniq)

        # 1. read what is cached, shard by shard, verifying each shard
        self._gather(fingerprint, np.arange(len(uniq)), state)

        # 2. compute the rest, each unique window once, one shard per batch, in input order;
        # under the fingerprint's compute lock, so that a second process embedding the same
        # windows waits for the first and then reads them instead of computing them again
        computed_u = np.zeros(len(uniq), dtype=bool)
        bytes_written = 0
        with self._compute_lock(fingerprint, enabled=not state.have.all()):
            self._gather(fingerprint, np.flatnonzero(~state.have), state)  # stored meanwhile?
            missing_u = np.flatnonzero(~state.have)
            missing_u = missing_u[np.argsort(first[missing_u], kind="stable")]
            batches = [
                missing_u[i : i + self.shard_rows] for i in range(0, len(missing_u), self.shard_rows)
            ]
            for batch in _progress(batches, progress, f"embedding {len(missing_u)} new windows"):
                out = _check_computed(compute(windows[first[batch]]), len(batch), state.dim)
                bytes_written += self._write_shard(fingerprint, fingerprint_info, uniq[batch], out)
                state.put(batch, out)
                computed_u[batch] = True

        # 3. assemble in input order
        result = state.emb[inverse]
        n_missing = int(computed_u[inverse].sum())
        stats = CacheStats(
            hits=n - n_missing,
            misses=n_missing,
            bytes_written=bytes_written,
            recomputed_damaged=state.recomputed_damaged,
            computed=int(computed_u.sum()),
        )
        if state.used_shards:
            self._touch(sorted(state.used_shards), fingerprint)
        logger.debug("cache %s fp=%s: %s", self.root, fingerprint[:12], stats)
        return result, stats

    def _gather(self, fingerprint: str, idx: np.ndarray, state: _GatherState) -> None:
        """Fill ``state`` with the cached embeddings of unique windows ``idx``; drop damaged shards."""
        found_d, found_s, found_r, shard_meta = self._lookup_arrays(fingerprint, state.uniq[idx])
        if not len(found_d):
            return
        found_u = np.searchsorted(state.uniq, found_d)  # uniq is sorted (np.unique)
        order = np.argsort(found_s, kind="stable")
        sids, starts = np.unique(found_s[order], return_index=True)
        damaged: list[int] = []
        for sid, group in zip(sids.tolist(), np.split(order, starts[1:]), strict=True):
            idx_u, idx_r = found_u[group], found_r[group]
            file, checksum, nbytes, last_used = shard_meta.get(sid, (None, None, None, 0.0))
            if file is None:  # only if the index changed under us; treat as not cached
                continue
            try:
                shard_digests, emb = self._read_shard(file, checksum, nbytes)
                if idx_r.max() >= len(emb) or not np.array_equal(
                    shard_digests[idx_r], state.uniq[idx_u]
                ):
                    raise _DamagedShard("its digests do not match the index")
            except (OSError, _DamagedShard) as exc:
                if isinstance(exc, FileNotFoundError) and not self._shard_still_indexed(
                    sid, checksum
                ):
                    logger.info("shard %s was pruned while reading; recomputing its windows", file)
                else:
                    warnings.warn(
                        f"embedding cache shard {self.root / str(file)} is damaged ({exc}); it is dropped "
                        f"and its {len(group)} window(s) are recomputed",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                    damaged.append(sid)
                    state.recomputed_damaged += len(group)
                continue
            if state.dim is not None and emb.shape[1] != state.dim:
                raise RuntimeError(
                    f"shards of fingerprint {fingerprint[:12]}... disagree on the embedding dimension "
                    f"({emb.shape[1]} vs {state.dim}); prune this fingerprint"
                )
            state.put(idx_u, emb[idx_r])
            if last_used < _now() - _TOUCH_EVERY_S:
                state.used_shards.add(sid)
        if damaged:
            self._drop_shards(damaged)

    def _touch(self, shard_ids: list[int], fingerprint: str) -> None:
        """Record that these shards were just used (for prune by age)."""
        now = _now()
        try:
            with self._write() as con:
                for chunk in _chunks(shard_ids, 500):
                    marks = ",".join("?" * len(chunk))
                    con.execute(
                        f"UPDATE shards SET last_used=? WHERE id IN ({marks})", [now, *chunk]
                    )
                con.execute(
                    "UPDATE fingerprints SET last_used=? WHERE fingerprint=?", (now, fingerprint)
                )
        except Exception as exc:  # bookkeeping only; never fail a read for it
            logger.warning("could not update last-used times in %s: %s", self.index_path, exc)

    def contains(self, windows_or_digests: np.ndarray, fingerprint: str) -> np.ndarray:
        """Boolean mask: which windows (or digests) are cached under ``fingerprint``.

        Examples
        --------
        >>> cache.contains(X, fp).all()                                    # doctest: +SKIP
        True
        """
        arr = np.asarray(windows_or_digests)
        digests = arr if arr.dtype.kind in "USO" else window_digests(arr)
        digests = _as_digest_array(digests, None)
        found, _ = self._lookup(_check_fingerprint(fingerprint), np.unique(digests))
        return np.array([d in found for d in digests.tolist()], dtype=bool)

    def info(self) -> pd.DataFrame:
        """One row per fingerprint: entries, shards, bytes, dates and the stored info.

        Columns: ``fingerprint``, ``entries``, ``shards``, ``bytes``, ``dim``, ``created``,
        ``last_used`` (pandas timestamps, UTC), ``model_key``, ``weights``, ``info``
        (the stored fingerprint info as a dict).

        Examples
        --------
        >>> EmbeddingCache(tmp_path).info().empty                         # doctest: +SKIP
        True
        """
        cols = [
            "fingerprint",
            "entries",
            "shards",
            "bytes",
            "dim",
            "created",
            "last_used",
            "model_key",
            "weights",
            "info",
        ]
        import pandas as pd

        with self._connect() as con:
            rows = con.execute(
                """
                SELECT f.fingerprint, f.info, f.dim, f.created,
                       COALESCE((SELECT COUNT(*) FROM entries e WHERE e.fp_id=f.id), 0),
                       COALESCE((SELECT COUNT(*) FROM shards s WHERE s.fp_id=f.id), 0),
                       COALESCE((SELECT SUM(nbytes) FROM shards s WHERE s.fp_id=f.id), 0),
                       COALESCE((SELECT MAX(last_used) FROM shards s WHERE s.fp_id=f.id), f.last_used)
                FROM fingerprints f ORDER BY f.created
                """
            ).fetchall()
        records = []
        for fp, info_json, dim, created, entries, shards, nbytes, last_used in rows:
            info = json.loads(info_json) if info_json else {}
            records.append(
                {
                    "fingerprint": fp,
                    "entries": int(entries),
                    "shards": int(shards),
                    "bytes": int(nbytes),
                    "dim": dim,
                    "created": pd.to_datetime(created, unit="s", utc=True),
                    "last_used": pd.to_datetime(last_used, unit="s", utc=True),
                    "model_key": info.get("model_key"),
                    "weights": _weights_summary(info),
                    "info": info,
                }
            )
        return pd.DataFrame.from_records(records, columns=cols)

    def manifest(self, fingerprints: list[str]) -> dict:
        """What the cache holds for ``fingerprints`` (for the experiment's parent run).

        Returns
        -------
        dict
            ``{"root", "fingerprints": {fp: {"entries", "shards", "bytes", "info"}},
            "total_entries", "total_bytes"}``; a fingerprint with nothing stored has zeros.

        Examples
        --------
        >>> cache.manifest([fp])["fingerprints"][fp]["entries"]           # doctest: +SKIP
        120
        """
        table = self.info().set_index("fingerprint")
        out: dict[str, Any] = {"root": str(self.root), "fingerprints": {}}
        for fp in dict.fromkeys(fingerprints):
            if fp in table.index:
                r = table.loc[fp]
                out["fingerprints"][fp] = {
                    "entries": int(r["entries"]),
                    "shards": int(r["shards"]),
                    "bytes": int(r["bytes"]),
                    "info": r["info"],
                }
            else:
                out["fingerprints"][fp] = {"entries": 0, "shards": 0, "bytes": 0, "info": {}}
        out["total_entries"] = sum(v["entries"] for v in out["fingerprints"].values())
        out["total_bytes"] = sum(v["bytes"] for v in out["fingerprints"].values())
        return out

    def export(self, fingerprint: str, digests: Any) -> tuple[np.ndarray, np.ndarray]:
        """The stored embeddings of ``digests`` (e.g. an experiment's windows) for logging.

        Digests that are not stored (or whose shard is damaged) are left out, so the
        returned digests say which rows are present; duplicates are returned once.

        Returns
        -------
        digests : ndarray of str, shape (k,)
        embeddings : ndarray, shape (k, d), float32

        Examples
        --------
        >>> d, emb = cache.export(fp, window_digests(X))                  # doctest: +SKIP
        >>> np.savez("embeddings.npz", digests=d, embeddings=emb)          # doctest: +SKIP
        """
        _check_fingerprint(fingerprint)
        wanted = _as_digest_array(digests, None)
        uniq = list(dict.fromkeys(wanted.tolist()))
        found, shard_meta = self._lookup(fingerprint, np.array(uniq, dtype=str))
        out_d: list[str] = []
        out_e: list[np.ndarray] = []
        loaded: dict[int, np.ndarray | None] = {}
        for d in uniq:
            if d not in found:
                continue
            sid, row = found[d]
            if sid not in loaded:
                file, checksum, nbytes, _ = shard_meta[sid]
                try:
                    sd, emb = self._read_shard(file, checksum, nbytes)
                    loaded[sid] = emb if row < len(sd) else None
                except (OSError, _DamagedShard) as exc:
                    warnings.warn(
                        f"embedding cache shard {self.root / file} is damaged ({exc}); "
                        "its windows are left out of the export",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    loaded[sid] = None
            if loaded[sid] is not None:
                out_d.append(d)
                out_e.append(loaded[sid][row])
        missing = len(uniq) - len(out_d)
        if missing:
            logger.info(
                "export: %d of %d digests are not in the cache for %s",
                missing,
                len(uniq),
                fingerprint[:12],
            )
        dim = out_e[0].shape[0] if out_e else 0
        emb = (
            np.stack(out_e).astype(np.float32, copy=False)
            if out_e
            else np.empty((0, dim), np.float32)
        )
        return np.array(out_d, dtype=f"<U{DIGEST_HEX_CHARS}"), emb

    def prune(self, fingerprint: str | None = None, older_than_days: float | None = None) -> int:
        """Remove stored embeddings; returns the number of entries removed.

        Parameters
        ----------
        fingerprint : str, optional
            Only this fingerprint (a unique prefix of at least 8 characters is accepted).
        older_than_days : float, optional
            Only shards not used for this many days. With neither argument, everything
            is removed.

        Also removes temporary files left by killed writers and shard files that the
        index does not know (older than one hour, so a concurrent writer is not hurt).

        Examples
        --------
        >>> cache.prune(older_than_days=30)                               # doctest: +SKIP
        0
        """
        if older_than_days is not None and (
            not math.isfinite(older_than_days) or older_than_days < 0
        ):
            raise ValueError(
                f"older_than_days must be a non-negative number, got {older_than_days}"
            )
        fp_full = self._resolve_fingerprint(fingerprint) if fingerprint is not None else None
        if fingerprint is not None and fp_full is None:
            return 0
        clauses, args = [], []
        with self._connect() as con:
            if fp_full is not None:
                clauses.append("fp_id=(SELECT id FROM fingerprints WHERE fingerprint=?)")
                args.append(fp_full)
            if older_than_days is not None:
                clauses.append("COALESCE(last_used, created) < ?")
                args.append(_now() - older_than_days * 86400.0)
            where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
            ids = [r[0] for r in con.execute(f"SELECT id FROM shards{where}", args)]
        removed = self._drop_shards(ids) if ids else 0
        with self._write() as con:  # forget fingerprints left without shards
            gone = [
                r[0]
                for r in con.execute(
                    "SELECT fingerprint FROM fingerprints f WHERE NOT EXISTS "
                    "(SELECT 1 FROM shards s WHERE s.fp_id=f.id)"
                )
            ]
            con.execute(
                "DELETE FROM fingerprints WHERE NOT EXISTS (SELECT 1 FROM shards s WHERE s.fp_id=fingerprints.id)"
            )
        for fp in gone:
            d = self._fp_dir(fp)
            if d.is_dir() and not any(p.name.startswith(_TMP_PREFIX) for p in d.iterdir()):
                shutil.rmtree(d, ignore_errors=True)
        self.cleanup()
        logger.info("pruned %d entries from %s", removed, self.root)
        return removed

    def cleanup(self, max_age_s: float = 3600.0) -> int:
        """Delete temporary files of interrupted writes and unindexed shard files.

        Only files older than ``max_age_s`` are touched, so a write in progress in
        another process is never disturbed. Returns the number of files removed.
        """
        self._ensure_ready()
        with self._connect() as con:
            known = {r[0] for r in con.execute("SELECT file FROM shards")}
        cutoff = time.time() - max_age_s
        removed = 0
        for fp_dir in self.root.iterdir():
            if not fp_dir.is_dir():
                continue
            for path in fp_dir.iterdir():
                stray = path.name.startswith(_TMP_PREFIX) or (
                    path.name.startswith(_SHARD_PREFIX)
                    and f"{fp_dir.name}/{path.name}" not in known
                )
                try:
                    if stray and path.stat().st_mtime <= cutoff:
                        path.unlink()
                        removed += 1
                except OSError:
                    continue
        return removed

    def _resolve_fingerprint(self, fingerprint: str) -> str | None:
        with self._connect() as con:
            rows = [
                r[0]
                for r in con.execute(
                    "SELECT fingerprint FROM fingerprints WHERE fingerprint=? OR "
                    "(length(?) >= 8 AND substr(fingerprint, 1, length(?)) = ?)",
                    (fingerprint, fingerprint, fingerprint, fingerprint),
                )
            ]
        if fingerprint in rows:
            return fingerprint
        if len(rows) > 1:
            raise ValueError(f"fingerprint prefix {fingerprint!r} is ambiguous: {sorted(rows)}")
        return rows[0] if rows else None

    def total_bytes(self) -> int:
        """Bytes of all indexed shards."""
        with self._connect() as con:
            return int(con.execute("SELECT COALESCE(SUM(nbytes), 0) FROM shards").fetchone()[0])


# --------------------------------------------------------------------------- helpers
def _chunks(seq: list, size: int) -> Iterator[list]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def _progress(items: list, enabled: bool, desc: str):
    if not enabled or len(items) < 2:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=not sys.stderr.isatty(), leave=False)


def _check_computed(out: Any, m: int, dim: int | None) -> np.ndarray:
    arr = np.asarray(out)
    if arr.ndim != 2 or arr.shape[0] != m:
        raise ValueError(
            f"compute must return an array of shape ({m}, d) for the {m} window(s) it was given, "
            f"got shape {arr.shape}"
        )
    if dim is not None and arr.shape[1] != dim:
        raise ValueError(
            f"compute returned embeddings of dimension {arr.shape[1]}, but cached embeddings "
            f"under the same fingerprint have dimension {dim}"
        )
    if arr.dtype != np.float32:
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"compute must return float32 embeddings, got dtype {arr.dtype}")
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def _weights_summary(info: dict) -> str | None:
    for key in ("weights", "weights_id", "weights_digest", "weight_digest", "hub_repo"):
        if info.get(key):
            return str(info[key])
    return None


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# --------------------------------------------------------------------------- CLI
def cache_info_command(root: str | None = None) -> str:
    """Text for ``coco-pipe cache info``: size and entries per fingerprint.

    Examples
    --------
    >>> print(cache_info_command("/tmp/coco-cache-doc"))                 # doctest: +SKIP
    """
    import pandas as pd

    cache = EmbeddingCache(root)
    if not cache.index_path.exists():
        return f"embedding cache {cache.root}: empty (no index yet)"
    table = cache.info()
    total = int(table["bytes"].sum()) if len(table) else 0
    lines = [
        f"embedding cache {cache.root}: {len(table)} fingerprint(s), "
        f"{int(table['entries'].sum()) if len(table) else 0} entries, {_human_bytes(total)}"
    ]
    if len(table):
        view = pd.DataFrame(
            {
                "fingerprint": table["fingerprint"].str[:16],
                "model_key": table["model_key"].fillna("-"),
                "weights": table["weights"].fillna("-").astype(str).str[:40],
                "entries": table["entries"],
                "shards": table["shards"],
                "size": table["bytes"].map(_human_bytes),
                "last_used": table["last_used"].dt.strftime("%Y-%m-%d %H:%M"),
            }
        )
        lines.append(view.to_string(index=False))
    return "\n".join(lines)


def cache_prune_command(
    root: str | None = None, fingerprint: str | None = None, older_than_days: float | None = None
) -> str:
    """Text for ``coco-pipe cache prune``: prune and say what was removed.

    With neither ``fingerprint`` nor ``older_than_days`` the whole cache is emptied.

    Examples
    --------
    >>> print(cache_prune_command(None, older_than_days=30))             # doctest: +SKIP
    """
    cache = EmbeddingCache(root)
    if not cache.index_path.exists():
        return f"embedding cache {cache.root}: empty, nothing to prune"
    before = cache.total_bytes()
    removed = cache.prune(fingerprint=fingerprint, older_than_days=older_than_days)
    after = cache.total_bytes()
    what = []
    if fingerprint:
        what.append(f"fingerprint {fingerprint}")
    if older_than_days is not None:
        what.append(f"unused for {older_than_days:g} days")
    scope = " and ".join(what) if what else "everything"
    return (
        f"pruned {removed} entries ({scope}) from {cache.root}; freed {_human_bytes(before - after)}, "
        f"{_human_bytes(after)} left"
    )
