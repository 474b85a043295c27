"""Reading a state dict from a weight file (safetensors, or ``torch.load(weights_only=True)``).

Examples
--------
>>> ".safetensors" in WEIGHT_SUFFIXES
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

#: File suffixes read as state dicts.
WEIGHT_SUFFIXES: tuple[str, ...] = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
# file names tried, in order, inside a checkpoint directory / hub snapshot
DIR_WEIGHT_FILES: tuple[str, ...] = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# wrapper keys of training checkpoints holding the actual state dict
_WRAPPER_KEYS: tuple[str, ...] = ("state_dict", "model_state_dict", "model", "module", "network")
N_SHOW = 8  # keys shown per category in error messages


def _tensor_items(obj: Any, origin: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        tensors = {
            k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)
        }
        if tensors:
            return tensors
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                return _tensor_items(obj[key], origin)
    raise ValueError(
        f"{origin} holds no state dict (a mapping of parameter names to tensors); got {type(obj).__name__}"
        + (f" with keys {sorted(map(str, obj))[:N_SHOW]}" if isinstance(obj, Mapping) else "")
    )


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from a ``.safetensors`` / ``.pt`` / ``.bin`` file or shard index.

    Pickle files are read with ``torch.load(weights_only=True)``, on the CPU; training
    checkpoints wrapping the state dict (``{"state_dict": ...}``, ``{"model": ...}``)
    are unwrapped.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    dict of str to torch.Tensor

    Examples
    --------
    >>> import torch, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "w.pt")
    >>> torch.save({"state_dict": {"w": torch.ones(2)}}, f)
    >>> list(load_state_dict_file(f))
    ['w']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    name = path.name.lower()
    if name.endswith(".index.json"):
        shards = sorted(set(json.loads(path.read_text())["weight_map"].values()))
        merged: dict[str, torch.Tensor] = {}
        for shard in shards:
            merged.update(load_state_dict_file(path.parent / shard))
        return merged
    if name.endswith(".safetensors"):
        from safetensors import SafetensorError  # noqa: PLC0415
        from safetensors.torch import load_file  # noqa: PLC0415

        try:
            return dict(load_file(str(path), device="cpu"))
        except (SafetensorError, OSError) as err:
            raise ValueError(
                f"weights file {str(path)!r} is not a readable safetensors file: {err}"
            ) from err
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError: not a weights-only pickle
        raise ValueError(
            f"weights file {str(path)!r} cannot be read with torch.load(weights_only=True): {err}. "
            "Save model.state_dict() (not the pickled module), or use .safetensors."
        ) from err
    return _tensor_items(obj, f"weights file {str(path)!r}")


__all__ = ["DIR_WEIGHT_FILES", "N_SHOW", "WEIGHT_SUFFIXES", "load_state_dict_file"]
