"""data_fingerprint covers every byte of X, y and the groups."""

from __future__ import annotations

import numpy as np
import pytest

from coco_pipe.data import data_fingerprint, validate_inputs


def _data(X=None, y=None, groups=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 2, 8)).astype(np.float32) if X is None else X
    y = np.repeat([0, 1], len(X) // 2) if y is None else y
    import pandas as pd

    meta = pd.DataFrame({"Subject": np.arange(len(X)) % 6 if groups is None else groups})
    return validate_inputs(X, y, meta, group_key="Subject")


def test_same_data_same_fingerprint():
    assert data_fingerprint(_data()) == data_fingerprint(_data())


@pytest.mark.parametrize("row", [0, 1, 299, 598, 599])
def test_one_changed_sample_anywhere_changes_the_fingerprint(row):
    base = _data()
    X = base.X.copy()
    X[row, 1, 7] += 1e-3  # the old sampler (every n/256-th window) missed most rows
    assert data_fingerprint(_data(X=X)) != data_fingerprint(base)


def test_labels_groups_and_shape_enter_the_fingerprint():
    base = _data()
    y = base.y.copy()
    y[[0, -1]] = y[[-1, 0]]
    groups = np.arange(600) % 6
    groups[[0, 1]] = groups[[1, 0]]
    assert data_fingerprint(_data(y=y)) != data_fingerprint(base)
    assert data_fingerprint(_data(groups=groups)) != data_fingerprint(base)
    assert data_fingerprint(_data(X=base.X.reshape(600, 1, 16))) != data_fingerprint(base)


def test_fingerprint_reads_a_memmap_in_chunks(tmp_path, monkeypatch):
    import coco_pipe.data.chunks as chunks

    base = _data()
    path = tmp_path / "x.npy"
    np.save(path, base.X)
    mm = np.load(path, mmap_mode="r")
    monkeypatch.setattr(chunks, "CHUNK_BYTES", 1000)  # many chunks
    assert data_fingerprint(_data(X=mm)) == data_fingerprint(base)
