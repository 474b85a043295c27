"""The raw source on real recordings: the Kalunga2016 slice in tests/data (and the full
data set in ../shared when it is there), in FIF, EDF and with a trigger channel."""

from __future__ import annotations

import shutil
from pathlib import Path

import mne
import numpy as np
import pytest

from coco_pipe.datasets import find_raw_files, load_raw
from coco_pipe.datasets.kalunga import (
    KALUNGA2016_EPOCHING,
    KALUNGA2016_EVENT_ID,
    load_kalunga2016,
)
from coco_pipe.datasets.raw import DEFAULT_SUBJECT_PATTERN
from coco_pipe.decoding.configs.data import RawSourceConfig

KALUNGA_SLICE = Path(__file__).resolve().parents[1] / "data" / "kalunga2016_slice"
KALUNGA_SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "kalunga2016"

# the full data set is checked too wherever it lies beside the repository
SOURCES = [KALUNGA_SLICE] + ([KALUNGA_SHARED] if (KALUNGA_SHARED / "epochs.npz").exists() else [])


@pytest.mark.parametrize("root", SOURCES, ids=lambda p: p.name)
def test_raw_source_reproduces_the_published_epochs(root):
    """FIF runs + their -eve.fif files, cut as the data set's README says, give exactly
    the epochs of its epochs.npz (slice: reference_epochs.npz, the same rows)."""
    data = load_raw(root / "raw", events="{stem}-eve.fif", **KALUNGA2016_EPOCHING)
    ref = np.load(root / ("epochs.npz" if root == KALUNGA_SHARED else "reference_epochs.npz"))
    assert data.X.shape == ref["X"].shape and data.X.dtype == np.float32
    assert data.sfreq == float(ref["sfreq"]) and data.ch_names == ref["ch_names"].tolist()
    np.testing.assert_array_equal(data.y, ref["y"])
    np.testing.assert_allclose(data.X, ref["X"], rtol=0, atol=1e-3 * np.abs(ref["X"]).max())
    assert data.metadata["Subject"].tolist() == ref["subject"].tolist()
    runs = (data.metadata["file"].str.extract(r"(subject\d+)/")[0] + "/" + data.metadata["run"])
    assert runs.tolist() == ref["run"].tolist()
    np.testing.assert_array_equal(load_kalunga2016(root).X, data.X)  # the data set's recipe
    # sessions: each file of a subject is one session, in path (= chronological) order
    per_subject = data.metadata.groupby("Subject")["session"].agg(lambda s: sorted(set(s)))
    assert all(s == [str(i) for i in range(len(s))] for s in per_subject)


def test_slice_metadata_and_subject_filter(kalunga_slice):
    meta = kalunga_slice.metadata
    assert list(meta.columns[:3]) == ["Subject", "session", "run"]
    assert meta.groupby(["Subject", "session"]).size().tolist() == [8, 8, 8, 8]
    assert sorted(np.unique(kalunga_slice.y)) == sorted(KALUNGA2016_EVENT_ID)
    one = load_raw(KALUNGA_SLICE / "raw", events="{stem}-eve.fif", subjects=[2],
                   **KALUNGA2016_EPOCHING)
    assert set(one.metadata.Subject) == {2}
    np.testing.assert_array_equal(one.X, kalunga_slice.X[(meta.Subject == 2).to_numpy()])


def test_unscaled_files_are_warned_about():
    with pytest.warns(UserWarning, match="outside 1e-08-0.001 V"):
        load_raw(KALUNGA_SLICE / "raw" / "subject01", events="{stem}-eve.fif",
                 **{**KALUNGA2016_EPOCHING, "unit": "V"})


def _annotated(path):
    raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
    events = mne.read_events(str(path).replace("_raw.fif", "-eve.fif"))
    names = {v: k for k, v in KALUNGA2016_EVENT_ID.items()}
    raw.set_annotations(mne.annotations_from_events(events, raw.info["sfreq"], names,
                                                    first_samp=raw.first_samp))
    return raw


def test_edf_with_annotations_glob_and_session_pattern(tmp_path, kalunga_slice):
    """The same runs exported to EDF (annotations as markers), read through a glob; the
    session comes from the file name."""
    for k, path in enumerate(sorted(KALUNGA_SLICE.glob("raw/*/*_raw.fif"))):
        raw = _annotated(path)
        raw.apply_function(lambda x: x * 1e-3)  # EDF stores physical units: write volts
        out = tmp_path / path.parent.name / f"ses{k % 2}_run.edf"
        out.parent.mkdir(exist_ok=True)
        mne.export.export_raw(out, raw, fmt="edf", physical_range="auto", verbose="error")
    epoching = {**KALUNGA2016_EPOCHING, "unit": "V"}
    data = load_raw(str(tmp_path / "sub*" / "*.edf"), session_pattern=r"ses(\d)", **epoching)
    assert data.X.shape == kalunga_slice.X.shape
    np.testing.assert_array_equal(data.y, kalunga_slice.y)
    assert data.metadata.session.tolist() == kalunga_slice.metadata.session.tolist()
    # EDF keeps 16 bits over the physical range: close to the FIF values, not equal
    err = np.abs(data.X - kalunga_slice.X).max() / np.abs(kalunga_slice.X).max()
    assert err < 0.02


def test_stim_channel_events(tmp_path, kalunga_slice):
    path = sorted(KALUNGA_SLICE.glob("raw/subject01/*_raw.fif"))[0]
    raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
    events = mne.read_events(str(path).replace("_raw.fif", "-eve.fif"))
    stim = np.zeros((1, raw.n_times))
    for sample, _, code in events:
        stim[0, sample - raw.first_samp: sample - raw.first_samp + 5] = code
    info = mne.create_info(raw.ch_names + ["STI"], raw.info["sfreq"],
                           ["eeg"] * len(raw.ch_names) + ["stim"])
    raw = mne.io.RawArray(np.vstack([raw.get_data(), stim]), info, first_samp=raw.first_samp,
                          verbose="error")
    target = tmp_path / "subject01" / "trig_raw.fif"
    target.parent.mkdir()
    raw.save(target, verbose="error")
    data = load_raw(target, events="stim", stim_channel="STI", **KALUNGA2016_EPOCHING)
    assert data.ch_names == kalunga_slice.ch_names  # the trigger channel is not kept
    np.testing.assert_array_equal(data.X, kalunga_slice.X[:8])
    assert data.metadata.Subject.tolist() == [1] * 8


def test_errors_name_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="matches no recording"):
        find_raw_files(tmp_path / "nothing*.edf")
    folder = tmp_path / "subject01"
    shutil.copytree(KALUNGA_SLICE / "raw" / "subject01", folder)
    assert len(find_raw_files(folder)) == 2  # the -eve.fif files are not recordings
    with pytest.raises(ValueError, match="events='annotations' but the file has no annotations"):
        load_raw(folder, **KALUNGA2016_EPOCHING)
    with pytest.raises(FileNotFoundError, match="events file .*-events.fif"):
        load_raw(folder, events="{stem}-events.fif", **KALUNGA2016_EPOCHING)
    with pytest.raises(ValueError, match="session_pattern='ses-.*' does not match"):
        load_raw(folder, events="{stem}-eve.fif", session_pattern=r"ses-(\d+)",
                 **KALUNGA2016_EPOCHING)
    with pytest.raises(ValueError, match=r"subjects=\[7\] match none"):
        load_raw(folder, events="{stem}-eve.fif", subjects=[7], **KALUNGA2016_EPOCHING)


def test_config_defaults_match_the_loader():
    assert RawSourceConfig().subject_pattern == DEFAULT_SUBJECT_PATTERN
