"""AdamW parameter groups and the lr schedules of optimization.py."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from coco_pipe.foundation.optimization import build_param_groups, make_scheduler  # noqa: E402


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 2)


def test_param_groups_layer_decay_and_no_decay_on_biases():
    model = _Tiny()
    groups = build_param_groups(model, lr=1.0, weight_decay=0.1, layer_decay=0.5)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert lr_of[id(model.head.weight)] == 1.0
    # backbone.0 -> depth 1, backbone.2 -> depth 3 (deepest), scale 0.5 ** (4 - depth)
    assert lr_of[id(model.backbone[2].weight)] == pytest.approx(0.5)
    assert lr_of[id(model.backbone[0].weight)] == pytest.approx(0.125)
    assert wd_of[id(model.head.bias)] == 0.0 and wd_of[id(model.head.weight)] == 0.1
    with pytest.raises(ValueError, match="layer_decay must be in"):
        build_param_groups(model, lr=1.0, weight_decay=0.0, layer_decay=1.5)


@pytest.mark.parametrize("kind", ["cosine", "linear", "constant"])
def test_scheduler_warmup_then_decay(kind):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, kind=kind, total_steps=10, warmup_steps=2)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    if kind == "constant":
        assert lrs[-1] == 1.0
    else:
        assert lrs[-1] < lrs[2] and all(
            b <= a + 1e-12 for a, b in zip(lrs[2:], lrs[3:], strict=False)
        )


def test_scheduler_matches_the_closed_form_and_refuses_unknown_kinds():
    """Warmup factor (step + 1) / warmup, then cosine to 0 at the last step."""
    import math

    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, kind="cosine", total_steps=20, warmup_steps=5)
    for step in range(20):
        expected = (step + 1) / 5 if step < 5 else 0.5 * (1 + math.cos(math.pi * (step - 5) / 15))
        assert opt.param_groups[0]["lr"] == pytest.approx(expected, abs=1e-12), step
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="optim.scheduler must be cosine, linear or constant"):
        make_scheduler(opt, kind="step", total_steps=10, warmup_steps=0)
