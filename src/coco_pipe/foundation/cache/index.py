"""The SQLite index of a cache root: fingerprints, shards, entries, under a file lock.

:class:`IndexMixin` gives :class:`~coco_pipe.foundation.cache.EmbeddingCache` its index
reads and writes; every write is one IMMEDIATE transaction under a
:class:`filelock.FileLock`, so several processes can fill one cache.

Examples
--------
>>> now() > 0
True
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from filelock import FileLock

from .keys import DIGEST_HEX_CHARS
from .shards import SHARD_MEMORY

INDEX_NAME = "index.sqlite"
LOCK_NAME = "index.lock"
_SCHEMA_VERSION = 1

logger = logging.getLogger(__name__)

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

_READY_ROOTS: set[str] = set()  # roots whose index schema this process has checked


def now() -> float:
    """The cache's clock (seconds since the epoch); tests replace it to age entries."""
    return time.time()


def chunks(seq: list, size: int) -> Iterator[list]:
    """``seq`` in slices of at most ``size`` (SQLite's limit on bound parameters)."""
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


class IndexMixin:
    """Index reads and writes of a cache root (``self.root``, ``self.lock_timeout``,
    ``self._ready``)."""

    @property
    def index_path(self) -> Path:
        """The SQLite index of this cache."""
        return self.root / INDEX_NAME

    def _lock(self) -> FileLock:
        return FileLock(str(self.root / LOCK_NAME), timeout=self.lock_timeout)

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
            for chunk in chunks(ids, 500):
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

    def _drop_shards(self, shard_ids: Iterable[int], *, delete_files: bool = True) -> int:
        """Remove shards and their entries from the index (and disk). Returns entries removed."""
        ids = sorted(set(shard_ids))
        removed = 0
        files: list[str] = []
        with self._write() as con:
            for chunk in chunks(ids, 500):
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
            SHARD_MEMORY.forget(str(self.root.resolve()), file)
            if delete_files:
                with contextlib.suppress(OSError):
                    (self.root / file).unlink()
        return removed

    def _shard_still_indexed(self, shard_id: int, checksum: str) -> bool:
        with self._connect() as con:
            row = con.execute("SELECT checksum FROM shards WHERE id=?", (shard_id,)).fetchone()
        return row is not None and row[0] == checksum

    def _touch(self, shard_ids: list[int], fingerprint: str) -> None:
        """Record that these shards were just used (for prune by age)."""
        stamp = now()
        try:
            with self._write() as con:
                for chunk in chunks(shard_ids, 500):
                    marks = ",".join("?" * len(chunk))
                    con.execute(
                        f"UPDATE shards SET last_used=? WHERE id IN ({marks})", [stamp, *chunk]
                    )
                con.execute(
                    "UPDATE fingerprints SET last_used=? WHERE fingerprint=?", (stamp, fingerprint)
                )
        except Exception as exc:  # bookkeeping only; never fail a read for it
            logger.warning("could not update last-used times in %s: %s", self.index_path, exc)

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


__all__ = ["INDEX_NAME", "LOCK_NAME", "IndexMixin", "chunks", "now"]
