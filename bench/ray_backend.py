"""Runs on Ray actors vs worker processes, the same preset (issue 12).

For each backend, interleaved over --repeats rounds, one run at a time:

* start latency: ``submit`` + ``start`` until the run has taken its first step
  (the Start click's wait, a queue aside);
* throughput: the trainer's own samples/s after --train-s seconds of training
  (its rate window), and the ratio ray / process (median of per-round ratios);
* snapshot fetch latency: ``latest_weights()`` and ``snapshot(0)`` of the running
  run, as a page's live fragment calls them (median over --fetches calls each).

Ray's own start (``ray.init``: a local instance, 2 CPUs by default, or RAY_ADDRESS)
is timed once, apart. With --parallel N, N runs train at once on each backend
and the throughput of each is reported (on a GPU box: --device cuda --parallel 4,
each Ray run asking DLVIZ_RAY_GPU_FRACTION of the GPU). Bounded: the worst case
is about repeats x backends x (start + train-s + fetches) seconds. Prints one JSON
line at the end.

    python -m bench.ray_backend [--preset lenet] [--repeats 3] [--train-s 6] [--parallel 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from dlviz.data import load_dataset
from dlviz.presets import PRESETS
from dlviz.train import ray_cluster
from dlviz.train.config import TrainConfig
from dlviz.train.device import set_cpu_threads
from dlviz.train.process_backend import ProcessBackend
from dlviz.train.runs import make_backend


def ms(xs: list[float]) -> float:
    return round(1000 * statistics.median(xs), 2)


def wait_step(h, at_least: int, timeout_s: float = 120.0) -> None:
    end = time.monotonic() + timeout_s
    while h.state().step < at_least:
        if time.monotonic() > end:
            raise RuntimeError("the run did not step in time")
        time.sleep(0.005)


def one_round(backend, spec, ds, cfg, train_s: float, fetches: int, parallel: int) -> dict:
    t0 = time.perf_counter()
    handles = [backend.submit(spec, ds, cfg) for _ in range(parallel)]
    try:
        for h in handles:
            h.start()
        wait_step(handles[0], 1)
        start_s = time.perf_counter() - t0          # for N runs: all placed, the first stepping
        for h in handles:
            wait_step(h, 1)
        time.sleep(train_s)
        rates = [h.state().samples_per_s for h in handles]
        latest, first = [], []
        for _ in range(fetches):
            t = time.perf_counter()
            handles[0].latest_weights()
            latest.append(time.perf_counter() - t)
            t = time.perf_counter()
            handles[0].snapshot(0)
            first.append(time.perf_counter() - t)
        return {"start_s": start_s, "rates": rates, "latest": latest, "first": first}
    finally:
        for h in handles:
            h.stop()
            h.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="lenet", choices=list(PRESETS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-s", type=float, default=6.0)
    ap.add_argument("--fetches", type=int, default=20)
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--ray-cpus", type=int, default=2, help="CPUs of the local Ray (no RAY_ADDRESS)")
    args = ap.parse_args(argv)
    if not (1 <= args.repeats <= 20 and 0.5 <= args.train_s <= 120 and 1 <= args.fetches <= 1000
            and 1 <= args.parallel <= 16):
        print("error: repeats 1-20, train-s 0.5-120, fetches 1-1000, parallel 1-16", file=sys.stderr)
        return 2
    set_cpu_threads()
    preset = PRESETS[args.preset]
    ds = load_dataset(preset.dataset)
    spec = preset.spec(ds.input_shape, ds.output_size, ds.task)
    cfg = TrainConfig.from_dict({**preset.train, "epochs": 100_000, "device": args.device})

    process = ProcessBackend(timeout_s=30.0)
    process.warm_up()
    t = time.perf_counter()
    ray = make_backend("ray", timeout_s=30.0)
    ray.num_cpus = args.ray_cpus
    ray.warm_up()
    ray_init_s = time.perf_counter() - t
    rounds: dict[str, list[dict]] = {"process": [], "ray": []}
    try:
        for _ in range(args.repeats):
            for name, backend in (("process", process), ("ray", ray)):
                rounds[name].append(one_round(backend, spec, ds, cfg, args.train_s, args.fetches,
                                              args.parallel))
    finally:
        ray_cluster.shutdown()

    def summary(rs: list[dict]) -> dict:
        return {"start_s": round(statistics.median(r["start_s"] for r in rs), 3),
                "samples_per_s": round(statistics.median(statistics.median(r["rates"]) for r in rs), 1),
                "per_run_samples_per_s": [round(x, 1) for x in rs[-1]["rates"]],
                "latest_weights_ms": ms([x for r in rs for x in r["latest"]]),
                "snapshot_ms": ms([x for r in rs for x in r["first"]])}

    ratios = [statistics.median(r["rates"]) / max(statistics.median(p["rates"]), 1e-9)
              for r, p in zip(rounds["ray"], rounds["process"])]
    print(json.dumps({"preset": args.preset, "dataset": ds.key, "device": args.device,
                      "parallel": args.parallel, "repeats": args.repeats, "ray_init_s": round(ray_init_s, 2),
                      "process": summary(rounds["process"]), "ray": summary(rounds["ray"]),
                      "throughput_ratio_ray_over_process": round(statistics.median(ratios), 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
