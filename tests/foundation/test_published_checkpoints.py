"""Published checkpoints of the eight backbones load through the public API.

Each case writes a synthetic checkpoint in a published layout (``checkpoint_layouts``:
braindecode's hub copies and the authors' release files, key names and shapes as
published, values random) once per session and loads it with
``build_backbone(weights=<path>)``; two representative layouts also run through
``Experiment.run`` with ``weights=<path>`` in the config. The reference is the same
architecture loaded by braindecode's own ``load_state_dict`` (its ``mapping``; torch's
weight-norm hooks) from the same tensors. Asserted: no backbone tensor freshly
initialised (load report and tensor by tensor), every tensor equal to the checkpoint's,
the ignored tensors exactly those with no place in braindecode's model, embeddings equal
to the reference's, and in the experiment the reference's weight digest and the load
report logged per fold.

Tensors that depend on the pretraining window or channel set are adapted the way the
official forward uses them: LaBraM's ``time_embed`` (1, 16, 200) is read as
``time_embed[:, 0:n_patches]`` (935963004/LaBraM modeling_finetune.py), so the reference
holds its first ``n_patches + 1`` rows; EEGPT's ``chans_id`` is derived from the
channel names (``prepare_chan_ids``) and rebuilt, never copied.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from checkpoint_layouts import (
    EEGPT_PRETRAIN_CHANNELS,
    OFFICIAL_DIFFERS,
    Layout,
    hub_layout,
    official_layout,
)

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    TrackingConfig,
)
from coco_pipe.foundation.backbones import build_backbone
from coco_pipe.foundation.specs import ESTIMATOR_SPECS
from coco_pipe.foundation.weights import PartialWeightsError, state_dict_digest

TEN_TWENTY = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7",
              "P3", "Pz", "P4", "P8", "O1", "O2")  # fmt: skip
DEFAULT_TIMES = {"bendr": 1024, "biot": 2000, "cbramod": 800, "eegpt": 1024, "labram": 800,
                 "luna": 1280, "reve": 1100, "signal_jepa": 2048}  # fmt: skip
LAYOUTS = [(k, kind) for k in ESTIMATOR_SPECS for kind in ("hub", "official")
           if kind == "hub" or k in OFFICIAL_DIFFERS]  # fmt: skip


def _cases():
    for key, kind in LAYOUTS:
        if key == "labram":
            for n in (800, 1000, 3000):
                yield key, kind, TEN_TWENTY, n
        elif key == "eegpt":
            yield key, kind, TEN_TWENTY, 1024
            yield key, kind, EEGPT_PRETRAIN_CHANNELS, 1024
        else:
            yield key, kind, TEN_TWENTY, DEFAULT_TIMES[key]


CASES = [pytest.param(*c, id=f"{c[0]}-{c[1]}-{len(c[2])}ch-{c[3]}") for c in _cases()]
#: one torch thread: on a shared 2-core runner it was measured faster for these models too
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _reve_bank(monkeypatch, tmp_path_factory):
    """An electrode bank where braindecode's REVE reads it, so nothing is downloaded."""
    import mne

    folder = tmp_path_factory.getbasetemp() / "reve-bank"
    if not (folder / "reve_positions.json").exists():
        folder.mkdir(exist_ok=True)
        pos = mne.channels.make_standard_montage("standard_1005").get_positions()["ch_pos"]
        bank = {name: [float(v) for v in xyz] for name, xyz in pos.items()}
        (folder / "reve_positions.json").write_text(json.dumps(bank))
    monkeypatch.setenv("REVE_POSITIONS_PATH", str(folder))


@pytest.fixture(scope="session")
def layout_of(tmp_path_factory):
    """Each published layout written once per session (published sizes take seconds)."""
    written: dict[tuple[str, str], Layout] = {}

    def get(key: str, kind: str) -> Layout:
        if (key, kind) not in written:
            folder = tmp_path_factory.mktemp(f"{key}-{kind}")
            if kind == "hub":
                written[key, kind] = hub_layout(key, folder, keep_bin=False)
            else:
                written[key, kind] = official_layout(key, folder)
        return written[key, kind]

    return get


