"""Benchmark of the NeuralDecoder training loop (issue 4).

Prints three tables:

1. **loop overhead**: median epoch time of our loop (``NeuralDecoder.fit``, training part
   of each epoch) against a plain PyTorch loop (AdamW, same model architecture, same
   batches, same clipping and schedule), as ``ratio = plain / ours`` (1.0: no
   overhead; target >= 0.9);
2. **frozen on cache**: ``train_mode="frozen"`` training the head on embeddings computed
   once vs. running the backbone every epoch (epoch time and total fit time);
3. **peak memory** of ``full`` vs ``lora`` vs ``qlora`` fine-tuning of the same
   backbone, each in a fresh subprocess. CPU: peak resident memory (VmHWM) minus the
   resident memory just before ``fit``; CUDA: ``torch.cuda.max_memory_allocated``.
   Beside it, the **training state** each mode must hold whatever the batch size:
   weights as stored (4-bit packed for qlora), gradients of the trainable parameters
   and AdamW's two moment buffers (counted from the fitted network, not timed).

Run::

    python benchmarks/finetune.py                      # CPU, fp32
    python benchmarks/finetune.py --device cuda --precision bf16

The backbone is CBraMod at its default size with random weights (pretrained weights
are not needed to time a loop); inputs are synthetic motor-imagery windows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

CHS = ["C3", "Cz", "C4", "FC3", "FC4", "CP3", "CP4", "Pz", "F3", "F4", "P3", "P4"]
SFREQ = 200.0


def _data(n_per_class: int):
    from coco_pipe.datasets import make_motor_imagery

    X, y, _, _ = make_motor_imagery(
        n_subjects=2, n_epochs_per_class=n_per_class, sfreq=SFREQ, tmax=4.0, ch_names=CHS,
        random_state=0, return_epochs=False,
    )  # fmt: skip
    return X, y


def _cfg(mode: str, args, **kw):
    from coco_pipe.decoding.configs import DeviceConfig, NeuralFineTuneConfig, OptimConfig
    from coco_pipe.foundation.specs import ESTIMATOR_SPECS

    model_kwargs = {} if args.size == "default" else dict(ESTIMATOR_SPECS["cbramod"].small_kwargs)
    base = dict(
        model_key="cbramod", weights="random", train_mode=mode, model_kwargs=model_kwargs,
        optim=OptimConfig(epochs=args.epochs, batch_size=args.batch_size, lr=1e-4),
        early_stopping_patience=None, device=DeviceConfig(device=args.device, precision=args.precision),
        validation_fraction=0.2,
    )  # fmt: skip
    if mode == "qlora":
        base["quantization"] = {
            "enabled": True,
            "compute_dtype": "bfloat16" if args.precision == "bf16" else "float32",
        }
    base.update(kw)
    return NeuralFineTuneConfig(**base)


def _decoder(cfg):
    from coco_pipe.decoding.builders import neural_decoder_params
    from coco_pipe.foundation.neural import NeuralDecoder

    return NeuralDecoder(**neural_decoder_params(cfg), sfreq=SFREQ, ch_names=CHS, random_state=0,
                         quiet=True)  # fmt: skip


def _sync(device: str) -> None:
    import torch

    if device != "cpu" and torch.cuda.is_available():
        torch.cuda.synchronize()


def loop_overhead(args) -> dict:
    """Median epoch time: NeuralDecoder vs a plain PyTorch loop on the same model and batches."""
    X, y = _data(args.n_per_class)
    rows = {}
    for mode in ("full", "lora"):
        ours_runs, plain_runs = [], []
        for _ in range(args.repeats):  # alternate, keep the fastest median (load spikes)
            ours, plain = _one_pair(mode, args, X, y)
            ours_runs.append(ours)
            plain_runs.append(plain)
        ours, plain = min(ours_runs), min(plain_runs)
        rows[mode] = {"ours_s": ours, "plain_s": plain, "ratio": plain / ours}
    return rows


def _one_pair(mode: str, args, X, y) -> tuple[float, float]:
    import torch

    from coco_pipe.foundation.optimization import make_scheduler
    from coco_pipe.foundation.training import batch_slices

    est = _decoder(_cfg(mode, args))
    est.fit(X, y)
    ours = statistics.median(h["train_seconds"] for h in est.history_[1:])
    n_train = est.n_train_

    # plain loop on a fresh copy of the same network and the same adapted inputs
    net = _fresh_network(est, mode, args)
    device = torch.device(est.device_)
    Xa = torch.from_numpy(est._source.adapter.apply(X))[:n_train]
    yt = torch.as_tensor(np.searchsorted(est.classes_, y))[:n_train]
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    slices = batch_slices(n_train, args.batch_size)
    sched = make_scheduler(
        opt, kind="cosine", total_steps=args.epochs * len(slices), warmup_steps=0
    )
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(args.epochs):
        _sync(args.device)
        t0 = time.perf_counter()
        net.train()
        perm = torch.randperm(n_train, generator=gen)
        for sl in slices:
            xb, yb = Xa[perm[sl]].to(device), yt[perm[sl]].to(device)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                out = net(xb)
            loss = torch.nn.functional.cross_entropy(out.float(), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            float(loss.detach())  # one sync per step, as any loop that logs its loss
        _sync(args.device)
        times.append(time.perf_counter() - t0)
    return ours, statistics.median(times[1:])


def _fresh_network(est, mode: str, args):
    """The same architecture as ``est.network_`` with the same initial weights."""
    import torch

    from coco_pipe.foundation.neural.assembly import assemble, build_source

    cfg = _cfg(mode, args)
    torch.manual_seed(0)
    source = build_source(cfg, sfreq=SFREQ, ch_names=CHS, n_channels=len(CHS),
                          n_times=est.n_times_in_, n_out=2, scale=None, X_train=None)  # fmt: skip
    return assemble(cfg, source, n_out=2, device=torch.device(est.device_)).network


def frozen_cache(args) -> dict:
    """Frozen head on precomputed embeddings vs through the backbone every epoch."""
    X, y = _data(args.n_per_class)
    out = {}
    for cached in (True, False):
        t0 = time.perf_counter()
        est = _decoder(_cfg("frozen", args, precompute_embeddings=cached)).fit(X, y)
        out["on_cache" if cached else "through_backbone"] = {
            "epoch_s": statistics.median(h["train_seconds"] for h in est.history_[1:]),
            "fit_s": time.perf_counter() - t0,
            "embed_once_s": est.input_seconds_ if cached else 0.0,
        }
    out["epoch_speedup"] = out["through_backbone"]["epoch_s"] / out["on_cache"]["epoch_s"]
    out["fit_speedup"] = out["through_backbone"]["fit_s"] / out["on_cache"]["fit_s"]
    return out


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def memory_child(mode: str, args) -> dict:
    """Run in a fresh process: fit one mode and report its peak memory."""
    import torch

    torch.set_num_threads(args.threads)
    X, y = _data(args.n_per_class)
    est = _decoder(_cfg(mode, args, checkpoints={"save": "none"}))
    cuda = args.device != "cpu" and torch.cuda.is_available()
    import bitsandbytes  # noqa: F401 - imported before the baseline in every mode
    import peft  # noqa: F401

    if cuda:
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    rss0 = _rss_kib("VmRSS")
    est.fit(X, y)
    card = est.get_model_card_info()
    res = {"trainable_params": card["trainable_params"], "total_params": card["total_params"],
           "state_mib": training_state_mib(est.network_)}  # fmt: skip
    if cuda:
        res["peak_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
        res["measure"] = "cuda max_memory_allocated"
    else:
        res["peak_mib"] = (_rss_kib("VmHWM") - rss0) / 1024
        res["measure"] = "CPU peak RSS (VmHWM) - RSS before fit"
    return res


def training_state_mib(network) -> float:
    """Weights as stored + gradients + AdamW moments of the trainable parameters, in MiB."""
    stored = sum(t.numel() * t.element_size() for t in network.parameters())
    stored += sum(b.numel() * b.element_size() for b in network.buffers())
    trainable = [p for p in network.parameters() if p.requires_grad]
    grads_and_moments = sum(3 * p.numel() * 4 for p in trainable)  # fp32 grad + exp_avg + exp_avg_sq
    return (stored + grads_and_moments) / 2**20


def peak_memory(args) -> dict:
    out = {}
    for mode in ("full", "lora", "qlora"):
        cmd = [sys.executable, __file__, "--child", mode, *sys.argv[1:]]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"}
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            out[mode] = {
                "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "no output"
            }
        else:
            out[mode] = json.loads(lines[-1])
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--size", default="default", choices=["default", "small"], help="CBraMod size")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument(
        "--n-per-class", type=int, default=24, help="windows per class and subject (2 subjects)"
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--repeats", type=int, default=2, help="loop-overhead pairs (fastest kept)")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.child:
        print(json.dumps(memory_child(args.child, args)))
        return
    dev = "cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"
    print(f"# NeuralDecoder benchmark: device={dev}, precision={args.precision}, CBraMod {args.size}, "
          f"{args.epochs} epochs, batch {args.batch_size}, threads {args.threads}")  # fmt: skip
    figures = {"device": dev, "precision": args.precision, "size": args.size}

    figures["loop"] = loop_overhead(args)
    print("\n## 1. loop overhead (median epoch seconds; ratio = plain / ours, target >= 0.9)")
    for mode, r in figures["loop"].items():
        print(
            f"  {mode:6s} ours {r['ours_s']:.3f}s  plain {r['plain_s']:.3f}s  ratio {r['ratio']:.2f}"
        )

    figures["frozen"] = f = frozen_cache(args)
    print("\n## 2. frozen: head on cached embeddings vs through the backbone")
    for k in ("on_cache", "through_backbone"):
        r = f[k]
        print(
            f"  {k:17s} epoch {r['epoch_s']:.4f}s  fit {r['fit_s']:.2f}s  (embed once {r['embed_once_s']:.2f}s)"
        )
    print(f"  speed-up: per epoch x{f['epoch_speedup']:.1f}, whole fit x{f['fit_speedup']:.1f}")

    figures["memory"] = m = peak_memory(args)
    print("\n## 3. memory of one fit (peak; training state = weights as stored + grads + AdamW moments)")
    for mode, r in m.items():
        if "error" in r:
            print(f"  {mode:6s} error: {r['error']}")
            continue
        frac = r["trainable_params"] / r["total_params"] if r["total_params"] else math.nan
        print(f"  {mode:6s} peak {r['peak_mib']:8.1f} MiB  training state {r['state_mib']:6.1f} MiB  "
              f"trainable {r['trainable_params']:,} / {r['total_params']:,} ({frac:.1%})  "
              f"[{r['measure']}]")  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
