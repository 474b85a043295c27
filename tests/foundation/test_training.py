"""The training loop (training.py) on a tiny stand-in module: learning, early stopping,
the epoch callback, non-finite steps, divergence and mixed precision on CPU."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from coco_pipe.foundation.placement import make_placement  # noqa: E402
from coco_pipe.foundation.training import batch_slices, monitor_mode, run_training  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.backbone(x))


def _separable(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, generator=g)
    y = (X[:, 0] > 0).long()
    return X, y


def _train(model, X, y, **kw):
    base = dict(
        placement=make_placement("cpu", "fp32"), task="classification", lr=1e-2, weight_decay=0.0,
        epochs=15, batch_size=16, scheduler="constant", warmup_epochs=0.0, grad_clip=1.0,
        layer_decay=None, patience=None, monitor="val_loss", divergence_patience=3, seed=0,
    )  # fmt: skip
    base.update(kw)
    return run_training(model, X[:48], y[:48], X[48:], y[48:], **base)


def test_run_training_learns_and_keeps_best_state():
    torch.manual_seed(0)
    X, y = _separable()
    res = _train(_Tiny(), X, y)
    assert not res.failed and len(res.history) == 15
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert res.history[-1]["val_balanced_accuracy"] > 0.8
    assert res.best_epoch == int(np.argmin([h["val_loss"] for h in res.history])) + 1
    assert res.best_state and all(not k.startswith("buffer::") for k in res.best_state)
    assert res.diagnostics["skipped_steps"] == 0 and res.diagnostics["grad_norm"]["max"] > 0


def test_early_stopping_and_callback_stop():
    torch.manual_seed(0)
    X, y = _separable()
    res = _train(_Tiny(), X, y, lr=1e-6, patience=1, monitor="val_balanced_accuracy")
    assert res.stopped_reason == "early_stopping" and len(res.history) < 15
    seen = []
    res = _train(
        _Tiny(), X, y, epoch_callback=lambda row: seen.append(row["epoch"]) or row["epoch"] == 2
    )
    assert res.stopped_reason == "callback" and seen == [1, 2]


def test_nonfinite_steps_are_skipped_then_divergence_stops():
    torch.manual_seed(0)
    X, y = _separable()
    Xn = X.clone()
    Xn[0] = float("nan")  # one bad window: the batch holding it is skipped, once per epoch
    res = _train(_Tiny(), Xn, y, epochs=3, divergence_patience=100)
    assert res.diagnostics["skipped_steps"] == 3
    assert [h["skipped_steps"] for h in res.history] == [1, 2, 3]
    assert res.diagnostics["first_nonfinite"]["kind"] == "loss"
    assert not res.failed  # finite steps remain, validation data are finite
    all_nan = torch.full_like(X, float("nan"))
    res = _train(_Tiny(), all_nan, y, epochs=3, divergence_patience=2)
    assert res.failed and "2 consecutive non-finite steps" in res.failure_reason
    assert res.stopped_reason == "diverged"


def test_unknown_monitor_is_named():
    X, y = _separable()
    with pytest.raises(ValueError, match="checkpoints.monitor='val_f1' is not a tracked quantity"):
        _train(_Tiny(), X, y, epochs=1, monitor="val_f1")


def test_bf16_autocast_trains_on_cpu_and_a_second_precision_in_the_same_process():
    torch.manual_seed(0)
    X, y = _separable()
    res = _train(_Tiny(), X, y, epochs=3, placement=make_placement("cpu", "bf16"))
    assert not res.failed and np.isfinite([h["train_loss"] for h in res.history]).all()
    # nothing process-wide: fp32 right after bf16 trains in full precision again
    ref = _train(_Tiny(), X, y, epochs=3)
    assert not ref.failed and res.history[0]["train_loss"] != ref.history[0]["train_loss"]


def test_monitor_mode():
    assert monitor_mode("val_loss") == "min" and monitor_mode("val_balanced_accuracy") == "max"
    assert monitor_mode("val_mse") == "min"


def test_batch_slices_never_leave_a_single_window():
    assert [s.stop - s.start for s in batch_slices(33, 16)] == [16, 17]
    assert [s.stop - s.start for s in batch_slices(32, 16)] == [16, 16]
    assert sum(s.stop - s.start for s in batch_slices(5, 2)) == 5
