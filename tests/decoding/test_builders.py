"""build_estimator: each config kind becomes its estimator; 3-D input is vectorized for
scikit-learn estimators and left alone for estimators that consume epochs."""

from __future__ import annotations

import numpy as np
import pytest
from mne.decoding import Vectorizer
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from coco_pipe.data import validate_inputs
from coco_pipe.decoding.builders import (
    build_classical,
    build_estimator,
    check_data_info,
    fit_estimator,
    iter_steps,
)
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    NeuralFineTuneConfig,
)

CHS = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "Pz"]


@pytest.fixture(scope="module")
def epochs_data():
    rng = np.random.default_rng(0)
    y = np.tile([0, 1], 20)
    return validate_inputs(rng.normal(size=(40, len(CHS), 200)) * 1e-5, y, sfreq=100.0, ch_names=CHS)


def test_classical_on_3d_is_a_vectorizing_pipeline(epochs_data):
    est = build_estimator(ClassicalModelConfig(estimator="LogisticRegression", params={"C": 0.3}),
                          epochs_data.info, random_state=7)  # fmt: skip
    assert isinstance(est, Pipeline)
    assert [name for name, _ in est.steps] == ["vectorize", "scale", "estimator"]
    assert isinstance(est.steps[0][1], Vectorizer) and isinstance(est.steps[1][1], StandardScaler)
    lr = est.steps[-1][1]
    assert isinstance(lr, LogisticRegression) and (lr.C, lr.random_state) == (0.3, 7)
    est.fit(epochs_data.X, epochs_data.y)
    assert est.predict(epochs_data.X).shape == (40,)


def test_classical_on_2d_and_without_scaling():
    info = validate_inputs(np.random.rand(10, 3), np.tile([0, 1], 5)).info
    est = build_estimator(ClassicalModelConfig(estimator="SVC"), info)
    assert [name for name, _ in est.steps] == ["scale", "estimator"]
    bare = build_estimator(ClassicalModelConfig(estimator="SVC", scale=False), info)
    assert type(bare).__name__ == "SVC"
    seeded = build_estimator(ClassicalModelConfig(estimator="LogisticRegression",
                                                  params={"random_state": 5}), info, 7)  # fmt: skip
    assert seeded.steps[-1][1].random_state == 5  # a seed given in params wins


def test_estimators_that_consume_epochs_are_not_wrapped(epochs_data):
    est = build_estimator(ClassicalModelConfig(estimator="CSP_LDA"), epochs_data.info)
    assert not isinstance(est, Pipeline) and type(est).__name__ == "CSPLDA"
    assert est.get_params()["sfreq"] == 100.0  # taken from the data
    est.fit(epochs_data.X, epochs_data.y)
    assert set(est.predict(epochs_data.X)) <= {0, 1}
    given = build_estimator(ClassicalModelConfig(estimator="CSP_LDA", params={"sfreq": 50.0}),
                            epochs_data.info)  # fmt: skip
    assert given.get_params()["sfreq"] == 50.0
    flat = validate_inputs(np.random.rand(10, 3), np.tile([0, 1], 5)).info
    with pytest.raises(ValueError, match=r"'CSP_LDA' needs 3-D epochs .* X is 2-D"):
        build_estimator(ClassicalModelConfig(estimator="CSP_LDA"), flat)


def test_task_mismatch_is_an_error(epochs_data):
    with pytest.raises(ValueError, match=r"'Ridge' is for regression, but task='classification'"):
        build_classical(ClassicalModelConfig(estimator="Ridge"), epochs_data.info)
    with pytest.raises(ValueError, match=r"'BandPower_Ridge' is for regression"):
        build_estimator(ClassicalModelConfig(estimator="BandPower_Ridge"), epochs_data.info)
    assert isinstance(build_estimator(ClassicalModelConfig(estimator="Ridge"), None).steps[-1][1], Ridge)


def test_frozen_backbone_is_an_embedder_then_the_head(epochs_data):
    from coco_pipe.foundation.embedder import BackboneEmbedder

    cfg = FrozenBackboneDecoderConfig(
        backbone=FoundationEmbeddingModelConfig(model_key="cbramod", weights="random"),
        head=ClassicalModelConfig(estimator="LogisticRegression"),
    )
    est = build_estimator(cfg, epochs_data.info, random_state=3)
    assert [name for name, _ in est.steps] == ["embed", "scale", "estimator"]  # no vectorizer
    embed = est.steps[0][1]
    assert isinstance(embed, BackboneEmbedder) and embed.model_key == "cbramod"
    assert embed.sfreq == 100.0 and tuple(embed.ch_names) == tuple(CHS)
    assert est.steps[-1][1].random_state == 3
    bare = cfg.model_copy(update={"head": ClassicalModelConfig(estimator="LogisticRegression", scale=False)})
    assert [name for name, _ in build_estimator(bare, epochs_data.info).steps] == ["embed", "estimator"]
    assert isinstance(clone(est), Pipeline)


def test_neural_is_a_neural_decoder(epochs_data):
    from coco_pipe.foundation.neural import NeuralDecoder

    est = build_estimator(NeuralFineTuneConfig(model_key="eegnet", weights="random", train_mode="full"),
                          epochs_data.info, random_state=0)  # fmt: skip
    assert isinstance(est, NeuralDecoder) and isinstance(clone(est), NeuralDecoder)


def test_unknown_kind_is_an_error():
    class Odd:
        kind = "bogus"

    with pytest.raises(ValueError, match="unknown model config kind 'bogus'"):
        build_estimator(Odd())


class _Hooked(ClassifierMixin, BaseEstimator):
    def __init__(self, max_channels=4):
        self.max_channels = max_channels

    def check_data_info(self, info):
        if info.n_channels > self.max_channels:
            raise ValueError(f"at most {self.max_channels} channels, got {info.n_channels}")

    def fit(self, X, y, groups=None):
        self.groups_ = groups
        self.classes_ = np.unique(y)
        return self


def test_hooks_reach_every_step_and_groups_the_final_one(epochs_data):
    pipe = Pipeline([("vec", Vectorizer()), ("inner", Pipeline([("hook", _Hooked(2))]))])
    assert [type(s).__name__ for s in iter_steps(pipe)] == ["Vectorizer", "_Hooked"]
    with pytest.raises(ValueError, match="at most 2 channels, got 8"):
        check_data_info(pipe, epochs_data.info)
    check_data_info(_Hooked(8), epochs_data.info)
    groups = np.repeat(["a", "b"], 20)
    est = Pipeline([("vec", Vectorizer()), ("clf", _Hooked())])
    fit_estimator(est, epochs_data.X, epochs_data.y, groups)
    assert list(est.steps[-1][1].groups_) == list(groups)
    plain = fit_estimator(Pipeline([("vec", Vectorizer()), ("clf", LogisticRegression())]),
                          epochs_data.X, epochs_data.y, groups)  # fmt: skip (fit takes no groups)
    assert plain.predict(epochs_data.X).shape == (40,)
