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
