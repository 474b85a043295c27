"""BackboneEmbedder: a stateless, clonable scikit-learn transformer; memo, cache, tracking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from coco_pipe.data import DataInfo
from coco_pipe.decoding.configs import FoundationEmbeddingModelConfig
from coco_pipe.foundation import backbones
from coco_pipe.foundation.embedder import BackboneEmbedder, clear_backbone_memo
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

NAMES = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz",
    "C4", "T4", "T5", "P3", "Pz", "P4", "T6", "O1", "O2",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _fresh_memo():
    torch.set_num_threads(2)
    clear_backbone_memo()
    yield
    clear_backbone_memo()


def _data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, 19, 500)) * 1e-5).astype(np.float32)
    y = np.arange(n) % 2
    return X, y


def _embedder(key="labram", **kw):
    params = dict(
        model_key=key, weights="random", sfreq=250.0, ch_names=NAMES, device="cpu", progress=False,
        model_kwargs=dict(ESTIMATOR_SPECS[key].small_kwargs), batch_size=4,
    )  # fmt: skip
    params.update(kw)
    return BackboneEmbedder(**params)


def _info(**kw):
    base = dict(
        n_samples=6, ndim=3, n_channels=19, n_times=500, sfreq=250.0, ch_names=NAMES,
        task="classification", classes=(0, 1),
    )  # fmt: skip
    base.update(kw)
    return DataInfo(**base)


def test_clone_and_get_params_roundtrip():
    emb = _embedder(cache_embeddings=True, cache_dir="somewhere")
    twin = clone(emb)
    assert twin.get_params() == emb.get_params()
    assert twin.ch_names == NAMES and twin.model_kwargs == emb.model_kwargs
    assert twin.model_kwargs is not emb.model_kwargs  # deep-copied by clone
    X, y = _data()
    emb.fit(X, y)
    assert not hasattr(clone(emb), "_backbone") and not hasattr(clone(emb), "emb_dim_")


def test_fit_learns_nothing_from_y():
    X, y = _data()
    a = _embedder().fit(X, y)
    b = clone(a).fit(X, 1 - y)
    c = clone(a).fit(X)
    fitted = {k: v for k, v in vars(a).items() if k.endswith("_") and not k.startswith("_")}
    assert fitted == {k: v for k, v in vars(b).items() if k.endswith("_") and not k.startswith("_")}
    assert fitted == {k: v for k, v in vars(c).items() if k.endswith("_") and not k.startswith("_")}
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.transform(X).shape == (6, a.emb_dim_)


def test_clones_reuse_one_built_backbone(monkeypatch):
    calls = []
    real = backbones.build_backbone

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(backbones, "build_backbone", counting)
    X, y = _data()
    proto = _embedder()
    for _ in range(3):  # three "folds"
        clone(proto).fit(X[:4], y[:4])
    assert len(calls) == 1
    _embedder(pooling="cls").fit(X, y)  # another config: another backbone
    assert len(calls) == 2


def test_cache_forwards_each_window_once(tmp_path, forward_counter):
    X, y = _data(8)
    emb = _embedder("cbramod", cache_embeddings=True, cache_dir=str(tmp_path / "cache"))
    Z1 = emb.fit_transform(X[:5], y[:5])
    module = emb.backbone_.module
    assert forward_counter.of(module) == 5
    report = emb.tracking_report(tmp_path)
    assert report.metrics == {"cache.hits": 0.0, "cache.misses": 5.0}
    fold2 = clone(emb)
    Z2 = fold2.fit_transform(X, y)  # 5 cached + 3 new
    assert fold2.backbone_.module is module  # the clone shares the memoised backbone
    assert forward_counter.of(module) == 8
    np.testing.assert_array_equal(Z2[:5], Z1)
    assert fold2.tracking_report(tmp_path).metrics == {"cache.hits": 5.0, "cache.misses": 3.0}
    assert fold2.tracking_report(tmp_path).parent_metrics["cache.hits"] == 5.0
    # without the cache every transform forwards again
    plain = _embedder("cbramod")
    plain.fit(X, y)
    before = forward_counter.of(plain.backbone_.module)
    plain.transform(X)
    plain.transform(X)
    assert forward_counter.of(plain.backbone_.module) - before == 16


def test_tracking_report_names_adaptation_and_weights(tmp_path):
    X, y = _data()
    emb = _embedder().fit(X, y)
    rep = emb.tracking_report(tmp_path)
    assert rep.params["adapt.sfreq"] == 200.0 and rep.params["adapt.src_sfreq"] == 250.0
    assert rep.params["backbone.fingerprint"] == emb.fingerprint_
    assert rep.params["weights.kind"] == "random"
    assert rep.params["weights.digest"] == emb.backbone_.weights_digest
    assert rep.tags["weights"] == "random-init"
    assert rep.metrics == {}  # no cache, no cache counters
    assert _embedder().tracking_report(tmp_path).params == {}  # unfitted: nothing to say


def test_from_config_reads_sfreq_and_channels_from_data_info():
    cfg = FoundationEmbeddingModelConfig(
        model_key="eegpt", weights="random", pooling="flatten", batch_size=8, cache_embeddings=True,
        model_kwargs={"depth": 1},
    )  # fmt: skip
    emb = BackboneEmbedder.from_config(cfg, _info())
    assert (emb.model_key, emb.pooling, emb.batch_size, emb.sfreq) == ("eegpt", "flatten", 8, 250.0)
    assert emb.ch_names == NAMES and emb.cache_embeddings and emb.model_kwargs == {"depth": 1}
    assert BackboneEmbedder.from_config(cfg, None).sfreq is None


def test_in_a_pipeline_with_a_classical_head():
    X, y = _data(8)
    pipe = Pipeline(
        [("embed", _embedder("signal_jepa")), ("head", LogisticRegression(max_iter=200))]
    )
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (8,)
    assert clone(pipe).get_params()["embed__model_key"] == "signal_jepa"


@pytest.mark.parametrize(
    ("params", "info", "match"),
    [
        ({}, {"sfreq": None}, "sfreq is missing"),
        ({"ch_names": None}, {"ch_names": None}, "channel names are required"),
        ({"ch_names": ("EOG", "EMG")}, {"n_channels": 2, "ch_names": ("EOG", "EMG")}, "none of the channel names"),
        ({}, {"n_times": 100}, "too short"),
        ({"pooling": "cls", "model_key": "cbramod"}, {}, "not supported by CBraMod"),
        ({}, {"ndim": 2, "n_times": None}, "must be 3-D"),
        ({"weights": "/does/not/exist.safetensors"}, {}, "exist"),
    ],
)  # fmt: skip
def test_check_data_info_raises_clear_errors_before_fitting(monkeypatch, params, info, match):
    monkeypatch.setattr(backbones, "build_model", lambda *a, **k: pytest.fail("model built"))
    emb = _embedder(**{"sfreq": None, **params})
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        emb.check_data_info(_info(**info))


def test_check_data_info_accepts_good_input_without_building(monkeypatch):
    monkeypatch.setattr(backbones, "build_model", lambda *a, **k: pytest.fail("model built"))
    emb = _embedder(sfreq=None)
    emb.check_data_info(_info())
    assert getattr(emb, "_backbone", None) is None  # checked without building anything


def test_hugging_face_backend_embeds_like_braindecode(tmp_path):
    import torch

    X = np.random.default_rng(0).normal(0, 2e-5, (4, 19, 500)).astype(np.float32)
    torch.manual_seed(0)
    a = _embedder("cbramod").fit_transform(X)
    torch.manual_seed(0)
    b = _embedder("cbramod", backend="hugging_face").fit_transform(X)
    np.testing.assert_array_equal(a, b)


def test_transform_rejects_2d_input():
    with pytest.raises(ValueError, match="3-D"):
        _embedder().fit(np.zeros((4, 10), np.float32))


@pytest.mark.parametrize(
    "check",
    [
        "check_no_attributes_set_in_init",
        "check_parameters_default_constructible",
        "check_get_params_invariance",
        "check_set_params",
        "check_estimator_repr",
        "check_estimator_cloneable",
        "check_valid_tag_types",
    ],
)
def test_sklearn_estimator_checks_that_apply_to_3d_input(check):
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("BackboneEmbedder", _embedder("cbramod"))


def _state(est) -> dict:
    return dict(vars(est))


def test_transform_leaves_the_estimator_alone_fitted_or_not(tmp_path):
    X, y = _data()
    emb = _embedder("cbramod", cache_embeddings=True, cache_dir=str(tmp_path / "cache"))
    before = _state(emb)
    Z_unfitted = emb.transform(X)  # stateless: works unfitted (requires_fit=False) ...
    assert _state(emb) == before and not hasattr(emb, "_backbone")  # ... and sets nothing
    emb.fit(X, y)
    fitted = _state(emb)
    for _ in range(2):
        Z = emb.transform(X)
        assert _state(emb).keys() == fitted.keys()
        assert all(_state(emb)[k] is v for k, v in fitted.items())
    np.testing.assert_array_equal(Z, Z_unfitted)
    assert emb.__sklearn_tags__().requires_fit is False
    # the cache counters of this estimator are still reported (2 fitted transforms + 1 unfitted)
    assert emb.tracking_report(tmp_path).metrics == {"cache.hits": 12.0, "cache.misses": 6.0}
    assert clone(emb).tracking_report(tmp_path).metrics == {}


def test_unfitted_attributes_raise_not_fitted_error():
    from sklearn.exceptions import NotFittedError

    emb = _embedder("cbramod")
    with pytest.raises(NotFittedError):
        emb.get_feature_names_out()
    with pytest.raises(NotFittedError):
        _ = emb.backbone_


def _epochs(X, sfreq=250.0):
    import mne

    info = mne.create_info(list(NAMES), sfreq, ch_types="eeg")
    return mne.EpochsArray(X, info, verbose="error")


def test_mne_epochs_give_sfreq_and_channel_names():
    X, y = _data(8)
    epochs = _epochs(X)
    bare = _embedder("labram", sfreq=None, ch_names=None)
    Z = bare.fit(epochs).transform(epochs)
    np.testing.assert_array_equal(Z, _embedder("labram").fit_transform(X))
    assert bare.backbone_.plan.src_sfreq == 250.0 and bare.backbone_.plan.src_ch_names == NAMES
    pipe = Pipeline([("embed", clone(bare)), ("head", LogisticRegression(max_iter=200))])
    pipe.fit(epochs[:6], y[:6])
    ref = Pipeline([("embed", _embedder("labram")), ("head", LogisticRegression(max_iter=200))])
    ref.fit(X[:6], y[:6])
    np.testing.assert_array_equal(pipe.predict_proba(epochs[6:]), ref.predict_proba(X[6:]))
    # arrays without sfreq or names are refused by a bare embedder, with the clear error
    with pytest.raises(ValueError, match="sfreq is missing"):
        clone(bare).fit(X)


@pytest.mark.parametrize("key", ["labram", "bendr"])
def test_fitted_frozen_backbone_pipeline_survives_clone_and_pickle(key):
    """build_estimator's Pipeline for FrozenBackboneDecoderConfig; LaBraM and BENDR modules do
    not pickle themselves (a lambda, a dynamically built class): the backbone is rebuilt."""
    import pickle

    from coco_pipe.decoding.builders import build_estimator
    from coco_pipe.decoding.configs import ClassicalModelConfig, FrozenBackboneDecoderConfig

    cfg = FrozenBackboneDecoderConfig(
        backbone=FoundationEmbeddingModelConfig(model_key=key, weights="random", device="cpu",
                                                model_kwargs=ESTIMATOR_SPECS[key].small_kwargs),
        head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 200}),
    )  # fmt: skip
    X, y = _data(8)
    est = build_estimator(cfg, _info(n_samples=8), random_state=0)
    with pytest.warns(UserWarning, match="RANDOM"):
        est.fit(X, y)
    proba = est.predict_proba(X)
    clear_backbone_memo()  # the copy must not borrow the original's backbone from the memo
    again = pickle.loads(pickle.dumps(est))
    assert again[0].backbone_.module is not est[0].backbone_.module
    assert again[0].backbone_.weights_digest == est[0].backbone_.weights_digest
    np.testing.assert_array_equal(again.predict_proba(X), proba)
    twin = clone(est)
    assert twin.get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert not hasattr(twin[0], "_backbone")


def test_tracking_report_lists_the_cache_manifest_and_the_embeddings_used(tmp_path):
    import json

    from coco_pipe.tracking.report import write_deferred_artifacts

    X, y = _data(8)
    root = str(tmp_path / "cache")
    fold1 = _embedder("cbramod", cache_embeddings=True, cache_dir=root)
    fold1.fit_transform(X[:5])
    fold2 = clone(fold1)
    fold2.fit_transform(X[3:])
    reports = [fold1.tracking_report(tmp_path), fold2.tracking_report(tmp_path)]
    assert reports[1].params["backbone.cache_root"] == root
    deferred = [a for r in reports for a in r.deferred_parent_artifacts]
    out = tmp_path / "parent"
    out.mkdir()
    written = dict((p.name, (t, p)) for t, p in write_deferred_artifacts(deferred, out, max_capped_bytes=1e9))
    fp = fold1.fingerprint_
    assert set(written) == {"cache_manifest.json", f"embeddings_{fp[:16]}.npz"}
    assert {t for t, _ in written.values()} == {"cache"}
    manifest = json.loads(written["cache_manifest.json"][1].read_text())
    assert manifest[fp]["total_entries"] == 8
    stored = np.load(written[f"embeddings_{fp[:16]}.npz"][1])
    assert stored["embeddings"].shape == (8, fold1.emb_dim_)  # both folds' windows, once each
    order = {d: i for i, d in enumerate(stored["digests"])}
    from coco_pipe.foundation.cache import window_digests

    rows = [order[d] for d in window_digests(X)]
    np.testing.assert_array_equal(stored["embeddings"][rows], fold2.transform(X))
    # below the size cap only the manifest is logged
    small = write_deferred_artifacts(deferred, out, max_capped_bytes=100)
    assert [p.name for _, p in small] == ["cache_manifest.json"]


# ----------------------------------------------------------------------------- weights, units
def test_random_init_is_seeded_by_random_state():
    X, y = _data()
    a = _embedder("cbramod", random_state=3).fit(X, y)
    clear_backbone_memo()  # built again, not memoised
    b = _embedder("cbramod", random_state=3).fit(X, y)
    c = _embedder("cbramod", random_state=4).fit(X, y)
    assert a.backbone_ is not b.backbone_
    assert a.backbone_.weights_digest == b.backbone_.weights_digest != c.backbone_.weights_digest
    assert a.fingerprint_ == b.fingerprint_ != c.fingerprint_
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert a.backbone_.load_report.seed == 3


def test_tracking_report_logs_the_load_report_licence_and_amplitude(tmp_path):
    import json

    X, y = _data()
    emb = _embedder("cbramod", random_state=0).fit(X, y)
    rep = emb.tracking_report(tmp_path)
    n = len(emb.backbone_.module.model.state_dict())
    assert rep.params["weights.n_loaded"] == 0 and rep.params["weights.n_fresh"] == n
    assert rep.params["weights.layout"] == "random-init" and rep.params["weights.seed"] == 0
    assert rep.artifacts == [("weights", tmp_path / "load_report.json")]
    assert json.loads((tmp_path / "load_report.json").read_text())["n_fresh"] == n
    assert rep.tags["backbone.license"] == "MIT"
    assert rep.tags["data.amplitude"] == "plausible" and rep.tags["data.unit"] == "V"

    from coco_pipe.data.units import AmplitudeWarning

    with pytest.warns(AmplitudeWarning, match=r"look like uV.*unit='uV'"):
        loud = _embedder("cbramod", random_state=0).fit(X * 1e6, y)
    assert loud.tracking_report(tmp_path).tags["data.amplitude"] == "implausible"
    declared = _embedder("cbramod", random_state=0, unit="uV").fit(X * 1e6, y)
    assert declared.tracking_report(tmp_path).tags["data.amplitude"] == "plausible"
    np.testing.assert_allclose(declared.transform(X * 1e6), emb.transform(X), rtol=1e-4, atol=1e-5)


def _scores(res) -> np.ndarray:
    return res.get_detailed_scores().sort_values(["Fold", "Metric"]).Value.to_numpy()


def _probe_config(uri, n_splits=3, **backbone):
    from coco_pipe.decoding.configs import (
        ClassicalModelConfig,
        CVConfig,
        ExperimentConfig,
        FrozenBackboneDecoderConfig,
        TrackingConfig,
    )

    small = dict(ESTIMATOR_SPECS["cbramod"].small_kwargs)
    return ExperimentConfig(
        models={"cbramod_probe": FrozenBackboneDecoderConfig(
            backbone=FoundationEmbeddingModelConfig(
                model_key="cbramod", weights="random", model_kwargs=small, batch_size=16,
                **backbone),
            head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 1000}))},
        cv=CVConfig(strategy="stratified_group_kfold", n_splits=n_splits, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=uri, log_plots=False),
        chance={"dummy": False}, verbose=False, on_error="raise", random_state=42,
    )  # fmt: skip


def test_two_runs_of_a_random_init_config_agree_and_the_second_only_hits_the_cache(
    mi_arrays, tracking_uri
):
    """Quickstart-like: a frozen random-init CBraMod probe with the embedding cache."""
    import mlflow

    from coco_pipe import Experiment

    X, y, meta, info = mi_arrays
    cfg = _probe_config(tracking_uri, cache_embeddings=True)
    runs = []
    for _ in range(2):
        clear_backbone_memo()  # as a new process would
        res = Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
        runs.append(res)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    digests, misses = [], []
    for res in runs:
        folds = res.get_fold_runs().sort_values("Fold")
        data = [client.get_run(r).data for r in folds.RunId]
        digests.append({d.params["weights.digest"] for d in data})
        misses.append(sum(d.metrics["cache.misses"] for d in data))
    assert len(digests[0]) == 1 and digests[0] == digests[1]
    assert misses[0] > 0 and misses[1] == 0
    a, b = (_scores(r) for r in runs)
    assert len(a) == 3 * 4  # 3 folds x 4 default metrics
    np.testing.assert_array_equal(a, b)


def _kalunga_or_synthetic():
    """Real EEG in volts (the Kalunga2016 slice, when this checkout has it), else synthetic."""
    from pathlib import Path

    npz = Path(__file__).resolve().parents[1] / "data" / "kalunga2016_slice" / "reference_epochs.npz"
    if npz.exists():
        d = np.load(npz, allow_pickle=False)
        meta = __import__("pandas").DataFrame({"Subject": d["subject"]})
        return d["X"], d["y"], meta, float(d["sfreq"]), [str(c) for c in d["ch_names"]]
    from coco_pipe.datasets import make_motor_imagery

    X, y, meta, info = make_motor_imagery(n_subjects=2, n_epochs_per_class=8, sfreq=256.0,
                                          tmax=2.0, random_state=0, return_epochs=False)  # fmt: skip
    return X, y, meta, info["sfreq"], list(info["ch_names"])


def test_data_stored_1000x_too_large_warn_and_the_declared_unit_fixes_it(tracking_uri):
    import mlflow

    from coco_pipe import Experiment
    from coco_pipe.data.units import AmplitudeWarning

    X, y, meta, sfreq, names = _kalunga_or_synthetic()
    milli = X * 1000  # stored in millivolts
    from coco_pipe.decoding.configs import DataConfig

    cfg = _probe_config(tracking_uri, n_splits=2)  # the slice has two subjects
    with pytest.warns(AmplitudeWarning, match=r"look like mV"):
        wrong = Experiment(cfg).run(milli, y, meta, sfreq=sfreq, ch_names=names)
    right = Experiment(cfg).run(milli, y, meta, sfreq=sfreq, ch_names=names, unit="mV")
    volts = Experiment(cfg).run(X, y, meta, sfreq=sfreq, ch_names=names)
    declared = Experiment(cfg.model_copy(update={"data": DataConfig(unit="mV")})).run(
        milli, y, meta, sfreq=sfreq, ch_names=names
    )  # data.unit in the config
    client = mlflow.tracking.MlflowClient(tracking_uri)

    def tags(res):
        return [client.get_run(r).data.tags for r in res.get_fold_runs().RunId]

    assert {t["data.amplitude"] for t in tags(wrong)} == {"implausible"}
    for res in (right, declared):
        assert {(t["data.amplitude"], t["data.unit"]) for t in tags(res)} == {("plausible", "mV")}
    scores = [_scores(r) for r in (right, declared, volts)]
    assert len(scores[2]) == 2 * 4
    np.testing.assert_allclose(scores[0], scores[2])
    np.testing.assert_allclose(scores[1], scores[2])


def test_from_config_passes_the_seed_the_unit_and_allow_partial_weights():
    cfg = FoundationEmbeddingModelConfig(model_key="cbramod", weights="random",
                                         allow_partial_weights=True)  # fmt: skip
    emb = BackboneEmbedder.from_config(cfg, _info(unit="uV"), random_state=5)
    assert (emb.random_state, emb.unit, emb.allow_partial_weights) == (5, "uV", True)
    default = BackboneEmbedder.from_config(FoundationEmbeddingModelConfig(model_key="cbramod"))
    assert (default.random_state, default.unit, default.allow_partial_weights) == (None, "V", False)
