"""The Hugging Face backend (hf.py): transformers folders that reproduce the braindecode
backend exactly, offline hub caches, 4-bit loading through BitsAndBytesConfig, LoRA on
top, remote-code checkpoints and the clear error when one is not cached.

Every model is small (``spec.small_kwargs``) with random init; nothing touches the network
(``HF_HUB_OFFLINE=1`` and temporary HF caches)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from coco_pipe.foundation import hf  # noqa: E402
from coco_pipe.foundation.backbones import build_backbone, embed  # noqa: E402
from coco_pipe.foundation.specs import ESTIMATOR_SPECS  # noqa: E402

CHS = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8",
       "Fz", "Cz", "Pz"]  # fmt: skip
SFREQ = 250.0  # resampled to each model's rate
N_TIMES = 1000


@pytest.fixture(scope="module", autouse=True)
def _threads():
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))


@pytest.fixture(scope="module")
def X():
    return (np.random.default_rng(0).normal(size=(4, len(CHS), N_TIMES)) * 1e-5).astype(np.float32)


def _data_kwargs():
    return dict(sfreq=SFREQ, ch_names=CHS, n_channels=len(CHS), n_times=N_TIMES)


def _braindecode(key: str, seed: int = 0):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random-init warning
        return build_backbone(
            key, weights="random", model_kwargs=ESTIMATOR_SPECS[key].small_kwargs, **_data_kwargs()
        )


@pytest.mark.parametrize("key", ["cbramod", "biot", "signal_jepa", "labram"])
def test_exported_folder_gives_the_braindecode_embeddings(key, X, tmp_path):
    bb = _braindecode(key)
    folder = hf.export_to_hf(bb, tmp_path / f"{key}-hf")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["model_type"] == "coco_pipe_eeg" and cfg["model_key"] == key
    assert cfg["n_chans"] == bb.plan.n_channels and cfg["n_times"] == bb.plan.n_times

    hb = hf.build_hf_backbone(key, weights=str(folder), **_data_kwargs())
    assert isinstance(hb.module, hf.CocoPipeEEGModel)
    assert hb.emb_dim == bb.emb_dim
    np.testing.assert_array_equal(embed(hb, X, device="cpu"), embed(bb, X, device="cpu"))
    # same weights, same digest as the braindecode backend; the run says which loader it was
    assert hb.weights_digest == bb.weights_digest
    tags = hb.weights.as_tags()
    assert tags["backend"] == "hugging_face" and tags["hf.format"] == "coco_pipe_eeg"
    assert tags["weights"] == "local" and tags["hf.trust_remote_code"] == "false"
    assert hb.fingerprint != bb.fingerprint  # another loader: its own cache entries


def test_automodel_reads_the_folder_and_another_seed_differs(X, tmp_path):
    from transformers import AutoConfig, AutoModel

    bb = _braindecode("cbramod")
    folder = hf.export_to_hf(bb, tmp_path / "cbramod-hf")
    assert isinstance(AutoConfig.from_pretrained(folder), hf.CocoPipeEEGConfig)
    model = AutoModel.from_pretrained(folder).eval()
    assert isinstance(model, hf.CocoPipeEEGModel)
    x = torch.from_numpy(bb.plan.apply(X))
    with torch.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), embed(bb, X, device="cpu"))
    other = _braindecode("cbramod", seed=1)
    assert not np.allclose(embed(other, X, device="cpu"), embed(bb, X, device="cpu"))


def test_pretrained_is_read_from_the_offline_cache_under_the_spec_repo(X, tmp_path, monkeypatch):
    key = "labram"
    bb = _braindecode(key)
    cache = tmp_path / "hf-cache"
    repo = ESTIMATOR_SPECS[key].hub_repo
    commit = "a" * 40
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    hf.export_to_hf(bb, root / "snapshots" / commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    hb = hf.build_hf_backbone(key, weights="pretrained", **_data_kwargs())
    tags = hb.weights.as_tags()
    assert tags["weights.source"] == f"{repo}@{commit}" and tags["weights"] == "pretrained"
    np.testing.assert_array_equal(embed(hb, X, device="cpu"), embed(bb, X, device="cpu"))


def test_braindecode_checkpoint_is_converted(X, tmp_path):
    from coco_pipe.foundation.weights import save_pretrained

    bb = _braindecode("signal_jepa")
    folder = save_pretrained(bb.module.model, tmp_path / "bd-ckpt")
    hb = hf.build_hf_backbone("signal_jepa", weights=str(folder),
                              model_kwargs=ESTIMATOR_SPECS["signal_jepa"].small_kwargs, **_data_kwargs())  # fmt: skip
    assert hb.weights.as_tags()["hf.format"] == "braindecode"
    np.testing.assert_array_equal(embed(hb, X, device="cpu"), embed(bb, X, device="cpu"))


def test_checkpoint_of_another_model_is_refused(tmp_path):
    folder = hf.export_to_hf(_braindecode("cbramod"), tmp_path / "cbramod-hf")
    with pytest.raises(ValueError, match="holds a 'cbramod' backbone, but model_key='labram'"):
        hf.build_hf_backbone("labram", weights=str(folder), **_data_kwargs())


def _seed_qlora_config(weights: str):
    from coco_pipe.decoding.configs import (
        CheckpointConfig,
        DeviceConfig,
        LoRAConfig,
        NeuralFineTuneConfig,
        QuantizationConfig,
    )

    return NeuralFineTuneConfig(
        backend="hugging_face", model_key="reve", train_mode="qlora",
        lora=LoRAConfig(r=16, alpha=32, dropout=0.05),
        quantization=QuantizationConfig(enabled=True, load_in_4bit=True),
        device=DeviceConfig(device="auto", precision="bf16"),
        checkpoints=CheckpointConfig(save="best"),
        weights=weights, model_kwargs=ESTIMATOR_SPECS["reve"].small_kwargs,
    )  # fmt: skip


def test_seed_qlora_example_loads_a_4bit_base_and_trains_lora(X, tmp_path):
    import bitsandbytes as bnb

    from coco_pipe.foundation.neural import head_pooling
    from coco_pipe.foundation.peft_utils import apply_lora, quantize_linear_layers

    bb = _braindecode("reve")
    folder = hf.export_to_hf(bb, tmp_path / "reve-hf")
    cfg = _seed_qlora_config(str(folder))
    hb = hf.build_hf_backbone(
        cfg.model_key, weights=cfg.weights, revision=cfg.revision,
        pooling=head_pooling(cfg, ESTIMATOR_SPECS[cfg.model_key]),
        model_kwargs=dict(cfg.model_kwargs), trust_remote_code=cfg.trust_remote_code,
        quantization=cfg.quantization, **_data_kwargs(),
    )  # fmt: skip
    linears = {n: m for n, m in hb.module.named_modules() if isinstance(m, torch.nn.Linear)}
    assert linears and all(isinstance(m, bnb.nn.Linear4bit) for m in linears.values())
    for m in linears.values():  # really packed 4-bit: uint8 storage, half the elements per byte
        assert m.weight.dtype == torch.uint8 and m.weight.bnb_quantized
        assert m.weight.numel() * 2 == m.in_features * m.out_features
    assert hb.weights.as_tags()["hf.quantization"] == "bnb-4bit-nf4-dq"
    assert hb.weights_digest == bb.weights_digest  # digest of the full-precision weights read

    # the same packed 4-bit weights as the braindecode path's bitsandbytes replacement
    quantize_linear_layers(bb.module, quant_type="nf4", double_quant=True, compute_dtype="bfloat16")
    theirs = {n: m for n, m in bb.module.named_modules() if isinstance(m, bnb.nn.Linear4bit)}
    assert {"backbone." + n for n in theirs} == set(linears)
    for name, m in theirs.items():
        ours = linears["backbone." + name].weight
        assert torch.equal(ours.data, m.weight.data), name
        deq = bnb.functional.dequantize_4bit(ours.data, ours.quant_state)
        assert torch.equal(
            deq, bnb.functional.dequantize_4bit(m.weight.data, m.weight.quant_state)
        ), name

    # LoRA adapters on the 4-bit base: only they train
    apply_lora(hb.module, r=cfg.lora.r, alpha=cfg.lora.alpha, dropout=cfg.lora.dropout,
               targets=list(ESTIMATOR_SPECS["reve"].lora_target_modules))  # fmt: skip
    trainable = [n for n, p in hb.module.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    hb.module.train()
    x = torch.from_numpy(hb.plan.apply(X))
    hb.module(x).pow(2).mean().backward()
    grads = [p.grad for n, p in hb.module.named_parameters() if "lora_B" in n]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("mode", ["frozen", "lora"])
def test_neural_decoder_trains_on_the_hf_backbone(mode, tmp_path, monkeypatch):
    from coco_pipe.decoding.builders import neural_decoder_params
    from coco_pipe.decoding.configs import NeuralFineTuneConfig, OptimConfig
    from coco_pipe.foundation import neural

    folder = hf.export_to_hf(_braindecode("cbramod"), tmp_path / "cbramod-hf")
    built = []
    real = hf.build_hf_backbone

    def hf_loader(model_key, **kw):  # build_backbone's dispatch for backend="hugging_face"
        built.append(model_key)
        return real(model_key, **kw)

    monkeypatch.setattr(hf, "build_hf_backbone", hf_loader)
    cfg = NeuralFineTuneConfig(model_key="cbramod", backend="hugging_face", weights=str(folder), train_mode=mode,
                               model_kwargs=ESTIMATOR_SPECS["cbramod"].small_kwargs,
                               optim=OptimConfig(epochs=1, batch_size=8, lr=1e-3))  # fmt: skip
    rng = np.random.default_rng(1)
    Xs = (rng.normal(size=(16, len(CHS), N_TIMES)) * 1e-5).astype(np.float32)
    y = np.repeat([0, 1], 8)
    groups = np.tile(["s1", "s2", "s3", "s4"], 4)
    est = neural.NeuralDecoder(**neural_decoder_params(cfg), sfreq=SFREQ, ch_names=CHS, random_state=0,
                               quiet=True)  # fmt: skip
    est.fit(Xs, y, groups=groups)
    assert built and not est.failed_
    assert est.predict_proba(Xs).shape == (16, 2)
    report = est.tracking_report(tmp_path / "report")
    assert report.tags["backend"] == "hugging_face" and report.tags["weights"] == "local"


_REMOTE_CONFIG = """
from transformers import PreTrainedConfig


