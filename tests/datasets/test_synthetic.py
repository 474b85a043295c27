"""Tests for the synthetic motor-imagery data set (coco_pipe.datasets.synthetic)."""

from __future__ import annotations

import mne
import numpy as np
import pandas as pd
import pytest
from mne.decoding import CSP, Vectorizer
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from coco_pipe.datasets import (
    CLASS_NAMES,
    DEFAULT_CH_NAMES,
    load_default,
    make_motor_imagery,
)

SMALL = dict(n_subjects=2, n_epochs_per_class=4, sfreq=100.0, tmax=2.0)


@pytest.fixture(scope="module")
def default_arrays():
    return load_default("arrays")


@pytest.fixture(scope="module")
def small_epochs():
    return make_motor_imagery(**SMALL)


def _grouped_scores(estimator, X, y, meta) -> np.ndarray:
    # one BLAS thread: these small problems only lose time to thread contention
    with mne.use_log_level("error"), threadpool_limits(limits=1):
        return cross_val_score(
            estimator,
            X,
            y,
            groups=meta["Subject"].to_numpy(),
            cv=GroupKFold(n_splits=5),
            scoring="balanced_accuracy",
        )


def _logreg():
    return make_pipeline(Vectorizer(), StandardScaler(), LogisticRegression(max_iter=1000))


# --- shapes, types, metadata -----------------------------------------------------------


def test_default_arrays_shapes_dtypes_and_metadata(default_arrays):
    X, y, meta, info = default_arrays
    assert X.shape == (360, 19, 1000)
    assert X.dtype == np.float32
    assert np.issubdtype(y.dtype, np.integer)
    assert set(np.unique(y)) == {0, 1}
    assert isinstance(meta, pd.DataFrame)
    assert list(meta.columns) == ["Subject", "Trial", "Label"]
    assert len(meta) == len(y)
    assert sorted(meta["Subject"].unique()) == [f"sub-0{i}" for i in range(1, 7)]
    # balanced within every subject, Label agrees with y, Trial counts within subject
    counts = pd.crosstab(meta["Subject"], y)
    assert (counts.to_numpy() == 30).all()
    assert (meta["Label"].to_numpy() == np.asarray(CLASS_NAMES)[y]).all()
    assert (meta.groupby("Subject")["Trial"].apply(list).map(sorted) == [list(range(60))] * 6).all()
    assert info["sfreq"] == 250.0
    assert info["ch_names"] == list(DEFAULT_CH_NAMES)


def test_default_amplitudes_are_realistic_volts(default_arrays):
    X = default_arrays[0]
    assert np.isfinite(X).all()
    rms_uv = X.std(axis=(0, 2)) * 1e6
    # EEG-like: every channel 5-40 µV RMS (volts, not microvolts), no huge outliers
    assert rms_uv.min() > 5.0, rms_uv
    assert rms_uv.max() < 40.0, rms_uv
    assert np.abs(X).max() < 250e-6
    # channels correlate (volume conduction): neighbours more than distant channels
    ch = list(DEFAULT_CH_NAMES)
    flat = X[:60].transpose(1, 0, 2).reshape(len(ch), -1)  # one subject
    corr = np.corrcoef(flat)
    assert corr[ch.index("F3"), ch.index("Fz")] > corr[ch.index("F3"), ch.index("O2")] + 0.1


def test_epochs_carry_montage_events_and_metadata(small_epochs):
    epochs = small_epochs
    assert isinstance(epochs, mne.EpochsArray)
    assert epochs.event_id == {"left_hand": 1, "right_hand": 2}
    assert epochs.ch_names == list(DEFAULT_CH_NAMES)
    assert epochs.info["sfreq"] == 100.0
    assert epochs.get_data().shape == (16, 19, 200)
    montage = epochs.get_montage()
    assert montage is not None
    pos = montage.get_positions()["ch_pos"]
    assert set(pos) == set(DEFAULT_CH_NAMES)
    assert np.isfinite(np.array(list(pos.values()))).all()
    assert "SYNTHETIC" in epochs.info["description"]
    meta = epochs.metadata
    assert list(meta.columns) == ["Subject", "Trial", "Label"]
    codes = epochs.events[:, 2]
    assert (meta["Label"].map(epochs.event_id).to_numpy() == codes).all()


def test_epochs_and_arrays_hold_the_same_data(small_epochs):
    X, y, meta, _ = make_motor_imagery(**SMALL, return_epochs=False)
    np.testing.assert_allclose(small_epochs.get_data(), X, rtol=1e-6)
    np.testing.assert_array_equal(small_epochs.events[:, 2], y + 1)
    pd.testing.assert_frame_equal(small_epochs.metadata.reset_index(drop=True), meta)


