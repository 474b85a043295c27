"""The experiment the registry tests promote from: a model of each kind (classical,
frozen-backbone pipeline, LoRA) on the built-in data, 2 subject-grouped folds."""

from __future__ import annotations

from dataclasses import dataclass

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    NeuralFineTuneConfig,
    TrackingConfig,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

SMALL = ESTIMATOR_SPECS["cbramod"].small_kwargs
MODELS = {
    "logreg": ClassicalModelConfig(estimator="LogisticRegression"),
    "probe": FrozenBackboneDecoderConfig(
        backbone=FoundationEmbeddingModelConfig(model_key="cbramod", weights="random", model_kwargs=SMALL),
        head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 500}),
    ),
    "lora": NeuralFineTuneConfig(
        model_key="cbramod", weights="random", train_mode="lora", model_kwargs=SMALL,
        optim={"epochs": 2, "batch_size": 16}, early_stopping_patience=None,
    ),
}


@dataclass
class Promotable:
    uri: str
    result: object
    X: object
    y: object
    meta: object
    info: dict


def run_experiment(uri, mi_arrays, models, name="promote", **tracking):
    X, y, meta, info = mi_arrays
    cfg = ExperimentConfig(
        models=models, cv=CVConfig(strategy="group_kfold", n_splits=2, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=uri, experiment_name=name, log_plots=False, **tracking),
        chance={"dummy": False}, verbose=False, on_error="raise",
    )  # fmt: skip
    return Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])


def fold_predictions(result, model: str, fold: int):
    """The fold's logged test predictions, in sample order."""
    preds = result.get_predictions()
    return preds[(preds.Model == model) & (preds.Fold == fold)].sort_values("SampleIndex")
