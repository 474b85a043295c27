"""Keeping a cache small and clean: prune by fingerprint or age, remove stray files.

Examples
--------
>>> cache.prune(older_than_days=30)  # doctest: +SKIP
0
"""

from __future__ import annotations

import logging
import math
import shutil
import time

from . import index
from .shards import SHARD_PREFIX, TMP_PREFIX

logger = logging.getLogger(__name__)


class MaintenanceMixin:
    """Pruning and clean-up (needs the index of ``EmbeddingCache``)."""

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
                args.append(index.now() - older_than_days * 86400.0)
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
            if d.is_dir() and not any(p.name.startswith(TMP_PREFIX) for p in d.iterdir()):
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
                stray = path.name.startswith(TMP_PREFIX) or (
                    path.name.startswith(SHARD_PREFIX)
                    and f"{fp_dir.name}/{path.name}" not in known
                )
                try:
                    if stray and path.stat().st_mtime <= cutoff:
                        path.unlink()
                        removed += 1
                except OSError:
                    continue
        return removed


__all__ = ["MaintenanceMixin"]
