"""Device / precision checks, the Placement of a training run and the seeded torch RNG."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from coco_pipe.foundation.placement import check_device, make_placement, seeded_rng  # noqa: E402


def test_check_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert check_device("auto", "bf16") is True
    with pytest.raises(ValueError, match="fp16"):
        check_device("auto", "fp16")
    with pytest.raises(ValueError, match="device.precision must be one of"):
        check_device("cpu", "int8")
    with pytest.raises(ValueError, match="no CUDA GPU is visible"):
        check_device("cuda", "fp32")


def test_placement_autocast_and_scaler_per_precision():
    fp32, bf16 = make_placement("cpu", "fp32"), make_placement("cpu", "bf16")
    assert fp32.grad_scaler() is None and bf16.grad_scaler() is None
    lin = torch.nn.Linear(4, 4)
    with fp32.autocast():
        assert lin(torch.zeros(2, 4)).dtype == torch.float32
    with bf16.autocast():
        assert lin(torch.zeros(2, 4)).dtype == torch.bfloat16


def test_seeded_rng_is_reproducible_and_restores_the_global_state():
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    with seeded_rng(0):
        a = torch.rand(4)
    with seeded_rng(0):
        b = torch.rand(4)
    assert torch.equal(a, b)
    assert torch.equal(torch.rand(2), expected)  # the caller's stream went on untouched


@pytest.mark.gpu
def test_placement_on_cuda_and_fp16_scaler():
    p = make_placement("auto", "fp16")
    assert p.device.type == "cuda" and p.grad_scaler() is not None
