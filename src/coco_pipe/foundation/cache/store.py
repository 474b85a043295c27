"""EmbeddingCache: look windows up, compute only what is missing, store it in new shards.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> cache = EmbeddingCache(tempfile.mkdtemp())
>>> X = np.zeros((2, 3, 4), np.float32)
>>> cache.get_or_compute(X, "toy", lambda w: w.mean(axis=2))[1].misses
2
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from . import index
from .index import IndexMixin
from .inventory import InventoryMixin
from .keys import (
    CacheStats,
    as_digest_array,
    canonical_json,
    check_fingerprint,
    default_cache_dir,
    window_digests,
)
from .maintenance import MaintenanceMixin
from .shards import (
    SHARD_MEMORY,
    SHARD_PREFIX,
    SHARD_SUFFIX,
    DamagedShard,
    atomic_write_bytes,
    decode_shard,
    encode_shard,
)

logger = logging.getLogger(__name__)

_TOUCH_EVERY_S = 600.0  # a shard's last_used is refreshed at most this often (prune works in days)


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


class EmbeddingCache(IndexMixin, InventoryMixin, MaintenanceMixin):
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

    def _read_shard(self, file: str, checksum: str, nbytes: int) -> tuple[np.ndarray, np.ndarray]:
        key = (str(self.root.resolve()), file, checksum)
        if self.memory:
            hit = SHARD_MEMORY.get(key)
            if hit is not None:
                return hit
        payload = (self.root / file).read_bytes()
        digests, emb = decode_shard(payload, checksum, nbytes)
        if self.memory:
            SHARD_MEMORY.put(key, (digests, emb))
        return digests, emb

    def _write_shard(
        self, fingerprint: str, fingerprint_info: dict | None, digests: np.ndarray, emb: np.ndarray
    ) -> int:
        fp_dir = self._fp_dir(fingerprint)
        fp_dir.mkdir(parents=True, exist_ok=True)
        payload = encode_shard(digests, emb)
        checksum = hashlib.sha256(payload).hexdigest()
        name = f"{SHARD_PREFIX}{uuid.uuid4().hex}{SHARD_SUFFIX}"
        atomic_write_bytes(fp_dir / name, payload)
        rel = f"{fingerprint}/{name}"
        now = index.now()
        info_json = canonical_json(fingerprint_info) if fingerprint_info is not None else None
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

    def _compute_lock(self, fingerprint: str, enabled: bool = True):
        """Held while one process computes the missing windows of ``fingerprint``."""
        if not enabled:
            return contextlib.nullcontext()
        return FileLock(str(self.root / f"compute-{fingerprint}.lock"))

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
        check_fingerprint(fingerprint)
        if not callable(compute):
            raise TypeError(f"compute must be callable, got {type(compute).__name__}")
        if fingerprint_info is not None and not isinstance(fingerprint_info, dict):
            raise TypeError(
                f"fingerprint_info must be a dict or None, got {type(fingerprint_info).__name__}"
            )
        if fingerprint_info is not None:
            canonical_json(fingerprint_info)  # fail early on values that cannot be stored
        n = len(windows)
        digests = window_digests(windows) if digests is None else as_digest_array(digests, n)
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
                    raise DamagedShard("its digests do not match the index")
            except (OSError, DamagedShard) as exc:
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
            if last_used < index.now() - _TOUCH_EVERY_S:
                state.used_shards.add(sid)
        if damaged:
            self._drop_shards(damaged)


__all__ = ["EmbeddingCache"]
