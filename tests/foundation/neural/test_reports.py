"""What a fitted NeuralDecoder reports: the fold's FoldReport (per-epoch metrics, history,
learning curves, model card, checkpoint or adapter folder), model cards of the train modes
and the diagnostics of a diverging run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from neural_helpers import CHS, SCRATCH_CHS, SCRATCH_SFREQ, SFREQ, cbramod_cfg, decoder, scratch_cfg

from coco_pipe.foundation.specs import ESTIMATOR_SPECS


@pytest.mark.parametrize("mode", ["frozen", "full", "lora", "qlora"])
def test_tracking_report_of_each_train_mode(fitted_cbramod, mode, tmp_path):
    est = fitted_cbramod(mode)
    hist = est.get_training_history()
    report = est.tracking_report(tmp_path)
    assert not report.failed
    kinds = {k for k, _ in report.artifacts}
    weights_kind = "adapter" if mode in ("lora", "qlora") else "checkpoints"
    assert {"training_history", "plots", "model_card", weights_kind} <= kinds
    assert report.tags["weights"] == "random-init"
    assert report.params["neural.train_mode"] == mode
    assert report.params["adapt.sfreq"] == SFREQ
    assert ("train_loss", hist[1]["train_loss"], 2) in report.step_metrics
    folder = dict(report.artifacts)[weights_kind]
    if weights_kind == "adapter":
        assert (folder / "adapter_config.json").exists() and (
            folder / "adapter_model.safetensors"
        ).exists()
    else:
        assert any(p.suffix == ".safetensors" for p in folder.iterdir())
    manifest = json.loads((folder / "checkpoint_manifest.json").read_text())
    assert manifest["best_epoch"] in (1, 2) and manifest["policy"] == "best"


def test_model_card_trainable_fractions(fitted_cbramod):
    cards = {m: fitted_cbramod(m).get_model_card_info() for m in ("frozen", "full", "lora", "qlora")}
    assert cards["full"]["trainable_fraction"] == pytest.approx(1.0)
    assert 0 < cards["frozen"]["trainable_fraction"] < cards["lora"]["trainable_fraction"] < 1.0
    assert cards["lora"]["trainable_params"] == cards["qlora"]["trainable_params"]
    # frozen trains exactly the linear head on the flattened tokens (the default pooling):
    # one emb_dim block per channel and 1 s patch (8 channels x 2 patches), 2 outputs + bias
    assert cards["frozen"]["pooling"] == "flatten"
    n_features = ESTIMATOR_SPECS["cbramod"].emb_dim * len(CHS) * 2
    assert cards["frozen"]["trainable_params"] == n_features * 2 + 2
    assert cards["lora"]["lora"]["layers"]


def test_scratch_report_names_random_init_and_amplitude_scale(planted, tmp_path):
    X, y, tr, _ = planted
    est = decoder(scratch_cfg("eegnet", epochs=1), sfreq=SCRATCH_SFREQ, ch_names=SCRATCH_CHS,
                  random_state=0, quiet=True).fit(X[tr], y[tr])  # fmt: skip
    report = est.tracking_report(tmp_path)
    assert report.tags["weights"] == "random-init"
    assert report.params["adapt.amplitude_scale"] == 1e6  # volts -> microvolts
    assert "checkpoints" in dict(report.artifacts)


def test_nan_in_training_data_gives_failure_diagnostics_not_a_crash(cbramod_data, tmp_path):
    X, y, _ = cbramod_data
    Xn = X[:32].copy()
    Xn[::2] = np.nan  # half the windows
    est = decoder(cbramod_cfg("full", divergence_patience=2), sfreq=SFREQ, ch_names=CHS, quiet=True)
    est.fit(Xn, y[:32])  # must not raise
    assert est.failed_
    diag = est.get_failure_diagnostics()
    assert diag["failed"] and "diverged" in diag["failure_reason"]
    assert diag["input_nonfinite_windows"] == 16
    assert diag["first_nonfinite"]["step"] >= 1
    assert diag["nonfinite_events"]
    with pytest.raises(RuntimeError, match="training of this NeuralDecoder failed"):
        est.predict(X[:4])
    report = est.tracking_report(tmp_path)
    assert report.failed and "diverged" in report.failure_reason
    kinds = {k for k, _ in report.artifacts}
    assert "diagnostics" in kinds and "checkpoints" not in kinds


def test_report_logs_the_backbones_load_report_licence_and_amplitude(fitted_cbramod, tmp_path):
    est = fitted_cbramod("frozen")
    report = est.tracking_report(tmp_path)
    loaded = json.loads(dict(report.artifacts)["weights"].read_text())
    n = len(est.network_.backbone.model.state_dict())
    assert loaded["layout"] == "random-init" and loaded["n_fresh"] == n and loaded["seed"] == 0
    assert report.params["weights.n_loaded"] == 0 and report.params["weights.n_fresh"] == n
    assert report.tags["backbone.license"] == "MIT" and report.tags["data.amplitude"] == "plausible"
    card = est.get_model_card_info()
    assert card["license"] == "MIT"
    assert card["weights_load"] == {"layout": "random-init", "n_loaded": 0, "n_fresh": n,
                                    "n_ignored": 0, "seed": 0}  # fmt: skip


def test_partial_checkpoint_is_refused_unless_allowed(cbramod_data, tmp_path):
    from safetensors.torch import save_file

    from coco_pipe.foundation.weights import PartialWeightsError

    X, y, _ = cbramod_data
    est = decoder(cbramod_cfg("frozen"), sfreq=SFREQ, ch_names=CHS, random_state=0, quiet=True)
    state = est.fit(X, y).network_.backbone.model.state_dict()
    dropped = sorted(k for k in state if k.startswith("encoder.layers.0.linear1."))
    assert len(dropped) == 2
    path = tmp_path / "partial.safetensors"
    save_file({k: v.contiguous() for k, v in state.items() if k not in dropped}, str(path))
    with pytest.raises(PartialWeightsError, match=r"encoder\.layers\.0\.linear1\.bias"):
        decoder(cbramod_cfg("frozen", weights=str(path)), sfreq=SFREQ, ch_names=CHS,
                random_state=0, quiet=True).fit(X, y)  # fmt: skip
    ok = decoder(cbramod_cfg("frozen", weights=str(path), allow_partial_weights=True),
                 sfreq=SFREQ, ch_names=CHS, random_state=0, quiet=True).fit(X, y)  # fmt: skip
    report = ok.tracking_report(tmp_path / "fold")
    assert report.params["weights.n_fresh"] == 2
    assert sorted(json.loads(dict(report.artifacts)["weights"].read_text())["fresh"]) == dropped
