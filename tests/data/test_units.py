"""Amplitude units and the plausibility check of EEG windows."""

from __future__ import annotations

import numpy as np
import pytest

from coco_pipe.data.units import (
    EEG_ROBUST_RANGE_V,
    AmplitudeWarning,
    canonical_unit,
    check_amplitude,
    robust_amplitude,
    volts_per_unit,
    warn_if_implausible,
)


def _eeg_volts(scale: float = 10e-6) -> np.ndarray:
    return np.random.default_rng(0).normal(scale=scale, size=(20, 4, 256))


def test_units_and_their_spellings():
    assert [canonical_unit(u) for u in ("V", "mV", "uV", "µV", "μV", "nV")] == [
        "V", "mV", "uV", "uV", "uV", "nV",
    ]  # fmt: skip
    assert volts_per_unit("uV") == 1e-6 and volts_per_unit(" mV ") == 1e-3
    with pytest.raises(ValueError, match="unit='microvolt' is not a known amplitude unit"):
        canonical_unit("microvolt")


def test_robust_amplitude_is_the_median_channel_mad_and_ignores_outliers():
    X = _eeg_volts()
    expected = np.median(
        [np.median(np.abs(c - np.median(c))) for c in X.transpose(1, 0, 2).reshape(4, -1)]
    )
    assert robust_amplitude(X) == pytest.approx(expected)
    spiky = X.copy()
    spiky[0, :, :5] = 1.0  # a few huge artefacts barely move it
    assert robust_amplitude(spiky) == pytest.approx(expected, rel=0.05)
    spiky[1, 0, 0] = np.nan
    assert np.isfinite(robust_amplitude(spiky))
    with pytest.raises(ValueError, match="3-D"):
        robust_amplitude(X[0])


@pytest.mark.parametrize(("factor", "declared", "suggested"), [
    (1.0, "V", None), (1e6, "uV", None), (1e3, "mV", None),  # declared right: plausible
    (1e6, "V", "uV"), (1e3, "V", "mV"), (1.0, "uV", "V"),  # declared wrong: the fix named
])  # fmt: skip
def test_check_names_the_unit_that_would_make_the_data_plausible(factor, declared, suggested):
    check = check_amplitude(_eeg_volts() * factor, declared)
    assert check.plausible is (suggested is None)
    assert check.suggested_unit == suggested
    assert check.amplitude_volts == pytest.approx(check.amplitude * volts_per_unit(declared))
    assert check.as_tags() == {"data.unit": canonical_unit(declared),
                               "data.amplitude": "plausible" if check.plausible else "implausible"}
    if suggested:
        msg = check.message()
        assert f"{check.amplitude:.3g} {declared}" in msg and f"unit={suggested!r}" in msg
        assert f"{EEG_ROBUST_RANGE_V[0]:g} .. {EEG_ROBUST_RANGE_V[1]:g} V" in msg
        with pytest.warns(AmplitudeWarning, match="look like"):
            warn_if_implausible(check, "demo")
    else:
        assert check.message() == ""


def test_flat_data_are_implausible_in_every_unit():
    check = check_amplitude(np.zeros((3, 2, 50)))
    assert not check.plausible and check.suggested_unit is None
    assert "No amplitude unit makes them plausible" in check.message()
