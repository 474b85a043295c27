"""Stateless filtering: each window alone, no fit needed, sfreq from an mne.Epochs, and
the edge continuations ("short", "odd", "ar") doing what they say."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from coco_pipe.decoding.baselines import BandPassFilter, BandPower, FilterBankSignal
from coco_pipe.decoding.baselines.filters import ar_extend

SFREQ = 100.0


def _epochs(X, sfreq):
    info = mne.create_info([f"EEG{i:02d}" for i in range(X.shape[1])], sfreq, "eeg")
    return mne.EpochsArray(X, info, verbose="error")


def test_stateless_steps_treat_each_window_alone(mi_data):
    X, _, _ = mi_data
    for step in [BandPassFilter(8.0, 30.0, sfreq=SFREQ), BandPower(sfreq=SFREQ),
                 BandPassFilter(8.0, 30.0, sfreq=SFREQ, padding="ar"),
                 FilterBankSignal([(8, 12), (12, 16)], sfreq=SFREQ)]:  # fmt: skip
        full = step.fit(X).transform(X)
        part = step.fit(X[5:9]).transform(X[5:9])
        np.testing.assert_allclose(part, full[5:9], rtol=1e-10, atol=1e-12)
    # the band-pass really removes out-of-band power
    t = np.arange(300) / SFREQ
    sines = np.stack([np.sin(2 * np.pi * 2 * t), np.sin(2 * np.pi * 15 * t)])[None]
    out = BandPassFilter(8.0, 30.0, sfreq=SFREQ).fit_transform(sines)
    mid = slice(50, 250)
    assert out[0, 0, mid].std() < 0.05 * sines[0, 0, mid].std()
    assert out[0, 1, mid].std() > 0.9 * sines[0, 1, mid].std()


@pytest.mark.parametrize(
    "step", [BandPassFilter(8.0, 30.0), BandPower(), FilterBankSignal([(8, 12), (12, 16)])]
)
def test_stateless_steps_need_no_fit_and_read_sfreq_from_epochs(mi_data, step):
    X, _, _ = mi_data
    assert step.__sklearn_tags__().requires_fit is False
    assert step.__sklearn_tags__().input_tags.three_d_array
    from_epochs = step.transform(_epochs(X[:6], SFREQ))  # unfitted, sfreq=None
    given = step.set_params(sfreq=SFREQ).transform(X[:6])
    np.testing.assert_allclose(from_epochs, given)
    with pytest.raises(ValueError, match="sampled at 200"):
        step.transform(_epochs(X[:6], 200.0))  # sfreq given and different from the data's
    with pytest.raises(ValueError, match="needs sfreq"):
        step.set_params(sfreq=None).transform(X[:6])


def test_filter_bank_stacks_bands_along_channels_band_major():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 4, 256))
    bands = [(8.0, 12.0), (20.0, 30.0)]
    out = FilterBankSignal(bands, sfreq=SFREQ, padding="odd").transform(X)
    assert out.shape == (3, 8, 256)
    for k, (lo, hi) in enumerate(bands):
        one = BandPassFilter(lo, hi, sfreq=SFREQ, padding="odd").transform(X)
        np.testing.assert_allclose(out[:, 4 * k : 4 * (k + 1)], one)


def test_ar_extension_continues_a_rhythm_and_keeps_flat_rows_flat():
    t = np.arange(3 * 256) / 256.0
    x = np.sin(2 * np.pi * 13 * t + 0.3) + 0.5 * np.sin(2 * np.pi * 21 * t)
    noisy = x + 0.3 * np.random.default_rng(1).standard_normal(x.shape)
    ext = ar_extend(noisy[256:512][None, None], 256, 32)[0, 0]
    assert ext.shape == (768,)
    np.testing.assert_array_equal(ext[256:512], noisy[256:512])
    # the first 0.5 s beyond each edge follow the true signal
    assert np.corrcoef(ext[512:640], x[512:640])[0, 1] > 0.9
    assert np.corrcoef(ext[128:256], x[128:256])[0, 1] > 0.9
    flat = ar_extend(np.full((1, 2, 64), 3.0), 10, 8)
    np.testing.assert_allclose(flat, 3.0)
    with pytest.raises(ValueError, match="ar_order=64 must be smaller than the window"):
        ar_extend(np.zeros((1, 1, 64)), 10, 64)


def test_ar_padding_keeps_a_narrow_band_response_at_the_window_edges():
    """A 1 Hz band rings for about a second: reflecting a 2 s window breaks the phase at
    its edges, the AR continuation keeps it, so the filtered window matches the filtered
    continuous signal more closely."""
    sfreq = 128.0
    rng = np.random.default_rng(0)
    t = np.arange(6 * int(sfreq)) / sfreq
    signal = np.sin(2 * np.pi * 13 * t + 1.0) + 0.5 * rng.standard_normal(t.shape)
    window = slice(2 * int(sfreq), 4 * int(sfreq))
    reference = BandPassFilter(12.5, 13.5, sfreq=sfreq).transform(signal[None, None])[..., window]
    errors = {}
    for padding in ["short", "odd", "ar"]:
        step = BandPassFilter(12.5, 13.5, sfreq=sfreq, padding=padding)
        out = step.transform(signal[window][None, None])
        errors[padding] = np.sqrt(np.mean((out - reference) ** 2))
    assert errors["ar"] < errors["odd"] < errors["short"], errors


def test_bad_filter_parameters_are_named():
    X = np.zeros((2, 3, 100))
    with pytest.raises(ValueError, match="padding must be one of"):
        BandPassFilter(8.0, 30.0, sfreq=SFREQ, padding="mirror").transform(X)
    with pytest.raises(ValueError, match="ar_order must be a positive integer"):
        BandPassFilter(8.0, 30.0, sfreq=SFREQ, padding="ar", ar_order=0).transform(X)
    with pytest.raises(ValueError, match="order must be a positive integer"):
        BandPassFilter(8.0, 30.0, sfreq=SFREQ, order=0).transform(X)
    with pytest.raises(ValueError, match="bands must be a non-empty sequence"):
        FilterBankSignal(None, sfreq=SFREQ).transform(X)
