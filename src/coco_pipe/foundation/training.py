"""The training loop behind :class:`~coco_pipe.foundation.neural.NeuralDecoder`.

Pieces, each small and testable on its own:

- :func:`check_device` / :func:`make_accelerator`: Accelerate for device placement and
  mixed precision (a precision the device cannot do raises before any work);
- :func:`validation_split`: the early-stopping split carved from the training
  partition (grouped when groups are given, else stratified), with clear errors when
  a class or a group would be left empty;
- :func:`build_param_groups` and :func:`make_scheduler`: AdamW groups (no decay on
  biases / norms, optional layer-wise lr decay) and warmup + cosine/linear/constant;
- :func:`run_training`: epochs of shuffled mini-batches with gradient clipping,
  non-finite detection (a NaN/Inf loss or gradient skips the step and is counted;
  ``divergence_patience`` consecutive bad steps, an epoch with no finite step, or a
  non-finite validation loss stop training as *diverged*), early stopping on the
  monitored quantity and the best state kept in memory.

Examples
--------
>>> import numpy as np
>>> tr, va = validation_split(np.array([0, 1] * 10), None, 0.2, seed=0)
>>> len(tr), len(va)
(16, 4)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "check_device",
    "make_accelerator",
    "inference_autocast",
    "validation_split",
    "build_param_groups",
    "make_scheduler",
    "batch_slices",
    "TrainResult",
    "run_training",
    "restore_snapshot",
    "monitor_mode",
]

_MIXED = {"fp32": "no", "bf16": "bf16", "fp16": "fp16"}


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
    if precision not in _MIXED:
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


def make_accelerator(device: str, precision: str):
    """An :class:`accelerate.Accelerator` for one training run.

    Accelerate keeps its state in a process-wide singleton; it is reset here so that
    consecutive models with different precisions can train in the same process.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    use_cpu = check_device(device, precision)
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    return Accelerator(mixed_precision=_MIXED[precision], cpu=use_cpu)


def inference_autocast(device, precision: str):
    """Autocast context for inference matching the training precision."""
    import torch

    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def validation_split(
    y: np.ndarray,
    groups: np.ndarray | None,
    fraction: float,
    seed: int,
    task: str = "classification",
    max_tries: int = 50,
) -> tuple[np.ndarray, np.ndarray]:
    """Carve an early-stopping validation split from a training partition.

    Parameters
    ----------
    y : ndarray (n,)
        Targets of the training partition.
    groups : ndarray (n,) or None
        Group labels (e.g. subjects): whole groups go to one side (``GroupShuffleSplit``).
        Without groups the split is stratified (classification) or shuffled.
    fraction : float
        Share held out for validation.
    seed : int
    task : {"classification", "regression"}
    max_tries : int
        Grouped splits are redrawn until both sides hold every class.

    Returns
    -------
    train_idx, val_idx : ndarray of int

    Raises
    ------
    ValueError
        Fewer than 2 groups, a class with too few windows, or no grouped split that
        leaves every class on both sides.
    """
    from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit

    y = np.asarray(y)
    n = len(y)
    if n < 2:
        raise ValueError(
            f"the training partition has {n} window(s); at least 2 are needed for a validation split"
        )
    classification = task == "classification"
    classes, counts = np.unique(y, return_counts=True) if classification else (None, None)
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(
                f"groups has {len(groups)} entries but the training partition has {n} windows"
            )
        uniq = np.unique(groups)
        if len(uniq) < 2:
            raise ValueError(
                f"the grouped validation split needs at least 2 groups in the training partition, "
                f"got {len(uniq)} ({uniq.tolist()}); the validation group would leave the training "
                "side empty (lower validation_fraction or use more groups)"
            )
        splitter = GroupShuffleSplit(n_splits=max_tries, test_size=fraction, random_state=seed)
        for train_idx, val_idx in splitter.split(np.zeros(n), y, groups):
            if len(train_idx) == 0 or len(val_idx) == 0:
                continue
            if not classification:
                return train_idx, val_idx
            if len(np.unique(y[train_idx])) == len(classes) and len(np.unique(y[val_idx])) == len(
                classes
            ):
                return train_idx, val_idx
        missing_info = ", ".join(
            f"{g!r}: {sorted(np.unique(y[groups == g]).tolist())}" for g in uniq[:10]
        )
        raise ValueError(
            f"no grouped validation split (validation_fraction={fraction}, {len(uniq)} groups) leaves "
            f"every class {classes.tolist()} on both the training and the validation side after "
            f"{max_tries} draws; classes per group: {missing_info}"
        )
    if classification:
        small = classes[counts < 2]
        if len(small):
            raise ValueError(
                f"class(es) {small.tolist()} have fewer than 2 windows in the training partition; a "
                "stratified validation split would leave them empty on one side"
            )
        n_val = max(math.ceil(fraction * n), len(classes))
        if n - n_val < len(classes):
            raise ValueError(
                f"validation_fraction={fraction} of {n} windows cannot hold every one of the "
                f"{len(classes)} classes on both sides; give more windows or change the fraction"
            )
        splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        return next(splitter.split(np.zeros(n), y))
    splitter = ShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    return next(splitter.split(np.zeros(n)))


