"""Tests of the content-addressed embedding cache (coco_pipe.foundation.cache).

Compute functions are pure numpy with a call counter; no torch is needed. Subprocess
tests import the cache package with light stand-ins for its parent packages, so that a
child process does not pay for importing the whole of coco-pipe (the cache depends on
numpy, pandas and filelock only).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import coco_pipe
from coco_pipe.foundation.cache import (
    CacheStats,
    EmbeddingCache,
    cache_info_command,
    cache_prune_command,
    default_cache_dir,
    fingerprint_of,
    window_digests,
)
from coco_pipe.foundation.cache import index as cache_index

SRC_ROOT = str(Path(coco_pipe.__path__[0]).parent)
DIM = 6


def _embed(windows: np.ndarray) -> np.ndarray:
    """A deterministic, non-trivial 'backbone': fixed random projection + nonlinearity."""
    w = np.asarray(windows, dtype=np.float64).reshape(len(windows), -1)
    proj = np.random.default_rng(123).standard_normal((w.shape[1], DIM))
    return np.tanh(w @ proj / np.sqrt(w.shape[1])).astype(np.float32)


class Counter:
    """compute() wrapper that records every window it is given."""

    def __init__(self, fn=_embed):
        self.fn = fn
        self.calls = 0
        self.windows = 0
        self.digests: list[str] = []

    def __call__(self, windows):
        self.calls += 1
        self.windows += len(windows)
        self.digests += window_digests(windows).tolist()
        return self.fn(windows)


def _data(n=40, ch=3, t=16, seed=0):
    return np.random.default_rng(seed).standard_normal((n, ch, t)).astype(np.float32)


FP_INFO = {"model_key": "toy", "weights": "random-init", "sfreq": 100.0, "pooling": "mean"}
FP = fingerprint_of(FP_INFO)


def _sql(root, query, args=()):
    con = sqlite3.connect(str(Path(root) / "index.sqlite"))
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def _n_shards(root) -> int:
    """Shards indexed so far (0 while the child is still creating the index)."""
    if not (Path(root) / "index.sqlite").exists():
        return 0
    try:
        return len(_sql(root, "SELECT id FROM shards"))
    except sqlite3.OperationalError:
        return 0


def _check_consistent(root, fp=FP):
    """Every index entry points into an indexed shard whose file holds that digest."""
    cache = EmbeddingCache(root, memory=False)
    files = dict(_sql(root, "SELECT id, file FROM shards"))
    for digest, shard_id, row in _sql(root, "SELECT digest, shard_id, row FROM entries"):
        assert shard_id in files
        with np.load(Path(root) / files[shard_id]) as npz:
            assert npz["digests"][row] == digest
    # no indexed shard is dead weight, and every shard file on disk is indexed
    used = {s for (s,) in _sql(root, "SELECT DISTINCT shard_id FROM entries")}
    assert used == set(files)
    assert {str(p.relative_to(root)) for p in Path(root).glob("*/shard-*.npz")} == set(
        files.values()
    )
    return cache


# ------------------------------------------------------------------ keys
def test_window_digests_depend_on_bytes_dtype_and_shape_only():
    X = _data(5)
    d = window_digests(X)
    assert d.shape == (5,) and len(set(d)) == 5
    np.testing.assert_array_equal(window_digests(X.copy()), d)  # content, not identity
    np.testing.assert_array_equal(window_digests(X[[3, 1]]), d[[3, 1]])  # per row, order free
    assert window_digests(X.astype(np.float64))[0] != d[0]  # dtype is part of the window
    assert window_digests(X.reshape(5, 1, -1))[0] != d[0]  # so is its shape
    Y = X.copy()
    Y[2, 0, 0] = np.nextafter(Y[2, 0, 0], np.float32(np.inf))  # one ulp
    assert window_digests(Y)[2] != d[2] and window_digests(Y)[1] == d[1]
    # a non-contiguous view hashes like its contiguous copy
    big = _data(5, t=32)
    np.testing.assert_array_equal(
        window_digests(big[:, :, ::2]), window_digests(big[:, :, ::2].copy())
    )


def test_fingerprint_is_canonical_and_rejects_opaque_values():
    a = fingerprint_of({"model_key": "m", "chs": ["C3", "C4"], "sfreq": np.float64(200.0)})
    b = fingerprint_of({"sfreq": 200.0, "chs": ["C3", "C4"], "model_key": "m"})
    assert a == b and len(a) == 64
    assert fingerprint_of({"model_key": "m", "chs": ["C4", "C3"], "sfreq": 200.0}) != a
    with pytest.raises(TypeError, match="JSON-like"):
        fingerprint_of({"model": object()})


def test_default_cache_dir_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("COCO_PIPE_CACHE_DIR", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    assert EmbeddingCache().root == tmp_path / "here"
    monkeypatch.delenv("COCO_PIPE_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == ("coco-pipe", "embeddings")


# ------------------------------------------------------------------ hits and misses
def test_hits_are_bit_identical_and_compute_sees_only_misses(tmp_path):
    X = _data(40)
    fresh = _embed(X)
    cache = EmbeddingCache(tmp_path / "c")
    counter = Counter()
    emb, stats = cache.get_or_compute(X[:25], FP, counter, fingerprint_info=FP_INFO)
    assert stats == CacheStats(hits=0, misses=25, bytes_written=stats.bytes_written, computed=25)
    assert stats.bytes_written > 0 and counter.windows == 25
    assert emb.dtype == np.float32 and emb.tobytes() == fresh[:25].tobytes()

    # overlapping call: only the 15 new windows reach compute
    emb2, stats2 = cache.get_or_compute(X, FP, counter)
    assert (stats2.hits, stats2.misses, stats2.computed) == (25, 15, 15)
    assert counter.windows == 40
    assert set(counter.digests[25:]) == set(window_digests(X[25:]))
    assert emb2.tobytes() == fresh.tobytes()

    # a fresh instance (no in-process memory) reads the shards bit-identically
    emb3, stats3 = EmbeddingCache(tmp_path / "c", memory=False).get_or_compute(X, FP, counter)
    assert stats3.hits == 40 and stats3.misses == 0 and counter.windows == 40
    assert emb3.tobytes() == fresh.tobytes()


def test_duplicates_within_a_call_are_computed_once(tmp_path):
    X = _data(10)
    Xdup = X[[0, 1, 2, 1, 0, 3, 0, 4, 4, 4]]
    counter = Counter()
    emb, stats = EmbeddingCache(tmp_path).get_or_compute(Xdup, FP, counter)
    assert counter.windows == 5 and stats.computed == 5
    assert (stats.hits, stats.misses) == (0, 10)
    assert emb.tobytes() == _embed(Xdup).tobytes()
    assert len(_sql(tmp_path, "SELECT * FROM entries")) == 5


def test_label_and_fold_independence_permuted_subsets_hit(tmp_path):
    """The API never sees labels or folds: any subset in any order of stored windows hits."""
    X = _data(30)
    cache = EmbeddingCache(tmp_path)
    counter = Counter()
    cache.get_or_compute(X, FP, counter)
    assert counter.windows == 30
    rng = np.random.default_rng(1)
    for _ in range(5):  # 5 "folds" with different train/test partitions and orders
        perm = rng.permutation(30)
        train, test = perm[:24], perm[24:]
        for part in (train, test):
            emb, stats = cache.get_or_compute(X[part], FP, counter)
            assert stats.hits == len(part) and stats.misses == 0
            assert emb.tobytes() == _embed(X)[part].tobytes()
    assert counter.windows == 30  # nothing recomputed


def test_different_fingerprint_misses(tmp_path):
    X = _data(12)
    cache = EmbeddingCache(tmp_path)
    counter = Counter()
    cache.get_or_compute(X, FP, counter)
    other = fingerprint_of({**FP_INFO, "sfreq": 200.0})
    assert other != FP
    _, stats = cache.get_or_compute(X, other, counter)
    assert stats.misses == 12 and counter.windows == 24
    assert cache.contains(X, FP).all() and cache.contains(X, other).all()
    assert not cache.contains(_data(3, seed=9), FP).any()


def test_compute_output_is_validated(tmp_path):
    cache = EmbeddingCache(tmp_path)
    X = _data(4)
    with pytest.raises(ValueError, match=r"shape \(4, d\)"):
        cache.get_or_compute(X, FP, lambda w: np.zeros((len(w) - 1, 3), np.float32))
    with pytest.raises(ValueError, match="fingerprint must be"):
        cache.get_or_compute(X, "../evil", _embed)
    with pytest.raises(ValueError, match="ndim >= 2"):
        cache.get_or_compute(np.zeros(3, np.float32), FP, _embed)
    cache.get_or_compute(X, FP, _embed)
    with pytest.raises(
        ValueError, match="dimension"
    ):  # a fingerprint that does not pin the backbone
        cache.get_or_compute(
            _data(2, seed=5), FP, lambda w: np.zeros((len(w), DIM + 1), np.float32)
        )
    # float64 output is stored as float32, and served identically when hit
    emb, _ = cache.get_or_compute(_data(3, seed=7), "fp64", lambda w: _embed(w).astype(np.float64))
    again, stats = cache.get_or_compute(_data(3, seed=7), "fp64", _embed)
    assert stats.hits == 3 and emb.dtype == np.float32 and emb.tobytes() == again.tobytes()


def test_precomputed_digests_are_used(tmp_path):
    X = _data(8)
    cache = EmbeddingCache(tmp_path)
    cache.get_or_compute(X, FP, _embed, digests=window_digests(X))
    _, stats = cache.get_or_compute(X, FP, _embed)
    assert stats.hits == 8
    with pytest.raises(ValueError, match="one digest per window"):
        cache.get_or_compute(X, FP, _embed, digests=window_digests(X[:3]))


# ------------------------------------------------------------------ damage
@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_shard_warns_and_recomputes(tmp_path, damage):
    X = _data(20)
    cache = EmbeddingCache(tmp_path, shard_rows=8)  # 3 shards: 8 + 8 + 4
    cache.get_or_compute(X, FP, _embed)
    files = [f for (f,) in _sql(tmp_path, "SELECT file FROM shards ORDER BY id")]
    assert len(files) == 3
    victim = tmp_path / files[1]
    raw = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        buf = bytearray(raw)
        buf[len(buf) - 40] ^= 0xFF  # inside the embeddings payload
        victim.write_bytes(bytes(buf))
    else:
        victim.unlink()

    counter = Counter()
    fresh_reader = EmbeddingCache(tmp_path, memory=False)
    with pytest.warns(RuntimeWarning, match=Path(files[1]).name):
        emb, stats = fresh_reader.get_or_compute(X, FP, counter)
    assert emb.tobytes() == _embed(X).tobytes()
    assert counter.windows == 8 and stats.recomputed_damaged == 8
    assert (stats.hits, stats.misses) == (12, 8)
    assert files[1] not in [f for (f,) in _sql(tmp_path, "SELECT file FROM shards")]
    assert not victim.exists()
    # repaired: the next read is clean and complete
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb2, stats2 = EmbeddingCache(tmp_path, memory=False).get_or_compute(X, FP, counter)
    assert stats2.hits == 20 and counter.windows == 8 and emb2.tobytes() == emb.tobytes()
    _check_consistent(tmp_path)


# ------------------------------------------------------------------ killed writer
_CHILD_PRELUDE = """
import sys, time, types
import numpy as np
sys.path.insert(0, {src!r})
for name in ("coco_pipe", "coco_pipe.foundation"):  # stand-ins: skip the packages' __init__
    m = types.ModuleType(name); m.__path__ = [{src!r} + "/" + name.replace(".", "/")]
    sys.modules[name] = m
