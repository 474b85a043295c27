"""Weights: resolution (hub cache, paths, random), loading, digests and atomic saving.

All offline: checkpoints are saved locally or laid out in a temporary Hugging Face
cache with the real layout (blobs / snapshots / refs), checked by huggingface_hub's
own ``scan_cache_dir``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from coco_pipe.foundation import weights as W
from coco_pipe.foundation.specs import ESTIMATOR_SPECS
from coco_pipe.foundation.weights import (
    WeightsNotAvailableError,
    WeightsSource,
    load_weights_into,
    resolve_weights,
    save_pretrained,
    state_dict_digest,
)

braindecode_models = pytest.importorskip("braindecode.models")

torch.set_num_threads(2)
SPEC = ESTIMATOR_SPECS["cbramod"]
N_CHANS, N_TIMES = 3, 400


def _cbramod(seed: int, n_outputs: int = 2, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    kwargs = {**SPEC.small_kwargs, **overrides}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = braindecode_models.CBraMod(
            n_chans=N_CHANS, n_times=N_TIMES, n_outputs=n_outputs, **kwargs
        )
    return model.eval()


def _eegnet(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return braindecode_models.EEGNet(n_chans=N_CHANS, n_times=128, n_outputs=2).eval()


def _x() -> torch.Tensor:
    return torch.randn(2, N_CHANS, N_TIMES, generator=torch.Generator().manual_seed(7))


def _forward(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(_x())


@pytest.fixture
def hf_offline(monkeypatch, tmp_path) -> Path:
    """Offline, with a fresh empty HF cache given through HF_HUB_CACHE (read at call time)."""
    cache = tmp_path / "hf-cache" / "hub"
    cache.mkdir(parents=True)
    for var in ("HF_HOME", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return cache


def _place_in_hf_cache(cache: Path, repo: str, files: dict[str, Path], commit: str) -> Path:
    """Lay out ``files`` as the cached snapshot ``commit`` of ``repo`` (refs/main points to it)."""
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "blobs").mkdir(parents=True, exist_ok=True)
    (root / "refs").mkdir(exist_ok=True)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, src in files.items():
        data = Path(src).read_bytes()
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        os.symlink(os.path.relpath(blob, snapshot), snapshot / name)
    (root / "refs" / "main").write_text(commit)
    return snapshot


COMMIT = "0123456789abcdef0123456789abcdef01234567"


# ----------------------------------------------------------------------------- local round trip
def test_save_pretrained_then_load_offline_gives_same_digest_and_outputs(tmp_path, hf_offline):
    saved = _cbramod(seed=0)
    ckpt = save_pretrained(saved, tmp_path / "ckpt")
    assert sorted(p.name for p in ckpt.iterdir()) == ["config.json", "model.safetensors"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".ckpt")] == []  # no temp left

    fresh = _cbramod(seed=1)
    assert state_dict_digest(fresh) != state_dict_digest(saved)
    assert not torch.allclose(_forward(fresh), _forward(saved))

    source = resolve_weights(str(ckpt), spec=SPEC)
    assert source.kind == "local_dir"
    assert Path(source.resolved_path) == ckpt / "model.safetensors"
    digest = load_weights_into(fresh, source)
    assert digest == state_dict_digest(saved) == state_dict_digest(fresh)
    assert torch.equal(_forward(fresh), _forward(saved))
    tags = source.as_tags()
    assert tags == {"weights.kind": "local_dir", "weights.source": str(ckpt), "weights": "local"}


def test_digest_is_stable_and_sensitive():
    model = _eegnet(seed=0)
    sd = model.state_dict()
    d = state_dict_digest(model)
    assert len(d) == 64 and d == state_dict_digest(dict(reversed(list(sd.items()))))
    changed = {k: v.clone() for k, v in sd.items()}
    name = next(k for k, v in changed.items() if v.is_floating_point())
    changed[name].view(-1)[0] += 1e-3
    assert state_dict_digest(changed) != d
    as_double = {k: (v.double() if v.is_floating_point() else v) for k, v in sd.items()}
    assert state_dict_digest(as_double) != d  # dtype is part of the digest
    renamed = {("x" + k): v for k, v in sd.items()}
    assert state_dict_digest(renamed) != d


def test_head_is_skipped_and_logged_when_absent_or_resized(tmp_path, caplog):
    saved = _cbramod(seed=0, n_outputs=2)
    ckpt = save_pretrained(saved, tmp_path / "ckpt")
    source = resolve_weights(ckpt)

    backbone = _cbramod(seed=1, n_outputs=2)
    backbone.final_layer = torch.nn.Identity()  # backbones are used without their head
    with caplog.at_level(logging.INFO, logger=W.__name__):
        load_weights_into(backbone, source)
    assert "final_layer" in caplog.text and "head" in caplog.text
    saved_body = {k: v for k, v in saved.state_dict().items() if not k.startswith("final_layer.")}
    assert state_dict_digest(backbone) == state_dict_digest(saved_body)

    other_head = _cbramod(seed=1, n_outputs=5)
    load_weights_into(other_head, source)
    head = {k for k in other_head.state_dict() if k.startswith("final_layer.")}
    assert head, "the model was expected to keep a (resized) head"
    for k, v in other_head.state_dict().items():
        if k not in head:
            assert torch.equal(v, saved.state_dict()[k]), k


# ----------------------------------------------------------------------------- HF cache
@pytest.mark.parametrize("env_var", ["HF_HUB_CACHE", "HF_HOME"])
def test_pretrained_found_in_temporary_hf_cache_offline(tmp_path, monkeypatch, env_var):
    from huggingface_hub import scan_cache_dir

    saved = _cbramod(seed=0)
    ckpt = save_pretrained(saved, tmp_path / "ckpt")
    home = tmp_path / "hf-home"
    cache = home / "hub"
    for var in ("HF_HUB_CACHE", "HF_HOME", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(env_var, str(cache if env_var == "HF_HUB_CACHE" else home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = _place_in_hf_cache(
        cache, SPEC.hub_repo, {n: ckpt / n for n in ("config.json", "model.safetensors")}, COMMIT
    )
    # the layout is huggingface_hub's own
    info = scan_cache_dir(cache)
    assert [r.repo_id for r in info.repos] == [SPEC.hub_repo]
    assert [rev.commit_hash for r in info.repos for rev in r.revisions] == [COMMIT]

    source = resolve_weights("pretrained", spec=SPEC)
    assert source.kind == "hub" and source.location == SPEC.hub_repo and source.revision == COMMIT
    assert Path(source.resolved_path).parent == snapshot  # read from our temporary cache
    assert source.as_tags() == {
        "weights.kind": "hub",
        "weights.source": f"{SPEC.hub_repo}@{COMMIT}",
        "weights": "pretrained",
    }
    fresh = _cbramod(seed=1)
    assert load_weights_into(fresh, source) == state_dict_digest(saved)
    assert torch.equal(_forward(fresh), _forward(saved))

    # the same repository named directly, with a pinned revision, is found too
    pinned = resolve_weights(f"{SPEC.hub_repo}@{COMMIT}")
    assert pinned.resolved_path == source.resolved_path
    assert resolve_weights(SPEC.hub_repo, revision=COMMIT).revision == COMMIT


def test_empty_cache_offline_raises_clear_error(hf_offline):
    with pytest.raises(WeightsNotAvailableError) as err:
        resolve_weights("pretrained", spec=SPEC)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert SPEC.hub_repo in msg
    assert "weights='random'" in msg
    assert f"hf download {SPEC.hub_repo}" in msg
    assert str(hf_offline) in msg  # the cache from the environment at call time was searched

    with pytest.raises(WeightsNotAvailableError, match="v1.2"):
        resolve_weights("pretrained", spec=SPEC, revision="v1.2")
    with pytest.raises(WeightsNotAvailableError, match="some-org/some-model"):
        resolve_weights("some-org/some-model@abc")


def test_spec_hub_filename_selects_the_file(tmp_path, hf_offline):
    a, b = _eegnet(seed=0), _eegnet(seed=1)
    fa = save_pretrained(a, tmp_path / "a") / "model.safetensors"
    fb = save_pretrained(b, tmp_path / "b") / "model.safetensors"
    repo = "test-org/multi-file"
    _place_in_hf_cache(hf_offline, repo, {"Base.safetensors": fa, "Large.safetensors": fb}, COMMIT)
    spec = SimpleNamespace(key="multi", hub_repo=repo, hub_filename="Large.safetensors")
    source = resolve_weights("pretrained", spec=spec)
    assert Path(source.resolved_path).name == "Large.safetensors"
    assert load_weights_into(_eegnet(seed=2), source) == state_dict_digest(b)
    # without a file name, two candidates are ambiguous: no guessing
    with pytest.raises(
        ValueError, match=r"several weight files \['Base.safetensors', 'Large.safetensors'\]"
    ):
        resolve_weights(repo)
    # a single weight file under another name is found
    single = "test-org/single-file"
    _place_in_hf_cache(hf_offline, single, {"weights_v2.safetensors": fa}, COMMIT)
    assert load_weights_into(_eegnet(seed=2), resolve_weights(single)) == state_dict_digest(a)


# ----------------------------------------------------------------------------- state-dict files
@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".pth", ".bin"])
def test_state_dict_files_load_with_prefixes_and_wrappers(tmp_path, suffix):
    saved = _eegnet(seed=0)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({f"model.{k}": v.contiguous() for k, v in saved.state_dict().items()}, str(path))
    elif suffix == ".pt":  # a training checkpoint from DataParallel
        torch.save(
            {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in saved.state_dict().items()}},
            path,
        )
    else:
        torch.save(saved.state_dict(), path)
    source = resolve_weights(str(path))
    assert source.kind == "file" and source.as_tags()["weights.source"] == str(path)
    fresh = _eegnet(seed=1)
    assert load_weights_into(fresh, source) == state_dict_digest(saved)


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "whole_model.pt"
    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 2)), path)  # the module, not its state dict
    with pytest.raises(ValueError, match="weights_only=True"):
        load_weights_into(torch.nn.Sequential(torch.nn.Linear(3, 2)), resolve_weights(path))


def test_checkpoint_of_another_architecture_lists_mismatched_keys(tmp_path):
    eegnet, cbramod = _eegnet(seed=0), _cbramod(seed=1)
    other = save_pretrained(eegnet, tmp_path / "eegnet")
    with pytest.raises(ValueError) as err:
        load_weights_into(cbramod, resolve_weights(other))
    msg = str(err.value)
    n_eeg = sum(1 for k in eegnet.state_dict() if not k.startswith("final_layer."))
    n_cbr = sum(1 for k in cbramod.state_dict() if not k.startswith("final_layer."))
    assert f"missing from checkpoint ({n_cbr})" in msg
    assert f"unexpected in checkpoint ({n_eeg})" in msg
    assert min(k for k in eegnet.state_dict() if not k.startswith("final_layer.")) in msg
    assert min(k for k in cbramod.state_dict() if not k.startswith("final_layer.")) in msg


def test_same_architecture_other_size_lists_shape_mismatches(tmp_path):
    ckpt = save_pretrained(_cbramod(seed=0), tmp_path / "ckpt")
    model = _cbramod(seed=1, dim_feedforward=SPEC.small_kwargs.get("dim_feedforward", 64) * 2)
    before = state_dict_digest(model)
    with pytest.raises(
        ValueError, match=r"shape mismatches \([1-9]\d*\).*linear1\.weight checkpoint"
    ):
        load_weights_into(model, resolve_weights(ckpt))
    assert state_dict_digest(model) == before  # nothing was loaded


def test_missing_body_parameters_raise_unless_not_strict(tmp_path, caplog):
    saved = _eegnet(seed=0)
    sd = saved.state_dict()
    dropped = next(k for k in sd if k.startswith("conv_separable_depth"))
    path = tmp_path / "partial.pt"
    torch.save({k: v for k, v in sd.items() if k != dropped}, path)
    with pytest.raises(ValueError, match=dropped.replace(".", r"\.")):
        load_weights_into(_eegnet(seed=1), resolve_weights(path))
    with caplog.at_level(logging.WARNING, logger=W.__name__):
        load_weights_into(_eegnet(seed=1), resolve_weights(path), strict=False)
    assert dropped in caplog.text


# ----------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "given", ["./nope/ckpt.safetensors", "/no/such/dir", "a/b/c", "weights.pt"]
)
def test_nonexistent_path_names_it(given):
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        resolve_weights(given)
    assert given in str(err.value)


def test_other_bad_weights_arguments(tmp_path):
    with pytest.raises(ValueError, match="spec"):
        resolve_weights("pretrained")
    with pytest.raises(ValueError, match="no pretrained hub repository"):
        resolve_weights("pretrained", spec=SimpleNamespace(key="x", hub_repo=None))
    with pytest.raises(ValueError, match="neither"):
        resolve_weights("not-a-repo-id")
    with pytest.raises(ValueError, match="revision"):
        resolve_weights("org/name@v1", revision="v2")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no weight file"):
        resolve_weights(empty)
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(ValueError, match="suffix"):
        resolve_weights(tmp_path / "w.txt")


def test_random_weights_warn_and_are_tagged():
    source = resolve_weights("random")
    assert source == WeightsSource("random", "random-init", None, None)
    assert source.as_tags()["weights"] == "random-init"
    assert source.as_tags()["weights.source"] == "random-init"
    model = _eegnet(seed=0)
    before = state_dict_digest(model)
    with pytest.warns(UserWarning, match="RANDOM weights"):
        digest = load_weights_into(model, source)
    assert digest == before == state_dict_digest(model)


# ----------------------------------------------------------------------------- saving
def test_save_pretrained_replaces_checkpoints_atomically(tmp_path, monkeypatch):
    first, second = _eegnet(seed=0), _eegnet(seed=1)
    target = save_pretrained(first, tmp_path / "ckpt", config={"note": "first"})
    save_pretrained(second, target)
    assert state_dict_digest(target / "model.safetensors") == state_dict_digest(second)

    import safetensors.torch

    def _boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", _boom)
    with pytest.raises(OSError, match="disk full"):
        save_pretrained(first, target)
    assert state_dict_digest(target / "model.safetensors") == state_dict_digest(second)  # intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary folder left

    other = tmp_path / "not-a-checkpoint"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    monkeypatch.undo()
    with pytest.raises(FileExistsError, match="refusing"):
        save_pretrained(first, other)
    assert (other / "notes.txt").read_text() == "keep me"


def test_braindecode_checkpoints_interoperate(tmp_path, hf_offline):
    # a folder written by braindecode's own hub mixin loads with resolve_weights ...
    model = _eegnet(seed=0)
    model.save_pretrained(tmp_path / "bd")
    assert (tmp_path / "bd" / "pytorch_model.bin").exists()
    source = resolve_weights(tmp_path / "bd")
    assert Path(source.resolved_path).name == "model.safetensors"
    assert load_weights_into(_eegnet(seed=1), source) == state_dict_digest(model)
    # ... and ours loads with braindecode's from_pretrained (same config.json layout)
    ours = save_pretrained(model, tmp_path / "ours")
    reloaded = braindecode_models.EEGNet.from_pretrained(str(ours))
    assert state_dict_digest(reloaded) == state_dict_digest(model)


def test_environment_is_read_at_call_time(monkeypatch, tmp_path):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert W.hub_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "explicit"))
    assert W.hub_cache_dir() == tmp_path / "explicit"  # HF_HUB_CACHE wins over HF_HOME
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert W.hub_offline() is True
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    assert W.hub_offline() is False


# ----------------------------------------------------------------------------- load report
def test_load_report_lists_loaded_fresh_and_ignored(tmp_path):
    saved = _eegnet(seed=0)
    state = dict(saved.state_dict())
    dropped = next(k for k in state if k.startswith("conv_separable_depth"))
    del state[dropped]
    state["extra.weight"] = torch.ones(3)  # a tensor the model has no place for
    path = tmp_path / "partial.pt"
    torch.save(state, path)
    model = _eegnet(seed=1)
    with pytest.raises(W.PartialWeightsError) as err:
        W.load_weights(model, resolve_weights(path))
    assert f"leaves 1 of the {len(saved.state_dict())} backbone tensors" in str(err.value)
    assert dropped in str(err.value) and "allow_partial_weights=True" in str(err.value)

    report = W.load_weights(_eegnet(seed=1), resolve_weights(path), allow_partial=True)
    assert report.fresh == {dropped: "not in the checkpoint: freshly initialised"}
    assert report.ignored == {"extra.weight": "no place in EEGNet"}
    assert set(report.loaded) == set(saved.state_dict()) - {dropped}
    assert report.layout == "as saved" and report.files == [str(path)]
    assert report.as_params() == {"weights.n_loaded": len(report.loaded), "weights.n_fresh": 1,
                                  "weights.n_ignored": 1, "weights.layout": "as saved"}  # fmt: skip
    written = json.loads(report.write(tmp_path / "load_report.json").read_text())
    assert written["n_fresh"] == 1 and written["fresh"] == report.fresh


def test_random_weights_report_every_tensor_fresh_with_the_seed():
    model = _eegnet(seed=0)
    with pytest.warns(UserWarning, match="RANDOM"):
        report = W.load_weights(model, resolve_weights("random"), seed=7)
    assert report.n_loaded == 0 and report.n_fresh == len(model.state_dict())
    assert set(report.fresh.values()) == {"weights='random': random initialisation (seed 7)"}
    assert report.as_params()["weights.seed"] == 7


def test_loading_goes_through_the_models_own_load_state_dict(tmp_path):
    """Legacy weight_norm names (weight_g / weight_v) are converted by torch's own load hook
    of parametrizations.weight_norm, which only runs inside module.load_state_dict."""
    conv = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(4, 6, 3), dim=2)
    legacy = torch.nn.utils.weight_norm(torch.nn.Conv1d(4, 6, 3), dim=2)  # old names
    path = tmp_path / "legacy.pt"
    torch.save(legacy.state_dict(), path)
    assert {"weight_g", "weight_v"} <= set(torch.load(path))
    report = W.load_weights(conv, resolve_weights(path))
    assert report.fresh == {} and report.ignored == {}
    x = torch.randn(2, 4, 9)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), legacy(x))


def test_published_layouts_are_recognised_renamed_and_their_drops_reported(tmp_path):
    from coco_pipe.foundation.models.base import CheckpointLayout

    layout = CheckpointLayout(
        "demo release", markers=(r"^student\.",), rename=((r"^student\.net\.", ""),),
        drop=((r"^student\.mask$", "pretraining mask token"),),
    )  # fmt: skip
    saved = _eegnet(seed=0)
    state = {f"student.net.{k}": v for k, v in saved.state_dict().items()}
    state["student.mask"] = torch.zeros(4)
    path = tmp_path / "release.pth"
    torch.save({"model": state, "epoch": 3}, path)
    report = W.load_weights(_eegnet(seed=1), resolve_weights(path), layouts=[layout])
    assert report.layout == "demo release" and report.fresh == {}
    assert report.ignored == {"student.mask": "pretraining mask token"}
    assert report.digest == state_dict_digest(saved)
    bad = CheckpointLayout("clash", markers=(r"^student\.",), rename=((r"^student\.net\..*", "x"),))
    with pytest.raises(ValueError, match="two tensors are renamed to 'x'"):
        W.load_weights(_eegnet(seed=1), resolve_weights(path), layouts=[bad])


def test_several_file_release_and_subfolder_files_resolve_from_their_folder(tmp_path):
    from collections import OrderedDict

    from coco_pipe.foundation.models.base import CheckpointLayout

    def model(seed):
        torch.manual_seed(seed)
        return torch.nn.Sequential(OrderedDict(enc=torch.nn.Linear(3, 4), ctx=torch.nn.Linear(4, 2)))

    saved = model(0)
    release = tmp_path / "release"
    release.mkdir()
    torch.save(saved.enc.state_dict(), release / "enc.pt")  # each part saved on its own
    torch.save(saved.ctx.state_dict(), release / "ctx.pt")
    layout = CheckpointLayout("two files", files=(("enc.pt", "enc."), ("ctx.pt", "ctx.")))
    spec = SimpleNamespace(key="demo", hub_repo=None, hub_filename=None, checkpoint_layouts=(layout,))
    with pytest.raises(ValueError, match=r"several weight files \['ctx.pt', 'enc.pt'\]"):
        resolve_weights(release)  # no spec row: nothing says the files belong together
    source = resolve_weights(release, spec=spec)
    assert source.resolved_path == str(release.resolve())
    report = W.load_weights(model(1), source, layouts=[layout])
    assert report.layout == "two files" and report.digest == state_dict_digest(saved)
    assert report.files == [str(release.resolve() / "enc.pt"), str(release.resolve() / "ctx.pt")]
    (release / "ctx.pt").unlink()  # one file alone is not the release: the error names it
    (release / "notes.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"or the files of a release \(two files: enc.pt \+ ctx.pt\)"):
        resolve_weights(release, spec=spec)

    eegnet = _eegnet(seed=0)
    sized = tmp_path / "sizes"  # each size of a release in its own folder (LUNA's Base/)
    save_pretrained(eegnet, sized / "Base")
    (sized / "Base" / "model.safetensors").rename(sized / "Base" / "demo_base.safetensors")
    spec = SimpleNamespace(key="demo", hub_repo=None, hub_filename="demo_base.safetensors")
    assert resolve_weights(sized, spec=spec).resolved_path.endswith("Base/demo_base.safetensors")
    save_pretrained(eegnet, sized / "Large")
    (sized / "Large" / "model.safetensors").rename(sized / "Large" / "demo_base.safetensors")
    with pytest.raises(ValueError, match="in several subfolders"):
        resolve_weights(sized, spec=spec)


def test_training_containers_load_with_weights_only_and_code_is_refused(tmp_path):
    import argparse
    import collections
    import functools
    import pathlib
    import sys
    import types

    import numpy as np

    saved = _eegnet(seed=0)
    # Lightning keeps hyper-parameters in its AttributeDict: pickled under Lightning's name
    module = types.ModuleType("lightning.fabric.utilities.data")

    class AttributeDict(dict):
        pass

    AttributeDict.__module__, AttributeDict.__qualname__ = module.__name__, "AttributeDict"
    module.AttributeDict = AttributeDict
    fake = {n: types.ModuleType(n) for n in ("lightning", "lightning.fabric", "lightning.fabric.utilities")}
    path = tmp_path / "trainer.ckpt"
    with pytest.MonkeyPatch.context() as mp:
        for name, mod in {**fake, module.__name__: module}.items():
            mp.setitem(sys.modules, name, mod)
        torch.save({
            "state_dict": {f"model.{k}": v for k, v in saved.state_dict().items()},
            "hyper_parameters": AttributeDict(lr=1e-3), "args": argparse.Namespace(epochs=3),
            "dirpath": pathlib.PurePosixPath("logs"), "best": np.float64(0.5),
            "hist": np.zeros(3), "loops": collections.defaultdict(list),
        }, path)  # fmt: skip
    assert load_weights_into(_eegnet(seed=1), resolve_weights(path)) == state_dict_digest(saved)

    code = tmp_path / "code.pt"
    torch.save({"state_dict": saved.state_dict(), "hook": functools.partial(print, "x")}, code)
    with pytest.raises(ValueError, match=r"not plain data: .*functools\.partial.*never unpickles code"):
        load_weights_into(_eegnet(seed=1), resolve_weights(code))
