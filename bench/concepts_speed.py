"""TCAV latency for one class and one layer on the vgg-shapes preset (3x32x32 shapes).

Times ``dlviz.explain.concepts.tcav`` (what the Explain page's "Which concepts?" section
and the CLI call, synchronously) with 50 inputs of one class, 4 built-in concepts of 50
images and 10 random sets of 50, at the default concept layer (and optionally others),
and as a baseline measured in the same run one Integrated Gradients map (50 steps) via
``dlviz.explain.attribute`` on the same model. Also times ``tcav_over_training`` over 5
snapshots. The model is briefly trained (``--epochs``, default 1) on a small shapes set,
since an untrained network's concept scores are not what anyone will look at; the
latency hardly depends on training. Medians over repeats after a warm-up.

Run: python -m bench.concepts_speed [--repeats 3] [--threads 1] [--layers conv6_relu,conv2_relu]
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
from torch import nn

from bench.timing import median_s
from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.data.concept_images import builtin_concept, random_sets
from dlviz.explain import attribute
from dlviz.explain.concepts import default_concept_layer, tcav, tcav_over_training
from dlviz.presets import preset_spec

CONCEPTS = ("red", "green", "outlined", "noise")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--layers", default="", help="comma-separated; default: the default concept layer")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)                             # dropout while training: the same model each run
    ds = load_dataset("shapes", n_samples=1200, seed=0)
    net = build(preset_spec("vgg-shapes", ds.input_shape, ds.output_size, ds.task), seed=0)
    opt = torch.optim.Adam(net.model.parameters(), lr=0.002)
    checkpoints = []
    gen = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        net.model.train()
        order = torch.randperm(len(ds.x_train), generator=gen)
        for i in range(0, len(order), 64):
            b = order[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(net.model(ds.x_train[b]), ds.y_train[b]).backward()
            opt.step()
        checkpoints.append((epoch, {k: v.clone() for k, v in net.model.state_dict().items()}))
    while len(checkpoints) < 5:                      # tcav_over_training needs some snapshots
        checkpoints.insert(0, (checkpoints[0][0] - 1, checkpoints[0][1]))
    net.model.eval()
    target = ds.classes.index("square")
    inputs = ds.x_train[ds.y_train == target][:50]
    concepts = {name: builtin_concept(ds, name, 50) for name in CONCEPTS}
    randoms = random_sets(ds, 10, 50)
    layers = [s for s in args.layers.split(",") if s] or [default_concept_layer(net)]

    rows: dict[str, float] = {}
    rows["integrated_gradients (50 steps), 1 input"] = median_s(
        lambda: attribute(net, inputs[0], target, "integrated_gradients", {"n_steps": 50}),
        max(5, args.repeats))
    results = {}
    for layer in layers:
        rows[f"tcav at {layer}"] = median_s(
            lambda: results.__setitem__(layer, tcav(net, layer, target, inputs, concepts, randoms)),
            args.repeats)
    rows[f"tcav_over_training, 5 snapshots, {layers[0]}"] = median_s(
        lambda: tcav_over_training(net, checkpoints, layers[0], target, inputs, concepts, randoms), 1)

    base = rows["integrated_gradients (50 steps), 1 input"]
    print(f"vgg-shapes on shapes (3x32x32), CPU, {torch.get_num_threads()} thread(s), trained "
          f"{args.epochs} epoch(s) on {len(ds.x_train)} images; class square, {len(inputs)} inputs, "
          f"{len(concepts)} concepts x 50, {len(randoms)} random sets x 50")
    for name, s in rows.items():
        print(f"  {name:48s} {s * 1000:9.1f} ms   {s / base:7.1f} x IG")
    for layer, r in results.items():
        print(f"  scores at {layer}: " + ", ".join(
            f"{c.name} {c.score:.2f} (p {c.p_value:.2g}{', sig' if c.significant else ''}, "
            f"CAV acc {c.cav_accuracy:.2f})" for c in r.scores))
    print(json.dumps({"ms": {k: round(v * 1000, 1) for k, v in rows.items()},
                      "ratio_to_ig": {k: round(v / base, 1) for k, v in rows.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
