"""ESTIMATOR_SPECS: one row per foundation model; the single source of truth.

Each row is declared in its model's module (:mod:`coco_pipe.foundation.models`, e.g.
``models/labram.py``, beside that model's quirks) and assembled here. Importable without
torch: architecture classes are named by string and resolved lazily when a backbone is
built.

Every value in a row must be what the code really does; ``tests/foundation/test_specs.py``
checks each row against a real forward pass.

Examples
--------
>>> sorted(ESTIMATOR_SPECS)[:2]
['bendr', 'biot']
>>> ESTIMATOR_SPECS["cbramod"].sfreq
200.0
"""

from __future__ import annotations

from .models import MODELS
from .models.base import FoundationModelSpec

ESTIMATOR_SPECS: dict[str, FoundationModelSpec] = {key: m.spec for key, m in MODELS.items()}

__all__ = ["ESTIMATOR_SPECS", "FoundationModelSpec"]
