"""The LoRA / 4-bit helpers of peft_utils.py on tiny stand-in modules."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from coco_pipe.foundation.peft_utils import (  # noqa: E402
    adapter_config_dict,
    adapter_state_dict,
    apply_lora,
    count_quantized_layers,
    linear_module_names,
    load_adapter,
    quantize_linear_layers,
    resolve_lora_targets,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


def test_adapter_round_trips_into_a_fresh_module():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 2))
    lora = apply_lora(m, r=2, alpha=4, dropout=0.0, targets=["0"])
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "lora_B" in name:
                p.fill_(0.5)  # LoRA B starts at 0: make the adapter change the output
    config, state = adapter_config_dict(lora), adapter_state_dict(m)
    assert config["target_modules"] == ["0"] and state
    fresh = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 2))
    fresh.load_state_dict({k: v for k, v in m.state_dict().items() if "lora_" not in k},
                          strict=False)  # fmt: skip
    fresh[0].load_state_dict({"weight": m[0].base_layer.weight, "bias": m[0].base_layer.bias})
    load_adapter(fresh, config, state)
    x = torch.randn(3, 6)
    torch.testing.assert_close(fresh(x), m(x))
    assert all(p.requires_grad == ("lora_" in n) for n, p in fresh.named_parameters())
