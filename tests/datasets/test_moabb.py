"""The moabb source through MOABB's own FakeDataset and paradigms (real MOABB code that
generates its recordings, so nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pytest
from moabb.datasets.fake import FakeDataset
from moabb.paradigms import SSVEP

from coco_pipe.datasets import load_moabb

FAKE = {"paradigm": "ssvep", "event_list": ["13", "17"], "n_subjects": 3, "n_sessions": 2,
        "n_runs": 2, "duration": 30, "n_events": 8, "seed": 3}


@pytest.fixture(scope="module")
def fake():
    return load_moabb("FakeDataset", "SSVEP", dataset_params=FAKE,
                      paradigm_params={"n_classes": 2}, subjects=[1, 2])


def test_moabb_source_is_get_data_with_metadata(fake):
    ds = FakeDataset(**FAKE)
    epochs, labels, meta = SSVEP(n_classes=2).get_data(ds, subjects=[1, 2], return_epochs=True)
    np.testing.assert_allclose(fake.X, epochs.get_data().astype("float32"))
    np.testing.assert_array_equal(fake.y, labels)
    assert fake.sfreq == epochs.info["sfreq"] and fake.ch_names == epochs.ch_names
    assert fake.metadata.Subject.tolist() == meta.subject.tolist()
    assert fake.metadata.session.tolist() == meta.session.astype(str).tolist()
    assert fake.metadata.run.tolist() == meta.run.astype(str).tolist()
    assert set(fake.metadata.dataset) == {ds.code}
    assert fake.metadata.groupby("Subject").session.nunique().tolist() == [2, 2]


def test_instances_and_units():
    ds, paradigm = FakeDataset(**FAKE), SSVEP(n_classes=2)
    volts = load_moabb(ds, paradigm, subjects=[3])
    milli = load_moabb(ds, paradigm, subjects=[3], unit="mV")
    np.testing.assert_allclose(milli.X, volts.X * 1e-3, rtol=1e-6)
    assert set(volts.metadata.Subject) == {3}


def test_errors_name_moabb_names():
    with pytest.raises(ValueError, match="'NoSuchSet' is not a class of moabb.datasets; known: .*Kalunga2016"):
        load_moabb("NoSuchSet", "SSVEP")
    with pytest.raises(ValueError, match="does not apply to dataset"):
        load_moabb("FakeDataset", "MotorImagery", dataset_params=FAKE)
    with pytest.raises(ValueError, match=r"subjects \[9\] are not in"):
        load_moabb("FakeDataset", "SSVEP", dataset_params=FAKE, subjects=[9])
