"""Cost of watching: trainer (default recording) vs a bare PyTorch loop.

Trains the same model on the same data on the same device twice, interleaved
and repeated, and prints the throughput ratio trainer / bare (target >= 0.95
on the CPU): the median of the repeats, and their spread (lowest, highest),
with the machine's load average. Run: python -m bench.watch_overhead
[--device auto] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.presets import PRESETS
from dlviz.train.config import TrainConfig
from dlviz.train.device import pick_device, set_cpu_threads
from dlviz.train.trainer import Trainer

CASES = [
    # (name, preset, dataset, batch size, steps)
    ("playground MLP on circle", "playground", "circle", 32, 6000),
    ("LeNet CNN on digits", "lenet", "digits", 64, 450),
]


def bare_loop(spec, ds, config: TrainConfig, steps: int) -> float:
    """The baseline: what a person would write by hand. Returns samples/s."""
    device = pick_device(config.device)
    model = build(spec, device, seed=config.seed).model
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    x, y = ds.x_train.to(device), ds.y_train.to(device)
    n, b = len(x), config.batch_size
    loss_fn = F.cross_entropy if spec.task == "classification" else F.mse_loss
    gen = torch.Generator(device=device).manual_seed(config.seed)
    model.train()
    _sync(device)
    t0 = time.perf_counter()
    done = 0
    while done < steps:
        perm = torch.randperm(n, device=device, generator=gen)
        for i in range(0, n - b + 1, b):
            idx = perm[i:i + b]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    _sync(device)
    return steps * b / (time.perf_counter() - t0)


def trainer_run(spec, ds, config: TrainConfig, steps: int) -> tuple[float, int]:
    """The same training through the Trainer thread with its default recording.
    Timed by the trainer's loop clock: every step, record, evaluation, health
    check and snapshot is inside it; set-up and the final full evaluation are not
    (the bare loop does neither)."""
    batches = len(ds.x_train) // config.batch_size
    t = Trainer(spec, ds, config.replace(epochs=max(1, steps // batches)))
    t.start()
    t.join()
    s = t.state()
    return s.step * config.batch_size / s.loop_s, s.step


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the step counts")
    args = ap.parse_args(argv)
    set_cpu_threads()
    device = pick_device(args.device)
    results = []
    for name, preset, dsname, batch, steps in CASES:
        steps = max(20, int(steps * args.scale))
        ds = load_dataset(dsname)
        spec = PRESETS[preset].spec(ds.input_shape, ds.output_size, ds.task)
        cfg = TrainConfig(optimizer="adam", lr=0.002, batch_size=batch, device=args.device)
        bare_loop(spec, ds, cfg, max(10, steps // 10))          # warm-up
        bares, trainers = [], []
        for _ in range(args.repeats):                           # interleave against drift
            rate, done = trainer_run(spec, ds, cfg, steps)
            trainers.append(rate)
            bares.append(bare_loop(spec, ds, cfg, done))
        ratios = [t / b for t, b in zip(trainers, bares)]
        ratio = statistics.median(ratios)
        res = {"case": name, "device": str(device), "threads": torch.get_num_threads(),
               "bare_samples_per_s": round(statistics.median(bares)),
               "trainer_samples_per_s": round(statistics.median(trainers)),
               "ratio": round(ratio, 3), "ratios": [round(r, 3) for r in ratios],
               "load_average_1min": round(os.getloadavg()[0], 2)}
        results.append(res)
        print(f"{name:28s} {device}: bare {res['bare_samples_per_s']:>8} samples/s, "
              f"trainer {res['trainer_samples_per_s']:>8} samples/s, ratio {ratio:.3f} "
              f"(spread {min(ratios):.3f}-{max(ratios):.3f}, load {res['load_average_1min']})", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
