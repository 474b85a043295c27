"""Writing a backbone as a transformers folder (``config.json`` + ``model.safetensors``).

Examples
--------
>>> folder = export_to_hf(bb, "cbramod-hf")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from torch import nn
from transformers import PreTrainedModel

from ..architecture import Backbone
from ..weights import load_state_dict_file, replace_directory_atomically, state_dict_digest
from .config import hf_config_from_backbone
from .model import new_model
from .options import progress_bars

logger = logging.getLogger(__name__)

_PREFIX = "backbone.model."  # braindecode model keys inside CocoPipeEEGModel's state dict
_HF_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def _weight_file(folder: Path) -> Path:
    for name in _HF_WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{str(folder)!r} holds no {' / '.join(_HF_WEIGHT_FILES)}")


def file_digest(folder: Path) -> str:
    """Digest of the braindecode weights in a ``coco_pipe_eeg`` folder (same as the braindecode backend's)."""
    state = load_state_dict_file(_weight_file(folder))
    return state_dict_digest(
        {k[len(_PREFIX) :] if k.startswith(_PREFIX) else k: v for k, v in state.items()}
    )


def _braindecode_model(module: nn.Module) -> nn.Module:
    inner = getattr(module, "backbone", module)
    return inner.model


def atomic_save(model: PreTrainedModel, directory: str | os.PathLike) -> Path:
    target = Path(directory).expanduser().absolute()
    if target.exists():
        if not target.is_dir():
            raise FileExistsError(f"directory={str(target)!r} exists and is not a directory")
        contents = {p.name for p in target.iterdir()}
        if contents and "config.json" not in contents:
            raise FileExistsError(
                f"directory={str(target)!r} is not empty and holds no checkpoint ({sorted(contents)[:8]}); "
                "choose a new or empty folder"
            )
    return replace_directory_atomically(
        target, lambda tmp: model.save_pretrained(str(tmp), safe_serialization=True)
    )


def export_to_hf(backbone: Backbone, directory: str | os.PathLike) -> Path:
    """Write a backbone's weights as a transformers folder (``config.json`` + ``model.safetensors``).

    The folder loads with ``AutoModel.from_pretrained`` (once this module is imported)
    and with ``build_hf_backbone(model_key, weights=str(folder), ...)``; the write is
    atomic (temporary folder renamed into place).

    Parameters
    ----------
    backbone : Backbone
        Built by either backend (full precision).
    directory : str or path-like
        Target folder (new, empty, or an earlier checkpoint, which is replaced).

    Returns
    -------
    pathlib.Path
        The absolute folder.

    Examples
    --------
    >>> folder = export_to_hf(bb, tmp_path / "labram-hf")  # doctest: +SKIP
    >>> sorted(p.name for p in folder.iterdir())  # doctest: +SKIP
    ['config.json', 'model.safetensors']
    """
    if not isinstance(backbone, Backbone):
        raise TypeError(
            f"backbone must be a Backbone (from build_backbone), got {type(backbone).__name__}"
        )
    source = _braindecode_model(backbone.module)
    if any(getattr(p, "bnb_quantized", False) for p in source.parameters()):
        raise ValueError(
            "export_to_hf needs a full-precision backbone; this one holds 4-bit layers"
        )
    config = hf_config_from_backbone(backbone)
    model = new_model(config)
    result = model.backbone.model.load_state_dict(source.state_dict(), strict=True)
    if result.missing_keys or result.unexpected_keys:  # pragma: no cover - strict raises first
        raise ValueError(f"weights do not fit: {result}")
    with progress_bars():
        folder = atomic_save(model, directory)
    logger.info("hf: exported %s backbone to %s", backbone.spec.key, folder)
    return folder


__all__ = ["atomic_save", "export_to_hf", "file_digest"]
