"""The BASELINES table: every entry registered for its tasks, every parameter
addressable from ClassicalModelConfig.params."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from coco_pipe.decoding.baselines import BASELINES
from coco_pipe.decoding.builders import build_estimator
from coco_pipe.decoding.configs import ClassicalModelConfig
from coco_pipe.decoding.registry import classical_names, get_classical

SFREQ = 100.0


def test_baselines_are_registered_for_their_tasks():
    names = classical_names()
    for name in ["CSP_LDA", "TangentSpace_LR", "FBCSP", "BandPower_LR", "BandPower_Ridge",
                 "FilterBankTS_LR", "SSVEP_CCA", "XdawnTS_LR"]:  # fmt: skip
        assert name in names
        assert get_classical(name).consumes_epochs
    assert get_classical("BandPower_Ridge").tasks == ("regression",)
    assert get_classical("CSP_LDA").tasks == ("classification",)
    for name in ["FilterBankTS_LR", "SSVEP_CCA", "XdawnTS_LR"]:
        assert get_classical(name).tasks == ("classification",)


def test_the_registry_holds_the_table_as_it_is():
    for name, cls, tasks, description in BASELINES:
        entry = get_classical(name)
        assert entry.factory is cls
        assert entry.tasks == tasks
        assert entry.description == description and description
    assert len({name for name, *_ in BASELINES}) == len(BASELINES)


@pytest.mark.parametrize(
    "name, params",
    [
        ("CSP_LDA", {"n_components": 6, "reg": "ledoit_wolf", "shrinkage": None, "l_freq": 7.0}),
        ("TangentSpace_LR", {"cov_estimator": "lwf", "metric": "logeuclid", "C": 0.5}),
        ("FBCSP", {"bands": [[8, 12], [12, 16]], "k_best": 4, "selection": "anova"}),
        ("BandPower_LR", {"bands": [[8, 13], [13, 30]], "C": 2.0}),
        ("FilterBankTS_LR", {"bands": [[12.5, 13.5], [16.5, 17.5]], "order": 2,
                             "padding": "odd", "ar_order": 16, "cov_estimator": "lwf",
                             "metric": "logeuclid", "C": 0.5, "max_iter": 200}),
        ("SSVEP_CCA", {"freqs": {"rest": None, "13": 13.0}, "n_harmonics": 2,
                       "rest_threshold": 0.3}),
        ("XdawnTS_LR", {"nfilter": 2, "cov_estimator": "lwf", "xdawn_estimator": "oas",
                        "metric": "logeuclid", "C": 0.1, "l_freq": 1.0, "h_freq": 20.0}),
    ],
)  # fmt: skip
def test_every_param_is_addressable_from_the_config(name, params):
    cfg = ClassicalModelConfig(estimator=name, params={**params, "sfreq": SFREQ})
    est = build_estimator(cfg)
    # consumes epochs: the baseline itself, not wrapped in the vectorizing pipeline
    assert type(est) is get_classical(name).factory
    got = est.get_params(deep=False)
    for key, value in params.items():
        assert got[key] == value
    # flat and clonable: a clone carries the same params
    assert clone(est).get_params(deep=False) == got


@pytest.mark.parametrize(
    "name, typo, hint",
    [("CSP_LDA", "n_component", "n_components"), ("FilterBankTS_LR", "band", "bands"),
     ("SSVEP_CCA", "n_harmonic", "n_harmonics"), ("XdawnTS_LR", "nfilters", "nfilter")],
)  # fmt: skip
def test_unknown_param_is_rejected_with_a_hint(name, typo, hint):
    with pytest.raises(ValueError, match=f"did you mean {hint}"):
        ClassicalModelConfig(estimator=name, params={typo: 4})


def test_ssvep_and_erp_baselines_run_by_name_in_an_experiment(ssvep_data, tracking_uri):
    """Through the config: sfreq comes from the data, check_data_info runs before any
    fold, the scores land in the summary."""
    import pandas as pd
    from baseline_data import SSVEP_BANDS, SSVEP_FREQS, SSVEP_SFREQ, chance_bound

    from coco_pipe.decoding import Experiment
    from coco_pipe.decoding.configs import CVConfig, ExperimentConfig, TrackingConfig

    X, y, subject = ssvep_data
    models = {
        "fb_ts": ClassicalModelConfig(estimator="FilterBankTS_LR", params={"bands": SSVEP_BANDS}),
        "cca": ClassicalModelConfig(estimator="SSVEP_CCA", params={"freqs": SSVEP_FREQS}),
        "xdawn": ClassicalModelConfig(estimator="XdawnTS_LR", params={"nfilter": 2}),
    }

    def config(**models):
        return ExperimentConfig(
            task="classification",
            models=models,
            cv=CVConfig(strategy="stratified", n_splits=3),
            tracking=TrackingConfig(tracking_uri=tracking_uri, experiment_name="ssvep"),
            verbose=False,
            on_error="raise",
        )

    meta = pd.DataFrame({"Subject": subject})
    summary = Experiment(config(**models)).run(X, y, meta, sfreq=SSVEP_SFREQ).summary()
    score = summary[summary.Metric == "balanced_accuracy"].set_index("Model")["Mean"]
    for model in ["fb_ts", "cca"]:
        # each fold tests len(y) / 3 windows; guessing stays below this with p < 1e-4
        assert score[model] > chance_bound(len(y) // 3, 4), (model, score)
    assert "xdawn" in score.index
    # the same windows said to be sampled at 100 Hz: CCA's top harmonic (63 Hz) is above
    # Nyquist, refused before any fold runs
    with pytest.raises(ValueError, match="harmonic 3 of 21 Hz is 63 Hz.*Nyquist=50"):
        Experiment(config(cca=models["cca"])).run(X, y, meta, sfreq=100.0)
