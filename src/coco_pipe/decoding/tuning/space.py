"""Search spaces: which dotted paths of a model config a space may name, checked before
any fitting, and how sampled values are applied to a copy of the config."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel

from ..configs.tuning import ParamSpec, TuningConfig
from ..metrics import resolve_metrics
from ..registry import get_classical


def _estimator_param_names(estimator: str) -> list[str]:
    return sorted(get_classical(estimator).factory().get_params(deep=True))


def is_classical(cfg: Any) -> bool:
    """Whether ``cfg`` is a classical model config (its ``params`` are estimator arguments)."""
    return getattr(cfg, "kind", None) == "classical" and hasattr(cfg, "estimator")


def _paths(cfg: BaseModel, prefix: str = "") -> tuple[list[str], list[str]]:
    """(leaf paths, free-form dict prefixes) of a config."""
    leaves: list[str] = []
    open_dicts: list[str] = []
    for name in type(cfg).model_fields:
        if name == "kind":
            continue
        value = getattr(cfg, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            sub_leaves, sub_open = _paths(value, path + ".")
            leaves += sub_leaves
            open_dicts += sub_open
        elif name == "params" and is_classical(cfg):
            leaves += [f"{path}.{p}" for p in _estimator_param_names(cfg.estimator)]
        elif isinstance(value, dict):
            open_dicts.append(path)
        else:
            leaves.append(path)
    return leaves, open_dicts


def valid_param_paths(model_config: BaseModel) -> list[str]:
    """Dotted paths a search space may name for ``model_config``.

    Free-form dicts (``model_kwargs``) appear as ``model_kwargs.<key>``.

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> "params.C" in valid_param_paths(ClassicalModelConfig(estimator="LogisticRegression"))
    True
    """
    leaves, open_dicts = _paths(model_config)
    return leaves + [f"{p}.<key>" for p in open_dicts]


def _check_path(model_config: BaseModel, path: str) -> None:
    leaves, open_dicts = _paths(model_config)
    if path in leaves:
        return
    for prefix in open_dicts:
        rest = path[len(prefix) + 1 :] if path.startswith(prefix + ".") else ""
        if rest and "." not in rest:
            return
    close = difflib.get_close_matches(path, leaves, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    valid = leaves + [f"{p}.<key>" for p in open_dicts]
    raise ValueError(
        f"search-space path {path!r} does not address a field of {_describe(model_config)}{hint} "
        f"(valid paths: {', '.join(valid)})"
    )


def _describe(cfg: Any) -> str:
    if is_classical(cfg):
        return f"ClassicalModelConfig(estimator={cfg.estimator!r})"
    key = getattr(cfg, "model_key", None) or getattr(
        getattr(cfg, "backbone", None), "model_key", None
    )
    return f"{type(cfg).__name__}({key!r})" if key else type(cfg).__name__


def apply_params(model_config: BaseModel, params: Mapping[str, Any]) -> BaseModel:
    """A new, validated config with ``{dotted_path: value}`` set.

    Parameters
    ----------
    model_config : pydantic model config
    params : mapping
        E.g. ``{"params.C": 0.1}`` or ``{"optim.lr": 1e-4, "lora.r": 8}``.

    Returns
    -------
    config of the same type, validated (bad values raise ``ValueError``).

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> cfg = apply_params(ClassicalModelConfig(estimator="LogisticRegression"), {"params.C": 0.5})
    >>> cfg.params["C"]
    0.5
    """
    data = model_config.model_dump()
    for path, value in params.items():
        parts = path.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node, dict) or part not in node:
                raise ValueError(
                    f"parameter path {path!r}: {'.'.join(parts[: i + 1])!r} is not a field"
                )
            if not isinstance(node[part], dict):
                raise ValueError(
                    f"parameter path {path!r}: {'.'.join(parts[: i + 1])!r} is not a section"
                )
            node = node[part]
        node[parts[-1]] = _plain(value)
    return type(model_config).model_validate(data)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (configs and YAML want plain types)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _classical_parts(cfg: Any) -> list[Any]:
    parts = [cfg] if is_classical(cfg) else []
    head = getattr(cfg, "head", None)
    if head is not None and is_classical(head):
        parts.append(head)
    return parts


def _check_estimator_values(cfg: Any, path: str, value: Any) -> None:
    """Let scikit-learn validate the constructor values (types, ranges) up front."""
    for part in _classical_parts(cfg):
        est = get_classical(part.estimator).factory().set_params(**part.params)
        validate = getattr(est, "_validate_params", None)
        if not callable(validate) or not hasattr(est, "_parameter_constraints"):
            continue  # not a scikit-learn estimator with declared constraints
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"search-space path {path!r}: value {value!r} is rejected: {exc}"
            ) from exc


def as_spec(spec: ParamSpec | Mapping[str, Any]) -> ParamSpec:
    """A :class:`ParamSpec` from a spec or its dict form."""
    return spec if isinstance(spec, ParamSpec) else ParamSpec.model_validate(spec)


def _endpoint_values(spec: ParamSpec) -> list[Any]:
    if spec.type == "categorical":
        return list(spec.choices or [])
    if spec.type == "int":
        return [int(spec.low), int(spec.high)]
    return [float(spec.low), float(spec.high)]


def check_search_space(
    model_config: BaseModel, space: Mapping[str, ParamSpec | Mapping[str, Any]]
) -> None:
    """Raise ``ValueError`` before any fitting if ``space`` cannot be applied to ``model_config``.

    Every path must address a field of the config (the message lists the valid paths and
    close names), and the bounds / choices of every spec must give a valid config
    (pydantic validation, and scikit-learn's parameter validation for classical estimators).

    Parameters
    ----------
    model_config : ClassicalModelConfig | FrozenBackboneDecoderConfig | NeuralFineTuneConfig
    space : dict of path -> ParamSpec (or its dict form)

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig, ParamSpec
    >>> cfg = ClassicalModelConfig(estimator="LogisticRegression")
    >>> check_search_space(cfg, {"params.C": ParamSpec(type="float", low=1e-3, high=1e2, log=True)})
    >>> check_search_space(cfg, {"params.c": {"type": "float", "low": 0.1, "high": 1}})
    Traceback (most recent call last):
    ...
    ValueError: search-space path 'params.c' does not address a field of ...
    """
    if not isinstance(space, Mapping) or not space:
        raise ValueError(
            f"a search space must be a non-empty mapping of param path -> spec, got {space!r}"
        )
    for path, spec in space.items():
        if path == "kind":
            raise ValueError(
                "search-space path 'kind' cannot be tuned (it selects the config type)"
            )
        _check_path(model_config, path)
        spec = as_spec(spec)
        for value in _endpoint_values(spec):
            try:
                cfg = apply_params(model_config, {path: value})
            except ValueError as exc:
                raise ValueError(
                    f"search-space path {path!r}: value {value!r} is not valid: {exc}"
                ) from exc
            _check_estimator_values(cfg, path, value)



def grid_from_space(space: Mapping[str, ParamSpec | Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The grid-sampler search space (``ValueError`` for a float spec without step)."""
    grid = {}
    for path, spec in space.items():
        try:
            grid[path] = as_spec(spec).grid_values()
        except ValueError as exc:
            raise ValueError(f"search-space path {path!r}: {exc}") from exc
    return grid




def suggest(trial, path: str, spec: ParamSpec) -> Any:
    """Sample ``spec`` under the name ``path`` from an Optuna trial."""
    if spec.type == "categorical":
        return trial.suggest_categorical(path, list(spec.choices))
    if spec.type == "int":
        return trial.suggest_int(
            path, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
        )
    return trial.suggest_float(
        path, float(spec.low), float(spec.high), step=spec.step, log=spec.log
    )


def check_tuning(tuning: TuningConfig, models: Mapping[str, Any], task: str) -> TuningConfig:
    """Check a tuning config against the experiment's models before any fitting.

    Every model named in ``tuning.search_space`` must exist, ``tuning.metric`` must be a
    metric of ``task``, and every search space must apply to its model
    (:func:`check_search_space`). Returns ``tuning``.

    Examples
    --------
    >>> from coco_pipe.decoding.configs import ClassicalModelConfig
    >>> tcfg = TuningConfig(enabled=True, search_space={"lr": {"params.C": {
    ...     "type": "float", "low": 0.01, "high": 1}}})
    >>> check_tuning(tcfg, {"lr": ClassicalModelConfig()}, "classification") is tcfg
    True
    """
    unknown = sorted(set(tuning.search_space) - set(models))
    if unknown:
        raise ValueError(
            f"tuning.search_space names unknown model(s) {unknown}; models: {list(models)}"
        )
    if tuning.metric is not None:
        resolve_metrics([tuning.metric], task)
    for name, space in tuning.search_space.items():
        check_search_space(models[name], space)
    return tuning


__all__ = [
    "apply_params",
    "as_spec",
    "check_search_space",
    "check_tuning",
    "grid_from_space",
    "is_classical",
    "suggest",
    "valid_param_paths",
]
