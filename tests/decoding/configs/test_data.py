"""DataConfig: the real-data sources and what each needs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from coco_pipe.decoding.configs import DataConfig, ExperimentConfig


def test_raw_source_round_trips_through_yaml(tmp_path):
    cfg = DataConfig(source="raw", path="data/raw", raw={"events": "{stem}-eve.fif"},
                     epoching={"tmin": 2.0, "tmax": 4.0, "l_freq": 1.0, "h_freq": 45.0,
                               "unit": "mV", "event_id": {"rest": 1}})
    exp = ExperimentConfig(models={"m": {"estimator": "LogisticRegression"}}, data=cfg)
    exp.to_yaml(tmp_path / "c.yaml")
    again = ExperimentConfig.from_yaml(tmp_path / "c.yaml")
    assert again.data == cfg and again.data.epoching.unit == "mV"


@pytest.mark.parametrize("kwargs, message", [
    ({"source": "raw", "path": "x", "epoching": {"tmin": 0.0}}, "needs data.epoching.tmax"),
    ({"source": "bids"}, "data.path is required"),
    ({"source": "moabb"}, "needs a data.moabb section"),
    ({"source": "raw", "path": "x", "epoching": {"tmax": 1.0},
      "moabb": {"dataset": "A", "paradigm": "B"}}, "data.moabb is only used with"),
    ({"source": "moabb", "moabb": {"dataset": "Kalunga2016", "paradigm": "SSVEP"},
      "epoching": {"l_freq": 1.0}}, "epoching.l_freq does not apply to source='moabb'"),
    ({"source": "raw", "path": "x", "epoching": {"tmin": 2.0, "tmax": 1.0}}, "must be larger"),
    ({"source": "raw", "path": "x", "epoching": {"tmax": 1.0, "l_freq": 40, "h_freq": 4}},
     "must be below h_freq"),
    ({"source": "raw", "path": "x", "epoching": {"tmax": 1.0, "unit": "mv"}}, "unit"),
])
def test_errors_name_the_field(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        DataConfig(**kwargs)


def test_moabb_units_are_allowed():
    cfg = DataConfig(source="moabb", moabb={"dataset": "Kalunga2016", "paradigm": "SSVEP"},
                     epoching={"unit": "mV"})
    assert cfg.epoching.unit == "mV" and cfg.moabb.paradigm_params == {}
