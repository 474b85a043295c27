"""Foundation backbones inside Experiment.run: all eight models in a 5-fold subject-grouped
CV on 250 Hz 10-20 epochs; the cache counter across folds, heads and runs; weight records."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest

from coco_pipe import Experiment
from coco_pipe.decoding.configs import (
    ClassicalModelConfig,
    CVConfig,
    ExperimentConfig,
    FoundationEmbeddingModelConfig,
    FrozenBackboneDecoderConfig,
    TrackingConfig,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS


@pytest.fixture(scope="module")
def short_epochs():
    """19-channel 10-20 epochs recorded at 250 Hz (so every model resamples), 5 subjects."""
    from coco_pipe.datasets import make_motor_imagery

    return make_motor_imagery(n_subjects=5, n_epochs_per_class=4, sfreq=250.0, tmax=4.0,
                              random_state=3, return_epochs=False)


def _probe(key: str, **kw) -> FrozenBackboneDecoderConfig:
    spec = ESTIMATOR_SPECS[key]
    return FrozenBackboneDecoderConfig(
        backbone=FoundationEmbeddingModelConfig(model_key=key, weights="random", model_kwargs=spec.small_kwargs,
                                                batch_size=16, **kw),
        head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 200}),
    )


def test_all_eight_models_embed_in_grouped_cv(short_epochs, tracking_uri):
    X, y, meta, info = short_epochs
    assert len(ESTIMATOR_SPECS) == 8
    cfg = ExperimentConfig(
        models={key: _probe(key) for key in ESTIMATOR_SPECS},
        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri, log_plots=False),
        chance={"dummy": False}, verbose=False, on_error="raise",
    )
    with pytest.warns(UserWarning, match="(?i)random"):
        res = Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
    folds = res.get_fold_runs()
    assert len(folds) == 8 * 5 and (folds.Status == "FINISHED").all()
    client = mlflow.tracking.MlflowClient(tracking_uri)
    for _, row in folds.iterrows():
        run = client.get_run(row.RunId)
        assert run.data.tags["weights"] == "random-init"  # weights are named, never passed off as pretrained
        spec = ESTIMATOR_SPECS[row.Model]
        sfreq_params = [v for k, v in run.data.params.items() if k.startswith("adapt.") and "sfreq" in k]
        assert any(float(v) == spec.sfreq for v in sfreq_params), run.data.params
    assert len(res.get_predictions()) == 8 * len(y)


def test_cache_counter_once_per_window_then_zero(short_epochs, tracking_uri, tmp_path, forward_counter):
    """5 folds x 2 heads on one backbone: cold runs the backbone once per unique window,
    warm zero times; without the cache once per window per fold per head."""
    X, y, meta, info = short_epochs

    def cfg(cache: bool):
        spec = ESTIMATOR_SPECS["cbramod"]
        backbone = FoundationEmbeddingModelConfig(model_key="cbramod", weights="random", model_kwargs=spec.small_kwargs,
                                                  cache_embeddings=cache, cache_dir=str(tmp_path / "cache"))
        return ExperimentConfig(
            models={
                "lr": FrozenBackboneDecoderConfig(backbone=backbone, head=ClassicalModelConfig(estimator="LogisticRegression")),
                "lda": FrozenBackboneDecoderConfig(backbone=backbone, head=ClassicalModelConfig(estimator="LDA")),
            },
            cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
            tracking=TrackingConfig(tracking_uri=tracking_uri, log_plots=False),
            chance={"dummy": False}, verbose=False, on_error="raise",
        )

    def forwarded(config):
        before = forward_counter.total()
        res = Experiment(config).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
        return forward_counter.total() - before, res

    n = len(y)
    cold, res_cold = forwarded(cfg(True))
    warm, res_warm = forwarded(cfg(True))
    off, res_off = forwarded(cfg(False))
    assert cold == n
    assert warm == 0
    assert off == 5 * 2 * n  # each fold embeds its train + test partitions (n windows), per head
    # identical scores cold vs warm (cache hits are bit-identical)
    a = res_cold.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).Value.to_numpy()
    b = res_warm.get_detailed_scores().sort_values(["Model", "Fold", "Metric"]).Value.to_numpy()
    np.testing.assert_array_equal(a, b)
    client = mlflow.tracking.MlflowClient(tracking_uri)
    run = client.get_run(res_warm.get_fold_runs().RunId.iloc[0])
    assert run.data.metrics["cache.hits"] > 0 and run.data.metrics["cache.misses"] == 0
    # the parent holds the manifest and the embeddings used, re-analysable from the store alone
    keys = set(res_warm.get_parent_artifacts("cache").ArtifactKey)
    assert "cache/cache_manifest.json" in keys
    npz = next(k for k in keys if k.endswith(".npz"))
    stored = np.load(res_warm.download_artifact(res_warm.run_id, npz))
    assert stored["embeddings"].shape[0] == n
    manifest = json.loads(res_warm.download_artifact(res_warm.run_id, "cache/cache_manifest.json").read_text())
    fp = run.data.params["backbone.fingerprint"]
    assert manifest[fp]["total_entries"] == n
