"""What a cache holds: membership, one row per fingerprint, manifests and exports.

Examples
--------
>>> cache.manifest([fp])["fingerprints"][fp]["entries"]  # doctest: +SKIP
120
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .keys import DIGEST_HEX_CHARS, as_digest_array, check_fingerprint, window_digests
from .shards import DamagedShard

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


def _weights_summary(info: dict) -> str | None:
    for key in ("weights", "weights_id", "weights_digest", "weight_digest", "hub_repo"):
        if info.get(key):
            return str(info[key])
    return None


class InventoryMixin:
    """Read-only views of a cache (needs the index and shard reads of ``EmbeddingCache``)."""

    def contains(self, windows_or_digests: np.ndarray, fingerprint: str) -> np.ndarray:
        """Boolean mask: which windows (or digests) are cached under ``fingerprint``.

        Examples
        --------
        >>> cache.contains(X, fp).all()                                    # doctest: +SKIP
        True
        """
        arr = np.asarray(windows_or_digests)
        digests = arr if arr.dtype.kind in "USO" else window_digests(arr)
        digests = as_digest_array(digests, None)
        found, _ = self._lookup(check_fingerprint(fingerprint), np.unique(digests))
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
        check_fingerprint(fingerprint)
        wanted = as_digest_array(digests, None)
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
                except (OSError, DamagedShard) as exc:
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


__all__ = ["InventoryMixin"]
