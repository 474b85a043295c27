"""EpochsSource: an mne.Epochs with preload=False stays on disk through validation."""

from __future__ import annotations

import pickle

import mne
import numpy as np
import pandas as pd

from coco_pipe.data import EpochsSource, validate_inputs


def _epochs(tmp_path, preload):
    rng = np.random.default_rng(0)
    info = mne.create_info(["C3", "Cz", "C4"], 100.0, "eeg")
    data = rng.normal(size=(3, 2000)) * 1e-6
    data[1, 1005] = 1e-3  # one artefact, inside the 11th epoch
    mne.io.RawArray(data, info, verbose=False).save(tmp_path / "r_raw.fif", overwrite=True, verbose=False)
    raw = mne.io.read_raw_fif(tmp_path / "r_raw.fif", preload=False, verbose=False)
    events = np.c_[np.arange(20) * 100, np.zeros(20, int), np.tile([1, 2], 10)]
    meta = pd.DataFrame({"Subject": np.repeat([1, 2], 10)})
    return mne.Epochs(raw, events, {"left": 1, "right": 2}, tmin=0, tmax=0.99, baseline=None,
                      reject={"eeg": 1e-4}, metadata=meta, preload=preload, verbose=False)


def test_unloaded_epochs_are_validated_without_loading(tmp_path):
    lazy = _epochs(tmp_path, preload=False)
    data = validate_inputs(lazy, group_key="Subject")
    assert isinstance(data.X, EpochsSource) and not lazy.preload
    # the rejected epoch is gone from windows, labels and groups alike
    assert data.X.shape == (19, 3, 100) and len(data.y) == 19 and len(data.groups) == 19
    loaded = validate_inputs(_epochs(tmp_path, preload=True), group_key="Subject")
    np.testing.assert_array_equal(data.y, loaded.y)
    np.testing.assert_array_equal(data.groups, loaded.groups)
    np.testing.assert_array_equal(data.X.take([18, 0, 10]), loaded.X[[18, 0, 10]])
    assert data.sfreq == 100.0 and data.ch_names == ["C3", "Cz", "C4"]


def test_unloaded_epochs_pickle_with_their_file_reference(tmp_path):
    src = EpochsSource(_epochs(tmp_path, preload=False))
    blob = pickle.dumps(src)
    assert len(blob) < 19 * 3 * 100 * 8  # smaller than the windows it reads
    np.testing.assert_array_equal(pickle.loads(blob).take([5]), src.take([5]))
