"""WindowSource: NumPy-like reads cast chunk by chunk to float32; lazy subsets."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from coco_pipe.data import ArraySource, SubsetSource


def _x(n=12, dtype=np.float64):
    return (np.random.default_rng(0).normal(size=(n, 3, 5)) * 10).astype(dtype)


def test_reads_equal_numpy_indexing_in_float32(monkeypatch):
    import coco_pipe.data.chunks as chunks

    monkeypatch.setattr(chunks, "CHUNK_BYTES", 2 * 3 * 5 * 8)  # two windows per read
    X = _x()
    src = ArraySource(X)
    ref = X.astype(np.float32)
    assert src.dtype == np.float32 and src.source_dtype == np.float64 and src.shape == X.shape
    idx = np.array([7, 1, 1, 11, 0, 5, 6])
    for key in (3, -1, slice(2, 9, 3), idx, list(idx), ref[:, 0, 0] > 0, (slice(None), 1), (4, 2)):
        out = src[key]
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, ref[key])
    np.testing.assert_array_equal(np.asarray(src), ref)
    np.testing.assert_array_equal(np.stack(list(src)), ref)


def test_scale_is_applied_to_every_read():
    X = np.arange(12, dtype=np.int16).reshape(4, 3)
    src = ArraySource(X, scale=1e-3)
    np.testing.assert_allclose(src.take([3, 0]), X[[3, 0]] * np.float32(1e-3))


def test_in_memory_float32_reads_are_plain_take():
    X = _x(dtype=np.float32)
    out = ArraySource(X).take([2, 0])
    np.testing.assert_array_equal(out, X[[2, 0]])
    out[:] = 0  # a copy: the source's windows are untouched
    assert X[2].any()


def test_batches_cover_the_indices_in_order():
    src = ArraySource(_x())
    idx = np.array([9, 3, 4, 0, 11])
    got = list(src.batches(idx, batch_windows=2))
    assert [p for p, _ in got] == [0, 2, 4]
    np.testing.assert_array_equal(np.concatenate([b for _, b in got]), src.take(idx))
    with pytest.raises(ValueError, match="batch_windows must be >= 1"):
        list(src.batches(batch_windows=-1))


def test_subsets_compose_and_read_through_their_parent():
    X = _x()
    src = ArraySource(X)
    part = src.subset([10, 2, 8, 4])
    assert isinstance(part, SubsetSource) and part.shape == (4, 3, 5)
    inner = part.subset([3, 0])
    assert inner.parent is src and inner.indices.tolist() == [4, 10]
    np.testing.assert_array_equal(inner[:], X[[4, 10]].astype(np.float32))
    back = pickle.loads(pickle.dumps(inner))
    np.testing.assert_array_equal(back[:], inner[:])


@pytest.mark.parametrize(
    ("key", "error", "match"),
    [
        ([0, 12], IndexError, r"indices \[12\] out of range for 12 windows"),
        (np.zeros(5, bool), IndexError, r"boolean indices has shape \(5,\); expected \(12,\)"),
        (np.array([0.5]), IndexError, "integer positions or a boolean mask"),
    ],
)
def test_bad_indices_say_what_was_given(key, error, match):
    with pytest.raises(error, match=match):
        ArraySource(_x()).take(key)


def test_no_view_without_a_copy():
    with pytest.raises(ValueError, match="cannot be viewed as an array without a copy"):
        ArraySource(_x()).__array__(copy=False)