class FakeReveConfig(PreTrainedConfig):
    model_type = "fake_reve"
    embed_dim: int = 32
    depth: int = 1
    heads: int = 2
    head_dim: int = 16
"""

_REMOTE_MODELING = """
from transformers import PreTrainedModel

from .configuration_fakereve import FakeReveConfig


class FakeReveModel(PreTrainedModel):
    config_class = FakeReveConfig

    def __init__(self, config):
        super().__init__(config)
        from braindecode.models import REVE
        from coco_pipe.foundation.models.reve import offline_construction

        with offline_construction():
            self.reve = REVE(n_outputs=1, n_chans=4, n_times=800, sfreq=200.0, embed_dim=config.embed_dim,
                             depth=config.depth, heads=config.heads, head_dim=config.head_dim)
        self.post_init()

    def _init_weights(self, module):
        pass

    def forward(self, eeg, pos):
        return self.reve(eeg, pos=pos)
"""


def _remote_code_repo(cache, repo: str, bb) -> str:
    from safetensors.torch import save_file

    commit = "b" * 40
    root = cache / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / commit
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    (snap / "configuration_fakereve.py").write_text(_REMOTE_CONFIG)
    (snap / "modeling_fakereve.py").write_text(_REMOTE_MODELING)
    config = {"model_type": "fake_reve", "architectures": ["FakeReveModel"], "embed_dim": 32, "depth": 1,
              "heads": 2, "head_dim": 16, "auto_map": {"AutoConfig": "configuration_fakereve.FakeReveConfig",
                                                       "AutoModel": "modeling_fakereve.FakeReveModel"}}  # fmt: skip
    (snap / "config.json").write_text(json.dumps(config))
    state = {"reve." + k: v.contiguous() for k, v in bb.module.model.state_dict().items()}
    save_file(state, str(snap / "model.safetensors"))
    return commit


def test_remote_code_checkpoint_needs_trust_and_loads_from_the_cache(X, tmp_path, monkeypatch):
    import transformers.dynamic_module_utils as dmu

    monkeypatch.setattr(dmu, "HF_MODULES_CACHE", str(tmp_path / "hf-modules"))
    bb = _braindecode("reve")
    cache = tmp_path / "hf-cache"
    commit = _remote_code_repo(cache, "coco-test/reve-remote", bb)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    with pytest.raises(ValueError, match="trust_remote_code=True"):
        hf.build_hf_backbone("reve", weights="coco-test/reve-remote", **_data_kwargs())
    hb = hf.build_hf_backbone(
        "reve", weights="coco-test/reve-remote", trust_remote_code=True, **_data_kwargs()
    )
    tags = hb.weights.as_tags()
    assert tags["hf.trust_remote_code"] == "true" and tags["hf.format"] == "remote_code"
    assert tags["weights.source"] == f"coco-test/reve-remote@{commit}"
    assert (
        hb.model_kwargs == ESTIMATOR_SPECS["reve"].small_kwargs
    )  # architecture read from its config
    np.testing.assert_array_equal(embed(hb, X, device="cpu"), embed(bb, X, device="cpu"))


def test_missing_remote_code_checkpoint_gives_the_clear_error_before_any_compute(monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("a model was built before the missing checkpoint was reported")

    monkeypatch.setattr(hf.model, "build_model", no_build)
    with pytest.raises(hf.HFCheckpointNotAvailableError) as err:
        hf.build_hf_backbone(
            "reve", weights="brain-bzh/reve-base", trust_remote_code=True, **_data_kwargs()
        )
    msg = str(err.value)
    assert "'brain-bzh/reve-base'" in msg and "revision 'main'" in msg
    assert "hf download brain-bzh/reve-base --revision main" in msg
    assert "empty-hf-cache" in msg and "HF_HUB_OFFLINE" in msg
    with pytest.raises(hf.HFCheckpointNotAvailableError, match="--revision v1.0"):
        hf.build_hf_backbone(
            "reve", weights="brain-bzh/reve-base@v1.0", trust_remote_code=True, **_data_kwargs()
        )


def test_bad_options_are_refused_before_any_compute(monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("built before the bad option was reported")

    monkeypatch.setattr(hf.model, "build_model", no_build)
    with pytest.raises(ValueError, match="only 4-bit"):
        hf.build_hf_backbone("cbramod", weights="random", quantization={"enabled": True, "load_in_4bit": False},
                             **_data_kwargs())  # fmt: skip
    with pytest.raises(ValueError, match="torch_dtype must be one of"):
        hf.build_hf_backbone("cbramod", weights="random", torch_dtype="int3", **_data_kwargs())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hf.build_hf_backbone("cbramod", weights="./no/such/folder", **_data_kwargs())
    with pytest.raises(ValueError, match="pooling='cls' is not supported"):
        hf.build_hf_backbone("cbramod", weights="random", pooling="cls", **_data_kwargs())
