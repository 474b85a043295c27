"""Writing a checkpoint folder atomically (``config.json`` + ``model.safetensors``).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> target = Path(tempfile.mkdtemp()) / "folder"
>>> _ = replace_directory_atomically(target, lambda tmp: (tmp / "a.txt").write_text("x"))
>>> sorted(p.name for p in target.iterdir())
['a.txt']
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .digest import state_dict_digest
from .files import N_SHOW

logger = logging.getLogger(__name__)


def replace_directory_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Fill a fresh temporary folder beside ``target`` with ``write(tmp)``, then swap it in
    with ``os.replace``; on any failure the previous ``target`` (if any) is put back and the
    temporary folder removed, so readers never see a half-written checkpoint."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    old: Path | None = None
    try:
        write(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / target.name).exists() and not target.exists():
            os.replace(old / target.name, target)  # put the previous checkpoint back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return target


def _braindecode_config(model: torch.nn.Module) -> dict[str, Any]:
    try:
        from braindecode.models.base import EEGModuleMixin, build_model_config  # noqa: PLC0415
    except ImportError:
        return {}
    if not isinstance(model, EEGModuleMixin):
        return {}
    try:
        return dict(build_model_config(model))
    except Exception as err:  # noqa: BLE001 - config is metadata; weights are what matter
        logger.debug("braindecode config of %s not written: %s", type(model).__name__, err)
        return {}


def save_pretrained(
    model: torch.nn.Module, directory: str | os.PathLike, *, config: dict[str, Any] | None = None
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory``, atomically.

    The files are written to a temporary folder beside ``directory`` and renamed
    into place, so a reader never sees a half-written checkpoint. An existing
    checkpoint directory is replaced; a non-empty directory that is not one is
    refused. The layout is braindecode's / huggingface_hub's, so the folder is
    accepted by :func:`resolve_weights` and by braindecode's ``from_pretrained``.

    Parameters
    ----------
    model : torch.nn.Module
        Model whose ``state_dict()`` is saved (tensors copied to CPU).
    directory : str or path-like
        Target folder.
    config : dict, optional
        JSON-serialisable metadata written to ``config.json``; default: braindecode's
        model config when ``model`` is a braindecode model (so braindecode's
        ``from_pretrained`` can rebuild it). The model class and
        :func:`state_dict_digest` go into the safetensors header metadata.

    Returns
    -------
    pathlib.Path
        The absolute checkpoint directory.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> d = save_pretrained(torch.nn.Linear(3, 2), os.path.join(tempfile.mkdtemp(), "ckpt"))
    >>> sorted(p.name for p in d.iterdir())
    ['config.json', 'model.safetensors']
    """
    from safetensors.torch import save_file  # noqa: PLC0415

    target = Path(directory).expanduser().absolute()
    if target.exists():
        if not target.is_dir():
            raise FileExistsError(f"directory={str(target)!r} exists and is not a directory")
        contents = {p.name for p in target.iterdir()}
        if contents and not contents & {"model.safetensors", "config.json", "pytorch_model.bin"}:
            raise FileExistsError(
                f"directory={str(target)!r} is not empty and holds no checkpoint ({sorted(contents)[:N_SHOW]}); "
                "refusing to replace it; choose a new or empty folder"
            )
    cfg = dict(config) if config is not None else _braindecode_config(model)
    state = {
        k: v.detach().to("cpu").contiguous().clone()
        for k, v in model.state_dict().items()
        if isinstance(v, torch.Tensor)
    }
    digest = state_dict_digest(state)
    # provenance goes into the safetensors header: braindecode's from_pretrained passes
    # every config.json key to the model constructor
    metadata = {
        "format": "pt",
        "coco_pipe_model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "state_dict_digest": digest,
    }
    try:
        cfg_text = json.dumps(cfg, indent=2, sort_keys=True, default=str)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config is not JSON-serialisable: {err}") from err

    def write(tmp: Path) -> None:
        save_file(state, str(tmp / "model.safetensors"), metadata=metadata)
        (tmp / "config.json").write_text(cfg_text)

    replace_directory_atomically(target, write)
    logger.info("weights: saved %s (%d tensors, digest %s)", target, len(state), digest[:12])
    return target


__all__ = ["replace_directory_atomically", "save_pretrained"]
