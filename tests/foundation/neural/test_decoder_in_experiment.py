"""NeuralDecoder inside Experiment.run: the four train modes end to end on CPU, per-epoch metrics and artifacts in MLflow, a fold's adapter reloading onto a fresh
backbone with that fold's predictions, and a diverging model recorded as failed."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from coco_pipe import Experiment  # noqa: E402
from coco_pipe.decoding.configs import (  # noqa: E402
    ChanceConfig,
    CVConfig,
    ExperimentConfig,
    NeuralFineTuneConfig,
    OptimConfig,
    QuantizationConfig,
    TrackingConfig,
)
from coco_pipe.foundation.neural import NeuralDecoder  # noqa: E402
from coco_pipe.foundation.specs import ESTIMATOR_SPECS  # noqa: E402

CHS = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "Pz"]
SFREQ = 200.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _neural(mode: str, **kw) -> NeuralFineTuneConfig:
    base = dict(
        model_key="cbramod", weights="random", train_mode=mode,
        model_kwargs=ESTIMATOR_SPECS["cbramod"].small_kwargs,
        optim=OptimConfig(epochs=2, batch_size=16),
        quantization=QuantizationConfig(enabled=mode == "qlora", compute_dtype="float32"),
    )  # fmt: skip
    return NeuralFineTuneConfig(**{**base, **kw})


def test_all_train_modes_in_experiment(tracking_uri):
    from coco_pipe.datasets import make_motor_imagery

    X, y, meta, _ = make_motor_imagery(n_subjects=4, n_epochs_per_class=4, sfreq=SFREQ, tmax=2.0,
                                       ch_names=CHS, random_state=0, return_epochs=False)  # fmt: skip
    models = {f"cbramod_{m}": _neural(m) for m in ("frozen", "full", "lora", "qlora")}
    models["diverges"] = _neural("full", optim=OptimConfig(epochs=2, batch_size=16, lr=1e30, grad_clip=None),
                                 divergence_patience=1)  # fmt: skip
    cfg = ExperimentConfig(
        task="classification", models=models,
        cv=CVConfig(strategy="group_kfold", n_splits=2, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="neural"),
        verbose=False, on_error="continue", chance=ChanceConfig(dummy=False),
    )  # fmt: skip
    result = Experiment(cfg).run(X, y, meta, sfreq=SFREQ, ch_names=CHS)

    runs = result.get_fold_runs()
    status = runs.groupby("Model")["Status"].agg(set)
    for name in models:
        expected = {"FAILED"} if name == "diverges" else {"FINISHED"}
        assert status[name] == expected, (name, status[name], runs["Failure"].tolist())
    assert runs.loc[runs["Model"] == "diverges", "Failure"].str.contains("diverged").all()

    hist = result.get_model_artifacts(artifact_type="training_history")
    assert set(hist["Model"]) >= set(models) - {"diverges"}
    ckpt = result.get_model_artifacts(artifact_type="checkpoints")
    assert {"cbramod_frozen", "cbramod_full"} == set(ckpt["Model"])
    adapters = result.get_model_artifacts(artifact_type="adapter")
    assert {"cbramod_lora", "cbramod_qlora"} == set(adapters["Model"])

    # per-epoch metrics with step
    client = mlflow.tracking.MlflowClient(tracking_uri)
    run_id = runs[(runs["Model"] == "cbramod_lora")].iloc[0]["RunId"]
    assert [m.step for m in client.get_metric_history(run_id, "train_loss")] == [1, 2]
    run = client.get_run(run_id)
    assert run.data.tags["weights"] == "random-init"
    assert run.data.params["neural.train_mode"] == "lora"
    assert 0 < run.data.metrics["trainable_fraction"] < 1

    # the adapter of one fold reloads onto a fresh backbone and gives that fold's predictions
    row = adapters[(adapters["Model"] == "cbramod_lora")].sort_values("Fold").iloc[0]
    key = row["ArtifactKey"]
    folder_key = "/".join(key.split("/")[:2])
    folder_uri = row["ArtifactValue"][: len(row["ArtifactValue"]) - len(key)] + folder_key
    local = mlflow.artifacts.download_artifacts(artifact_uri=folder_uri, tracking_uri=tracking_uri)
    loaded = NeuralDecoder.load(local)
    preds = result.get_predictions()
    fold = preds[(preds["Model"] == "cbramod_lora") & (preds["Fold"] == row["Fold"])]
    idx = fold["SampleIndex"].to_numpy()
    np.testing.assert_array_equal(loaded.predict(X[idx]), fold["y_pred"].to_numpy())
    proba_cols = [f"proba_{c}" for c in loaded.classes_]
    np.testing.assert_allclose(
        loaded.predict_proba(X[idx]), fold[proba_cols].to_numpy(), rtol=0, atol=1e-12
    )

    diag = result.get_model_artifacts(artifact_type="diagnostics")
    assert "diverges" in set(diag["Model"])


def test_fine_tuning_small_backbone_beats_chance_on_built_in_data(tracking_uri):
    """Seeded: a small random-init CBraMod, fully fine-tuned inside each outer fold, decodes
    the built-in data's planted left/right-hand effect on subjects it never saw. The default
    head pooling keeps one feature block per channel (flatten), which a lateralised effect
    needs; a head on frozen random features of the same backbone does worse."""
    from coco_pipe.datasets import load_default

    X, y, meta, info = load_default("arrays")
    optim = OptimConfig(epochs=8, batch_size=16, lr=1e-3, warmup_epochs=1)
    models = {m: _neural(m, optim=optim, quantization=QuantizationConfig(enabled=False), seed=0)
              for m in ("full", "frozen")}  # fmt: skip
    cfg = ExperimentConfig(
        task="classification", models=models, metrics=["balanced_accuracy"],
        cv=CVConfig(strategy="group_kfold", n_splits=3, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="finetune-beats-chance"),
        verbose=False, on_error="raise", chance=ChanceConfig(dummy=False),
    )  # fmt: skip
    result = Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])

    scores = result.get_detailed_scores()
    ba = scores[scores["Metric"] == "balanced_accuracy"].pivot(index="Fold", columns="Model", values="Value")
    assert len(ba) == 3
    # 120 held-out windows per fold: chance-level balanced accuracy stays below 0.62 with p < 0.01
    assert (ba["full"] > 0.62).all(), ba
    assert ba["full"].mean() > 0.8, ba
    assert ba["full"].mean() > ba["frozen"].mean(), ba

    runs = result.get_fold_runs()
    client = mlflow.tracking.MlflowClient(tracking_uri)
    run = client.get_run(runs[runs["Model"] == "full"].iloc[0]["RunId"])
    assert run.data.tags["weights"] == "random-init"
    cards = result.get_model_artifacts(artifact_type="model_card")
    card_uri = cards[cards["Model"] == "full"].iloc[0]["ArtifactValue"]
    card = mlflow.artifacts.load_dict(card_uri)
    assert card["pooling"] == "flatten" and card["train_mode"] == "full"
