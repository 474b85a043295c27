"""StrictConfig speaks scikit-learn's parameter protocol: get_params (deep), set_params
(validated, all or nothing) and clone."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    OptimConfig,
)


def _probe() -> FrozenBackboneDecoderConfig:
    return FrozenBackboneDecoderConfig(
        backbone=FoundationEmbeddingModelConfig(model_key="cbramod", weights="random"),
        head=ClassicalModelConfig(estimator="LogisticRegression"),
    )


def test_get_params_lists_nested_fields():
    params = _probe().get_params(deep=True)
    assert params["backbone__model_key"] == "cbramod"
    assert params["head__estimator"] == "LogisticRegression"
    assert "backbone__model_key" not in _probe().get_params(deep=False)


def test_set_params_is_validated_and_all_or_nothing():
    cfg = _probe()
    assert cfg.set_params(backbone__batch_size=8, backbone__pooling="flatten") is cfg
    assert (cfg.backbone.batch_size, cfg.backbone.pooling) == (8, "flatten")
    with pytest.raises(ValueError, match="batch_size"):
        cfg.set_params(backbone__pooling="mean", backbone__batch_size=0)
    assert cfg.backbone.pooling == "flatten"  # nothing of the refused call was applied
    with pytest.raises(ValueError, match="invalid parameter 'bogus' for OptimConfig; valid"):
        OptimConfig().set_params(bogus=1)
    with pytest.raises(ValueError, match="not a config; it has no nested parameters"):
        OptimConfig().set_params(lr__x=1)


def test_clone_is_an_independent_copy():
    cfg = _probe()
    twin = clone(cfg)
    assert twin == cfg and twin is not cfg and twin.backbone is not cfg.backbone
    twin.set_params(backbone__batch_size=4)
    assert cfg.backbone.batch_size == 32
