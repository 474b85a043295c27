"""Benchmark: the embedding cache on a 5-fold x 2-head frozen-backbone experiment.

Prints wall time with the cache cold (empty), warm (second run, same cache) and off,
and the ratios no-cache / cold and no-cache / warm, plus how many windows the backbone
forwarded in each case (the issue's "must show": once per unique window when cold,
zero when warm, once per window per fold per head without a cache).

Two levels:

``--level cache`` (runs today, needs only braindecode)
    A small random-init ``braindecode.models.CBraMod`` built directly is the backbone;
    each fold fits a LogisticRegression and an LDA head on its embeddings of the
    training windows and scores the test windows, exactly like
    ``Pipeline([("embed", BackboneEmbedder), ("head", ...)])`` would. The only
    difference between the modes is whether the forward goes through
    :class:`~coco_pipe.foundation.cache.EmbeddingCache`.

``--level experiment`` (the public API)
    ``coco_pipe.decoding.Experiment`` with two ``FrozenBackboneDecoderConfig`` models
    (``cbramod``, random weights, small size) under group 5-fold CV, tracked in a
    SQLite MLflow store; forwards are counted by wrapping the backbone module's ``forward``.

The weights are RANDOM (no hub is reachable here): the decoding scores mean nothing,
only the timings and counts do.

Run::

    python benchmarks/cache.py --level cache
    python benchmarks/cache.py --level experiment
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

N_FOLDS = 5
SMALL_CBRAMOD = {"n_layer": 1, "dim_feedforward": 64, "nhead": 2}


def _data(n_subjects: int, epochs_per_class: int, sfreq: float, seconds: float, epochs: bool):
    from coco_pipe.datasets import make_motor_imagery

    out = make_motor_imagery(
        n_subjects=n_subjects,
        n_epochs_per_class=epochs_per_class,
        sfreq=sfreq,
        tmin=0.0,
        tmax=seconds,
        random_state=0,
        return_epochs=epochs,
    )
    n_times = int(round(seconds * sfreq))  # CBraMod needs whole 1 s patches; tmax is inclusive
    if epochs:
        return out.crop(tmin=0.0, tmax=(n_times - 1) / sfreq, include_tmax=True)
    X, y, meta, info = out
    return np.ascontiguousarray(X[:, :, :n_times]), y, meta, info


# ----------------------------------------------------------------- level: cache
def _bench_cache(args) -> dict:
    import torch
    from braindecode.models import CBraMod
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from coco_pipe.foundation.cache import EmbeddingCache, clear_shard_memory, fingerprint_of

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sfreq = 200.0
    X, y, meta, info = _data(args.subjects, args.epochs_per_class, sfreq, 4.0, epochs=False)
    groups = meta["Subject"].to_numpy()
    n_chans, n_times = X.shape[1], X.shape[2]
    model = CBraMod(
        n_chans=n_chans, n_times=n_times, sfreq=sfreq, n_outputs=2, **SMALL_CBRAMOD
    ).eval()
    fingerprint_info = {
        "model_key": "cbramod",
        "weights": "random-init(seed=0)",
        "sfreq": sfreq,
        "ch_names": list(info["ch_names"]),
        "n_times": n_times,
        "pooling": "mean",
        "amplitude_scale": 1e4,
        "kwargs": SMALL_CBRAMOD,
        "torch": torch.__version__,
    }
    fp = fingerprint_of(fingerprint_info)
    forwarded = [0]

    @torch.inference_mode()
    def forward(windows: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(windows), args.batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(windows[i : i + args.batch_size]) * 1e4)
            feats = model(xb, return_features=True)["features"]  # (B, C, P, D)
            out.append(feats.mean(dim=(1, 2)).numpy().astype(np.float32))
        forwarded[0] += len(windows)
        return np.concatenate(out)

    heads = {
        "lr": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "lda": lambda: make_pipeline(StandardScaler(), LinearDiscriminantAnalysis()),
    }
    splits = list(GroupKFold(n_splits=N_FOLDS).split(X, y, groups))

    def experiment(embed) -> tuple[tuple[float, float], int, dict]:
        forwarded[0] = 0
        scores = {}
        t0, c0 = time.perf_counter(), time.process_time()
        for name, make in heads.items():  # the experiment loop: model x fold, each a fresh clone
            for k, (train, test) in enumerate(splits):
                head = make().fit(embed(X[train]), y[train])
                scores[(name, k)] = balanced_accuracy_score(y[test], head.predict(embed(X[test])))
        return (time.perf_counter() - t0, time.process_time() - c0), forwarded[0], scores

    base = Path(args.cache_dir or tempfile.mkdtemp(prefix="coco-cache-bench-"))
    hits_misses = {}

    def cached(embed_root):
        def embed(windows):
            emb, stats = EmbeddingCache(embed_root).get_or_compute(
                windows, fp, forward, fingerprint_info=fingerprint_info
            )
            hits_misses["hits"] = hits_misses.get("hits", 0) + stats.hits
            hits_misses["misses"] = hits_misses.get("misses", 0) + stats.misses
            return emb

        return embed

    forward(X[:2])  # warm up torch (first-call allocations) outside every timing
    times: dict[str, list] = {"off": [], "cold": [], "warm": []}
    for r in range(args.repeats):  # modes interleaved, so that load from elsewhere hits all alike
        root = base / f"repeat-{r}"
        t, n_off, s_off = experiment(forward)
        times["off"].append(t)
        clear_shard_memory()
        hits_misses.clear()
        t, n_cold, s_cold = experiment(cached(root))
        times["cold"].append(t)
        stats_cold = dict(hits_misses)
        clear_shard_memory()  # a second run starts a new process: nothing in memory
        hits_misses.clear()
        t, n_warm, s_warm = experiment(cached(root))
        times["warm"].append(t)
        stats_warm = dict(hits_misses)

    # bit-identity of hits against a fresh forward of the same batch composition
    emb_hit, _ = EmbeddingCache(root, memory=False).get_or_compute(X, fp, forward)
    fresh = np.concatenate(
        [forward(X[i : i + args.batch_size]) for i in range(0, len(X), args.batch_size)]
    )
    return {
        "level": "cache",
        "n_windows": len(X),
        "shape": X.shape,
        "times": times,
        "forwards": (n_off, n_cold, n_warm),
        "cold_stats": stats_cold,
        "warm_stats": stats_warm,
        "same_scores": s_off == s_cold == s_warm,
        "hits_bit_identical": emb_hit.tobytes() == fresh.tobytes(),
        "max_abs_diff_vs_fresh": float(np.abs(emb_hit - fresh).max()),
        "root": root,
        "cache_bytes": EmbeddingCache(root).total_bytes(),
    }


# ----------------------------------------------------------------- level: experiment
def _bench_experiment(args) -> dict:
    import torch

    from coco_pipe.decoding import (
        ClassicalModelConfig,
        CVConfig,
        Experiment,
        ExperimentConfig,
        FoundationEmbeddingModelConfig,
        FrozenBackboneDecoderConfig,
        TrackingConfig,
    )
    from coco_pipe.foundation.architecture import FoundationBackboneModule
    from coco_pipe.foundation.cache import EmbeddingCache, clear_shard_memory

    forwarded = [0]
    real_forward = FoundationBackboneModule.forward

    def counting_forward(self, x):  # embed() runs in inference mode; build probes do not
        if torch.is_inference_mode_enabled():
            forwarded[0] += int(x.shape[0])
        return real_forward(self, x)

    FoundationBackboneModule.forward = counting_forward

    torch.set_num_threads(args.threads)
    epochs = _data(args.subjects, args.epochs_per_class, 200.0, 4.0, epochs=True)
    tmp = Path(tempfile.mkdtemp(prefix="coco-cache-bench-"))
    cache_dir = str(Path(args.cache_dir) if args.cache_dir else tmp / "cache")

    def config(use_cache: bool, tag: str, root: str) -> ExperimentConfig:
        def backbone():
            return FoundationEmbeddingModelConfig(
                model_key="cbramod",
                weights="random",
                cache_embeddings=use_cache,
                cache_dir=root,
                model_kwargs=SMALL_CBRAMOD,
                batch_size=args.batch_size,
                device="cpu",
            )

        return ExperimentConfig(
            models={
                "lr": FrozenBackboneDecoderConfig(
                    backbone=backbone(),
                    head=ClassicalModelConfig(
                        estimator="LogisticRegression", params={"max_iter": 1000}
                    ),
                ),
                "lda": FrozenBackboneDecoderConfig(
                    backbone=backbone(),
                    head=ClassicalModelConfig(estimator="LinearDiscriminantAnalysis"),
                ),
            },
            cv=CVConfig(strategy="group_kfold", n_splits=N_FOLDS, group_key="Subject"),
            tracking=TrackingConfig(
                tracking_uri=f"sqlite:///{tmp}/mlruns.db",
                experiment_name="cache-bench",
                run_name=tag,
                log_plots=False,
            ),
            verbose=False,
        )

    def run(use_cache: bool, tag: str, root: str) -> tuple[tuple[float, float], int]:
        forwarded[0] = 0
        clear_shard_memory()
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # random-init warnings, once per model: known
            Experiment(config(use_cache, tag, root)).run(epochs)
        elapsed = (time.perf_counter() - t0, time.process_time() - c0)
        return elapsed, forwarded[0]

    # one untimed run (its own throwaway cache) builds the backbone memo, the MLflow store and
    # the imports, so that no timed mode pays for them
    run(True, "warmup", str(tmp / "warmup-cache"))
    times: dict[str, list] = {"off": [], "cold": [], "warm": []}
    for r in range(args.repeats):
        root = str(Path(cache_dir) / f"repeat-{r}")
        t, n_off = run(False, "no-cache", root)
        times["off"].append(t)
        t, n_cold = run(True, "cold", root)
        times["cold"].append(t)
        t, n_warm = run(True, "warm", root)
        times["warm"].append(t)
    return {
        "level": "experiment",
        "n_windows": len(epochs),
        "shape": epochs.get_data().shape,
        "times": times,
        "forwards": (n_off, n_cold, n_warm),
        "root": root,
        "cache_bytes": EmbeddingCache(root).total_bytes(),
    }


# ----------------------------------------------------------------- report
def _report(res: dict, args) -> str:
    best = {m: min(ts) for m, ts in res["times"].items()}  # best of the repeats (wall, cpu)
    (t_off, c_off), (t_cold, c_cold), (t_warm, c_warm) = best["off"], best["cold"], best["warm"]
    n_off, n_cold, n_warm = res["forwards"]
    n = res["n_windows"]
    lines = [
        f"embedding cache benchmark, level={res['level']}: {N_FOLDS} folds x 2 heads (lr, lda), "
        f"cbramod (small, RANDOM weights), {n} windows of shape {tuple(res['shape'][1:])}, "
        f"{args.threads} torch thread(s), best of {args.repeats} repeat(s)",
        f"{'mode':<10}{'wall s':>10}{'cpu s':>10}{'forwarded windows':>20}{'per window':>12}",
        f"{'no cache':<10}{t_off:>10.2f}{c_off:>10.2f}{n_off:>20}{n_off / n:>12.1f}",
        f"{'cold':<10}{t_cold:>10.2f}{c_cold:>10.2f}{n_cold:>20}{n_cold / n:>12.1f}",
        f"{'warm':<10}{t_warm:>10.2f}{c_warm:>10.2f}{n_warm:>20}{n_warm / n:>12.1f}",
        f"wall ratios: no-cache/cold = {t_off / t_cold:.2f}x, no-cache/warm = {t_off / t_warm:.2f}x, "
        f"cold/warm = {t_cold / t_warm:.2f}x",
        f"cpu ratios:  no-cache/cold = {c_off / c_cold:.2f}x, no-cache/warm = {c_off / c_warm:.2f}x, "
        f"cold/warm = {c_cold / c_warm:.2f}x",
        "all wall times (s): "
        + "; ".join(
            f"{m}: " + ", ".join(f"{w:.2f}" for w, _ in ts) for m, ts in res["times"].items()
        ),
        f"cache: {res['cache_bytes'] / 2**20:.2f} MiB at {res['root']}",
    ]
    if "cold_stats" in res:
        lines.append(
            f"cache stats (summed over calls): cold {res['cold_stats']}, warm {res['warm_stats']}"
        )
        lines.append(
            f"identical scores in all modes: {res['same_scores']}; hits bit-identical to a fresh "
            f"forward: {res['hits_bit_identical']} (max |diff| {res['max_abs_diff_vs_fresh']:.3g})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--level", choices=["cache", "experiment"], default="experiment")
    parser.add_argument("--subjects", type=int, default=5)
    parser.add_argument("--epochs-per-class", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repeats per mode, best kept (default: cache 3, experiment 1)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="folder for the caches, one per repeat (default: a temporary one)",
    )
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.level == "cache" else 1
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.cache_dir and Path(args.cache_dir).exists() and any(Path(args.cache_dir).iterdir()):
        parser.error(
            f"--cache-dir {args.cache_dir} is not empty; the cold run needs an empty cache"
        )
    logging.basicConfig(level=logging.WARNING)
    res = _bench_cache(args) if args.level == "cache" else _bench_experiment(args)
    print(_report(res, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
