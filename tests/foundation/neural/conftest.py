"""Data and decoders shared by the NeuralDecoder tests: a small random-init CBraMod fitted
once per train mode (session), and planted-effect data for the scratch networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from neural_helpers import CHS, SCRATCH_CHS, SCRATCH_SFREQ, SFREQ, cbramod_cfg, decoder

from coco_pipe.foundation.neural import NeuralDecoder


@pytest.fixture(autouse=True)
def _one_torch_thread(one_torch_thread):
    """Tiny networks: one torch thread (see tests/foundation/conftest.py)."""


@pytest.fixture(scope="session")
def cbramod_data():
    from coco_pipe.datasets import make_motor_imagery

    X, y, meta, _ = make_motor_imagery(n_subjects=3, n_epochs_per_class=8, sfreq=SFREQ, tmax=2.0,
                                       ch_names=CHS, random_state=0, return_epochs=False)  # fmt: skip
    return X, y, meta["Subject"].to_numpy()


_FITTED: dict[str, NeuralDecoder] = {}


@pytest.fixture(scope="session")
def fitted_cbramod(cbramod_data):
    """One fitted small CBraMod decoder per train mode, trained on sub-01 and sub-02 once per
    session (sub-03 is held out)."""
    X, y, groups = cbramod_data
    train = groups != "sub-03"

    def get(mode: str) -> NeuralDecoder:
        if mode not in _FITTED:
            old = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                est = decoder(cbramod_cfg(mode), sfreq=SFREQ, ch_names=CHS, random_state=0, quiet=True)
                _FITTED[mode] = est.fit(X[train], y[train], groups=groups[train])
            finally:
                torch.set_num_threads(old)
        return _FITTED[mode]

    yield get
    _FITTED.clear()


@pytest.fixture(scope="session")
def planted():
    """Two subjects with a strong planted lateralised effect at 64 Hz; a stratified split."""
    from sklearn.model_selection import train_test_split

    from coco_pipe.datasets import make_motor_imagery

    X, y, _, _ = make_motor_imagery(n_subjects=2, n_epochs_per_class=40, sfreq=SCRATCH_SFREQ,
                                    tmax=2.0, ch_names=SCRATCH_CHS, effect_size=2.0, random_state=0,
                                    return_epochs=False)  # fmt: skip
    tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    return X, y, tr, te
