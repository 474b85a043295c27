"""LoRA adapters (peft) and 4-bit base layers (bitsandbytes) for backbone modules.

- :func:`apply_lora` checks that each target module name matches a layer of the
  backbone (else lists the ``nn.Linear`` names that exist) and injects peft LoRA
  layers with :func:`peft.inject_adapter_in_model`; only the adapters are trainable.
- :func:`quantize_linear_layers` replaces the backbone's ``nn.Linear`` layers by
  :class:`bitsandbytes.nn.Linear4bit` (NF4/FP4, optional double quantisation) and
  quantises them for real by moving them to the device (bitsandbytes 0.50 quantises
  on CPU as well as CUDA). Linear layers owned by :class:`torch.nn.MultiheadAttention`
  are left in full precision: that module reads ``out_proj.weight`` directly.
- :func:`adapter_config_dict` / :func:`adapter_state_dict` / :func:`load_adapter`: the
  contents of the peft adapter format (``adapter_config.json`` +
  ``adapter_model.safetensors``) and their injection back into a backbone.

Examples
--------
>>> import torch.nn as nn
>>> m = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
>>> linear_module_names(m)
['0', '2']
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

__all__ = [
    "require_peft",
    "require_bitsandbytes",
    "linear_module_names",
    "resolve_lora_targets",
    "apply_lora",
    "quantize_linear_layers",
    "count_quantized_layers",
    "adapter_state_dict",
    "adapter_config_dict",
    "load_adapter",
]

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def require_peft():
    """Import peft or raise an ImportError naming the extra to install."""
    try:
        import peft
    except ImportError as err:  # pragma: no cover - peft is in the test environment
        raise ImportError(
            "train_mode='lora'/'qlora' needs peft; install it with `pip install coco-pipe[peft]`"
        ) from err
    return peft


def require_bitsandbytes():
    """Import bitsandbytes or raise an ImportError naming the extra to install."""
    try:
        import bitsandbytes as bnb
    except ImportError as err:
        raise ImportError(
            "train_mode='qlora' needs bitsandbytes for the 4-bit base layers; install it with "
            "`pip install coco-pipe[quant]`"
        ) from err
    return bnb


def _mha_children(module) -> set[str]:
    import torch.nn as nn

    out: set[str] = set()
    for name, sub in module.named_modules():
        if isinstance(sub, nn.MultiheadAttention):
            for child, _ in sub.named_modules():
                if child:
                    out.add(f"{name}.{child}" if name else child)
    return out


def linear_module_names(module) -> list[str]:
    """Qualified names of the ``nn.Linear`` layers (4-bit ones included) of ``module``."""
    import torch.nn as nn

    return [name for name, sub in module.named_modules() if name and isinstance(sub, nn.Linear)]


def _matches(name: str, target: str) -> bool:
    return name == target or name.endswith("." + target)


def resolve_lora_targets(module, targets: list[str] | tuple[str, ...]) -> dict[str, list[str]]:
    """Map each LoRA target to the layer names it matches (peft's suffix rule).

    Raises
    ------
    ValueError
        When a target matches no adaptable layer; the message lists the ``nn.Linear``
        module names that exist.
    """
    import torch.nn as nn

    if not targets:
        raise ValueError("lora.target_modules is empty; give at least one module name")
    adaptable = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Embedding)
    mha = _mha_children(module)
    names = [n for n, sub in module.named_modules() if n and isinstance(sub, adaptable)]
    linear = linear_module_names(module)
    out: dict[str, list[str]] = {}
    for target in targets:
        hits = [n for n in names if _matches(n, target)]
        usable = [n for n in hits if n not in mha]
        if not usable:
            shown = ", ".join(linear[:60]) + (
                f", ... ({len(linear)} in all)" if len(linear) > 60 else ""
            )
            why = (
                " (it only matches out_proj of nn.MultiheadAttention, which peft cannot adapt "
                "through its forward)"
                if hits
                else ""
            )
            raise ValueError(
                f"lora.target_modules entry {target!r} matches no layer of the backbone{why}; "
                f"nn.Linear modules that exist: {shown or 'none'}"
            )
        out[target] = usable
    return out


def apply_lora(module, *, r: int, alpha: float, dropout: float, targets: list[str]):
    """Inject LoRA adapters into ``module`` in place; only adapter weights stay trainable.

    Returns
    -------
    peft.LoraConfig
        The config used (saved next to the adapter weights).
    """
    peft = require_peft()
    resolved = resolve_lora_targets(module, targets)
    layer_names = sorted({n for hits in resolved.values() for n in hits})
    config = peft.LoraConfig(
        r=int(r), lora_alpha=float(alpha), lora_dropout=float(dropout), target_modules=layer_names,
        bias="none",
    )  # fmt: skip
    peft.inject_adapter_in_model(config, module)
    n_lora = sum(1 for n, p in module.named_parameters() if "lora_" in n)
    if n_lora == 0:  # pragma: no cover - guarded by resolve_lora_targets
        raise RuntimeError(f"peft injected no adapter for targets {targets}")
    for name, param in module.named_parameters():
        param.requires_grad_("lora_" in name)
    logger.info("LoRA r=%d alpha=%g on %d layers: %s", r, alpha, len(layer_names), layer_names[:8])
    return config


def quantize_linear_layers(
    module,
    *,
    quant_type: str = "nf4",
    double_quant: bool = True,
    compute_dtype: str = "bfloat16",
    device=None,
) -> list[str]:
    """Replace ``nn.Linear`` layers by 4-bit ``bitsandbytes.nn.Linear4bit`` and quantise them.

    Parameters
    ----------
    module : torch.nn.Module
        Modified in place.
    quant_type : {"nf4", "fp4"}
    double_quant : bool
        Quantise the quantisation constants too.
    compute_dtype : {"float32", "bfloat16", "float16"}
    device : torch.device, optional
        Where to quantise (default CPU).

    Returns
    -------
    list of str
        Names of the replaced layers.
    """
    import torch
    import torch.nn as nn

    bnb = require_bitsandbytes()
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[
        compute_dtype
    ]
    device = torch.device("cpu") if device is None else torch.device(device)
    skip = _mha_children(module)
    replaced: list[str] = []
    for name in linear_module_names(module):
        if name in skip:
            continue
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        old = getattr(parent, child)
        if isinstance(old, bnb.nn.Linear4bit):
            continue
        new = bnb.nn.Linear4bit(
            old.in_features, old.out_features, bias=old.bias is not None, compute_dtype=dtype,
            compress_statistics=bool(double_quant), quant_type=quant_type, device="cpu",
        )  # fmt: skip
        new.weight = bnb.nn.Params4bit(
            old.weight.data.detach().to("cpu", torch.float32).clone(), requires_grad=False,
            compress_statistics=bool(double_quant), quant_type=quant_type,
        )  # fmt: skip
        if old.bias is not None:
            new.bias = nn.Parameter(old.bias.data.detach().clone(), requires_grad=False)
        new = new.to(device)  # moving quantises the weights
        if not getattr(new.weight, "bnb_quantized", False):  # pragma: no cover - defensive
            raise RuntimeError(f"bitsandbytes did not quantise layer {name!r} on {device}")
        setattr(parent, child, new)
        replaced.append(name)
    if not replaced:
        raise ValueError("train_mode='qlora': the backbone has no nn.Linear layer to quantise")
    keep_generic_cpu_kernel_for_odd_shapes(module)
    logger.info("quantised %d Linear layers to 4-bit %s on %s", len(replaced), quant_type, device)
    return replaced


def keep_generic_cpu_kernel_for_odd_shapes(module) -> list[str]:
    """Keep ``Linear4bit`` layers that bitsandbytes cannot repack on the generic CPU path.

    On a CPU with AVX512-BF16, bitsandbytes (0.50) repacks a ``Linear4bit``'s weights for a
    faster kernel on its first no-grad forward in eval mode. The repacking needs
    ``out_features`` divisible by 32 and ``in_features`` divisible by the quantisation block
    size, and otherwise fails with a reshape error (REVE's 4 -> 32 position MLP, say). Such
    layers are told to use the generic kernel (dequantise, then matmul), the one every CPU
    without AVX512-BF16 runs; their weights stay 4-bit. Other layers keep the fast path.

    Parameters
    ----------
    module : torch.nn.Module
        Modified in place.

    Returns
    -------
    list of str
        Names of the layers kept on the generic kernel.
    """
    try:
        import bitsandbytes as bnb
    except ImportError:
        return []
    kept = []
    for name, sub in module.named_modules():
        if not isinstance(sub, bnb.nn.Linear4bit) or not getattr(sub, "support_avx512bf16_for_cpu", False):
            continue
        if sub.out_features % 32 or sub.in_features % sub.weight.blocksize:
            sub.support_avx512bf16_for_cpu = False
            kept.append(name)
    if kept:
        logger.debug("4-bit layers kept on the generic CPU kernel (shape): %s", kept)
    return kept


def count_quantized_layers(module) -> int:
    """Number of ``Linear4bit`` layers holding quantised 4-bit weights."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return 0
    return sum(
        1
        for sub in module.modules()
        if isinstance(sub, bnb.nn.Linear4bit) and getattr(sub.weight, "bnb_quantized", False)
    )


def adapter_state_dict(module) -> dict[str, Any]:
    """The LoRA weights of ``module`` (peft names, without the adapter name)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(module).items()}


def adapter_config_dict(lora_config) -> dict[str, Any]:
    """``lora_config`` as the JSON-ready dict peft writes to ``adapter_config.json``."""
    cfg = lora_config.to_dict()
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in cfg.items()}


def load_adapter(module, config: dict[str, Any], state: dict[str, Any]):
    """Inject the adapter described by ``config`` (an ``adapter_config.json`` dict) into
    ``module``, load its weights ``state`` (peft names) and return the ``LoraConfig``.

    Raises
    ------
    ValueError
        When the weights do not fit the module's adapted layers.
    """
    peft = require_peft()
    lora = peft.LoraConfig(
        r=int(config["r"]), lora_alpha=float(config["lora_alpha"]),
        lora_dropout=float(config["lora_dropout"]), target_modules=list(config["target_modules"]),
        bias=config.get("bias", "none"),
    )  # fmt: skip
    peft.inject_adapter_in_model(lora, module)
    result = peft.set_peft_model_state_dict(module, state)
    missing = [k for k in getattr(result, "unexpected_keys", []) if "lora_" in k]
    if missing:
        raise ValueError(f"the adapter weights do not fit the backbone: {missing[:5]}")
    for name, param in module.named_parameters():
        param.requires_grad_("lora_" in name)
    return lora
