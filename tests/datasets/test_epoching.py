"""epochs_from_raw (MOABB's paradigm steps) and EpochArrays, the value the loaders return."""

from __future__ import annotations

import inspect
import warnings

import mne
import numpy as np
import pandas as pd
import pytest
from scipy.signal import welch

from coco_pipe.datasets.epoching import (
    EpochArrays,
    Recording,
    check_amplitude,
    epochs_from_raw,
    stack_recordings,
    volts_factor,
)
from coco_pipe.decoding.configs.data import EpochingConfig


def _raw(sfreq=200.0, seconds=20.0, amplitude=1e-5, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((3, int(sfreq * seconds))) * amplitude
    info = mne.create_info(["C3", "C4", "STI"], sfreq, ["eeg", "eeg", "stim"])
    return mne.io.RawArray(data, info, verbose="error")


def test_interval_excludes_tmax_and_drops_other_codes():
    raw = _raw()
    events = np.array([[200, 0, 1], [800, 0, 2], [1400, 0, 9], [2000, 0, 1]])
    X, y, sfreq, chs, kept = epochs_from_raw(raw, events, event_id={"a": 1, "b": 2},
                                             tmin=0.5, tmax=2.5)
    assert X.shape == (3, 2, 400) and X.dtype == np.float32  # [0.5, 2.5) at 200 Hz
    assert y.tolist() == ["a", "b", "a"] and kept.tolist() == [0, 1, 3]
    assert chs == ["C3", "C4"] and sfreq == 200.0  # the stim channel is not EEG
    first = raw.get_data(picks=["C3"])[0, 300:700]
    np.testing.assert_allclose(X[0, 0], first, rtol=1e-6)


def test_events_too_close_to_the_end_are_dropped():
    raw = _raw(seconds=5.0)
    events = np.array([[100, 0, 1], [950, 0, 1]])
    X, y, *_, kept = epochs_from_raw(raw, events, tmin=0.0, tmax=1.0)
    assert len(X) == 1 and kept.tolist() == [0] and y.tolist() == ["1"]


def test_bandpass_on_the_continuous_signal_and_resample():
    raw = _raw(sfreq=256.0, seconds=30.0)
    events = np.array([[s, 0, 1] for s in range(512, 7000, 512)])
    X, _, sfreq, _, _ = epochs_from_raw(raw, events, tmin=0.0, tmax=2.0, l_freq=8.0,
                                        h_freq=12.0, resample=128.0)
    assert sfreq == 128.0 and X.shape[-1] == 256
    freqs, psd = welch(X, fs=128.0, nperseg=128, axis=-1)
    band = psd[..., (freqs >= 8) & (freqs <= 12)].mean()
    assert band > 50 * psd[..., freqs >= 30].mean()
    assert band > 50 * psd[..., (freqs > 0) & (freqs <= 3)].mean()


def test_units_are_converted_to_volts_and_implausible_ones_warned():
    raw = _raw(amplitude=10.0)  # "10 mV"-like values stored as if volts
    events = np.array([[400, 0, 1], [1200, 0, 1]])
    X, y, sfreq, chs, _ = epochs_from_raw(raw, events, tmin=0.0, tmax=1.0)
    with pytest.warns(UserWarning, match="declare their unit"):
        stack_recordings([Recording(X, y, sfreq, chs, {"Subject": 1}, "r")], "test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_amplitude(X * 1e-6, "uV") == pytest.approx(np.median(X.std(-1)) * 1e-6)
    X_uv, *_ = epochs_from_raw(raw, events, tmin=0.0, tmax=1.0, unit="uV", scale=2.0)
    np.testing.assert_allclose(X_uv, X * 2e-6, rtol=1e-6)
    assert volts_factor("mV") == 1e-3
    with pytest.raises(ValueError, match="unit='mv' is not one of"):
        volts_factor("mv")


def test_errors_name_the_parameter():
    raw = _raw()
    events = np.array([[400, 0, 1]])
    with pytest.raises(ValueError, match="tmax .* is required"):
        epochs_from_raw(raw, events)
    with pytest.raises(ValueError, match="no event has a code of event_id"):
        epochs_from_raw(raw, events, event_id={"x": 5}, tmax=1.0)
    with pytest.raises(ValueError, match=r"picks \['Oz'\] are not channels"):
        epochs_from_raw(raw, events, tmax=1.0, picks=["Oz"])


def test_config_fields_are_the_loader_keywords():
    """EpochingConfig (the YAML side) and epochs_from_raw (the Python side) take the same
    parameters with the same defaults."""
    params = inspect.signature(epochs_from_raw).parameters
    for name, field in EpochingConfig.model_fields.items():
        assert name in params, name
        assert params[name].default == field.default, name


def test_epoch_arrays_round_trip_to_mne():
    meta = pd.DataFrame({"Subject": [1, 1, 2], "session": ["0"] * 3, "run": ["a"] * 3})
    X = np.random.default_rng(0).standard_normal((3, 2, 50)).astype("float32") * 1e-5
    data = EpochArrays(X, np.array(["l", "r", "l"]), meta, 100.0, ["C3", "C4"])
    epochs = data.to_epochs()
    assert epochs.ch_names == ["C3", "C4"] and epochs.info["sfreq"] == 100.0
    np.testing.assert_allclose(epochs.get_data(), X, rtol=1e-6)
    assert list(epochs.metadata.Subject) == [1, 1, 2]
    inv = {v: k for k, v in epochs.event_id.items()}
    assert [inv[c] for c in epochs.events[:, 2]] == ["l", "r", "l"]
    kwargs = data.run_kwargs()
    assert kwargs["sfreq"] == 100.0 and kwargs["sample_metadata"] is meta
