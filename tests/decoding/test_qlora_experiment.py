"""The documented QLoRA example (hugging_face backend, REVE) runs in Experiment.run on CPU
with a locally saved checkpoint: base Linear layers in 4-bit, adapter logged to MLflow."""

from __future__ import annotations

import mlflow
import pytest

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    CheckpointConfig,
    CVConfig,
    DeviceConfig,
    ExperimentConfig,
    LoRAConfig,
    NeuralFineTuneConfig,
    OptimConfig,
    QuantizationConfig,
    TrackingConfig,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS


def test_seed_qlora_example_in_experiment(mi_arrays, tracking_uri, tmp_path, monkeypatch):
    pytest.importorskip("bitsandbytes")
    import bitsandbytes as bnb

    from coco_pipe.foundation import neural
    from coco_pipe.foundation.backbones import build_backbone
    from coco_pipe.foundation.hf import export_to_hf

    X, y, meta, info = mi_arrays
    small = ESTIMATOR_SPECS["reve"].small_kwargs
    bb = build_backbone("reve", weights="random", sfreq=info["sfreq"], ch_names=info["ch_names"],
                        n_channels=X.shape[1], n_times=X.shape[2], model_kwargs=small)
    ckpt = export_to_hf(bb, tmp_path / "reve-local")  # a locally saved transformers checkpoint

    seen_types = []
    original = neural.NeuralDecoder.fit

    def recording_fit(self, *a, **kw):
        out = original(self, *a, **kw)
        seen_types.append([type(m) for n, m in self.network_.backbone.named_modules()
                           if isinstance(m, bnb.nn.Linear4bit)])
        return out

    monkeypatch.setattr(neural.NeuralDecoder, "fit", recording_fit)
    model = NeuralFineTuneConfig(
        backend="hugging_face", model_key="reve", train_mode="qlora",
        lora=LoRAConfig(r=16, alpha=32, dropout=0.05),
        quantization=QuantizationConfig(enabled=True, load_in_4bit=True),
        device=DeviceConfig(device="auto", precision="bf16"),
        checkpoints=CheckpointConfig(save="best"),
        weights=str(ckpt), model_kwargs=small, optim=OptimConfig(epochs=1, batch_size=16),
    )
    cfg = ExperimentConfig(
        models={"reve_qlora": model},
        cv=CVConfig(strategy="group_kfold", n_splits=2, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, log_plots=False),
        chance={"dummy": False}, verbose=False, on_error="raise",
    )
    res = Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
    folds = res.get_fold_runs()
    assert (folds.Status == "FINISHED").all()
    assert seen_types and all(len(t) > 0 for t in seen_types)  # base Linear layers really 4-bit
    arts = res.get_model_artifacts("adapter")
    assert any(k.endswith("adapter_model.safetensors") for k in arts.ArtifactKey)
    run = mlflow.tracking.MlflowClient(tracking_uri).get_run(folds.RunId.iloc[0])
    assert run.data.params["neural.train_mode"] == "qlora"
    assert int(run.data.params["neural.n_4bit_layers"]) > 0
    assert run.data.tags.get("backend") == "hugging_face"
