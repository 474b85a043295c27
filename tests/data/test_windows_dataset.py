"""WindowsDatasetSource: a braindecode windows dataset read window by window."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from coco_pipe.data import WindowsDatasetSource, validate_inputs

pytest.importorskip("braindecode")


def _windows_dataset(preload):
    from braindecode.datasets import BaseConcatDataset, RawDataset
    from braindecode.preprocessing import create_fixed_length_windows

    rng = np.random.default_rng(0)
    info = mne.create_info(["C3", "Cz", "C4"], 100.0, "eeg")
    recordings = [
        RawDataset(mne.io.RawArray(rng.normal(size=(3, 1000)) * 1e-6, info, verbose=False),
                   pd.Series({"subject": s, "session": "0", "target": s % 2}), target_name="target")
        for s in (1, 2)
    ]
    return BaseConcatDataset([
        ds for ds in create_fixed_length_windows(
            BaseConcatDataset(recordings), window_size_samples=200, window_stride_samples=200,
            drop_last_window=True, preload=preload).datasets
    ])


@pytest.mark.parametrize("preload", [False, True])
def test_windows_dataset_becomes_a_lazy_source_with_targets_and_metadata(preload):
    ds = _windows_dataset(preload)
    data = validate_inputs(ds, group_key="subject")
    assert isinstance(data.X, WindowsDatasetSource)
    assert data.X.shape == (10, 3, 200) and data.sfreq == 100.0
    assert data.ch_names == ["C3", "Cz", "C4"]
    assert data.y.tolist() == [1] * 5 + [0] * 5 and data.groups.tolist() == [1] * 5 + [2] * 5
    np.testing.assert_array_equal(data.X[7], np.asarray(ds[7][0], dtype=np.float32))
