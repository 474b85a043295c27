"""ZarrSource: chunked reads of a zarr array; a local store pickles as its path."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from coco_pipe.data import ZarrSource, as_source, validate_inputs

zarr = pytest.importorskip("zarr")  # an optional dependency (extra "scale")


def test_zarr_array_and_path_are_read_lazily_and_pickle_by_reference(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 3, 20))
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(8, 3, 20),
                        dtype="f8")
    z[:] = X
    for given in (z, str(tmp_path / "x.zarr"), tmp_path / "x.zarr"):
        src = as_source(given)
        assert isinstance(src, ZarrSource) and src.source_dtype == np.float64
        np.testing.assert_array_equal(src.take([39, 3, 4, 5]), X[[39, 3, 4, 5]].astype(np.float32))
    blob = pickle.dumps(src)
    assert len(blob) < X.nbytes // 4
    np.testing.assert_array_equal(pickle.loads(blob)[7], X[7].astype(np.float32))
    data = validate_inputs(z, np.arange(40) % 2)
    assert isinstance(data.X, ZarrSource) and data.X.dtype == np.float32


def test_zarr_nan_is_found_in_validation(tmp_path):
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=(10, 2, 4), dtype="f4")
    z[:] = 0
    z[6, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or Inf in 1 window\(s\) \(first indices: \[6\]\)"):
        validate_inputs(z, np.arange(10) % 2)
