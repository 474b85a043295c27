"""One module per foundation model: its spec row and its quirks.

:data:`MODEL_MODULES` registers them; :func:`get_model` returns a model's hooks
(:class:`~coco_pipe.foundation.models.base.FoundationModel`), which shared code calls
instead of comparing model keys. Importing this package imports no torch.

To add a model: write ``coco_pipe/foundation/models/<key>.py`` with ``SPEC`` (a
:class:`~coco_pipe.foundation.models.base.FoundationModelSpec` whose ``key`` is the file
name) and ``MODEL`` (an instance of a ``FoundationModel`` subclass overriding the hooks
that differ from the defaults), then add ``"<key>"`` to :data:`MODEL_MODULES`.

Examples
--------
>>> sorted(MODELS)[:3]
['bendr', 'biot', 'cbramod']
>>> get_model("reve").positions_buffer
True
"""

from __future__ import annotations

import importlib

from .base import FoundationModel, FoundationModelSpec

#: The registered model modules, one per ``ESTIMATOR_SPECS`` row (in table order).
MODEL_MODULES: tuple[str, ...] = (
    "bendr",
    "biot",
    "cbramod",
    "eegpt",
    "labram",
    "luna",
    "reve",
    "signal_jepa",
)


def _load() -> dict[str, FoundationModel]:
    models: dict[str, FoundationModel] = {}
    for name in MODEL_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        model = module.MODEL
        if model.spec.key != name or module.SPEC is not model.spec:
            raise RuntimeError(
                f"model module {module.__name__}: SPEC.key must be {name!r} and MODEL.spec must be "
                f"SPEC; got key {model.spec.key!r}"
            )
        models[name] = model
    return models


#: model key -> the model's hooks.
MODELS: dict[str, FoundationModel] = _load()


def get_model(key: str) -> FoundationModel:
    """The hooks of the model ``key``; the error lists the known keys.

    Examples
    --------
    >>> get_model("labram").spec.display_name
    'LaBraM'
    """
    try:
        return MODELS[key]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown model_key {key!r}; known foundation models: {known}") from None


__all__ = ["MODELS", "MODEL_MODULES", "FoundationModel", "FoundationModelSpec", "get_model"]
