"""Shared base class for coco-pipe configs: strict, documented, YAML round-trip."""

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
