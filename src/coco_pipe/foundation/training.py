"""The training loop behind :class:`~coco_pipe.foundation.neural.NeuralDecoder`.

:func:`run_training` runs epochs of shuffled mini-batches on a
:class:`~coco_pipe.foundation.placement.Placement` (device + mixed precision) with AdamW
(:mod:`~coco_pipe.foundation.optimization`), gradient clipping, non-finite detection (a
NaN/Inf loss or gradient skips the step and is counted; ``divergence_patience``
consecutive bad steps, an epoch with no finite step, or a non-finite validation loss stop
training as *diverged*), early stopping on the monitored quantity and the best state kept
in memory. The validation data come from
:func:`~coco_pipe.foundation.validation_split.validation_split`.

Examples
--------
>>> [s.stop - s.start for s in batch_slices(33, 16)]
[16, 17]
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .optimization import build_param_groups, make_scheduler
from .placement import Placement

logger = logging.getLogger(__name__)

__all__ = ["batch_slices", "TrainResult", "run_training", "restore_snapshot", "monitor_mode"]


def batch_slices(n: int, batch_size: int) -> list[slice]:
    """Contiguous batch slices; a trailing batch of one window joins the previous one
    (BatchNorm cannot train on a single window)."""
    slices = [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(slices) > 1 and slices[-1].stop - slices[-1].start == 1:
        last = slices.pop()
        slices[-1] = slice(slices[-1].start, last.stop)
    return slices


def monitor_mode(monitor: str) -> str:
    """'min' for losses and errors, 'max' for scores."""
    return "min" if ("loss" in monitor or "mse" in monitor or "mae" in monitor) else "max"


@dataclass
class TrainResult:
    """What one training run produced."""

    history: list[dict[str, Any]]
    best_epoch: int | None
    best_value: float | None
    best_state: dict[str, Any] | None
    stopped_reason: str
    failed: bool
    failure_reason: str
    diagnostics: dict[str, Any] = field(default_factory=dict)
    model: Any = None


def _snapshot(model) -> dict[str, Any]:
    state = {
        n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad
    }
    state.update(
        {f"buffer::{n}": b.detach().to("cpu", copy=True) for n, b in model.named_buffers()}
    )
    return state


def restore_snapshot(model, state: dict[str, Any]) -> None:
    """Copy a snapshot taken by the loop back into ``model``."""
    import torch

    with torch.no_grad():
        for key, value in state.items():
            if key.startswith("buffer::"):
                model.get_buffer(key[len("buffer::") :]).copy_(value)
            else:
                model.get_parameter(key).copy_(value)


def _evaluate(model, X, y, *, loss_fn, batch_size, task, placement):
    import torch
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, r2_score

    device = placement.device
    model.eval()
    outs = []
    with torch.no_grad():
        for sl in batch_slices(len(X), batch_size):
            with placement.autocast():
                outs.append(model(X[sl].to(device, non_blocking=True)).float())
    out = torch.cat(outs)
    yd = y.to(device)
    loss = float(loss_fn(out, yd))
    row: dict[str, float] = {"val_loss": loss}
    if not math.isfinite(loss) or not torch.isfinite(out).all():
        row["val_loss"] = float("nan") if not math.isfinite(loss) else loss
        return row, False
    y_np = y.numpy()
    if task == "classification":
        pred = out.argmax(1).cpu().numpy()
        row["val_balanced_accuracy"] = float(balanced_accuracy_score(y_np, pred))
        row["val_accuracy"] = float(accuracy_score(y_np, pred))
    else:
        pred = out.squeeze(-1).cpu().numpy()
        row["val_r2"] = float(r2_score(y_np, pred)) if len(y_np) > 1 else float("nan")
        row["val_mse"] = float(np.mean((pred - y_np) ** 2))
    return row, True


def run_training(
    model,
    X_train,
    y_train,
    X_val,
    y_val,
    *,
    placement: Placement,
    task: str,
    lr: float,
    weight_decay: float,
    epochs: int,
    batch_size: int,
    scheduler: str,
    warmup_epochs: float,
    grad_clip: float | None,
    layer_decay: float | None,
    patience: int | None,
    monitor: str,
    divergence_patience: int,
    seed: int,
    progress: bool = False,
    epoch_callback: Callable[[dict[str, Any]], Any] | None = None,
    desc: str = "train",
) -> TrainResult:
    """Train ``model`` on (X_train, y_train), early-stopping on (X_val, y_val).

    ``X_*`` and ``y_*`` are CPU tensors; batches move to ``placement.device``, where
    ``model`` already is.
    ``epoch_callback(row)`` is called after every epoch with its history row;
    returning ``True`` stops training (e.g. an Optuna pruner).
    """
    import torch
    from tqdm.auto import tqdm

    device = placement.device
    loss_fn = torch.nn.CrossEntropyLoss() if task == "classification" else torch.nn.MSELoss()
    if task != "classification":
        base_loss = loss_fn

        def loss_fn(out, target):  # noqa: F811 - regression: (B, 1) -> (B,)
            return base_loss(out.squeeze(-1), target)

    groups = build_param_groups(model, lr=lr, weight_decay=weight_decay, layer_decay=layer_decay)
    optimizer = torch.optim.AdamW(groups, lr=lr)
    slices = batch_slices(len(X_train), batch_size)
    steps_per_epoch = len(slices)
    sched = make_scheduler(
        optimizer, kind=scheduler, total_steps=epochs * steps_per_epoch,
        warmup_steps=round(warmup_epochs * steps_per_epoch),
    )  # fmt: skip
    scaler = placement.grad_scaler()
    trainable = [p for p in model.parameters() if p.requires_grad]
    max_norm = float(grad_clip) if grad_clip is not None else float("inf")

    def optimizer_step() -> None:
        if scaler is None:
            optimizer.step()
        else:  # skips the step when the unscaled gradients hold inf/NaN, lowers the scale
            scaler.step(optimizer)
            scaler.update()

    gen = torch.Generator().manual_seed(int(seed))
    mode = monitor_mode(monitor)

    history: list[dict[str, Any]] = []
    best_value: float | None = None
    best_epoch: int | None = None
    best_state = None
    bad_epochs = 0
    step = 0
    skipped = 0
    consecutive = 0
    max_consecutive = 0
    events: list[dict[str, Any]] = []
    norms_all: list[float] = []
    failed = False
    failure_reason = ""
    stopped = "max_epochs"

    def note(kind: str, epoch: int, value: float) -> None:
        if len(events) < 20:
            events.append({"kind": kind, "epoch": epoch, "step": step, "value": value})

    bar = tqdm(range(1, epochs + 1), desc=desc, disable=not progress, leave=False, unit="epoch")
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(X_train), generator=gen)
        loss_sum = torch.zeros((), device=device)
        n_ok = 0
        epoch_norms: list[float] = []
        for sl in slices:
            step += 1
            idx = perm[sl]
            xb = X_train[idx].to(device, non_blocking=True)
            yb = y_train[idx].to(device, non_blocking=True)
            with placement.autocast():
                out = model(xb)
            loss = loss_fn(out.float(), yb)
            if not bool(torch.isfinite(loss.detach())):
                skipped += 1
                consecutive += 1
                max_consecutive = max(max_consecutive, consecutive)
                note("loss", epoch, float(loss.detach()))
                optimizer.zero_grad(set_to_none=True)
                if consecutive >= divergence_patience:
                    break
                continue
            if scaler is None:
                loss.backward()
            else:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(trainable, max_norm)
            norm_v = float(norm)
            if not math.isfinite(norm_v):
                if scaler is not None:  # fp16 overflow: the scaler skips this step
                    optimizer_step()
                    optimizer.zero_grad(set_to_none=True)
                    note("grad_fp16_overflow", epoch, norm_v)
                    continue
                skipped += 1
                consecutive += 1
                max_consecutive = max(max_consecutive, consecutive)
                note("grad", epoch, norm_v)
                optimizer.zero_grad(set_to_none=True)
                if consecutive >= divergence_patience:
                    break
                continue
            optimizer_step()
            sched.step()
            optimizer.zero_grad(set_to_none=True)
            consecutive = 0
            loss_sum += loss.detach()
            n_ok += 1
            epoch_norms.append(norm_v)
        train_seconds = time.perf_counter() - t0
        norms_all.extend(epoch_norms)
        row: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": float(loss_sum) / n_ok if n_ok else float("nan"),
        }
        if consecutive >= divergence_patience:
            failed, failure_reason = (
                True,
                (
                    f"diverged: {consecutive} consecutive non-finite steps (loss or gradient) at epoch "
                    f"{epoch}, step {step}"
                ),
            )
        elif n_ok == 0:
            failed, failure_reason = True, f"diverged: no finite training step in epoch {epoch}"
        val_row, finite = _evaluate(
            model, X_val, y_val, loss_fn=loss_fn, batch_size=max(batch_size, 64), task=task,
            placement=placement,
        )  # fmt: skip
        row.update(val_row)
        if not failed and not finite:
            failed, failure_reason = (
                True,
                f"diverged: non-finite validation loss/outputs at epoch {epoch}",
            )
            note("val", epoch, val_row["val_loss"])
        row.update({
            "lr": max(g["lr"] for g in optimizer.param_groups),
            "grad_norm": float(np.mean(epoch_norms)) if epoch_norms else float("nan"),
            "skipped_steps": skipped,
            "train_seconds": train_seconds,
            "seconds": time.perf_counter() - t0,
        })  # fmt: skip
        history.append(row)
        if failed:
            stopped = "diverged"
            logger.warning("training stopped: %s", failure_reason)
            break
        if monitor not in row:
            raise ValueError(
                f"checkpoints.monitor={monitor!r} is not a tracked quantity; choose one of "
                f"{', '.join(k for k in row if k.startswith('val_'))}"
            )
        value = float(row[monitor])
        improved = best_value is None or (
            value < best_value if mode == "min" else value > best_value
        )
        if improved:
            best_value, best_epoch, bad_epochs = value, epoch, 0
            best_state = _snapshot(model)
        else:
            bad_epochs += 1
        bar.set_postfix(train_loss=f"{row['train_loss']:.3f}", val_loss=f"{row['val_loss']:.3f}")
        if epoch_callback is not None and epoch_callback(dict(row)) is True:
            stopped = "callback"
            break
        if patience is not None and bad_epochs >= patience:
            stopped = "early_stopping"
            break
    bar.close()

    finite_norms = np.asarray(norms_all, dtype=float)
    diagnostics = {
        "n_steps": step,
        "skipped_steps": skipped,
        "max_consecutive_nonfinite": max_consecutive,
        "first_nonfinite": events[0] if events else None,
        "nonfinite_events": events,
        "grad_norm": {
            "min": float(finite_norms.min()) if finite_norms.size else None,
            "max": float(finite_norms.max()) if finite_norms.size else None,
            "mean": float(finite_norms.mean()) if finite_norms.size else None,
            "p95": float(np.percentile(finite_norms, 95)) if finite_norms.size else None,
            "last": float(finite_norms[-1]) if finite_norms.size else None,
        },
        "clip_norm": grad_clip,
        "stopped_reason": stopped,
    }
    return TrainResult(
        history=history, best_epoch=best_epoch, best_value=best_value,
        best_state=best_state, stopped_reason=stopped, failed=failed,
        failure_reason=failure_reason, diagnostics=diagnostics, model=model,
    )  # fmt: skip
