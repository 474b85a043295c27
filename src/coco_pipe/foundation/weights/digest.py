"""A state dict's digest: sha256 over its sorted (name, dtype, shape, bytes).

Examples
--------
>>> import torch
>>> m = torch.nn.Linear(2, 2)
>>> state_dict_digest(m) == state_dict_digest(m.state_dict())
True
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import torch

from .files import load_state_dict_file


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    t = t.detach()
    if t.device.type == "meta":
        raise ValueError("cannot digest a tensor on the meta device (weights not materialised)")
    t = t.to("cpu").contiguous().reshape(-1)
    if t.is_complex():
        t = torch.view_as_real(t).reshape(-1)
    return memoryview(t.view(torch.uint8).numpy())


def state_dict_digest(
    module_or_state_dict: torch.nn.Module | Mapping[str, Any] | str | os.PathLike,
) -> str:
    """sha256 over the sorted (name, dtype, shape, bytes) of a state dict.

    Stable across :func:`save_pretrained` / :func:`load_weights_into` round trips and
    independent of the device. Non-tensor entries (``_extra_state`` objects) are skipped.

    Parameters
    ----------
    module_or_state_dict : torch.nn.Module, mapping, or path
        A model, a state dict, or a weights file (read with :func:`load_state_dict_file`).

    Returns
    -------
    str
        64 hex characters.

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) is not None
    True
    >>> m = torch.nn.Linear(2, 2)
    >>> state_dict_digest(m) == state_dict_digest(m.state_dict())
    True
    """
    obj = module_or_state_dict
    if isinstance(obj, torch.nn.Module):
        sd: Mapping[str, Any] = obj.state_dict()
    elif isinstance(obj, (str, os.PathLike)):
        sd = load_state_dict_file(obj)
    elif isinstance(obj, Mapping):
        sd = obj
    else:
        raise TypeError(
            f"module_or_state_dict: expected a torch.nn.Module, a state dict or a path, got {type(obj).__name__}"
        )
    h = hashlib.sha256()
    for key in sorted(sd):
        value = sd[key]
        if not isinstance(value, torch.Tensor):
            continue
        h.update(key.encode())
        h.update(b"\0")
        h.update(str(value.dtype).encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(b"\0")
        h.update(_tensor_bytes(value))
    return h.hexdigest()


__all__ = ["state_dict_digest"]
