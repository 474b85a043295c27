"""Fixtures shared by the foundation-model tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for tiny networks: on a shared 2-core runner, 2 OpenMP threads per
    process were measured 10x slower for them (oversubscription). Restored afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
