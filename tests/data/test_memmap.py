"""MemmapSource: a raw file read by position, pickled by its path."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from coco_pipe.data import ArraySource, MemmapSource, as_source


@pytest.mark.parametrize("dtype", ["<f8", ">f8", "<i2", "<f4"])
def test_npy_reads_equal_the_array_cast_to_float32(tmp_path, dtype):
    X = (np.random.default_rng(1).normal(size=(30, 4, 6)) * 100).astype(dtype)
    np.save(tmp_path / "x.npy", X)
    src = MemmapSource.from_npy(tmp_path / "x.npy")
    assert src.shape == X.shape and src.source_dtype == np.dtype(dtype)
    idx = np.array([29, 0, 1, 2, 17, 16, 2])  # runs, reversals, repeats
    np.testing.assert_array_equal(src.take(idx), X[idx].astype(np.float32))
    np.testing.assert_array_equal(np.asarray(src), X.astype(np.float32))


def test_memmap_with_offset_and_pickled_by_reference(tmp_path):
    path = tmp_path / "x.dat"
    X = np.random.default_rng(2).normal(size=(200, 8, 16))
    header = b"\0" * 48
    path.write_bytes(header + X.tobytes())
    mm = np.memmap(path, dtype=np.float64, mode="r", offset=len(header), shape=X.shape)
    src = as_source(mm)
    assert isinstance(src, MemmapSource) and src.offset == len(header)
    blob = pickle.dumps(src.subset(np.arange(100, 200)))
    assert len(blob) < 2000 < X.nbytes  # the path and the indices, not the windows
    with open(path, "r+b") as f:  # a change to the file is seen through the unpickled copy
        f.seek(len(header) + 150 * X[0].nbytes)
        f.write(np.full(X[0].shape, 7.0).tobytes())
    back = pickle.loads(blob)
    assert (back[50] == 7.0).all()
    np.testing.assert_array_equal(back[49], X[149].astype(np.float32))


def test_memmap_views_are_read_through_the_mapping(tmp_path):
    X = np.arange(60.0).reshape(10, 6)
    np.save(tmp_path / "x.npy", X)
    mm = np.load(tmp_path / "x.npy", mmap_mode="r")
    view = as_source(mm[3:])
    assert isinstance(view, ArraySource)
    np.testing.assert_array_equal(view[0], X[3].astype(np.float32))
    fortran = tmp_path / "f.npy"
    np.save(fortran, np.asfortranarray(X))
    assert isinstance(MemmapSource.from_npy(fortran), ArraySource)


def test_a_file_too_short_for_its_shape_is_refused(tmp_path):
    path = tmp_path / "x.dat"
    path.write_bytes(b"\0" * 100)
    with pytest.raises(ValueError, match=r"has 100 bytes but shape \(4, 10\) of float32 .* needs 160"):
        MemmapSource(path, "float32", (4, 10))


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/maps"), reason="Linux /proc")
def test_reads_leave_no_mapping_of_the_file(tmp_path):
    """Positioned reads: the file's pages never become part of this process's memory."""
    import gc

    path = tmp_path / "windows.npy"
    np.save(path, np.ones((64, 4, 32)))
    src = MemmapSource.from_npy(path)
    gc.collect()  # the header's temporary mapping is gone
    assert src.take(np.arange(64)).sum() == 64 * 4 * 32
    assert str(path) not in open("/proc/self/maps").read()
