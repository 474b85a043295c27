"""How many windows are read at a time: validation, fingerprints and lazy folds work in
chunks of about :data:`CHUNK_BYTES`, never on a full-size temporary."""

from __future__ import annotations

#: Bytes of windows read (and cast) per chunk.
CHUNK_BYTES = 64 * 2**20


def window_chunks(n_windows: int, window_bytes: int) -> range:
    """Start indices of chunks of about :data:`CHUNK_BYTES` over ``n_windows`` windows.

    Examples
    --------
    >>> window_chunks(10, CHUNK_BYTES // 4)
    range(0, 10, 4)
    """
    step = max(1, CHUNK_BYTES // max(1, window_bytes))
    return range(0, n_windows, step)


__all__ = ["CHUNK_BYTES", "window_chunks"]
