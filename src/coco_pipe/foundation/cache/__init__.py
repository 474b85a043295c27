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

The package: :mod:`.keys` (window digests, fingerprints, counters), :mod:`.shards`
(shard files and their memory), :mod:`.index` (the SQLite index), :mod:`.store`
(:class:`EmbeddingCache` and its gather / compute), :mod:`.inventory` (info, manifest,
export), :mod:`.maintenance` (prune, cleanup), :mod:`.commands` (the CLI text) and
:mod:`.artifacts` (the parent-run artifacts of an experiment).

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

from .artifacts import CacheManifest, EmbeddingsExport
from .commands import cache_info_command, cache_prune_command
from .keys import CACHE_ENV_VAR, CacheStats, default_cache_dir, fingerprint_of, window_digests
from .shards import SHARD_MEMORY_BYTES, clear_shard_memory
from .store import EmbeddingCache

__all__ = [
    "CACHE_ENV_VAR",
    "SHARD_MEMORY_BYTES",
    "CacheManifest",
    "CacheStats",
    "EmbeddingCache",
    "EmbeddingsExport",
    "cache_info_command",
    "cache_prune_command",
    "clear_shard_memory",
    "default_cache_dir",
    "fingerprint_of",
    "window_digests",
]
