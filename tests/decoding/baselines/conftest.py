"""Fixtures of the baseline tests: data with known effects (see baseline_data)."""

from __future__ import annotations

import pytest
from baseline_data import MI_SFREQ, make_erp, make_ssvep

from coco_pipe.datasets import make_motor_imagery


@pytest.fixture(scope="session")
def mi_data():
    """4 synthetic subjects x 30 windows, 19 channels, 3 s at 100 Hz (planted ERD)."""
    X, y, meta, _ = make_motor_imagery(
        n_subjects=4, n_epochs_per_class=15, sfreq=MI_SFREQ, tmax=3.0, random_state=0,
        return_epochs=False,
    )  # fmt: skip
    return X, y, meta["Subject"].to_numpy()


@pytest.fixture(scope="session")
def null_data():
    """Same design with the effect removed (effect_size=0)."""
    X, y, meta, _ = make_motor_imagery(
        n_subjects=4, n_epochs_per_class=15, sfreq=MI_SFREQ, tmax=3.0, effect_size=0.0,
        random_state=1, return_epochs=False,
    )  # fmt: skip
    return X, y, meta["Subject"].to_numpy()


@pytest.fixture(scope="session")
def ssvep_data():
    return make_ssvep()


@pytest.fixture(scope="session")
def erp_data():
    return make_erp()
