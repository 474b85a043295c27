"""Benchmark: peak memory of ``Experiment.run`` on a memmap of N and of 10 N windows.

The issue's "must show": peak RSS on a memmap of N windows and of 10 N windows (the
larger at least 4 GB on disk), printed as a ratio (aim: under 1.3x), for a classical
model and for a frozen-backbone model.

What runs
    One ``.npy`` file of ``factor * N`` float64 windows (default 80,000 x 16 channels x
    400 samples at 200 Hz = 4.1 GB) is written once, a chunk at a time. Each
    measurement is a fresh child process (this script with ``--child``) that opens the
    first ``n`` windows as an ``np.memmap`` and runs ``Experiment.run`` on it (stratified
    2-fold CV, SQLite tracking store in a temporary folder, no chance model, no plots),
    then exits. Its peak RSS is the kernel's high-water mark of that child's resident set
    over its whole life, read by the parent with ``os.wait4`` (the per-child form of
    ``getrusage(RUSAGE_CHILDREN)``, which the parent prints at the end as a check).

Models
    ``classical``: a registered pipeline ``log-variance (FunctionTransformer, stateless)
    -> StandardScaler -> LogisticRegression``; ``backbone``: a frozen random-init BIOT
    (small size) with a LogisticRegression head. Both have a stateless first step, so
    each fold streams its windows a chunk at a time (:mod:`coco_pipe.decoding.streaming`).

Plain baseline
    The same experiment on 64 in-memory windows: imports, torch, the backbone, MLflow;
    what any run costs. The table gives each peak and its excess over that baseline.

Run (once; the file is removed afterwards unless ``--keep``)::

    python benchmarks/memory.py --dir /tmp/coco-pipe-memory
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

CH_NAMES = ["Fp1", "Fp2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8",
            "P7", "P8"]  # fmt: skip
SFREQ = 200.0


def log_variance(X):
    """Log-variance of each channel of each window (a stateless feature)."""
    X = np.asarray(X)
    return np.log(X.var(axis=2) + 1e-30)


def labels(n: int) -> np.ndarray:
    return np.tile([0, 1], n // 2 + 1)[:n]


def write_windows(path: Path, n: int, n_times: int, seed: int = 0) -> None:
    """``n`` float64 windows (class 1: channel C3 x1.5) written chunk by chunk with plain
    file writes: this process never maps the file, so the children it forks do not start
    with its pages in their resident set (that would be counted as theirs)."""
    shape = (n, len(CH_NAMES), n_times)
    if path.exists():
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            header = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                      else np.lib.format.read_array_header_2_0(f))  # fmt: skip
        if header == (shape, False, np.dtype(np.float64)):
            return
    tmp = path.with_suffix(".tmp.npy")
    y = labels(n)
    step = 4096
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<f8", "fortran_order": False, "shape": shape}
        )
        for start in range(0, n, step):
            rng = np.random.default_rng([seed, start])
            block = rng.standard_normal((min(step, n - start), *shape[1:])) * 1e-5
            block[y[start : start + len(block)] == 1, 4] *= 1.5
            f.write(block.astype("<f8", copy=False).tobytes())
    os.replace(tmp, path)


def child(args) -> None:
    """One measurement: ``Experiment.run`` on the first ``args.n`` windows."""
    warnings.simplefilter("ignore")
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    from coco_pipe import Experiment
    from coco_pipe.decoding import registry
    from coco_pipe.foundation.specs import ESTIMATOR_SPECS

    def logvar_lr():
        return make_pipeline(FunctionTransformer(log_variance), StandardScaler(),
                             LogisticRegression(max_iter=200))  # fmt: skip

    registry.register_classical("LogVarLR", logvar_lr, consumes_epochs=True)
    models = {
        "classical": {"kind": "classical", "estimator": "LogVarLR"},
        "backbone": {
            "kind": "frozen_backbone",
            "backbone": {"model_key": "biot", "weights": "random", "batch_size": 64,
                         "model_kwargs": ESTIMATOR_SPECS["biot"].small_kwargs},
            "head": {"estimator": "LogisticRegression", "params": {"max_iter": 200}},
        },
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="coco-pipe-memory-") as tmp:
        cfg = {
            "models": {args.model: models[args.model]},
            "cv": {"strategy": "stratified", "n_splits": 2},
            "tracking": {"tracking_uri": f"sqlite:///{tmp}/mlruns.db", "log_plots": False},
            "chance": {"dummy": False}, "verbose": False, "on_error": "raise",
        }  # fmt: skip
        if args.n_windows_baseline:
            n = args.n_windows_baseline
            X = np.asarray(np.load(args.path, mmap_mode="r")[:n])  # in memory
        else:
            header = np.load(args.path, mmap_mode="r")
            n = args.n
            X = np.memmap(args.path, dtype=header.dtype, mode="r", offset=header.offset,
                          shape=(n, *header.shape[1:]))  # fmt: skip
            del header
        t0 = time.perf_counter()
        res = Experiment(cfg).run(X, labels(n), sfreq=SFREQ, ch_names=CH_NAMES)
        seconds = time.perf_counter() - t0
        score = float(res.get_detailed_scores()["Value"].mean())
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"self_peak_mb": peak_kb / 1024, "seconds": seconds, "score": score}))


def measure(args, model: str, n: int = 0, baseline: int = 0) -> dict:
    """Run one child; its peak RSS is the kernel's account of that child (``wait4``)."""
    cmd = [sys.executable, __file__, "--child", "--model", model, "--path", str(args.file),
           "--n", str(n), "--n-windows-baseline", str(baseline)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "TQDM_DISABLE": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}  # fmt: skip
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise RuntimeError(f"child failed ({model}, n={n}):\n{err.read()[-4000:]}")
        report = json.loads(out.read().strip().splitlines()[-1])
    report["peak_mb"] = usage.ru_maxrss / 1024  # whole lifetime, exit included
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "coco-pipe-memory"))
    p.add_argument("--n-windows", type=int, default=8000, help="N (the small run)")
    p.add_argument("--factor", type=int, default=10)
    p.add_argument("--n-times", type=int, default=400)
    p.add_argument("--models", default="classical,backbone")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the windows file")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--n-windows-baseline", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)

    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    args.file = root / "windows.npy"
    big = args.n_windows * args.factor
    t0 = time.perf_counter()
    write_windows(args.file, big, args.n_times)
    gb = args.file.stat().st_size / 1e9
    print(f"windows file: {args.file} ({big} x {len(CH_NAMES)} x {args.n_times} float64, "
          f"{gb:.2f} GB; ready in {time.perf_counter() - t0:.0f} s)")  # fmt: skip
    rows = []
    try:
        for model in args.models.split(","):
            base = measure(args, model, baseline=64)
            small = measure(args, model, n=args.n_windows)
            large = measure(args, model, n=big)
            rows.append((model, base, small, large))
            for label, r, n in (("baseline", base, 64), ("N", small, args.n_windows), ("10N", large, big)):
                print(f"  {model:9s} {label:8s} n={n:6d} peak RSS {r['peak_mb']:8.0f} MB  "
                      f"({r['seconds']:6.0f} s, mean score {r['score']:.3f})", flush=True)  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"\npeak RSS of Experiment.run on a memmap, N={args.n_windows} vs {args.factor}N={big} "
          f"windows ({gb / args.factor:.2f} GB vs {gb:.2f} GB on disk)")  # fmt: skip
    print(f"{'model':10s} {'baseline':>9s} {'N':>8s} {'10N':>8s} {'10N/N':>7s} {'excess 10N/N':>13s}")
    for model, base, small, large in rows:
        b, s, big_mb = base["peak_mb"], small["peak_mb"], large["peak_mb"]
        excess = (big_mb - b) / max(s - b, 1.0)
        print(f"{model:10s} {b:8.0f}M {s:7.0f}M {big_mb:7.0f}M {big_mb / s:6.2f}x {excess:12.2f}x")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"(RUSAGE_CHILDREN, the largest child: {children:.0f} MB)")


if __name__ == "__main__":
    main()
