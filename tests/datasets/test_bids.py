"""The bids source on a BIDS folder written here with mne-bids from the real Kalunga2016
runs of the slice (BrainVision and EDF recordings, events.tsv)."""

from __future__ import annotations

from pathlib import Path

import mne
import mne_bids
import numpy as np
import pytest

from coco_pipe.datasets import load_bids
from coco_pipe.datasets.kalunga import KALUNGA2016_EPOCHING, KALUNGA2016_EVENT_ID

KALUNGA_SLICE = Path(__file__).resolve().parents[1] / "data" / "kalunga2016_slice"


def write_bids(root, fmt="BrainVision"):
    """Each run of the slice as sub-XX/ses-YY (one session per run), task 'ssvep'."""
    for path in sorted(KALUNGA_SLICE.glob("raw/*/*_raw.fif")):
        subject = path.parent.name[-2:]
        session = f"{sorted(path.parent.glob('*_raw.fif')).index(path) + 1:02d}"
        raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
        raw.apply_function(lambda x: x * 1e-3)  # written in volts, as BIDS expects
        events = mne.read_events(str(path).replace("_raw.fif", "-eve.fif"))
        bids_path = mne_bids.BIDSPath(subject=subject, session=session, task="ssvep",
                                      datatype="eeg", root=root)
        mne_bids.write_raw_bids(raw, bids_path, events=events, event_id=KALUNGA2016_EVENT_ID,
                                format=fmt, allow_preload=True, overwrite=True, verbose="error")
    return root


@pytest.fixture(scope="module")
def bids_root(tmp_path_factory):
    return write_bids(tmp_path_factory.mktemp("bids") / "kalunga")


def test_bids_source_matches_the_raw_files(bids_root, kalunga_slice):
    data = load_bids(bids_root, task="ssvep", **{**KALUNGA2016_EPOCHING, "unit": "V"})
    assert data.X.shape == kalunga_slice.X.shape and data.ch_names == kalunga_slice.ch_names
    np.testing.assert_array_equal(data.y, kalunga_slice.y)
    np.testing.assert_allclose(data.X, kalunga_slice.X, rtol=0,
                               atol=1e-4 * np.abs(kalunga_slice.X).max())
    meta = data.metadata
    assert meta.Subject.tolist() == kalunga_slice.metadata.Subject.tolist()
    assert meta.groupby("Subject")["session"].agg(lambda s: sorted(set(s))).tolist() == [
        ["01", "02"], ["01", "02"]]
    assert set(meta.task) == {"ssvep"} and set(meta.run) == {"0"}


def test_entities_select_recordings(bids_root):
    volts = {**KALUNGA2016_EPOCHING, "unit": "V"}
    data = load_bids(bids_root, subjects=[2], sessions=["02"], **volts)
    assert set(data.metadata.Subject) == {2} and set(data.metadata.session) == {"02"}
    assert len(data) == 8
    # without event_id every trial type is a class, named as in events.tsv
    every = load_bids(bids_root, subjects=["01"], tmin=2.0, tmax=4.0)
    assert sorted(np.unique(every.y)) == sorted(KALUNGA2016_EVENT_ID)


def test_edf_recordings(tmp_path, kalunga_slice):
    root = write_bids(tmp_path / "edf", fmt="EDF")
    data = load_bids(root, **{**KALUNGA2016_EPOCHING, "unit": "V"})
    np.testing.assert_array_equal(data.y, kalunga_slice.y)
    err = np.abs(data.X - kalunga_slice.X).max() / np.abs(kalunga_slice.X).max()
    assert err < 0.02  # EDF: 16 bits over the physical range


def test_errors_name_the_root_and_filters(bids_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a BIDS root"):
        load_bids(tmp_path, tmax=1.0)
    with pytest.raises(ValueError, match=r"subjects=\['09'\].*subjects present: \['01', '02'\]"):
        load_bids(bids_root, subjects=["09"], tmax=1.0)