def _build(key: str, weights: str, ch_names, n_times: int, **kw):
    spec = ESTIMATOR_SPECS[key]
    return build_backbone(key, weights=weights, sfreq=spec.sfreq, ch_names=list(ch_names),
                          n_channels=len(ch_names), n_times=n_times, **kw)  # fmt: skip


def _adapt(name: str, tensor: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """Pretraining-shaped tensor -> the reference's shape, as the official forward reads it."""
    if name == "temporal_embedding" and tensor.shape[1] >= own.shape[1]:
        return tensor[:, : own.shape[1]]  # LaBraM: rows 0 .. n_patches are the ones used
    return tensor


def _reference(layout: Layout, ch_names, n_times: int):
    """The same architecture, loaded by braindecode's own load_state_dict."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _build(layout.model_key, "random", ch_names, n_times)
    model = ref.module.model
    own = model.state_dict()
    if layout.kind == "hub":  # the file as braindecode reads it (its mapping applies)
        source = {k: v for k, v in layout.checkpoint.items() if k not in layout.rebuilt}
    else:  # the official tensors under braindecode's names, read from the official code
        source = dict(layout.expected)
    mapping = getattr(model, "mapping", None) or {}
    source = {
        k: _adapt(mapping.get(k, k), v, own.get(mapping.get(k, k), v)) for k, v in source.items()
    }
    result = model.load_state_dict(source, strict=False)
    allowed = set(layout.ignored) | {mapping.get(k, k) for k in layout.ignored}
    assert set(result.unexpected_keys) <= allowed, result.unexpected_keys
    derived = {n for n, b in model.named_buffers() if not b.is_floating_point()}  # EEGPT chans_id
    assert set(result.missing_keys) <= derived & set(own), result.missing_keys
    return ref


def _ignored_names(layout: Layout) -> set[str]:
    """Checkpoint tensors with no place in braindecode's model, as the load report names
    them (a several-file release's names behind their file's prefix)."""
    prefixes = {"encoder.pt": "encoder.", "contextualizer.pt": "contextualizer."}
    out = set()
    for name in (*layout.ignored, *layout.rebuilt):
        file, sep, key = name.partition(":")
        out.add(prefixes[file] + key if sep else name)
    return out


@pytest.mark.parametrize(("key", "kind", "ch_names", "n_times"), CASES)
def test_published_checkpoint_loads_through_build_backbone(key, kind, ch_names, n_times, layout_of):
    layout = layout_of(key, kind)
    ref = _reference(layout, ch_names, n_times)
    bb = _build(key, str(layout.path), ch_names, n_times)

    report = bb.load_report
    assert report.fresh == {}, f"fresh backbone tensors: {sorted(report.fresh)[:8]}"
    assert set(report.ignored) == _ignored_names(layout)
    got, want = bb.module.model.state_dict(), ref.module.model.state_dict()
    assert set(report.loaded) | set(report.rebuilt) == set(got) == set(want)
    differ = sorted(k for k in want if not torch.equal(got[k], want[k]))
    assert differ == [], f"{len(differ)} tensors not loaded from the checkpoint: {differ[:8]}"
    if kind == "official" and key in ("bendr", "biot", "eegpt", "labram"):
        assert report.layout == ESTIMATOR_SPECS[key].checkpoint_layouts[0].name
    if key == "eegpt":  # rebuilt for the user's channels, never copied
        assert list(report.rebuilt) == ["chans_id"]
        assert bb.module.model.chans_id.shape == (1, len(ch_names))

    x = torch.randn(
        2, bb.plan.n_channels, bb.plan.n_times, generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        torch.testing.assert_close(bb.module.eval()(x), ref.module.eval()(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", ["hub", "official"])
def test_labram_window_longer_than_the_checkpoint_names_the_longest(kind, layout_of):
    layout = layout_of("labram", kind)
    with pytest.raises(ValueError, match=r"at most 15 patches = 3000 samples at 200 Hz \(15 s\)"):
        _build("labram", str(layout.path), TEN_TWENTY, 3200)


def test_partial_published_checkpoint_is_refused_with_its_tensors(layout_of, tmp_path):
    """BIOT's official file with two transformer layers removed: refused, naming them; with
    allow_partial_weights the backbone loads and the report lists them as fresh."""
    layout = layout_of("biot", "official")
    kept = {k: v for k, v in layout.checkpoint.items() if "layers.layers.3." not in k}
    path = tmp_path / "EEG-PREST-16-channels-partial.ckpt"
    torch.save(kept, path)
    n_removed = len(layout.checkpoint) - len(kept)
    with pytest.raises(PartialWeightsError, match=f"leaves {n_removed} of the") as err:
        _build("biot", str(path), TEN_TWENTY, 2000)
    assert "encoder.transformer.layers.layers.3.1.fn.fn.w1.weight" in str(err.value)
    assert "allow_partial_weights=True" in str(err.value)

    bb = _build("biot", str(path), TEN_TWENTY, 2000, allow_partial_weights=True)
    fresh = sorted(bb.load_report.fresh)
    assert len(fresh) == n_removed and all("layers.layers.3." in k for k in fresh)


def _experiment(layout: Layout, tracking_uri: str, n_times: int):
    backbone = FoundationEmbeddingModelConfig(
        model_key=layout.model_key, weights=str(layout.path), batch_size=4
    )
    return ExperimentConfig(
        models={"probe": FrozenBackboneDecoderConfig(
            backbone=backbone, head=ClassicalModelConfig(estimator="LogisticRegression"))},
        cv=CVConfig(strategy="kfold", n_splits=2),
        tracking=TrackingConfig(tracking_uri=tracking_uri, log_plots=False),
        chance={"dummy": False}, verbose=False, on_error="raise",
    )  # fmt: skip


@pytest.mark.parametrize(("key", "kind"), [("labram", "hub"), ("biot", "official")])
def test_published_checkpoint_loads_in_experiment_run(key, kind, layout_of, tracking_uri):
    """A hub copy at another window length (LaBraM, temporal embedding cut) and an authors'
    file in its own names (BIOT) in an experiment: the config's weights path, the load
    report per fold. Every other layout takes the same path after build_backbone."""
    import mlflow

    layout = layout_of(key, kind)
    n_times, spec = DEFAULT_TIMES[key], ESTIMATOR_SPECS[key]
    reference = _reference(layout, TEN_TWENTY, n_times).module.model
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((8, len(TEN_TWENTY), n_times)) * 1e-5).astype(np.float32)
    y = np.array([0, 1] * 4)
    cfg = _experiment(layout, tracking_uri, n_times)
    res = Experiment(cfg).run(X, y, sfreq=spec.sfreq, ch_names=list(TEN_TWENTY))
    folds = res.get_fold_runs()
    assert len(folds) == 2 and (folds.Status == "FINISHED").all()
    client = mlflow.tracking.MlflowClient(tracking_uri)
    for run_id in folds.RunId:
        run = client.get_run(run_id)
        assert run.data.tags["weights"] == "local"
        assert run.data.params["weights.digest"] == state_dict_digest(reference)
        assert run.data.params["weights.n_fresh"] == "0"
        assert int(run.data.params["weights.n_loaded"]) == len(reference.state_dict())
        path = client.download_artifacts(run_id, "weights/load_report.json", str(run_id))
        report = json.loads(open(path).read())
        assert report["n_fresh"] == 0 and set(report["ignored"]) == _ignored_names(layout)


def test_hugging_face_backend_reads_the_same_published_layouts(layout_of):
    """The transformers loader reads an authors' file through the same layout tables."""
    layout = layout_of("labram", "official")
    ref = _build("labram", str(layout.path), TEN_TWENTY, 1000)
    bb = _build("labram", str(layout.path), TEN_TWENTY, 1000, backend="hugging_face")
    assert bb.load_report.fresh == {} and bb.load_report.layout == ref.load_report.layout
    assert bb.weights_digest == ref.weights_digest
