"""validate_inputs: every bad input is refused with a message naming the array or field."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest

from coco_pipe.data import as_windows, validate_inputs
from coco_pipe.data.chunks import window_chunks
from coco_pipe.data.inputs import non_finite_windows


def _xy(n=8, ch=3, t=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, ch, t)), np.repeat(["a", "b"], n // 2)


def test_valid_input_becomes_float32_epochs_data_with_groups():
    X, y = _xy()
    meta = pd.DataFrame({"Subject": np.repeat([1, 2], 4)}, index=np.arange(10, 18))
    d = validate_inputs(X, y, meta, group_key="Subject", sfreq=100.0, ch_names=["C3", "Cz", "C4"])
    assert d.X.dtype == np.float32 and d.X.shape == (8, 3, 16)
    assert d.groups.tolist() == [1] * 4 + [2] * 4
    assert list(d.metadata.index) == list(range(8))  # aligned by position, not the caller's index
    assert d.info.classes == ("a", "b") and d.info.n_channels == 3 and d.info.sfreq == 100.0


def test_epochs_carry_sfreq_channels_metadata_and_labels():
    X, _ = _xy()
    info = mne.create_info(["C3", "Cz", "C4"], 128.0, "eeg")
    events = np.c_[np.arange(8) * 100, np.zeros(8, int), np.repeat([1, 2], 4)]
    epochs = mne.EpochsArray(X, info, events=events, event_id={"left": 1, "right": 2},
                             metadata=pd.DataFrame({"Subject": [1, 1, 2, 2] * 2}), verbose=False)
    d = validate_inputs(epochs, group_key="Subject")
    assert d.sfreq == 128.0 and d.ch_names == ["C3", "Cz", "C4"]
    assert sorted(set(d.y)) == ["left", "right"] and d.groups.tolist() == [1, 1, 2, 2] * 2
    w = as_windows(epochs)
    assert w.sfreq == 128.0 and w.ch_names == ("C3", "Cz", "C4") and w.X.shape == (8, 3, 16)


def test_complex_x_is_refused_not_silently_cast():
    X, y = _xy()
    with pytest.raises(ValueError, match=r"X is complex-valued.*np.abs\(X\)"):
        validate_inputs(X + 1j * X, y)


def test_duplicated_channel_names_are_refused():
    X, y = _xy()
    with pytest.raises(ValueError, match=r"ch_names has duplicated names \['C3'\]"):
        validate_inputs(X, y, ch_names=["C3", "Cz", "C3"])


def test_mixed_label_types_are_refused_with_the_types():
    X, _ = _xy()
    y = np.array([1, "a", 1, "a", 2, "b", 2, "b"], dtype=object)
    with pytest.raises(ValueError, match=r"y mixes label types \(int, str\)"):
        validate_inputs(X, y)


def test_boolean_x_is_refused():
    X, y = _xy()
    with pytest.raises(ValueError, match="X must be real numbers"):
        validate_inputs(X > 0, y)


def test_non_finite_windows_found_in_every_chunk(monkeypatch):
    import coco_pipe.data.chunks as chunks

    monkeypatch.setattr(chunks, "CHUNK_BYTES", 3 * 16 * 8)  # one window per chunk
    X, y = _xy(n=8)
    X[2, 0, 0] = np.nan
    X[7, 2, 15] = np.inf
    assert len(window_chunks(8, X[0].nbytes)) == 8
    assert non_finite_windows(X).tolist() == [2, 7]
    with pytest.raises(ValueError, match=r"NaN or Inf in 2 window\(s\) \(first indices: \[2, 7\]\)"):
        validate_inputs(X, y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": np.array([0, 1] * 3)}, "X has 8 windows but y has 6"),
        ({"y": np.zeros(8)}, "1 class"),
        ({"y": np.linspace(0, 1, 8)}, "continuous values"),
        ({"sfreq": -1.0}, "sfreq must be positive"),
        ({"ch_names": ["a", "b"]}, "ch_names has 2 names but X has 3 channels"),
    ],
)
def test_shape_and_label_errors_name_the_field(kwargs, match):
    X, y = _xy()
    args = {"y": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        validate_inputs(X, args.pop("y"), **args)


def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_validation_makes_no_full_size_copy(tmp_path, monkeypatch):
    """A float64 array (in memory or a .npy path) is checked a chunk at a time: no float32
    copy of X, no full-size mask; reads are cast when made."""
    import coco_pipe.data.chunks as chunks
    from coco_pipe.data import MemmapSource, WindowSource, data_fingerprint

    monkeypatch.setattr(chunks, "CHUNK_BYTES", 2**20)
    X = np.random.default_rng(0).normal(size=(400, 8, 1000))  # 25.6 MB (12.8 MB as float32)
    y = np.tile([0, 1], 200)
    np.save(tmp_path / "x.npy", X)
    data_fingerprint(validate_inputs(X[:4], y[:4]))  # first-call imports are not the data's
    for given in (X, str(tmp_path / "x.npy")):
        out: dict = {}
        peak = _peak_bytes(lambda g=given, o=out: o.update(d=validate_inputs(g, y)))
        data = out["d"]
        assert peak < 6 * 2**20, f"validation of {type(given).__name__} peaked at {peak} bytes"
        assert isinstance(data.X, WindowSource) and data.X.dtype == np.float32
        assert _peak_bytes(lambda d=data: data_fingerprint(d)) < 6 * 2**20
    assert isinstance(data.X, MemmapSource)
    np.testing.assert_array_equal(data.X[[3, 399]], X[[3, 399]].astype(np.float32))


def test_in_memory_float32_stays_the_given_array():
    X, y = _xy()
    X = X.astype(np.float32)
    assert validate_inputs(X, y).X is X
