"""Text of the ``coco-pipe cache info`` / ``coco-pipe cache prune`` commands.

Examples
--------
>>> print(cache_info_command("/tmp/coco-cache-doc"))  # doctest: +SKIP
"""

from __future__ import annotations

from .store import EmbeddingCache


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


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


__all__ = ["cache_info_command", "cache_prune_command"]
