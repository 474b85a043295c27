"""One experiment with a model of each kind (classical, frozen-backbone pipeline, LoRA), run
once per session in its own store, for the promotion and serving tests."""

from __future__ import annotations

import os
import shutil

import pytest
from promotable import MODELS, Promotable, run_experiment


@pytest.fixture(scope="session")
def promotable(tmp_path_factory, _template_store, mi_arrays):
    """The three-kind experiment in a store of its own (artifacts next to it)."""
    root = tmp_path_factory.mktemp("registry-store")
    shutil.copy(_template_store, root / "mlruns.db")
    uri = f"sqlite:///{root}/mlruns.db"
    cwd = os.getcwd()
    os.chdir(root)  # the experiment's artifacts go under ./mlruns of the store's folder
    try:
        result = run_experiment(uri, mi_arrays, MODELS)
    finally:
        os.chdir(cwd)
    X, y, meta, info = mi_arrays
    return Promotable(uri, result, X, y, meta, info)
