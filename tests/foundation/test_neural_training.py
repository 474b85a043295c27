"""The training-loop pieces (training.py) and the LoRA / 4-bit helpers (peft_utils.py) on
tiny stand-in modules: fast, and each behaviour on its own."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from coco_pipe.foundation.peft_utils import (  # noqa: E402
    apply_lora,
    count_quantized_layers,
    linear_module_names,
    quantize_linear_layers,
    resolve_lora_targets,
)
from coco_pipe.foundation.training import (  # noqa: E402
    batch_slices,
    build_param_groups,
    check_device,
    make_accelerator,
    make_scheduler,
    monitor_mode,
    run_training,
    validation_split,
)

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
        accelerator=make_accelerator("cpu", "fp32"), task="classification", lr=1e-2, weight_decay=0.0,
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


def test_batch_slices_never_leave_a_single_window():
    assert [s.stop - s.start for s in batch_slices(33, 16)] == [16, 17]
    assert [s.stop - s.start for s in batch_slices(32, 16)] == [16, 16]
    assert sum(s.stop - s.start for s in batch_slices(5, 2)) == 5


def test_validation_split_grouped_and_stratified():
    y = np.repeat([0, 1], 20)
    groups = np.tile(np.repeat(["a", "b", "c", "d"], 5), 2)
    tr, va = validation_split(y, groups, 0.25, seed=0)
    assert set(groups[tr]).isdisjoint(groups[va])
    assert set(y[tr]) == set(y[va]) == {0, 1}
    tr, va = validation_split(y, None, 0.2, seed=0)
    assert len(va) == 8 and np.bincount(y[va]).tolist() == [4, 4]
    with pytest.raises(ValueError, match="groups has 3 entries"):
        validation_split(y, groups[:3], 0.2, seed=0)


def test_check_device_and_monitor_mode(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert check_device("auto", "bf16") is True
    with pytest.raises(ValueError, match="fp16"):
        check_device("auto", "fp16")
    with pytest.raises(ValueError, match="device.precision must be one of"):
        check_device("cpu", "int8")
    assert monitor_mode("val_loss") == "min" and monitor_mode("val_balanced_accuracy") == "max"


def test_lora_targets_match_suffixes_and_skip_multihead_attention():
    class WithMHA(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.ff = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))

        def forward(self, x):
            return self.ff(self.attn(x, x, x)[0])

    m = WithMHA()
    assert "attn.out_proj" in linear_module_names(m)
    with pytest.raises(ValueError, match="only matches out_proj of nn.MultiheadAttention"):
        resolve_lora_targets(m, ["out_proj"])
    assert resolve_lora_targets(m, ["1"]) == {"1": ["ff.1"]}
    apply_lora(m, r=2, alpha=4, dropout=0.0, targets=["ff.0"])
    trainable = [n for n, p in m.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert m(torch.zeros(2, 3, 8)).shape == (2, 3, 8)


def test_quantize_linear_layers_to_4bit_fp4_keeps_outputs_close():
    bnb = pytest.importorskip("bitsandbytes")
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 4))
    x = torch.randn(8, 64)
    ref = m(x).detach()
    names = quantize_linear_layers(m, quant_type="fp4", double_quant=False, compute_dtype="float32")
    assert names == ["0", "2"] and count_quantized_layers(m) == 2
    assert isinstance(m[0], bnb.nn.Linear4bit) and m[0].weight.quant_state.quant_type == "fp4"
    out = m(x).detach()
    assert not torch.equal(out, ref)  # really quantised
    assert torch.nn.functional.cosine_similarity(out.flatten(), ref.flatten(), dim=0) > 0.9
    assert math.isfinite(float(out.abs().sum()))


def test_4bit_layers_bitsandbytes_cannot_repack_run_eval_forward_on_cpu(monkeypatch):
    """On an AVX512-BF16 CPU bitsandbytes repacks 4-bit weights on the first no-grad eval
    forward, which fails for shapes like REVE's 4 -> 32 position MLP. The flag is forced on
    here so the check runs on every CPU: odd shapes must be sent to the generic kernel, the
    others keep the fast path, and all weights stay 4-bit."""
    bnb = pytest.importorskip("bitsandbytes")
    monkeypatch.setattr(bnb.nn.modules, "has_avx512bf16", lambda: True)
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 32), nn.GELU(), nn.Linear(32, 48), nn.GELU(), nn.Linear(48, 8))
    fits = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32))
    quantize_linear_layers(m, compute_dtype="float32")
    quantize_linear_layers(fits, compute_dtype="float32")
    assert count_quantized_layers(m) == 3 and count_quantized_layers(fits) == 2
    # every layer of m has in_features < 64 (the block size): none may be repacked
    assert [layer.support_avx512bf16_for_cpu for layer in (m[0], m[2], m[4])] == [False] * 3
    assert fits[0].support_avx512bf16_for_cpu and fits[2].support_avx512bf16_for_cpu
    x = torch.randn(5, 4)
    m.train()
    ref = m(x).detach()
    m.eval()
    with torch.no_grad():
        out = m(x)  # would raise bitsandbytes' reshape error without the guard
    torch.testing.assert_close(out, ref)
