"""What a logged model may ask of its loader: allowlists for every value read back.

A model folder is data someone else may have edited. Nothing in it can turn on remote code,
choose a loader outside coco-pipe's own, or point weights or files outside the folder:

- scikit-learn parts are read with skops, trusting only the types this policy accepts
  (:func:`trusted_skops_types`): scikit-learn estimators (``BaseEstimator`` subclasses) of
  scikit-learn, MNE, pyriemann or coco-pipe, and score functions of scikit-learn; never
  ``builtins``, ``os``, ``subprocess`` or any other callable;
- every other value is checked against a type and, where it names something, an allowlist
  (:func:`check_input`, :func:`check_embedder`, :func:`check_neural_meta`);
- weights are safetensors files inside the folder, or the spec's own hub repository
  (``weights="pretrained"``), or a source the *caller* names (``weights=...``).
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Iterable
from typing import Any

from .files import UnsafeModelError, check_name

#: Packages whose scikit-learn estimators a logged model may contain.
ESTIMATOR_PACKAGES = ("sklearn", "mne", "pyriemann", "coco_pipe")
#: Modules whose functions (score functions of feature selectors) a model may reference.
FUNCTION_MODULES = ("sklearn.feature_selection", "sklearn.metrics")
#: Types trusted as they are (a partial only binds a trusted function; it is not called).
ALWAYS_TRUSTED = ("functools.partial",)
_MODULE_PART = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")  # "_logistic" yes, "__main__" no
_DTYPE = re.compile(r"^[<>|=]?[A-Za-z]+[0-9]*$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def trusted_skops_types(types: Iterable[str], what: str) -> list[str]:
    """The types of a skops file this policy trusts, or :class:`UnsafeModelError` naming the
    first one it does not. Modules are imported only after their name passed the package
    allowlist (no ``__main__``, no private top-level names).

    Examples
    --------
    >>> trusted_skops_types(["sklearn.linear_model._logistic.LogisticRegression"], "model")
    ['sklearn.linear_model._logistic.LogisticRegression']
    >>> trusted_skops_types(["builtins.eval"], "model")
    Traceback (most recent call last):
    ...
    coco_pipe.decoding.logged_model.files.UnsafeModelError: model: type 'builtins.eval' ...
    """
    out = []
    for name in types:
        name = str(name)
        if name in ALWAYS_TRUSTED:
            out.append(name)
            continue
        module, _, attr = name.rpartition(".")
        parts = module.split(".")
        why = _refusal(name, module, attr, parts)
        if why:
            raise UnsafeModelError(
                f"{what}: type {name!r} is not trusted ({why}); a logged model may hold only "
                f"scikit-learn estimators of {', '.join(ESTIMATOR_PACKAGES)} and score functions "
                f"of {', '.join(FUNCTION_MODULES)}: nothing was loaded"
            )
        out.append(name)
    return out


def _refusal(name: str, module: str, attr: str, parts: list[str]) -> str:
    if parts[0] not in ESTIMATOR_PACKAGES:
        return f"package {parts[0]!r} is not allowed"
    if not all(_MODULE_PART.match(p) for p in parts) or not _MODULE_PART.match(attr or "-"):
        return "not a plain module path (no dunder or private top-level names)"
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        return f"it cannot be imported: {exc}"
    from sklearn.base import BaseEstimator

    if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
        return ""
    if inspect.isfunction(obj) and module.startswith(FUNCTION_MODULES):
        return ""
    return "neither a scikit-learn estimator class nor an allowed score function"


def _int(value: Any, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UnsafeModelError(f"{what} must be an integer >= {low}, got {value!r}")
    return value


def _float(value: Any, what: str, *, positive: bool = False, none: bool = True) -> float | None:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UnsafeModelError(f"{what} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise UnsafeModelError(f"{what} must be > 0, got {value!r}")
    return float(value)


def _names(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 200 for v in value):
        raise UnsafeModelError(f"{what} must be a list of strings (channel names), got {value!r:.80}")
    return list(value)


def check_classes(value: Any, what: str) -> list | None:
    """Class labels: ``None`` or a list of strings / numbers."""
    if value is None:
        return None
    ok = isinstance(value, list) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
    )
    if not ok:
        raise UnsafeModelError(f"{what} must be a list of class labels, got {value!r:.80}")
    return list(value)


def check_input(value: Any, what: str) -> dict[str, Any]:
    """The input a model takes: ``n_channels``, ``n_times``, ``sfreq``, ``ch_names``."""
    if not isinstance(value, dict):
        raise UnsafeModelError(f"{what} must be an object, got {value!r:.80}")
    out = {
        "n_channels": _int(value.get("n_channels"), f"{what}.n_channels", 1),
        "n_times": _int(value.get("n_times"), f"{what}.n_times", 1),
        "sfreq": _float(value.get("sfreq"), f"{what}.sfreq", positive=True),
        "ch_names": _names(value.get("ch_names"), f"{what}.ch_names"),
    }
    if out["ch_names"] is not None and len(out["ch_names"]) != out["n_channels"]:
        raise UnsafeModelError(f"{what}.ch_names has {len(out['ch_names'])} names for "
                               f"{out['n_channels']} channels")  # fmt: skip
    return out


def check_model_kwargs(value: Any, what: str) -> dict[str, Any]:
    """Architecture arguments: identifiers -> JSON numbers, strings, booleans or lists of them."""
    if value is None:
        return {}
    scalar = (str, int, float, bool, type(None))
    ok = isinstance(value, dict) and all(
        isinstance(k, str) and k.isidentifier() and not k.startswith("_")
        and (isinstance(v, scalar) or (isinstance(v, list) and all(isinstance(x, scalar) for x in v)))
        for k, v in value.items()
    )  # fmt: skip
    if not ok:
        raise UnsafeModelError(f"{what} must map argument names to plain values, got {value!r:.120}")
    return dict(value)


def check_embedder(value: Any, what: str) -> dict[str, Any]:
    """The frozen backbone of a pipeline: model key and pooling of the spec table, input,
    batch size, architecture arguments and the weights digest to match."""
    from ...foundation.specs import ESTIMATOR_SPECS

    if not isinstance(value, dict):
        raise UnsafeModelError(f"{what} must be an object")
    key = value.get("model_key")
    if key not in ESTIMATOR_SPECS:
        raise UnsafeModelError(f"{what}.model_key {key!r} is not a foundation model of this coco-pipe")
    pooling = value.get("pooling")
    if pooling not in ESTIMATOR_SPECS[key].poolings:
        raise UnsafeModelError(f"{what}.pooling {pooling!r} is not a pooling of {key!r}")
    digest = value.get("weights_digest")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{8,128}", digest):
        raise UnsafeModelError(f"{what}.weights_digest must be a hex digest, got {digest!r}")
    return {
        "model_key": key, "pooling": pooling, "weights_digest": digest,
        "batch_size": _int(value.get("batch_size"), f"{what}.batch_size", 1),
        "model_kwargs": check_model_kwargs(value.get("model_kwargs"), f"{what}.model_kwargs"),
        "unit": _unit(value.get("unit", "V"), f"{what}.unit"),
    }  # fmt: skip


#: Keys of a saved NeuralDecoder's ``coco_pipe_model.json`` and how each is checked.
_NEURAL_KEYS: dict[str, Any] = {
    "format": lambda v, w: v if isinstance(v, str) else _bad(w, v),
    "config": lambda v, w: v if isinstance(v, dict) else _bad(w, v),
    "task": lambda v, w: v if v in ("classification", "regression") else _bad(w, v),
    "classes": check_classes,
    "classes_dtype": lambda v, w: v if v is None or (isinstance(v, str) and _DTYPE.match(v)) else _bad(w, v),
    "sfreq": lambda v, w: _float(v, w, positive=True),
    "ch_names": _names,
    "n_channels": lambda v, w: _int(v, w, 1),
    "n_times": lambda v, w: _int(v, w, 1),
    "n_outputs": lambda v, w: _int(v, w, 1),
    "y_mean": _float, "y_std": _float, "adapt_scale": _float,
    "seed": lambda v, w: _int(v, w, 0),
    "random_state": lambda v, w: v if v is None else _int(v, w, 0),
    "use_cached_embeddings": lambda v, w: v if isinstance(v, bool) else _bad(w, v),
    "precompute_embeddings": lambda v, w: v if isinstance(v, bool) else _bad(w, v),
    "unit": lambda v, w: _unit(v, w),
    "weights": lambda v, w: v if isinstance(v, dict) else _bad(w, v),
    "weights_digest": lambda v, w: v if v is None or (isinstance(v, str) and v.isalnum()) else _bad(w, v),
    "fingerprint": lambda v, w: v if v is None or (isinstance(v, str) and v.isalnum()) else _bad(w, v),
    "checkpoint": lambda v, w: v if isinstance(v, dict) else _bad(w, v),
    "libraries": lambda v, w: v if isinstance(v, dict) else _bad(w, v),
    "files": lambda v, w: v,  # checked by check_neural_meta
}  # fmt: skip


def _unit(value: Any, what: str) -> str:
    """An amplitude unit of :data:`coco_pipe.data.units.UNITS` (``V``, ``mV``, ``uV``, ...)."""
    from ...data.units import UNITS

    if value not in UNITS:
        raise UnsafeModelError(f"{what} must be one of {sorted(UNITS)}, got {value!r:.40}")
    return value


def _bad(what: str, value: Any):
    raise UnsafeModelError(f"{what} has an unexpected value {value!r:.80}")


def check_neural_meta(meta: dict, what: str, *, weights: str | None = None) -> dict[str, Any]:
    """A saved NeuralDecoder's description, with a config the loader may act on.

    ``trust_remote_code`` must be off; ``weights`` must be ``"random"`` (then the folder
    holds the random-init base weights or the whole network) or ``"pretrained"`` (the spec's
    own hub repository, chosen by coco-pipe's code), unless the caller passes ``weights``;
    ``cache_dir`` is dropped; ``backend`` is one of the spec's backends; file names are
    plain ``.safetensors`` / ``.json`` names inside the folder.
    """
    from ..configs import NeuralFineTuneConfig

    unknown = sorted(set(meta) - set(_NEURAL_KEYS))
    if unknown:
        raise UnsafeModelError(f"{what}: unexpected field(s) {unknown}: refused")
    clean = {key: _NEURAL_KEYS[key](meta.get(key), f"{what}.{key}") for key in meta}
    files = meta.get("files")
    if not isinstance(files, dict) or not files:
        raise UnsafeModelError(f"{what}.files must name the weight files, got {files!r:.80}")
    for key, name in files.items():
        check_name(name, f"{what}.files.{key}")
        if "/" in name or not name.endswith((".safetensors", ".json")):
            raise UnsafeModelError(f"{what}.files.{key}={name!r}: only .safetensors / .json "
                                   "files directly in the model folder are read")  # fmt: skip
    try:
        cfg = NeuralFineTuneConfig.model_validate(meta.get("config"))
    except Exception as exc:
        raise UnsafeModelError(f"{what}.config is not a valid NeuralFineTuneConfig: {exc}") from None
    if cfg.trust_remote_code:
        raise UnsafeModelError(
            f"{what}.config.trust_remote_code is true: a logged model cannot turn on remote code; "
            "nothing was loaded"
        )
    if weights is None:
        if cfg.weights == "random" and not ({"base_model", "model"} & set(files)):
            raise UnsafeModelError(f"{what}: weights='random' but no base or full weights in the folder")
        if cfg.weights not in ("random", "pretrained"):
            raise UnsafeModelError(
                f"{what}.config.weights={cfg.weights!r} names a source outside the model folder, "
                "which a logged model cannot choose; pass weights=<that source> to the loader if "
                "you trust it"
            )
        weights = cfg.weights
    if cfg.revision is not None and not _REVISION.match(cfg.revision):
        raise UnsafeModelError(f"{what}.config.revision {cfg.revision!r} is not a plain hub revision")
    clean["config"] = cfg.model_copy(update={"weights": weights, "cache_dir": None}).model_dump(mode="json")
    clean["files"] = dict(files)
    return clean


__all__ = [
    "ALWAYS_TRUSTED", "ESTIMATOR_PACKAGES", "FUNCTION_MODULES", "check_classes", "check_embedder",
    "check_input", "check_model_kwargs", "check_neural_meta", "trusted_skops_types",
]
