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


class _PlainAttributeDict(dict):
    """Stand-in for Lightning's ``AttributeDict`` (``hyper_parameters``): a plain dict,
    so a checkpoint holding one is read without importing Lightning."""


def safe_globals() -> list[Any]:
    """Plain-data classes a training checkpoint may hold beside its tensors, allowed in
    ``torch.load(weights_only=True)`` (never ``weights_only=False``).

    Lightning checkpoints keep hyper-parameters (``AttributeDict``, ``argparse.Namespace``),
    paths, numpy scalars and arrays and ``defaultdict`` loop state; the authors' scripts
    save ``argparse.Namespace`` arguments (LaBraM's ``utils.save_model``). Each of these
    rebuilds data only: none runs code when unpickled. Lightning's ``AttributeDict`` is
    read as a plain dict subclass of ours under its own names.

    Examples
    --------
    >>> import argparse
    >>> argparse.Namespace in safe_globals()
    True
    """
    import argparse
    import collections
    import pathlib

    import numpy as np

    allowed: list[Any] = [
        argparse.Namespace,
        collections.defaultdict,
        collections.Counter,
        pathlib.PosixPath,
        pathlib.WindowsPath,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        np.dtype,
        np.ndarray,
        *{type(np.dtype(c)) for c in "?bhilqBHILQefdgFDG"},
        list,  # default factories of defaultdict
        dict,
        set,
    ]
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    for name in ("scalar", "_reconstruct"):  # numpy arrays and scalars
        func = getattr(multiarray, name)
        for module in ("numpy._core.multiarray", "numpy.core.multiarray"):  # numpy 2 and 1
            allowed.append((func, f"{module}.{name}"))
    for name in (
        "lightning.fabric.utilities.data.AttributeDict",
        "lightning_fabric.utilities.data.AttributeDict",
        "pytorch_lightning.utilities.parsing.AttributeDict",
    ):
        allowed.append((_PlainAttributeDict, name))
    return allowed


def _torch_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with :func:`safe_globals`; a refusal names the
    globals the file needs and what to do."""
    try:
        with torch.serialization.safe_globals(safe_globals()):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError: not a weights-only pickle
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        except Exception:  # noqa: BLE001 - not a torch zip file: the first error says it
            unsafe = []
        allowed = {
            g if isinstance(g, str) else f"{g.__module__}.{g.__qualname__}"
            for item in safe_globals()
            for g in ([item[1]] if isinstance(item, tuple) else [item])
        }
        refused = [g for g in unsafe if g not in allowed]
        why = (
            f"it holds objects that are not plain data: {', '.join(refused)}"
            if refused
            else f"{type(err).__name__}: {err}"
        )
        raise ValueError(
            f"weights file {str(path)!r} cannot be read with torch.load(weights_only=True): {why}. "
            "coco-pipe never unpickles code. Save model.state_dict() (not the pickled module), or, "
            "on a machine where you trust the file, re-save only its tensors: "
            "torch.save(torch.load(path, weights_only=False)['state_dict'], 'weights.pt'), or use "
            ".safetensors."
        ) from err


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

    Pickle files are read with ``torch.load(weights_only=True)`` on the CPU, allowing
    only the plain-data classes of :func:`safe_globals` (Lightning and training-script
    containers); training checkpoints wrapping the state dict (``{"state_dict": ...}``,
    ``{"model": ...}``) are unwrapped.

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
    return _tensor_items(_torch_load(path), f"weights file {str(path)!r}")


__all__ = ["DIR_WEIGHT_FILES", "N_SHOW", "WEIGHT_SUFFIXES", "load_state_dict_file", "safe_globals"]
