"""One experiment with a frozen backbone, a fine-tuned backbone, two classical BCI
pipelines and a specialist net from scratch: all listed in the summary with the chance
level and the pairwise test."""

from __future__ import annotations

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


def test_mixed_models_summary_with_chance_and_tests(mi_arrays, tracking_uri):
    X, y, meta, info = mi_arrays
    small = ESTIMATOR_SPECS["cbramod"].small_kwargs
    cfg = ExperimentConfig(
        models={
            "cbramod_probe": FrozenBackboneDecoderConfig(
                backbone=FoundationEmbeddingModelConfig(model_key="cbramod", weights="random", model_kwargs=small),
                head=ClassicalModelConfig(estimator="LogisticRegression", params={"max_iter": 300}),
            ),
            "cbramod_lora": NeuralFineTuneConfig(
                model_key="cbramod", weights="random", train_mode="lora", model_kwargs=small,
                optim={"epochs": 2, "batch_size": 16}, early_stopping_patience=None,
            ),
            "csp_lda": ClassicalModelConfig(estimator="CSP_LDA"),
            "tangent_space": ClassicalModelConfig(estimator="TangentSpace_LR"),
            "eegnet": NeuralFineTuneConfig(model_key="eegnet", weights="random", train_mode="full",
                                           optim={"epochs": 3, "batch_size": 16}),
        },
        cv=CVConfig(strategy="group_kfold", n_splits=5, group_key="Subject"),
        tracking=TrackingConfig(tracking_uri=tracking_uri),
        chance={"dummy": True, "n_permutations": 5},
        verbose=False, on_error="raise",
    )
    res = Experiment(cfg).run(X, y, meta, sfreq=info["sfreq"], ch_names=info["ch_names"])
    summary = res.summary()
    main = summary[summary.Metric == "balanced_accuracy"].set_index("Model")
    assert set(main.index) == {"cbramod_probe", "cbramod_lora", "csp_lda", "tangent_space", "eegnet", "chance"}
    assert (main["Chance"] == main.loc["chance", "Mean"]).all()
    assert main.loc["csp_lda", "Mean"] > 0.7 and main.loc["tangent_space", "Mean"] > 0.7
    assert {"p_vs_best", "differs_from_best", "Rank", "permutation_p"} <= set(summary.columns)
    pairwise = res.get_pairwise_tests()
    assert len(pairwise) == 6 * 5 // 2  # every pair of the six models
    assert pairwise.p_value.between(0, 1).all()
    # the best classical pipeline beats chance beyond fold-to-fold noise
    best = main["Mean"].idxmax()
    assert bool(main.loc["chance", "differs_from_best"]) and best != "chance"
    plots = res.get_parent_artifacts("plots")
    assert any("confusion_csp_lda" in k for k in plots.ArtifactKey)
