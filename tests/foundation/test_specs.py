"""Each ESTIMATOR_SPECS row is checked against braindecode's code and a real forward pass."""

from __future__ import annotations

import inspect
import subprocess
import sys

import numpy as np
import pytest

from coco_pipe.foundation.specs import ESTIMATOR_SPECS

KEYS = sorted(ESTIMATOR_SPECS)
EXPECTED_KEYS = ["bendr", "biot", "cbramod", "eegpt", "labram", "luna", "reve", "signal_jepa"]
NAMES_1020 = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip

# Embedding size (mean pooling) as a function of the constructor arguments, read from
# each model's code: evaluated on the constructor defaults it must equal spec.emb_dim,
# evaluated on spec.small_kwargs it must equal the width of a real forward pass.
EMB_DIM = {
    "bendr": lambda kw: kw["encoder_h"],
    "biot": lambda kw: kw["embed_dim"],
    "cbramod": lambda kw: kw["emb_dim"],
    "eegpt": lambda kw: kw["embed_num"] * kw["embed_dim"],
    "labram": lambda kw: kw[
        "patch_size"
    ],  # temporal-conv tokenizer: one feature per sample of a patch
    "luna": lambda kw: kw["embed_dim"] * kw["num_queries"],
    "reve": lambda kw: kw["embed_dim"],
    "signal_jepa": lambda kw: kw["transformer__d_model"],
}
# models whose tokens are (channel x patch); the others pool channels inside the network
CHANNEL_TOKENS = {"cbramod", "labram", "reve"}


