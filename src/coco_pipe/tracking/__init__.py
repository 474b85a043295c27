"""Tracking: every MLflow call of coco-pipe goes through this package.

- :class:`Tracker` writes (parent run, nested fold runs, batch logging, artifacts).
- :class:`RunStore` reads back (children, artifacts, tables) for the results layer.
- :class:`FoldReport` is what estimators hand to the tracker after a fold.
- :class:`Spool` keeps each fold's results locally until the store has them.
"""

from .client import (
    DEFAULT_TRACKING_URI,
    FOLD_TAG,
    MODEL_TAG,
    PARENT_TAG,
    ROLE_TAG,
    Tracker,
    TrackingAuthError,
    TrackingUnavailableError,
    check_reachable,
    check_safe_name,
    resolve_tracking_uri,
)
from .report import FoldReport
from .spool import Spool
from .store import SUPERSEDED_TAG, RunStore

__all__ = [
    "Tracker", "RunStore", "FoldReport", "Spool", "SUPERSEDED_TAG", "TrackingUnavailableError", "TrackingAuthError",
    "check_safe_name", "check_reachable",
    "resolve_tracking_uri", "DEFAULT_TRACKING_URI", "ROLE_TAG", "MODEL_TAG", "FOLD_TAG", "PARENT_TAG",
]
