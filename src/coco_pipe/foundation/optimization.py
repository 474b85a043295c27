"""What the training loop optimises with: AdamW parameter groups (no weight decay on
biases and norms, optional layer-wise lr decay) and the per-step lr schedule (warmup then
cosine / linear / constant, from :mod:`torch.optim.lr_scheduler`).

Examples
--------
>>> import torch
>>> groups = build_param_groups(torch.nn.Linear(3, 2), lr=1e-3, weight_decay=0.01)
>>> sorted(g["weight_decay"] for g in groups)
[0.0, 0.01]
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_param_groups", "make_scheduler"]


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
    """Per-step schedule from :mod:`torch.optim.lr_scheduler`: a linear warmup over
    ``warmup_steps`` (factor ``(step + 1) / warmup_steps``), then cosine or linear decay to 0
    at ``total_steps``, or constant.

    Examples
    --------
    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = make_scheduler(opt, kind="linear", total_steps=4, warmup_steps=0)
    >>> lrs = []
    >>> for _ in range(4):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 2))
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [1.0, 0.75, 0.5, 0.25]
    """
    from torch.optim import lr_scheduler

    total_steps = max(int(total_steps), 1)
    warmup_steps = max(int(warmup_steps), 0)
    decay_steps = max(total_steps - warmup_steps, 1)
    if kind == "cosine":
        main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=decay_steps, eta_min=0.0)
    elif kind == "linear":
        main = lr_scheduler.LinearLR(
            optimizer, start_factor=1.0, end_factor=0.0, total_iters=decay_steps
        )
    elif kind == "constant":
        main = lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    else:
        raise ValueError(f"optim.scheduler must be cosine, linear or constant, got {kind!r}")
    if warmup_steps == 0:
        return main
    warmup = lr_scheduler.LinearLR(
        optimizer, start_factor=1.0 / warmup_steps, end_factor=1.0, total_iters=warmup_steps - 1
    )
    return lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[warmup_steps])