def _defaults(cls) -> dict:
    return {
        n: p.default
        for n, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def test_specs_and_listing_import_without_torch():
    import coco_pipe

    # load the two modules without running the package __init__ (which imports the
    # experiment stack): only what _specs and listing themselves import counts here
    root = coco_pipe.__path__[0]
    code = (
        "import sys, types\n"
        f"for name, path in [('coco_pipe', {root!r}), ('coco_pipe.decoding', {root + '/decoding'!r})]:\n"
        "    m = types.ModuleType(name); m.__path__ = [path]; sys.modules[name] = m\n"
        "import coco_pipe.foundation.specs, coco_pipe.foundation.listing as l\n"
        "assert len(l.list_foundation_models()) == 8\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_all_eight_models_have_a_well_formed_row():
    assert KEYS == EXPECTED_KEYS
    for key, s in ESTIMATOR_SPECS.items():
        assert s.key == key
        assert set(s.poolings) <= {"mean", "cls", "flatten"} and "mean" in s.poolings
        assert set(s.train_modes) <= {"frozen", "full", "lora", "qlora"}
        assert s.channel_mode in {"any", "subset", "positions", "interpolated", "bipolar"}
        assert s.normalization in {"none", "zscore_clip", "minmax", "quantile95"}
        assert s.amplitude_scale > 0 and s.sfreq > 0 and s.emb_dim > 0
        assert s.needs_channel_names == (s.channel_mode != "any")
        assert s.interpolate_channels == (s.channel_mode in {"interpolated", "bipolar"})
        if s.channel_mode in {"subset", "interpolated", "bipolar"}:
            assert s.channel_layout, key
        if s.n_chans is not None:
            assert s.channel_layout is not None and len(s.channel_layout) == s.n_chans
        if s.patch_size:
            assert s.default_n_times >= s.patch_size
            step = s.patch_stride or s.patch_size
            assert (s.default_n_times - s.patch_size) % step == 0, key


@pytest.mark.parametrize("key", KEYS)
def test_row_matches_braindecode_source(key):
    import braindecode.models as bm

    s = ESTIMATOR_SPECS[key]
    cls = getattr(bm, s.braindecode_class)
    if s.interpolated_class is not None:
        assert hasattr(bm, s.interpolated_class)
    source = inspect.getsource(inspect.getmodule(cls))
    assert s.hub_repo and f'"{s.hub_repo}' in source  # the docstring names the repository
    if s.hub_filename:
        assert s.hub_filename in source
    # canonical layouts are braindecode's own
    mod = inspect.getmodule(cls)
    layouts = {
        "bendr": lambda: mod.BENDR_CHANNEL_ORDER,
        "biot": lambda: mod.BIOT_CHANNEL_ORDER[: s.n_chans],
        "eegpt": lambda: mod.EEGPT_CHANNELS,
        "labram": lambda: mod.LABRAM_CHANNEL_ORDER,
        "signal_jepa": lambda: [c["ch_name"] for c in mod._PRETRAIN_CHS_INFO],
    }
    if key in layouts:
        assert list(s.channel_layout) == list(layouts[key]())
    else:
        assert s.channel_layout is None
    # emb_dim at default size, from the constructor defaults
    assert EMB_DIM[key](_defaults(cls)) == s.emb_dim
    # patch size / pretraining sfreq defaults where the constructor has them
    d = _defaults(cls)
    if s.patch_size and "patch_size" in d:
        assert d["patch_size"] == s.patch_size
    if s.patch_stride and "patch_stride" in d:
        assert d["patch_stride"] == s.patch_stride
    if key == "reve":
        assert d["patch_size"] - d["patch_overlap"] == s.patch_stride
    if key == "biot":
        assert d["sfreq"] == s.sfreq


@pytest.mark.parametrize("key", KEYS)
def test_row_against_a_real_forward_pass(key):
    import braindecode.models as bm
    import torch
    from torch import nn

    from coco_pipe.foundation.backbones import (
        FoundationBackboneModule,
        build_backbone,
        make_plan,
    )

    torch.manual_seed(0)
    s = ESTIMATOR_SPECS[key]
    n_times = 500  # 2 s at 250 Hz: resampled to the model's rate
    bb = build_backbone(
        key, weights="random", pooling="mean", sfreq=250.0, ch_names=NAMES_1020,
        n_channels=19, n_times=n_times, model_kwargs=s.small_kwargs,
    )  # fmt: skip
    model = bb.module.model
    plan = bb.plan
    # sfreq: the model is built for, and fed at, the spec's rate
    assert plan.sfreq == s.sfreq and model.sfreq == s.sfreq
    assert plan.n_times == _expected_len(s, int(np.ceil(n_times * s.sfreq / 250.0)))
    # channel requirement
    if key == "bendr":
        assert model.interpolation_layer.matrix.shape == (s.n_chans, 19)
    elif key == "biot":
        assert model.n_chans == s.n_chans and plan.n_channels == s.n_chans
    else:
        assert s.n_chans is None and plan.n_channels == 19
    # embedding width with small kwargs = the same formula
    kw = {**_defaults(getattr(bm, s.braindecode_class)), **s.small_kwargs}
    assert bb.emb_dim == EMB_DIM[key](kw)
    # tokens, class token and the poolings the row promises
    x = torch.randn(2, plan.n_channels, plan.n_times)
    with torch.no_grad():
        toks, cls_tok, pooled = bb.module.tokens(x)
    assert ("cls" in s.poolings) == (cls_tok is not None)
    assert ("flatten" in s.poolings) == (toks is not None)
    if toks is not None and s.patch_size:
        per_channel = (plan.n_times - s.patch_size) // (s.patch_stride or s.patch_size) + 1
        expected = per_channel * (plan.n_channels if key in CHANNEL_TOKENS else 1)
        assert toks.shape[1] == expected
    for pooling in s.poolings:
        mod = FoundationBackboneModule(model, s, plan, pooling).eval()
        with torch.no_grad():
            z = mod(x)
        assert z.shape[0] == 2 and z.ndim == 2 and torch.isfinite(z).all()
        if pooling in ("mean", "cls"):
            assert z.shape[1] == bb.emb_dim
    for pooling in {"mean", "cls", "flatten"} - set(s.poolings):
        with pytest.raises(ValueError, match="not supported"):
            build_backbone(
                key, weights="random", pooling=pooling, sfreq=250.0, ch_names=NAMES_1020,
                n_channels=19, n_times=n_times,
            )  # fmt: skip
    # LoRA targets: suffixes of nn.Linear modules of the backbone (never of a head)
    names = dict(bb.module.named_modules())
    for target in s.lora_target_modules:
        hits = [n for n in names if n == target or n.endswith("." + target)]
        assert hits, f"{key}: no module named *{target}"
        assert all(isinstance(names[n], nn.Linear) for n in hits), (
            f"{key}: {target} not all nn.Linear"
        )
        assert all(n.startswith("model.") and "final_layer" not in n for n in hits)
    # minimum window: min_times samples at the model rate work, one fewer is refused
    lo = max(s.min_times, s.patch_size or 0)
    short = make_plan(s, sfreq=s.sfreq, ch_names=NAMES_1020, n_channels=19, n_times=lo)
    assert short.n_times == lo
    with torch.no_grad():
        z = FoundationBackboneModule(_build_small(s, short), s, short, "mean").eval()(
            torch.randn(1, short.n_channels, short.n_times)
        )
    assert z.shape == (1, bb.emb_dim)
    with pytest.raises(ValueError, match="too short"):
        make_plan(s, sfreq=s.sfreq, ch_names=NAMES_1020, n_channels=19, n_times=lo - 1)


def _build_small(spec, plan):
    from coco_pipe.foundation.architecture import build_model

    return build_model(spec, plan, dict(spec.small_kwargs))


def _expected_len(spec, n):
    if spec.patch_size:
        step = spec.patch_stride or spec.patch_size
        if spec.patch_stride:
            return spec.patch_size + (n - spec.patch_size) // step * step
        return n // step * step
    return n
