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


def licence_note(model_key: str) -> str | None:
    """What a model's weight licence means for distributing an adapted version, or None
    when it raises no such concern (or ``model_key`` is not a foundation model, e.g. a
    network trained from scratch).

    The registry adds it to the description of a promoted version (and warns) when the
    licence forbids derivatives.

    Examples
    --------
    >>> licence_note("luna")  # doctest: +ELLIPSIS
    'LUNA weights are licensed CC-BY-ND-4.0, which forbids distributing derivatives: ...'
    >>> licence_note("cbramod") is None
    True
    """
    spec = ESTIMATOR_SPECS.get(model_key)
    if spec is None or not spec.license_forbids_derivatives:
        return None
    return (
        f"{spec.display_name} weights are licensed {spec.license}, which forbids distributing "
        "derivatives: an adapter or fine-tuned model built on them may be used privately but not "
        "shared or published; check the licence before distributing this version."
    )


__all__ = ["ESTIMATOR_SPECS", "FoundationModelSpec", "licence_note"]