import coco_pipe.foundation.cache as cache_mod
import coco_pipe.foundation.cache.store as cache_store
DIM = {dim}
def embed(windows):
    w = np.asarray(windows, dtype=np.float64).reshape(len(windows), -1)
    proj = np.random.default_rng(123).standard_normal((w.shape[1], DIM))
    return np.tanh(w @ proj / np.sqrt(w.shape[1])).astype(np.float32)
X = np.load({data!r})
"""


def _child(tmp_path, body: str, data: np.ndarray, name: str) -> list[str]:
    path = tmp_path / f"{name}.npy"
    np.save(path, data)
    script = _CHILD_PRELUDE.format(
        src=SRC_ROOT, dim=DIM, data=str(path)
    ) + textwrap.dedent(body)
    return [sys.executable, "-c", script]


def _wait_for(predicate, timeout=30.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"child exited early with {proc.returncode}: {proc.stderr.read().decode()[-2000:]}"
            )
        time.sleep(0.02)
    return False


def test_writer_killed_mid_write_leaves_a_readable_cache(tmp_path):
    """SIGKILL a writer (a) inside a shard write, after part of a temporary file is on
    disk, and (b) between batches; the cache reads back correctly and the next run
    completes it."""
    root = tmp_path / "cache"
    X = _data(60)
    # the child fills 3-window shards slowly; its 5th shard write stalls half-way (as
    # if the process were killed while writing), and the parent kills it right there
    body = f"""
    real_write = cache_store.atomic_write_bytes
    n = [0]
    def stalling_write(path, payload):
        n[0] += 1
        if n[0] == 5:
            tmp = path.parent / (".tmp-stalled" + path.suffix)
            with open(tmp, "wb") as fh:
                fh.write(payload[: len(payload) // 2]); fh.flush()
            time.sleep(600)
        real_write(path, payload)
    cache_store.atomic_write_bytes = stalling_write
    cache = cache_mod.EmbeddingCache({str(root)!r}, shard_rows=3)
    cache.get_or_compute(X, {FP!r}, embed)
    """
    proc = subprocess.Popen(_child(tmp_path, body, X, "a"), stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: any(root.glob("*/.tmp-stalled*")), proc=proc), (
            "child never reached the write"
        )
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -9
    stored = len(_sql(root, "SELECT * FROM entries"))
    assert stored == 12  # 4 complete shards of 3

    counter = Counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing damaged: the dangling temp file is simply ignored
        emb, stats = EmbeddingCache(root, memory=False).get_or_compute(X, FP, counter)
    assert emb.tobytes() == _embed(X).tobytes()
    assert stats.hits == 12 and counter.windows == 48  # the next run completes it
    _, stats = EmbeddingCache(root).get_or_compute(X, FP, counter)
    assert stats.hits == 60 and counter.windows == 48
    # the interrupted temporary file is cleaned (age-gated so live writers are safe)
    assert any(root.glob("*/.tmp-*"))
    assert EmbeddingCache(root).cleanup(max_age_s=0) >= 1
    assert not any(root.glob("*/.tmp-*"))
    _check_consistent(root)

    # (b) a real SIGKILL at an arbitrary point of a slow multi-batch fill
    root_b = tmp_path / "cache_b"
    body_b = f"""
    def slow(w):
        time.sleep(0.03)
        return embed(w)
    cache_mod.EmbeddingCache({str(root_b)!r}, shard_rows=2).get_or_compute(X, {FP!r}, slow)
    """
    proc = subprocess.Popen(_child(tmp_path, body_b, X, "b"), stderr=subprocess.PIPE)
    try:
        assert _wait_for(lambda: _n_shards(root_b) >= 1, proc=proc)
        time.sleep(np.random.default_rng().uniform(0.0, 0.3))
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    stored = len(_sql(root_b, "SELECT * FROM entries"))
    assert 0 < stored < 60
    counter = Counter()
    emb, stats = EmbeddingCache(root_b).get_or_compute(X, FP, counter)
    assert emb.tobytes() == _embed(X).tobytes()
    assert stats.hits == stored and counter.windows == 60 - stored
    # a kill between a shard's rename and its index commit leaves an unindexed file:
    # never read, and removed by cleanup
    EmbeddingCache(root_b).cleanup(max_age_s=0)
    _check_consistent(root_b)


def test_two_processes_fill_the_same_cache(tmp_path):
    root = tmp_path / "cache"
    X = _data(80)
    procs = []
    # two writers with overlapping window sets, in different orders, small shards
    for k, idx in enumerate([np.arange(0, 60), np.arange(20, 80)[::-1]]):
        body = f"""
        import pathlib
        idx = np.array({idx.tolist()})
        pathlib.Path({str(tmp_path / f"ready{k}")!r}).touch()
        while not pathlib.Path({str(tmp_path / "go")!r}).exists():  # start both writers together
            time.sleep(0.005)
        def slowish(w):
            time.sleep(0.01)
            return embed(w)
        cache = cache_mod.EmbeddingCache({str(root)!r}, shard_rows=4)
        emb, stats = cache.get_or_compute(X[idx], {FP!r}, slowish)
        assert emb.tobytes() == embed(X[idx]).tobytes()
        print(stats.computed)
        """
        procs.append(
            subprocess.Popen(
                _child(tmp_path, body, X, f"w{k}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
    try:
        ok = _wait_for(lambda: all((tmp_path / f"ready{k}").exists() for k in range(2)), timeout=60)
        assert ok, "writers did not start"
        (tmp_path / "go").touch()
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err.decode()[-2000:]
    computed = sum(int(out.decode().split()[-1]) for out, _ in outs)
    assert 80 <= computed <= 120  # overlap computed at most twice, never lost

    entries = _sql(root, "SELECT digest FROM entries")
    assert len(entries) == 80 and len({d for (d,) in entries}) == 80
    _check_consistent(root)
    counter = Counter()
    emb, stats = EmbeddingCache(root, memory=False).get_or_compute(X, FP, counter)
    assert stats.hits == 80 and counter.windows == 0
    assert emb.tobytes() == _embed(X).tobytes()


# ------------------------------------------------------------------ info, prune, export
def test_info_manifest_export(tmp_path):
    cache = EmbeddingCache(tmp_path, shard_rows=10)
    X = _data(25)
    other_info = {**FP_INFO, "pooling": "cls"}
    other = fingerprint_of(other_info)
    cache.get_or_compute(X, FP, _embed, fingerprint_info=FP_INFO)
    cache.get_or_compute(X[:7], other, _embed, fingerprint_info=other_info)
    info = cache.info().set_index("fingerprint")
    assert info.loc[FP, "entries"] == 25 and info.loc[FP, "shards"] == 3
    assert info.loc[other, "entries"] == 7 and info.loc[other, "shards"] == 1
    assert info.loc[FP, "model_key"] == "toy" and info.loc[other, "info"]["pooling"] == "cls"
    on_disk = sum(p.stat().st_size for p in (tmp_path / FP).glob("shard-*.npz"))
    assert info.loc[FP, "bytes"] == on_disk
    assert isinstance(info.loc[FP, "last_used"], pd.Timestamp)

    man = cache.manifest([FP, other, "absent"])
    assert (
        man["fingerprints"][FP]["entries"] == 25 and man["fingerprints"]["absent"]["entries"] == 0
    )
    assert man["total_entries"] == 32 and man["total_bytes"] == int(info["bytes"].sum())
    json.dumps(man)  # loggable as a JSON artifact

    wanted = window_digests(X[[4, 2, 2, 9]])
    d, emb = cache.export(FP, np.concatenate([wanted, window_digests(_data(1, seed=99))]))
    assert d.tolist() == list(
        dict.fromkeys(wanted.tolist())
    )  # input order, no duplicate, no unknown
    assert emb.tobytes() == _embed(X[[4, 2, 9]]).tobytes()

    text = cache_info_command(str(tmp_path))
    assert "2 fingerprint(s)" in text and "32 entries" in text and FP[:16] in text


def test_prune_by_fingerprint_and_age(tmp_path, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(cache_index, "now", lambda: clock[0])
    cache = EmbeddingCache(tmp_path, shard_rows=5)
    X = _data(20)
    other = fingerprint_of({**FP_INFO, "weights": "sha256:abc"})
    cache.get_or_compute(X[:10], FP, _embed)  # day 0: 2 shards
    clock[0] += 10 * 86400
    cache.get_or_compute(X[10:], FP, _embed)  # day 10: 2 shards
    cache.get_or_compute(X[:5], other, _embed)  # day 10: 1 shard of another backbone

    clock[0] += 5 * 86400  # day 15
    assert cache.prune(older_than_days=30) == 0
    assert cache.prune(older_than_days=12) == 10  # the day-0 shards only
    assert not cache.contains(X[:10], FP).any() and cache.contains(X[10:], FP).all()

    assert cache.prune(fingerprint=other[:12]) == 5  # prefix accepted
    assert other not in cache.info()["fingerprint"].tolist()
    assert not (tmp_path / other).exists()

    # a read refreshes last_used, so a used shard survives an age prune
    clock[0] += 20 * 86400
    cache.get_or_compute(X[10:15], FP, _embed)
    assert cache.prune(older_than_days=1) == 5
    assert cache.contains(X[10:15], FP).all()
    msg = cache_prune_command(str(tmp_path), None, None)
    assert "pruned 5 entries" in msg and "everything" in msg
    assert cache.info().empty
    with pytest.raises(ValueError, match="older_than_days"):
        cache.prune(older_than_days=-1)


def test_memmap_windows_hit_like_arrays(tmp_path):
    X = _data(9)
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.load(tmp_path / "X.npy", mmap_mode="r")
    cache = EmbeddingCache(tmp_path / "c")
    counter = Counter()
    cache.get_or_compute(X, FP, counter)
    emb, stats = cache.get_or_compute(ro, FP, counter)
    assert stats.hits == 9 and counter.windows == 9
    assert emb.tobytes() == _embed(X).tobytes()


def test_cli_text_on_empty_and_missing_roots(tmp_path):
    assert "empty" in cache_info_command(str(tmp_path / "nowhere"))
    assert "nothing to prune" in cache_prune_command(str(tmp_path / "nowhere"))
    assert not (tmp_path / "nowhere").exists()  # reading never creates a cache


_RACE = """
import json, sys, time
import numpy as np
from coco_pipe.foundation.cache import EmbeddingCache, fingerprint_of
root, start_at = sys.argv[1], float(sys.argv[2])
X = np.random.default_rng(0).standard_normal((64, 4, 50)).astype("float32")
computed = []
def compute(w):
    time.sleep(0.5)  # a slow backbone: the other process arrives while this one computes
    computed.append(len(w))
    return w.mean(axis=2)
while time.time() < start_at:
    time.sleep(0.001)
emb, stats = EmbeddingCache(root).get_or_compute(X, fingerprint_of({"model_key": "race"}), compute)
print(json.dumps({"computed": sum(computed), "hits": stats.hits}))
"""


def test_two_processes_embedding_the_same_windows_compute_them_once(tmp_path):
    """The second process waits for the first (the fingerprint's compute lock) and reads
    the windows it stored, instead of forwarding them again."""
    import json
    import os
    import subprocess
    import sys
    import time

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    start_at = str(time.time() + 6)
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(tmp_path / "c"), start_at],
                              stdout=subprocess.PIPE, text=True, env=env) for _ in range(2)]  # fmt: skip
    outs = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert sorted(o["computed"] for o in outs) == [0, 64]
    assert sorted(o["hits"] for o in outs) == [0, 64]