def test_three_classes_custom_channels_and_time_span():
    X, y, meta, info = make_motor_imagery(
        n_subjects=1,
        n_epochs_per_class=3,
        sfreq=128.0,
        tmin=-0.5,
        tmax=1.5,
        ch_names=["C3", "Cz", "C4", "FC1"],
        n_classes=3,
        return_epochs=False,
    )
    assert X.shape == (9, 4, int(round(2.0 * 128.0)))
    assert set(y.tolist()) == {0, 1, 2}
    assert set(meta["Label"]) == {"left_hand", "right_hand", "feet"}
    assert info["event_id"] == {"left_hand": 1, "right_hand": 2, "feet": 3}
    assert info["ch_names"] == ["C3", "Cz", "C4", "FC1"]
    epochs = make_motor_imagery(
        n_subjects=1, n_epochs_per_class=3, sfreq=128.0, tmin=-0.5, tmax=1.5, n_classes=3
    )
    assert epochs.times[0] == pytest.approx(-0.5)
    assert epochs.event_id["feet"] == 3


# --- determinism ----------------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data():
    a = make_motor_imagery(**SMALL, random_state=3, return_epochs=False)
    b = make_motor_imagery(**SMALL, random_state=3, return_epochs=False)
    c = make_motor_imagery(**SMALL, random_state=4, return_epochs=False)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    pd.testing.assert_frame_equal(a[2], b[2])
    assert not np.allclose(a[0], c[0])


def test_effect_size_zero_changes_only_the_planted_effect():
    # same seed: identical labels; data differ only where the effect is planted (after 0 s)
    X0, y0, _, info = make_motor_imagery(**SMALL, effect_size=0.0, return_epochs=False)
    X1, y1, _, _ = make_motor_imagery(**SMALL, effect_size=1.0, return_epochs=False)
    np.testing.assert_array_equal(y0, y1)
    diff = np.abs(X1 - X0).mean(axis=(0, 1))  # (n_times,), 100 Hz from 0 s
    assert diff[:10].mean() < 0.15 * diff[100:].mean()  # first 100 ms: barely any effect yet
    assert diff[100:].mean() > 0.5e-6  # from 1 s on: a µV-sized planted effect


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_subjects": 0}, "n_subjects"),
        ({"n_epochs_per_class": 2.5}, "n_epochs_per_class"),
        ({"n_classes": 4}, "n_classes"),
        ({"sfreq": 40.0}, "sfreq"),
        ({"tmin": 1.0, "tmax": 1.0}, "tmax"),
        ({"effect_size": -1.0}, "effect_size"),
        ({"ch_names": ["C3", "C3"]}, "unique"),
        ({"ch_names": ["C3", "XYZ"]}, "XYZ"),
        ({"ch_names": "C3"}, "ch_names"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_invalid_parameters_raise_naming_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_motor_imagery(**kwargs)


def test_load_default_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        load_default("raw")


# --- the planted effect -----------------------------------------------------------------------


def test_logistic_regression_on_raw_samples_decodes_across_subjects(default_arrays):
    X, y, meta, _ = default_arrays
    scores = _grouped_scores(_logreg(), X, y, meta)
    assert scores.mean() > 0.65, scores
    assert scores.mean() < 0.98, scores  # planted effect is not trivially separable


def test_csp_lda_decodes_across_subjects(default_arrays):
    X, y, meta, _ = default_arrays
    # the synthetic data are full rank (independent sensor noise): skip rank estimation
    pipe = make_pipeline(CSP(n_components=4, rank="full"), LinearDiscriminantAnalysis())
    scores = _grouped_scores(pipe, X.astype(np.float64), y, meta)
    assert scores.mean() > 0.65, scores


def test_dummy_classifier_stays_at_chance(default_arrays):
    X, y, meta, _ = default_arrays
    dummy = make_pipeline(Vectorizer(), DummyClassifier(strategy="stratified", random_state=0))
    scores = _grouped_scores(dummy, X, y, meta)
    assert abs(scores.mean() - 0.5) < 0.1, scores


def test_without_effect_logistic_regression_is_at_chance():
    X, y, meta, _ = make_motor_imagery(effect_size=0.0, return_epochs=False)
    scores = _grouped_scores(_logreg(), X, y, meta)
    assert scores.mean() < 0.6, scores
