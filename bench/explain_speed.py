"""Attribution latency for one image on the digits CNN (LeNet preset, 1x28x28), one CPU thread.

Times ``dlviz.explain.attribute`` (what the Explain page and the CLI call)
for every method, all default methods together, Occlusion with batched
perturbations vs one perturbation per forward pass, and Integrated Gradients
with 50 steps. Medians over repeats, after a warm-up. Targets (issue 5): all
default methods together < 300 ms, Occlusion batched < 20 ms, IG(50) < 15 ms.

Run: python -m bench.explain_speed [--repeats 30] [--preset lenet --dataset digits]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from bench.timing import median_s
from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.explain import METHODS, attribute, available_methods, default_methods
from dlviz.explain.guard import borrowed
from dlviz.explain.occlusion import run_occlusion
from dlviz.presets import preset_spec

TARGETS_MS = {"all default methods": 300.0, "occlusion (batched)": 20.0,
              "integrated_gradients (50 steps)": 15.0}


def median_ms(fn, repeats: int) -> float:
    return 1000 * median_s(fn, repeats)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--preset", default="lenet")
    ap.add_argument("--dataset", default="digits")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ds = load_dataset(args.dataset, n_samples=200)
    net = build(preset_spec(args.preset, ds.input_shape, ds.output_size, ds.task), seed=0)
    x, target = ds.x_test[0], int(ds.y_test[0])
    rows: dict[str, float] = {}
    for key in available_methods(net):
        rows[key] = median_ms(lambda: attribute(net, x, target, key), args.repeats)
    defaults = default_methods(net)
    rows["all default methods"] = median_ms(
        lambda: [attribute(net, x, target, k) for k in defaults], max(5, args.repeats // 3))
    rows["integrated_gradients (50 steps)"] = median_ms(
        lambda: attribute(net, x, target, "integrated_gradients", {"n_steps": 50}), args.repeats)
    window, stride = METHODS["occlusion"].params[0].default, METHODS["occlusion"].params[1].default
    xb = x.unsqueeze(0)
    with borrowed(net.model):
        rows["occlusion (batched)"] = median_ms(
            lambda: run_occlusion(net.model, xb, target, window, stride), args.repeats)
        rows["occlusion (1 per forward)"] = median_ms(
            lambda: run_occlusion(net.model, xb, target, window, stride, per_eval=1),
            max(5, args.repeats // 3))

    shape = "x".join(map(str, ds.input_shape))
    print(f"{args.preset} on {args.dataset} ({shape}), CPU, {torch.get_num_threads()} thread; "
          f"default methods: {', '.join(defaults)}; occlusion window {window}, stride {stride}")
    for name, ms in rows.items():
        target_ms = TARGETS_MS.get(name)
        verdict = "" if target_ms is None else f"  (target < {target_ms:g} ms: {'ok' if ms < target_ms else 'MISSED'})"
        print(f"  {name:34s} {ms:8.2f} ms{verdict}")
    ratio = rows["occlusion (1 per forward)"] / rows["occlusion (batched)"]
    print(f"  occlusion batching speed-up       {ratio:8.1f} x")
    print(json.dumps({"preset": args.preset, "dataset": args.dataset,
                      "ms": {k: round(v, 2) for k, v in rows.items()},
                      "occlusion_batching_speedup": round(ratio, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