def _layer_ids(names: list[str]) -> list[int]:
    ids: list[int] = []
    seen_numbered = False
    max_id = 0
    for name in names:
        digits = [int(c) for c in name.split(".") if c.isdigit()]
        if digits:
            ids.append(digits[0] + 1)
            seen_numbered = True
            max_id = max(max_id, digits[0] + 1)
        else:
            ids.append(-1 if seen_numbered else 0)  # -1: after the numbered blocks
    return [max_id + 1 if i == -1 else i for i in ids]


def build_param_groups(
    model,
    *,
    lr: float,
    weight_decay: float,
    layer_decay: float | None = None,
    backbone_prefix: str = "backbone.",
) -> list[dict[str, Any]]:
    """AdamW parameter groups over the trainable parameters of ``model``.

    Biases and 1-D parameters (norms) get no weight decay. With ``layer_decay``,
    backbone parameters get ``lr * layer_decay ** (depth_max - depth)``, where the
    depth is the first numeric component of the parameter name (``blocks.3.attn`` ->
    4; parameters before the numbered blocks -> 0, after them -> the deepest); the
    head keeps ``lr``.
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ValueError("the model has no trainable parameter")
    scales = {n: 1.0 for n, _ in named}
    if layer_decay is not None:
        if not 0 < layer_decay <= 1:
            raise ValueError(f"optim.layer_decay must be in (0, 1], got {layer_decay}")
        bb = [n for n, _ in named if n.startswith(backbone_prefix)]
        ids = _layer_ids([n[len(backbone_prefix) :] for n in bb])
        top = max(ids, default=0) + 1
        for name, depth in zip(bb, ids, strict=True):
            scales[name] = layer_decay ** (top - depth)
    groups: dict[tuple[float, bool], dict[str, Any]] = {}
    for name, param in named:
        decay = param.ndim >= 2
        key = (scales[name], decay)
        if key not in groups:
            groups[key] = {"params": [], "lr": lr * scales[name], "weight_decay": weight_decay if decay else 0.0,
                           "lr_scale": scales[name]}  # fmt: skip
        groups[key]["params"].append(param)
    return list(groups.values())


def make_scheduler(optimizer, *, kind: str, total_steps: int, warmup_steps: int):
    """Per-step LambdaLR: linear warmup, then cosine / linear decay to 0 or constant."""
    import torch

    total_steps = max(int(total_steps), 1)
    warmup_steps = max(int(warmup_steps), 0)

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(max((step - warmup_steps) / max(total_steps - warmup_steps, 1), 0.0), 1.0)
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if kind == "linear":
            return 1.0 - progress
        if kind == "constant":
            return 1.0
        raise ValueError(f"optim.scheduler must be cosine, linear or constant, got {kind!r}")

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


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


def _evaluate(model, X, y, *, loss_fn, device, batch_size, task, accelerator):
    import torch
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, r2_score

    model.eval()
    outs = []
    with torch.no_grad():
        for sl in batch_slices(len(X), batch_size):
            with accelerator.autocast():
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
    accelerator,
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

    ``X_*`` and ``y_*`` are CPU tensors; batches move to the accelerator's device.
    ``epoch_callback(row)`` is called after every epoch with its history row;
    returning ``True`` stops training (e.g. an Optuna pruner).
    """
    import torch
    from tqdm.auto import tqdm

    device = accelerator.device
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
    model, optimizer = accelerator.prepare(model, optimizer)
    trainable = [p for p in model.parameters() if p.requires_grad]
    max_norm = float(grad_clip) if grad_clip is not None else float("inf")
    fp16 = accelerator.mixed_precision == "fp16"
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
            accelerator.backward(loss)
            norm = accelerator.clip_grad_norm_(trainable, max_norm)
            norm_v = float(norm)
            if not math.isfinite(norm_v):
                if fp16:  # the grad scaler skips this step and lowers its scale
                    optimizer.step()
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
            optimizer.step()
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
            model, X_val, y_val, loss_fn=loss_fn, device=device, batch_size=max(batch_size, 64),
            task=task, accelerator=accelerator,
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
            best_state = _snapshot(accelerator.unwrap_model(model))
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
    unwrapped = accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    del optimizer
    accelerator.free_memory()
    return TrainResult(
        history=history, best_epoch=best_epoch, best_value=best_value,
        best_state=best_state, stopped_reason=stopped, failed=failed,
        failure_reason=failure_reason, diagnostics=diagnostics, model=unwrapped,
    )  # fmt: skip
