"""Training throughput on a GPU: the trainer against a bare loop, bf16, and runs side by side.

For each preset (LeNet on digits, the small VGG on shapes) at a batch that
fills a GPU sensibly (``--batch-size``, default 512), and each precision
(float32, bf16 where the device supports it):

* ``trainer_vs_bare``: samples/s of the bare PyTorch loop of
  ``bench/watch_overhead.py`` (the same model, data, optimizer and seed; for
  bf16 it runs under the same autocast) and of the ``Trainer`` with its default
  recording, timed by its loop clock, and their ratio (issue target: >= 0.9);
* ``parallel``: ``--parallel`` runs at once through the process backend (one
  worker process each, as in the app): samples/s of each and their total.

Prints one JSON line per case, then a markdown table row per case (date,
device name) for bench/RESULTS.md. Runs on the CPU too, as a smoke test
(``--device cpu --seconds 1``; tests/test_gpu_ready.py does so with tiny
settings). Run: python -m bench.gpu_train [--device auto] [--seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import sys
import time

import torch

from bench.watch_overhead import bare_loop, trainer_run
from dlviz.data import DatasetParams, load_dataset
from dlviz.presets import PRESETS
from dlviz.train.config import TrainConfig
from dlviz.train.device import pick_device, set_cpu_threads
from dlviz.train.precision import autocast_for

WARM_STEPS = 10        # bare steps timed first, to size each case to --seconds


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"


def precisions(device: torch.device, asked: list[str]) -> list[str]:
    """The asked precisions this device trains in (bf16 needs a GPU that supports it)."""
    ok = device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
    return [p for p in asked if p == "float32" or ok]


def _bare(spec, ds, cfg: TrainConfig, steps: int, device: torch.device) -> float:
    # the bare loop under the trainer's autocast: forward and loss in bf16, as the trainer does
    # (its backward and update run inside the context too, where they do the same work)
    with autocast_for(cfg.precision, device) if cfg.precision == "bf16" else contextlib.nullcontext():
        return bare_loop(spec, ds, cfg, steps)


def trainer_vs_bare(preset: str, ds, cfg: TrainConfig, seconds: float, device: torch.device) -> dict:
    spec = PRESETS[preset].spec(ds.input_shape, ds.output_size, ds.task)
    _bare(spec, ds, cfg, WARM_STEPS, device)                  # warm-up: kernels, allocator
    t0 = time.perf_counter()
    _bare(spec, ds, cfg, WARM_STEPS, device)
    per_step = (time.perf_counter() - t0) / WARM_STEPS
    batches = max(1, len(ds.x_train) // cfg.batch_size)
    # whole epochs (the trainer runs epochs), at least two, about ``seconds`` each side
    steps = max(2 * batches, int(seconds / max(per_step, 1e-6)) // batches * batches)
    trainer_rate, done = trainer_run(spec, ds, cfg, steps)
    bare_rate = _bare(spec, ds, cfg, done, device)
    return {"case": "trainer_vs_bare", "preset": preset, "dataset": ds.key, "precision": cfg.precision,
            "batch_size": cfg.batch_size, "steps": done,
            "bare_samples_per_s": round(bare_rate, 1), "trainer_samples_per_s": round(trainer_rate, 1),
            "ratio": round(trainer_rate / bare_rate, 3)}


def parallel(preset: str, ds, cfg: TrainConfig, runs: int, seconds: float) -> dict:
    """``runs`` runs at once, each in its own worker process (the app's backend)."""
    from dlviz.train.process_backend import ProcessBackend
    spec = PRESETS[preset].spec(ds.input_shape, ds.output_size, ds.task)
    backend = ProcessBackend(timeout_s=60.0)
    handles = [backend.submit(spec, ds, cfg.replace(seed=i)) for i in range(runs)]
    try:
        for h in handles:
            h.start()
        time.sleep(seconds)                           # all of them training at once
        for h in handles:
            h.stop("bench done")
        for h in handles:
            h.join(60)
        states = [h.state() for h in handles]         # loop_s: the loop's time, set at its end
    finally:
        for h in handles:
            h.close()
    each = [s.step * cfg.batch_size / s.loop_s if s.loop_s else 0.0 for s in states]
    return {"case": "parallel", "preset": preset, "dataset": ds.key, "precision": cfg.precision,
            "batch_size": cfg.batch_size, "runs": runs, "statuses": [s.status for s in states],
            "samples_per_s_each": [round(r, 1) for r in each], "total_samples_per_s": round(sum(each), 1)}


def table_row(res: dict, date: str, name: str) -> str:
    if res["case"] == "trainer_vs_bare":
        figures = (f"bare {res['bare_samples_per_s']:.0f}, trainer {res['trainer_samples_per_s']:.0f} "
                   f"samples/s, ratio {res['ratio']:.3f}")
    else:
        figures = (f"{res['runs']} runs: {', '.join(f'{r:.0f}' for r in res['samples_per_s_each'])} "
                   f"samples/s, total {res['total_samples_per_s']:.0f}")
    return (f"| {date} | {name} | {res['preset']} | {res['precision']} | {res['batch_size']} | "
            f"{res['case']} | {figures} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seconds", type=float, default=10.0, help="rough length of each timed side")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--presets", default="lenet,vgg-shapes", help="comma separated preset keys")
    ap.add_argument("--precisions", default="float32,bf16")
    ap.add_argument("--parallel", type=int, default=4, help="runs at once (0: skip)")
    ap.add_argument("--samples", type=int, help="dataset size (default: the dataset's own)")
    args = ap.parse_args(argv)
    if not 0 < args.seconds <= 600 or not 1 <= args.batch_size <= 4096 or not 0 <= args.parallel <= 16:
        ap.error("--seconds in (0, 600], --batch-size in [1, 4096], --parallel in [0, 16]")
    set_cpu_threads()
    device = pick_device(args.device)
    name = device_name(device)
    date = datetime.date.today().isoformat()
    rows = []
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        if preset not in PRESETS:
            ap.error(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        ds = load_dataset(PRESETS[preset].dataset, DatasetParams(n_samples=args.samples))
        for precision in precisions(device, args.precisions.split(",")):
            cfg = TrainConfig(optimizer="adam", lr=0.002, batch_size=args.batch_size,
                              device=str(device), precision=precision)
            cases = [trainer_vs_bare(preset, ds, cfg, args.seconds, device)]
            if args.parallel:
                cases.append(parallel(preset, ds, cfg.replace(epochs=100_000), args.parallel, args.seconds))
            for res in cases:
                res.update(device=str(device), device_name=name, date=date)
                print(json.dumps(res), flush=True)
                rows.append(table_row(res, date, name))
    print("| date | device | preset | precision | batch | case | figures |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
