"""Shared base class for coco-pipe configs: strict, documented, YAML round-trip.

A config also speaks scikit-learn's parameter protocol (``get_params`` / ``set_params`` /
``__sklearn_clone__``), so a config held by an estimator is a *nested parameter*:
``NeuralDecoder(optim=OptimConfig()).set_params(optim__lr=1e-4)`` validates the new value
and ``GridSearchCV(est, {"optim__lr": [...]})`` reaches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict

T = TypeVar("T", bound="StrictConfig")


class StrictConfig(BaseModel):
    """Base of every config: unknown keys are errors that name the key.

    Examples
    --------
    >>> from coco_pipe.decoding.configs import CVConfig
    >>> CVConfig(strategy="kfold", n_splits=3).n_splits
    3
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    @classmethod
    def from_yaml(cls: type[T], path: str | Path) -> T:
        """Load a config from a YAML file (keys as in :meth:`to_yaml`)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"config file {str(path)!r} does not exist")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(
                f"config file {str(path)!r} must hold a mapping, got {type(data).__name__}"
            )
        return cls.model_validate(data)

    def to_yaml(self, path: str | Path | None = None) -> str:
        """Dump the config to YAML (and to ``path`` when given); round-trips through
        :meth:`from_yaml`."""
        text = yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    def flat_params(self, prefix: str = "") -> dict[str, Any]:
        """The config flattened to ``{"a.b.c": value}`` for tracking params."""
        return flatten_dict(self.model_dump(mode="json"), prefix)

    # ------------------------------------------------- scikit-learn parameter protocol

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The fields as scikit-learn parameters; with ``deep``, nested configs' fields too
        (``"sub__field"``), as :meth:`sklearn.base.BaseEstimator.get_params` does.

        Examples
        --------
        >>> from coco_pipe.decoding.configs import OptimConfig
        >>> OptimConfig(lr=0.01).get_params()["lr"]
        0.01
        """
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            out[name] = value
            if deep and isinstance(value, StrictConfig):
                out.update({f"{name}__{k}": v for k, v in value.get_params(deep=True).items()})
        return out

    def set_params(self: T, **params: Any) -> T:
        """Set fields in place (``"sub__field"`` reaches a nested config), each value
        validated as on assignment; on a bad value nothing is changed.

        Raises
        ------
        ValueError
            An unknown field (the message lists the valid ones) or a value the field's
            validation refuses.

        Examples
        --------
        >>> from coco_pipe.decoding.configs import OptimConfig
        >>> OptimConfig().set_params(lr=1e-4, epochs=3).epochs
        3
        """
        if params:
            _assign(self.model_copy(deep=True), params)  # dry run: raises before self changes
            _assign(self, params)
        return self

    def __sklearn_clone__(self: T) -> T:
        """An independent deep copy (what :func:`sklearn.base.clone` returns for a config)."""
        return self.model_copy(deep=True)


def _assign(config: StrictConfig, params: dict[str, Any]) -> None:
    nested: dict[str, dict[str, Any]] = {}
    fields = type(config).model_fields
    for key, value in params.items():
        name, delim, sub = key.partition("__")
        if name not in fields:
            raise ValueError(
                f"invalid parameter {name!r} for {type(config).__name__}; valid parameters are: "
                f"{', '.join(fields)}"
            )
        if delim:
            nested.setdefault(name, {})[sub] = value
        else:
            setattr(config, name, value)  # validate_assignment: pydantic checks the value
    for name, sub_params in nested.items():
        sub = getattr(config, name)
        if not isinstance(sub, StrictConfig):
            raise ValueError(
                f"{type(config).__name__}.{name} is {type(sub).__name__}, not a config; it has no "
                f"nested parameters ({', '.join(f'{name}__{k}' for k in sub_params)})"
            )
        _assign(sub, sub_params)


def flatten_dict(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts with dotted keys; lists become their string form."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten_dict(value, full))
        else:
            out[full] = value
    return out
