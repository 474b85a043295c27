"""A braindecode windows dataset (made with braindecode's own windowing from the real
runs of the slice) as arrays + metadata."""

from __future__ import annotations

from pathlib import Path

import mne
import numpy as np
import pytest
from braindecode.datasets import BaseConcatDataset, RawDataset
from braindecode.preprocessing import create_windows_from_events

from coco_pipe.datasets import from_braindecode
from coco_pipe.datasets.kalunga import KALUNGA2016_EVENT_ID

KALUNGA_SLICE = Path(__file__).resolve().parents[1] / "data" / "kalunga2016_slice"

MAPPING = {name: code - 1 for name, code in KALUNGA2016_EVENT_ID.items()}


def _concat(with_subject=True):
    sets = []
    for k, path in enumerate(sorted(KALUNGA_SLICE.glob("raw/*/*_raw.fif"))):
        raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
        raw.filter(1.0, 45.0, method="iir", verbose="error")
        events = mne.read_events(str(path).replace("_raw.fif", "-eve.fif"))
        names = {v: k for k, v in KALUNGA2016_EVENT_ID.items()}
        raw.set_annotations(mne.annotations_from_events(events, raw.info["sfreq"], names,
                                                        first_samp=raw.first_samp))
        desc = {"session": str(k % 2), "run": path.name}
        if with_subject:
            desc["subject"] = int(path.parent.name[-2:])
        sets.append(RawDataset(raw, description=desc))
    # 2 s to 4 s after each cue, as the data set's epochs
    return create_windows_from_events(BaseConcatDataset(sets), trial_start_offset_samples=512,
                                      trial_stop_offset_samples=1024, mapping=MAPPING,
                                      preload=True)


def test_windows_dataset_to_arrays(kalunga_slice):
    data = from_braindecode(_concat(), target_names={v: k for k, v in MAPPING.items()},
                            unit="mV")
    assert data.X.shape == kalunga_slice.X.shape and data.sfreq == 256.0
    np.testing.assert_array_equal(data.y, kalunga_slice.y)
    # braindecode's windows start at the cue + 512 samples, as the epochs do
    np.testing.assert_allclose(data.X, kalunga_slice.X, rtol=0,
                               atol=1e-5 * np.abs(kalunga_slice.X).max())
    assert data.metadata.Subject.tolist() == kalunga_slice.metadata.Subject.tolist()
    assert data.metadata.session.tolist() == kalunga_slice.metadata.session.tolist()


def test_subject_is_required():
    with pytest.raises(ValueError, match="no 'subject'"):
        from_braindecode(_concat(with_subject=False))
    with pytest.raises(ValueError, match="BaseConcatDataset"):
        from_braindecode([1, 2])
