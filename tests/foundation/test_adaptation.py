"""Input adaptation: resampling, channel matching / aliases / bipolar derivation, crops,
amplitude units, and the clear errors raised before any model is built."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coco_pipe.foundation.adaptation import (
    normalize_channel_name,
    plan_adaptation,
)
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

MODERN = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip
LEGACY = tuple({"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}.get(n, n) for n in MODERN)


def _plan(key, *, sfreq=250.0, ch_names=MODERN, n_times=500, **kw):
    n_channels = len(ch_names) if ch_names is not None else kw.pop("n_channels", 19)
    return plan_adaptation(
        ESTIMATOR_SPECS[key],
        sfreq=sfreq,
        ch_names=ch_names,
        n_channels=n_channels,
        n_times=n_times,
        **kw,
    )


def test_resampling_is_anti_aliased_and_keeps_in_band_signals():
    t = np.arange(1000) / 250.0
    in_band = np.sin(2 * np.pi * 10 * t)
    above_nyquist = np.sin(2 * np.pi * 90 * t)  # above 64 Hz, Nyquist of Signal-JEPA's 128 Hz
    X = np.stack([np.tile(in_band, (19, 1)), np.tile(above_nyquist, (19, 1))]).astype(np.float32)
    plan = _plan("signal_jepa", n_times=1000)
    assert (plan.resample_up, plan.resample_down) == (64, 125)
    out = plan.apply(X * 1e-6)  # volts -> microvolts (x1e6)
    assert out.shape == (2, 19, 512) and out.dtype == np.float32
    core = slice(50, -50)
    assert np.sqrt(np.mean(out[0, :, core] ** 2)) == pytest.approx(1 / np.sqrt(2), rel=0.03)
    # naive decimation would fold 90 Hz onto 38 Hz with full amplitude
    assert np.sqrt(np.mean(out[1, :, core] ** 2)) < 0.02


@pytest.mark.parametrize(
    ("key", "n_times"),
    [("cbramod", 400), ("labram", 400), ("eegpt", 512), ("reve", 380), ("luna", 480),
     ("signal_jepa", 256), ("biot", 400), ("bendr", 512)],
)  # fmt: skip
def test_windows_are_cropped_to_the_patch_grid(key, n_times):
    plan = _plan(key, n_times=500)  # 2 s at 250 Hz
    assert plan.n_times == n_times
    assert plan.sfreq == ESTIMATOR_SPECS[key].sfreq
    assert plan.apply(np.zeros((1, 19, 500), np.float32)).shape == (1, plan.n_channels, n_times)


def test_channel_names_match_case_insensitively_with_1020_aliases():
    assert normalize_channel_name("EEG T3-REF") == "T3"
    legacy = _plan("eegpt", ch_names=LEGACY)  # EEGPT's layout only knows T7/T8/P7/P8
    modern = _plan("eegpt", ch_names=tuple(n.lower() for n in MODERN))
    assert legacy.ch_names == modern.ch_names
    assert {"T7", "T8", "P7", "P8"} <= set(legacy.ch_names)
    # LaBraM has its own rows for T3..T6: exact names win over aliases
    assert "T3" in _plan("labram", ch_names=LEGACY).ch_names
    assert "T7" in _plan("labram", ch_names=MODERN).ch_names
    # BENDR's layout spells T5/T6: P7/P8 are matched to them
    bendr = _plan("bendr")
    assert "T5" in bendr.ch_names and "P7" not in bendr.ch_names


def test_subset_selection_reorders_and_drops_unknown_channels():
    names = ("Cz", "EOG1", "Fp1", "C3")
    plan = _plan("labram", ch_names=names)
    assert plan.ch_names == ("CZ", "FP1", "C3") and plan.dropped_channels == ("EOG1",)
    X = np.arange(4, dtype=np.float32)[None, :, None] * np.ones((1, 4, 500), np.float32)
    out = plan.apply(X * 1e-4)  # x1e4 (units of 100 uV)
    np.testing.assert_allclose(out[0, :, 100], [0.0, 2.0, 3.0], rtol=1e-3)  # FIR passband ripple
    assert plan.as_params()["adapt.dropped_channels"] == "EOG1"


def test_bipolar_montage_is_derived_exactly_from_the_electrodes():
    plan = _plan("biot", ch_names=LEGACY)
    assert plan.n_channels == 16 and plan.ch_names[0] == "FP1-F7"
    assert plan.interpolated_channels == ()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 19, 500)).astype(np.float32)
    W = plan.channel_matrix
    idx = {n.upper(): i for i, n in enumerate(MODERN)}
    row = plan.ch_names.index("T7-P7")  # T3 - T5 in legacy names
    expected = np.zeros(19)
    expected[idx["T7"]], expected[idx["P7"]] = 1.0, -1.0
    np.testing.assert_array_equal(W[row], expected)
    assert np.isfinite(plan.apply(X)).all()


def test_bipolar_montage_interpolates_a_missing_electrode():
    names = tuple(n for n in MODERN if n != "O2")
    plan = _plan("biot", ch_names=names)
    assert plan.interpolated_channels == ("O2",)
    row = plan.channel_matrix[plan.ch_names.index("P8-O2")]
    assert np.count_nonzero(row) > 2  # O2 is a spatial spline of the others


def test_amplitude_units_and_normalizations():
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((3, 19, 500)) * 2e-5).astype(np.float32)
    reve = _plan("reve").apply(X)  # z-score + clip
    np.testing.assert_allclose(reve.mean(axis=-1), 0, atol=1e-4)
    np.testing.assert_allclose(reve.std(axis=-1), 1, atol=1e-3)
    bendr = _plan("bendr").apply(X)  # min-max to [-1, 1]
    assert bendr.min() == pytest.approx(-1, abs=1e-5) and bendr.max() == pytest.approx(1, abs=1e-5)
    biot = _plan("biot").apply(X)  # divided by the 95th percentile of |x| per channel
    np.testing.assert_allclose(np.quantile(np.abs(biot), 0.95, axis=-1), 1, rtol=0.02)
    eegpt = _plan("eegpt", sfreq=256.0, n_times=480).apply(
        X[..., :480]
    )  # millivolts, no resampling
    np.testing.assert_allclose(eegpt, X[..., :480] * 1e3, rtol=1e-5, atol=1e-7)


def test_params_and_fingerprint_dict():
    plan = _plan("labram")
    params = plan.as_params()
    assert all(k.startswith("adapt.") for k in params)
    assert params["adapt.sfreq"] == 200.0 and params["adapt.src_sfreq"] == 250.0
    fp = plan.fingerprint_dict()
    assert json.loads(json.dumps(fp)) == fp
    assert fp == _plan("labram").fingerprint_dict()
    assert fp != _plan("labram", sfreq=500.0, n_times=1000).fingerprint_dict()
    assert fp != _plan("labram", ch_names=LEGACY).fingerprint_dict()


def test_apply_rejects_another_window_shape():
    plan = _plan("cbramod", ch_names=None, n_channels=4)
    with pytest.raises(ValueError, match=r"\(n_windows, 4, 500\)"):
        plan.apply(np.zeros((2, 5, 500), np.float32))


def test_error_sfreq_missing():
    with pytest.raises(ValueError, match="sfreq is missing"):
        _plan("labram", sfreq=None)
    with pytest.raises(ValueError, match="sfreq must be a positive"):
        _plan("labram", sfreq=-1.0)


@pytest.mark.parametrize("key", ["bendr", "biot", "eegpt", "labram", "luna", "reve", "signal_jepa"])
def test_error_channel_names_required(key):
    with pytest.raises(ValueError, match="channel names are required"):
        _plan(key, ch_names=None, n_channels=19)


@pytest.mark.parametrize("key", ["bendr", "biot", "eegpt", "labram", "luna", "reve", "signal_jepa"])
def test_error_names_match_none_of_the_layout(key):
    with pytest.raises(ValueError, match="none of the channel names"):
        _plan(key, ch_names=("EOG1", "EMG2", "ECG"))


def test_channels_without_names_are_fine_where_names_are_not_needed():
    plan = _plan("cbramod", ch_names=None, n_channels=7)
    assert plan.n_channels == 7 and plan.channel_matrix is None


def test_error_window_too_short_after_resampling():
    # 0.5 s at 250 Hz is 100 samples at 200 Hz: shorter than one 200-sample patch
    with pytest.raises(
        ValueError, match=r"too short.*125 samples at 250 Hz.*100 samples at 200 Hz"
    ):
        _plan("cbramod", n_times=125)


def test_error_ch_names_length_mismatch():
    with pytest.raises(ValueError, match="ch_names has 19 names but the data have 3 channels"):
        plan_adaptation(
            ESTIMATOR_SPECS["labram"], sfreq=250.0, ch_names=MODERN, n_channels=3, n_times=500
        )
