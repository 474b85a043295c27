"""XdawnTS_LR: above chance on a synthetic evoked response, at chance without it."""

from __future__ import annotations

import pytest
from baseline_data import ERP_SFREQ, chance_bound, make_erp, within_subject_accuracy

from coco_pipe.decoding.baselines import XdawnTangentSpaceLR


def test_beats_chance_on_synthetic_erp(erp_data):
    X, y, subject = erp_data
    accuracy = within_subject_accuracy(XdawnTangentSpaceLR, X, y, subject)
    # guessing between 2 classes exceeds this bound on len(y) windows with p < 1e-4
    assert accuracy > chance_bound(len(y), 2) + 0.05


def test_is_at_chance_without_the_effect():
    X, y, subject = make_erp(amplitude=0.0, random_state=1)
    assert within_subject_accuracy(XdawnTangentSpaceLR, X, y, subject) < chance_bound(len(y), 2)


def test_band_pass_first_and_bad_parameters(erp_data):
    X, y, _ = erp_data
    model = XdawnTangentSpaceLR(l_freq=1.0, h_freq=20.0, sfreq=ERP_SFREQ).fit(X, y)
    assert [name for name, _ in model.pipeline_.steps] == ["bandpass", "xdawn_cov", "tangent", "logreg"]
    assert model.pipeline_.named_steps["bandpass"].sfreq == ERP_SFREQ
    with pytest.raises(ValueError, match="nfilter must be a positive integer"):
        XdawnTangentSpaceLR(nfilter=0).fit(X, y)
    with pytest.raises(ValueError, match="C must be > 0"):
        XdawnTangentSpaceLR(C=0).fit(X, y)
