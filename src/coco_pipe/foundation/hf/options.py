"""Load options of the hugging_face backend: dtype, 4-bit quantisation, progress bars.

Examples
--------
>>> resolve_dtype("bf16")
torch.bfloat16
>>> bnb_config(None) is None
True
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from typing import Any

import torch

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def resolve_dtype(torch_dtype: Any) -> torch.dtype:
    if torch_dtype is None:
        return torch.float32
    if isinstance(torch_dtype, torch.dtype):
        return torch_dtype
    key = str(torch_dtype).removeprefix("torch.")
    if key not in _DTYPES:
        raise ValueError(
            f"torch_dtype must be one of {sorted(_DTYPES)} or a torch.dtype, got {torch_dtype!r}"
        )
    return _DTYPES[key]


def bnb_config(quantization: Any):
    """``BitsAndBytesConfig`` for an enabled ``QuantizationConfig`` (or dict), else None."""
    if quantization is None or not _get(quantization, "enabled", True):
        return None
    if not _get(quantization, "load_in_4bit", True):
        raise ValueError("quantization.load_in_4bit=False: only 4-bit quantisation is supported")
    quant_type = _get(quantization, "quant_type", "nf4")
    if quant_type not in ("nf4", "fp4"):
        raise ValueError(f"quantization.quant_type must be 'nf4' or 'fp4', got {quant_type!r}")
    compute = _get(quantization, "compute_dtype", "bfloat16")
    compute_dtype = resolve_dtype(compute)
    try:
        import bitsandbytes  # noqa: F401, PLC0415
    except ImportError as err:
        raise ImportError(
            "4-bit loading needs bitsandbytes; install it with `pip install coco-pipe[quant]`"
        ) from err
    from transformers import BitsAndBytesConfig  # noqa: PLC0415

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant_type,
        bnb_4bit_use_double_quant=bool(_get(quantization, "double_quant", True)),
        bnb_4bit_compute_dtype=compute_dtype,
        # [] (not None): quantise every nn.Linear, without transformers' language-model default skips
        llm_int8_skip_modules=[],
    )


@contextlib.contextmanager
def progress_bars():
    """transformers' own progress bars only on a TTY (restored afterwards)."""
    from transformers.utils import logging as hf_logging  # noqa: PLC0415

    turn_off = hf_logging.is_progress_bar_enabled() and not sys.stderr.isatty()
    if turn_off:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if turn_off:
            hf_logging.enable_progress_bar()


__all__ = ["bnb_config", "progress_bars", "resolve_dtype"]
