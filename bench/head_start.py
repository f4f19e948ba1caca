"""What pretrained layers are worth: a head start from the digits CNN vs scratch, on few shapes.

1. The digits CNN (``lenet`` preset, 1x28x28 grayscale digits) is trained.
2. The same architecture on the shapes data (3x32x32 RGB, 8 classes) gets a
   training set of ``--per-class`` images per class. Two runs train on exactly
   those images with the same settings and seed:
   * head start: conv1 and conv2 from the digits CNN (conv1's grey kernels
     spread over the three colour channels), frozen; dense layers and the
     output fresh (``dlviz/train/head_start.py``);
   * scratch: the same network from random weights.
3. Both are scored on the same held-out shapes. Repeats over seeds give the
   spread; whichever wins is reported as it is.

Run: python -m bench.head_start [--per-class 10] [--seeds 3] [--epochs 60] [--frozen conv1,conv2]
(DLVIZ_THREADS=1 is what the app's workers use).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace

import torch

from dlviz.data import DatasetParams, load_dataset
from dlviz.data.dataset import Dataset
from dlviz.presets import PRESETS, preset_spec
from dlviz.spec import HeadStart, NetSpec
from dlviz.train.config import TrainConfig
from dlviz.train.head_start import put_weights
from dlviz.train.trainer import Trainer


def few_per_class(ds: Dataset, per_class: int, test_n: int) -> Dataset:
    """The first ``per_class`` training images of each class, and the first ``test_n`` test images."""
    keep = torch.cat([torch.nonzero(ds.y_train == c).flatten()[:per_class] for c in range(ds.num_classes)])
    keep = keep.sort().values
    return replace(ds, key=f"{ds.key}-{per_class}-per-class", x_train=ds.x_train[keep],
                   y_train=ds.y_train[keep], x_test=ds.x_test[:test_n], y_test=ds.y_test[:test_n],
                   masks_train=None, masks_test=None)


def train(spec: NetSpec, ds: Dataset, config: TrainConfig) -> Trainer:
    t = Trainer(spec, ds, config)
    t.start()
    t.join()
    if t.status != "finished":
        raise RuntimeError(f"training ended {t.status}: {t.state().message}")
    return t


def pretrained_digits(samples: int, epochs: int, seed: int = 0) -> tuple[dict, float]:
    """The digits CNN trained on ``samples`` digits: (its weights, its test accuracy)."""
    ds = load_dataset("digits", DatasetParams(n_samples=samples, seed=seed))
    spec = preset_spec("lenet", ds.input_shape, ds.output_size)
    config = TrainConfig.from_dict({**PRESETS["lenet"].train, "epochs": epochs, "seed": seed})
    t = train(spec, ds, config)
    return t.snapshot().weights, t.state().final["test_accuracy"]


def compare(source: dict, per_class: int = 10, seed: int = 0, epochs: int = 60,
            shapes_samples: int = 4000, test_n: int = 800, frozen=("conv1", "conv2")) -> dict:
    """Head start vs scratch on ``per_class`` shapes per class: both test accuracies."""
    full = load_dataset("shapes", DatasetParams(n_samples=shapes_samples, seed=seed))
    ds = few_per_class(full, per_class, test_n)
    scratch = preset_spec("lenet", ds.input_shape, ds.output_size)
    head = replace(scratch, head_start=HeadStart("preset:lenet@digits", put_weights(source), tuple(frozen)))
    batch = min(32, len(ds.x_train))
    config = TrainConfig.from_dict({"optimizer": "adam", "lr": 0.002, "batch_size": batch,
                                    "epochs": epochs, "seed": seed})
    out = {"per_class": per_class, "train_images": len(ds.x_train), "test_images": len(ds.x_test),
           "seed": seed, "epochs": epochs}
    for name, spec in (("head_start", head), ("scratch", scratch)):
        t0 = time.perf_counter()
        t = train(spec, ds, config)
        out[name] = t.state().final["test_accuracy"]
        out[f"{name}_s"] = round(time.perf_counter() - t0, 1)
        if name == "head_start":
            out["report"] = t._loop.head_start.text()
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--digits-samples", type=int, default=6000)
    p.add_argument("--digits-epochs", type=int, default=3)
    p.add_argument("--frozen", default="conv1,conv2", help="layers kept frozen, comma-separated ('' none)")
    a = p.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("DLVIZ_THREADS", "1")))
    t0 = time.perf_counter()
    weights, digits_acc = pretrained_digits(a.digits_samples, a.digits_epochs)
    print(f"digits CNN: {100 * digits_acc:.1f}% test accuracy ({time.perf_counter() - t0:.0f} s)")
    rows = []
    for seed in range(a.seeds):
        r = compare(weights, a.per_class, seed, a.epochs, frozen=tuple(n for n in a.frozen.split(",") if n))
        rows.append(r)
        print(json.dumps(r))
    hs, sc = [r["head_start"] for r in rows], [r["scratch"] for r in rows]
    print(f"{a.per_class} shapes per class, {len(rows)} seeds: head start "
          f"{100 * statistics.mean(hs):.1f}% (min {100 * min(hs):.1f}), scratch "
          f"{100 * statistics.mean(sc):.1f}% (min {100 * min(sc):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
