"""Cache keys: window digests, backbone fingerprints, and the counters of a lookup.

Examples
--------
>>> import numpy as np
>>> X = np.zeros((3, 2, 4), dtype="float32"); X[2] = 1
>>> d = window_digests(X)
>>> bool(d[0] == d[1]), bool(d[0] == d[2])
(True, False)
>>> len(fingerprint_of({"model_key": "toy"}))
64
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Environment variable that overrides the default cache location.
CACHE_ENV_VAR = "COCO_PIPE_CACHE_DIR"
#: Hex characters kept of each window's SHA-256 (128 bits).
DIGEST_HEX_CHARS = 32


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


def canonical_json(info: dict) -> str:
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
    return hashlib.sha256(canonical_json(info).encode()).hexdigest()


def check_fingerprint(fingerprint: str) -> str:
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


def as_digest_array(digests: Any, n: int | None, name: str = "digests") -> np.ndarray:
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


__all__ = [
    "CACHE_ENV_VAR",
    "DIGEST_HEX_CHARS",
    "CacheStats",
    "as_digest_array",
    "canonical_json",
    "check_fingerprint",
    "default_cache_dir",
    "fingerprint_of",
    "window_digests",
]
