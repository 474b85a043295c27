"""Small model configs of each kind (classical, frozen-backbone pipeline, LoRA / frozen neural
on a small random-init CBraMod) shared by the logged-model and registry tests."""

from __future__ import annotations

from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    NeuralFineTuneConfig,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

SMALL = ESTIMATOR_SPECS["cbramod"].small_kwargs
CLASSICAL = ClassicalModelConfig(estimator="LogisticRegression")
PROBE = FrozenBackboneDecoderConfig(
    backbone=FoundationEmbeddingModelConfig(model_key="cbramod", weights="random", model_kwargs=SMALL),
    head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 500}),
)


def neural(train_mode: str, epochs: int = 1, **extra) -> NeuralFineTuneConfig:
    """A small random-init CBraMod trained with ``train_mode`` for ``epochs``."""
    return NeuralFineTuneConfig(
        model_key="cbramod", weights="random", train_mode=train_mode, model_kwargs=SMALL,
        optim={"epochs": epochs, "batch_size": 16}, early_stopping_patience=None, **extra,
    )  # fmt: skip
