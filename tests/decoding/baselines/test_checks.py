"""Shared checks: input shape, sampling rate (given, carried by an mne.Epochs, or
missing), bands against Nyquist, the check_data_info hook."""

from __future__ import annotations

import numpy as np
import pytest

from coco_pipe.data import DataInfo
from coco_pipe.decoding.baselines import (
    CSPLDA,
    SSVEPCCA,
    BandPowerLinear,
    BandPowerRidge,
    FilterBankCSP,
    FilterBankTangentSpaceLR,
    TangentSpaceLR,
    XdawnTangentSpaceLR,
)
from coco_pipe.decoding.baselines.checks import check_positive, resolve_sfreq

SFREQ = 100.0


def _info(**kw):
    base = dict(n_samples=10, ndim=3, n_channels=19, n_times=300, sfreq=100.0,
                ch_names=None, task="classification", classes=(0, 1))  # fmt: skip
    return DataInfo(**{**base, **kw})


def test_filtering_pipelines_need_sfreq_and_say_so(mi_data):
    X, y, _ = mi_data
    for est in [CSPLDA(), TangentSpaceLR(), FilterBankCSP(), BandPowerLinear(), BandPowerRidge(),
                FilterBankTangentSpaceLR(bands=[(8, 12)]), SSVEPCCA(freqs=[10.0, 12.0]),
                XdawnTangentSpaceLR(l_freq=1.0, h_freq=20.0)]:  # fmt: skip
        with pytest.raises(ValueError, match="needs sfreq.*mne.Epochs"):
            est.fit(X[:20], y[:20])
    # without a band-pass, CSP and xDAWN need no sampling frequency
    assert CSPLDA(l_freq=None, h_freq=None, n_components=2).fit(X[:40], y[:40]).classes_.size == 2
    assert XdawnTangentSpaceLR(nfilter=2).fit(X[:40], y[:40]).classes_.size == 2


def test_bad_input_is_rejected_before_fitting(mi_data):
    X, y, _ = mi_data
    with pytest.raises(ValueError, match="3-D epochs"):
        CSPLDA(sfreq=SFREQ).fit(X[:, 0, :], y)
    with pytest.raises(ValueError, match="Nyquist"):
        FilterBankCSP(sfreq=SFREQ, bands=[(8, 12), (40, 60)]).fit(X, y)
    with pytest.raises(ValueError, match="low < high"):
        CSPLDA(sfreq=SFREQ, l_freq=30.0, h_freq=8.0).fit(X, y)
    with pytest.raises(ValueError, match="one target per window"):
        TangentSpaceLR(sfreq=SFREQ).fit(X, y[:-1])
    with pytest.raises(ValueError, match="NaN or Inf"):
        TangentSpaceLR(sfreq=SFREQ).fit(np.where(np.arange(X.shape[-1]) == 3, np.nan, X), y)
    fitted = BandPowerLinear(sfreq=SFREQ).fit(X, y)
    with pytest.raises(ValueError, match="channels"):
        fitted.predict(X[:, :5])


def test_sampling_rate_is_the_parameter_else_the_one_x_carries():
    assert resolve_sfreq(None, 256.0, "M") == 256.0
    assert resolve_sfreq(128, None, "M") == 128.0
    assert resolve_sfreq(None, None, "M") is None
    with pytest.raises(ValueError, match="sfreq=128 was set but X .* sampled at 256"):
        resolve_sfreq(128, 256.0, "M")
    with pytest.raises(ValueError, match="positive number"):
        resolve_sfreq(-1.0, None, "M")


def test_positive_parameters():
    assert check_positive(3, "M", "n", integer=True) == 3
    assert check_positive(0.5, "M", "C") == 0.5
    for bad in [0, -2, 2.5, "x", None]:
        with pytest.raises(ValueError, match="M: n must be a positive integer"):
            check_positive(bad, "M", "n", integer=True)


def test_check_data_info_hook():
    info = _info()
    FilterBankCSP().check_data_info(info)  # sfreq taken from the data: fine
    with pytest.raises(ValueError, match="Nyquist"):
        FilterBankCSP(bands=[(8, 12), (44, 52)]).check_data_info(info)
    with pytest.raises(ValueError, match="sampled at 100"):
        CSPLDA(sfreq=250.0).check_data_info(info)
    flat = _info(ndim=2, n_channels=None, n_times=None, sfreq=None)
    with pytest.raises(ValueError, match="3-D"):
        TangentSpaceLR().check_data_info(flat)


def test_check_data_info_of_the_ssvep_and_erp_baselines():
    info = _info(classes=("13Hz", "17Hz", "rest"))
    FilterBankTangentSpaceLR(bands=[(12.5, 13.5)]).check_data_info(info)
    with pytest.raises(ValueError, match="needs bands"):
        FilterBankTangentSpaceLR().check_data_info(info)
    with pytest.raises(ValueError, match="Nyquist=50"):
        FilterBankTangentSpaceLR(bands=[(12.5, 13.5), (55, 56)]).check_data_info(info)
    with pytest.raises(ValueError, match="ar_order=400 needs windows longer"):
        FilterBankTangentSpaceLR(bands=[(12.5, 13.5)], ar_order=400).check_data_info(info)
    freqs = {"13Hz": 13.0, "17Hz": 17.0, "rest": None}
    SSVEPCCA(freqs=freqs, n_harmonics=2).check_data_info(info)  # top harmonic 34 Hz
    with pytest.raises(ValueError, match="harmonic 3 of 17 Hz is 51 Hz.*Nyquist=50"):
        SSVEPCCA(freqs=freqs, n_harmonics=3).check_data_info(info)
    with pytest.raises(ValueError, match="needs freqs"):
        SSVEPCCA().check_data_info(info)
    with pytest.raises(ValueError, match=r"no frequency for classes \['rest'\]"):
        SSVEPCCA(freqs={"13Hz": 13.0, "17Hz": 17.0}).check_data_info(info)
    with pytest.raises(ValueError, match="needs sfreq"):
        SSVEPCCA(freqs=freqs).check_data_info(_info(classes=info.classes, sfreq=None))
    XdawnTangentSpaceLR().check_data_info(_info(sfreq=None))  # no filtering: no sfreq needed
    with pytest.raises(ValueError, match="Nyquist"):
        XdawnTangentSpaceLR(l_freq=1.0, h_freq=60.0).check_data_info(info)
