"""DataConfig: where the command line gets its data, and the unit of its amplitudes."""

from __future__ import annotations

import pytest

from coco_pipe.decoding.configs import DataConfig, ExperimentConfig


def test_unit_defaults_to_volts_and_takes_the_usual_spellings():
    assert DataConfig().unit == "V"
    assert DataConfig(unit="µV").unit == "uV" and DataConfig(unit="mV").unit == "mV"
    with pytest.raises(ValueError, match="unit='microvolts' is not a known amplitude unit"):
        DataConfig(unit="microvolts")
    cfg = ExperimentConfig.model_validate(
        {"models": {"lr": {"estimator": "LogisticRegression"}}, "data": {"unit": "uV"}}
    )
    assert cfg.data.unit == "uV"
