"""Device and mixed precision of one training run: torch autocast, plus a gradient scaler
for fp16.

Nothing here is process-wide (unlike Accelerate's ``AcceleratorState`` singleton, which
cannot change precision or device once set without its private ``_reset_state``), so
consecutive models in one process, or in threads, train on different devices and
precisions.

Examples
--------
>>> p = make_placement("cpu", "fp32")
>>> p.device.type, p.grad_scaler() is None
('cpu', True)
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["check_device", "Placement", "make_placement", "inference_autocast", "seeded_rng"]

_PRECISIONS = ("fp32", "bf16", "fp16")


def check_device(device: str, precision: str) -> bool:
    """Validate a device / precision pair; return True when training runs on CPU.

    Raises
    ------
    ValueError
        ``device='cuda'`` without a visible GPU, ``fp16`` on CPU, ``bf16`` on a GPU
        without bfloat16 support, or an unknown value.

    Examples
    --------
    >>> check_device("cpu", "bf16")
    True
    """
    import torch

    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device.device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if precision not in _PRECISIONS:
        raise ValueError(f"device.precision must be one of fp32, bf16, fp16, got {precision!r}")
    cuda = torch.cuda.is_available()
    if device == "cuda" and not cuda:
        raise ValueError("device.device='cuda' but no CUDA GPU is visible; use 'auto' or 'cpu'")
    use_cpu = device == "cpu" or not cuda
    if precision == "fp16" and use_cpu:
        raise ValueError(
            "device.precision='fp16' needs a CUDA GPU (CPU autocast has no float16 mixed precision); "
            "on CPU use precision='bf16' or 'fp32'"
        )
    if precision == "bf16" and not use_cpu and not torch.cuda.is_bf16_supported():
        raise ValueError(
            "device.precision='bf16' but this GPU has no bfloat16 support; use 'fp16' or 'fp32'"
        )
    return use_cpu


@dataclass(frozen=True)
class Placement:
    """Where one training run happens and in which precision.

    Attributes
    ----------
    device : torch.device
    precision : {"fp32", "bf16", "fp16"}
    """

    device: torch.device
    precision: str

    def autocast(self):
        """Autocast context of this precision (a no-op for fp32)."""
        return inference_autocast(self.device, self.precision)

    def grad_scaler(self):
        """A ``torch.amp.GradScaler`` for fp16 (which underflows without one), else None."""
        import torch

        return torch.amp.GradScaler(self.device.type) if self.precision == "fp16" else None


def make_placement(device: str, precision: str) -> Placement:
    """The :class:`Placement` of one training run, validated by :func:`check_device`.

    Examples
    --------
    >>> make_placement("cpu", "bf16").device
    device(type='cpu')
    """
    import torch

    use_cpu = check_device(device, precision)
    dev = torch.device("cpu") if use_cpu else torch.device("cuda", torch.cuda.current_device())
    return Placement(dev, precision)


def inference_autocast(device, precision: str):
    """Autocast context for inference matching the training precision."""
    import torch

    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


@contextmanager
def seeded_rng(seed: int):
    """torch's global generators (CPU and every visible GPU) seeded with ``seed`` inside the
    block and restored when it ends, so the caller's random stream is left as it was.

    Examples
    --------
    >>> import torch
    >>> before = torch.random.get_rng_state()
    >>> with seeded_rng(0):
    ...     _ = torch.rand(3)
    >>> bool((torch.random.get_rng_state() == before).all())
    True
    """
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield
