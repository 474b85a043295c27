"""Windows per second of coco-pipe's ``embed()`` vs a bare ``torch.no_grad()`` loop.

Both paths run the same backbone module on the same batches:

- *bare*: the windows are adapted once up front (not timed), then
  ``for batch: module(batch)`` under ``torch.no_grad()``;
- *ours*: ``embed(backbone, X_batch)`` on the raw windows (19 channels at 250 Hz, volts), i.e.
  per-batch input adaptation (resampling, channel map, unit change), inference mode,
  device handling, numpy output.

Two ratios are printed per model (target: at least 0.9): ``fwd/bare`` times
``embed(..., adapted=True)`` on the same adapted batches (our loop's own overhead),
``all/bare`` times ``embed()`` on raw windows, adaptation included (strict: the bare
loop gets its inputs adapted for free). Default sizes,
random init (no pretrained weights are needed to measure speed); CPU, 2 threads,
batch 32.

Usage::

    python benchmarks/embedding_throughput.py                 # biot, cbramod, luna, signal_jepa
    python benchmarks/embedding_throughput.py --models labram --n-windows 64 --repeats 3
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import torch

from coco_pipe.foundation.backbones import build_backbone, embed
from coco_pipe.foundation.specs import ESTIMATOR_SPECS

NAMES = (
    "Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz",
    "C4", "T8", "P7", "P3", "Pz", "P4", "P8", "O1", "O2",
)  # fmt: skip


def bare_loop(module: torch.nn.Module, Xa: np.ndarray, batch_size: int) -> np.ndarray:
    out = []
    with torch.no_grad():
        for start in range(0, len(Xa), batch_size):
            out.append(module(torch.from_numpy(Xa[start : start + batch_size])))
    return torch.cat(out).numpy()


def bench(
    key: str, *, n_windows: int, batch_size: int, sfreq: float, seconds: float, repeats: int
) -> dict:
    n_times = int(round(sfreq * seconds))
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((n_windows, len(NAMES), n_times)) * 1e-5).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bb = build_backbone(
            key,
            weights="random",
            sfreq=sfreq,
            ch_names=NAMES,
            n_channels=len(NAMES),
            n_times=n_times,
        )
    module = bb.module.eval()
    Xa = bb.plan.apply(X)
    # warm-up both paths on one batch
    bare_loop(module, Xa[:batch_size], batch_size)
    embed(bb, X[:batch_size], batch_size=batch_size, device="cpu", progress=False)
    # Batch by batch, the two paths alternate (and swap order each repeat), so a
    # machine whose load drifts slows both alike; per batch the best of `repeats`
    # is kept. "ours" calls embed() once per batch: its per-call overhead is
    # counted once per batch instead of once per dataset (conservative).
    starts = list(range(0, n_windows, batch_size))
    paths = ("bare", "ours_adapted", "ours")
    times = {k: np.full((repeats, len(starts)), np.inf) for k in paths}
    outs = {k: np.empty((n_windows, bb.emb_dim), np.float32) for k in paths}
    for r in range(repeats):
        order = paths if r % 2 == 0 else paths[::-1]
        for b, start in enumerate(starts):
            sl = slice(start, start + batch_size)
            for which in order:
                t0 = time.perf_counter()
                if which == "bare":
                    outs[which][sl] = bare_loop(module, Xa[sl], batch_size)
                elif which == "ours_adapted":
                    outs[which][sl] = embed(
                        bb,
                        Xa[sl],
                        batch_size=batch_size,
                        device="cpu",
                        progress=False,
                        adapted=True,
                    )
                else:
                    outs[which][sl] = embed(
                        bb, X[sl], batch_size=batch_size, device="cpu", progress=False
                    )
                times[which][r, b] = time.perf_counter() - t0
    for k in paths[1:]:
        np.testing.assert_allclose(outs[k], outs["bare"], rtol=1e-3, atol=1e-4)
    wps = {k: n_windows / times[k].min(axis=0).sum() for k in paths}
    return {
        "model": key,
        "input": f"{len(NAMES)}ch x {n_times} @ {sfreq:g} Hz -> "
        f"{bb.plan.n_channels}ch x {bb.plan.n_times} @ {bb.plan.sfreq:g} Hz",
        "bare_wps": wps["bare"],
        "ours_adapted_wps": wps["ours_adapted"],
        "ours_wps": wps["ours"],
        "ratio_forward": wps["ours_adapted"] / wps["bare"],
        "ratio": wps["ours"] / wps["bare"],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", nargs="+", default=["biot", "cbramod", "luna", "signal_jepa"],
                   choices=sorted(ESTIMATOR_SPECS))  # fmt: skip
    p.add_argument("--n-windows", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--sfreq", type=float, default=250.0)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    print(
        f"CPU, {torch.get_num_threads()} threads, batch {args.batch_size}, {args.n_windows} windows, random init"
    )
    print(
        f"{'model':<12} {'bare w/s':>9} {'ours(fwd)':>10} {'ours(all)':>10} "
        f"{'fwd/bare':>9} {'all/bare':>9}  input"
    )
    for key in args.models:
        r = bench(
            key, n_windows=args.n_windows, batch_size=args.batch_size, sfreq=args.sfreq,
            seconds=args.seconds, repeats=args.repeats,
        )  # fmt: skip
        print(
            f"{r['model']:<12} {r['bare_wps']:>9.1f} {r['ours_adapted_wps']:>10.1f} "
            f"{r['ours_wps']:>10.1f} {r['ratio_forward']:>9.3f} {r['ratio']:>9.3f}  {r['input']}"
        )


if __name__ == "__main__":
    main()
