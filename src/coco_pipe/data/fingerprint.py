"""data_fingerprint: the digest that identifies the data a run was trained on."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .inputs import EpochsData


def data_fingerprint(data: EpochsData) -> str:
    """Digest of X, y and groups: identifies the data a run was trained on."""
    h = hashlib.sha256()
    h.update(str(data.X.shape).encode())
    step = max(1, len(data.X) // 256)  # sample rows for speed; shape + y + groups are complete
    h.update(np.ascontiguousarray(data.X[::step]).tobytes())
    h.update(pd.Series(data.y).astype(str).str.cat(sep="|").encode())
    if data.groups is not None:
        h.update(pd.Series(data.groups).astype(str).str.cat(sep="|").encode())
    return h.hexdigest()[:16]
