"""The scratch networks' input helpers and builder (scratch.py)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from coco_pipe.foundation.scratch import (  # noqa: E402
    SCRATCH_SPECS,
    build_scratch_net,
    resample_windows,
    volts_scale,
)


def test_resample_and_volts_scale():
    X = np.random.default_rng(0).normal(size=(2, 3, 250)).astype(np.float32) * 1e-5
    assert resample_windows(X, 250.0, 128.0).shape == (2, 3, 128)
    assert volts_scale(X) == 1e6 and volts_scale(X * 1e6) == 1.0
    net = build_scratch_net("eegconformer", n_chans=3, n_outputs=2, n_times=250, sfreq=250.0,
                            model_kwargs=SCRATCH_SPECS["eegconformer"].small_kwargs)  # fmt: skip
    assert net(torch.zeros(4, 3, 250)).shape == (4, 2)
