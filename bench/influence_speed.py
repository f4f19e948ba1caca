"""Training-data attribution latency on the digits CNN (LeNet preset, 1x28x28).

What the Explain page's "Which training examples?" and ``explain --influence`` wait for:
``dlviz.explain.influence.influence`` for one test input over the whole digits training
set, summed over the run's checkpoints (at most 5), and the per-class self-influence
view. Baselines measured in the same run: Integrated Gradients (50 steps) for the same
input (the pixel methods' budget) and the floor of any exact TracIn here, one no-grad
forward pass over the training set per checkpoint. Medians over repeats after a warm-up.

Run: python -m bench.influence_speed [--repeats 5] [--samples 12000] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from bench.timing import median_s
from dlviz.data import load_dataset
from dlviz.explain import attribute
from dlviz.explain.influence import MAX_CHECKPOINTS, influence, self_influence_by_class
from dlviz.presets import preset_spec
from dlviz.train.config import TrainConfig
from dlviz.train.trainer import Trainer
from dlviz.bundle_checkpoints import checkpoints_of_run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=12000)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset("digits", n_samples=args.samples)
    spec = preset_spec("lenet", ds.input_shape, ds.output_size, ds.task)
    trainer = Trainer(spec, ds, TrainConfig.from_dict({"epochs": 2, "lr": 0.01, "optimizer": "adam"}))
    trainer.start()
    trainer.join()
    checkpoints = checkpoints_of_run(trainer)
    net = trainer.net
    net.model.load_state_dict(checkpoints[-1][1])
    net.model.eval()
    x, target = ds.x_test[0], int(ds.y_test[0])
    rows = {
        f"influence, {len(checkpoints)} checkpoints": median_s(
            lambda: influence(net, checkpoints, ds.x_train, ds.y_train, x, target, k=8), args.repeats),
        "influence, 1 checkpoint": median_s(
            lambda: influence(net, checkpoints, ds.x_train, ds.y_train, x, target, k=8,
                              checkpoints_used=1), args.repeats),
        f"self-influence by class, {len(checkpoints)} checkpoints": median_s(
            lambda: self_influence_by_class(net, checkpoints, ds.x_train, ds.y_train, k=8),
            max(1, args.repeats // 2)),
        "integrated gradients (50 steps)": median_s(
            lambda: attribute(net, x, target, "integrated_gradients", {"n_steps": 50}), args.repeats),
    }

    def forwards():
        with torch.no_grad():
            for _ in checkpoints:
                for i in range(0, len(ds.x_train), 512):
                    net.model(ds.x_train[i:i + 512])
    rows[f"floor: {len(checkpoints)} forward passes over the training set"] = median_s(forwards, args.repeats)
    main_key = f"influence, {len(checkpoints)} checkpoints"
    floor_key = f"floor: {len(checkpoints)} forward passes over the training set"
    print(f"lenet on digits: {len(ds.x_train):,} training examples, checkpoints at steps "
          f"{[s for s, _ in checkpoints]} (at most {MAX_CHECKPOINTS}), CPU, {torch.get_num_threads()} threads")
    for name, s in rows.items():
        print(f"  {name:58s} {1000 * s:9.1f} ms")
    ratio_floor = rows[main_key] / rows[floor_key]
    ratio_ig = rows[main_key] / rows["integrated gradients (50 steps)"]
    print(f"  influence / forward-pass floor {ratio_floor:6.2f} x; influence / IG(50) {ratio_ig:6.1f} x")
    print(json.dumps({"train_examples": len(ds.x_train), "checkpoints": [s for s, _ in checkpoints],
                      "ms": {k: round(1000 * v, 1) for k, v in rows.items()},
                      "influence_over_floor": round(ratio_floor, 2), "influence_over_ig": round(ratio_ig, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
