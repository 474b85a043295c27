"""as_source: every accepted input becomes the right window source, nothing is read."""

from __future__ import annotations

import pickle

import mne
import numpy as np
import pytest

from coco_pipe.data import (
    ArraySource,
    EpochsSource,
    MemmapSource,
    as_source,
    validate_inputs,
)


def test_each_input_kind_gets_its_source(tmp_path):
    X = np.random.default_rng(0).normal(size=(6, 2, 5))
    np.save(tmp_path / "x.npy", X)
    info = mne.create_info(2, 100.0, "eeg")
    loaded = mne.EpochsArray(X, info, verbose=False)
    cases = {
        "array": (X, ArraySource),
        "list": (X.tolist(), ArraySource),
        "npy path": (tmp_path / "x.npy", MemmapSource),
        "memmap": (np.load(tmp_path / "x.npy", mmap_mode="r"), MemmapSource),
        "preloaded epochs": (loaded, ArraySource),
    }
    for name, (given, kind) in cases.items():
        src = as_source(given)
        assert type(src) is kind, name
        np.testing.assert_allclose(src[:], X.astype(np.float32), err_msg=name)
    src = as_source(X)
    assert as_source(src) is src
    mne.io.RawArray(X.transpose(1, 0, 2).reshape(2, -1), info, verbose=False).save(
        tmp_path / "r_raw.fif", verbose=False)  # fmt: skip
    raw = mne.io.read_raw_fif(tmp_path / "r_raw.fif", preload=False, verbose=False)
    events = np.c_[np.arange(6) * 5, np.zeros(6, int), np.ones(6, int)]
    lazy = mne.Epochs(raw, events, tmin=0, tmax=0.04, baseline=None, preload=False, verbose=False)
    assert isinstance(as_source(lazy), EpochsSource) and not lazy.preload


def test_validated_data_from_a_file_pickle_without_their_windows(tmp_path):
    """What an executor sends a worker: the EpochsData of a .npy path holds its path."""
    X = np.random.default_rng(1).normal(size=(500, 4, 64))
    np.save(tmp_path / "x.npy", X)
    data = validate_inputs(str(tmp_path / "x.npy"), np.tile([0, 1], 250))
    blob = pickle.dumps(data)
    assert len(blob) < X.nbytes / 20
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.windows([499, 2])[:], X[[499, 2]].astype(np.float32))


def test_a_path_that_holds_no_windows_is_refused(tmp_path):
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(ValueError, match=r"is not a \.npy file or a zarr array directory"):
        as_source(str(tmp_path / "x.csv"))
