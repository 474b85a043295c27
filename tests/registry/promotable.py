"""The experiment the registry tests promote from: a model of each kind (classical,
frozen-backbone pipeline, LoRA) on the built-in data, 2 subject-grouped folds."""

from __future__ import annotations

from dataclasses import dataclass

from coco_pipe import Experiment
from coco_pipe.decoding.configs import CVConfig, ExperimentConfig, TrackingConfig
from small_models import CLASSICAL, PROBE, neural

MODELS = {"logreg": CLASSICAL, "probe": PROBE, "lora": neural("lora", epochs=2)}


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
