"""Server time of the Inside page's work, on the LeNet preset with the digits data.

A LeNet is trained briefly (a timeline of 60 snapshots, one every 5 steps),
then three things are timed on the CPU with one torch thread:

  (a) a full update for one input: ``layer_values`` plus every layer drawn
      (feature mosaics and one enlarged map encoded to PNG bytes, unit strips
      and the probabilities as Plotly JSON)                      target < 300 ms
  (b) moving the timeline to another snapshot: ``load_state_dict``, the same
      update, and the new snapshot's distributions and PCA point set (its
      stats and features computed, the 60-step series re-assembled, one
      distribution figure and the representation figure built)  target < 500 ms
  (c) distributions + PCA for the whole 60-snapshot timeline from scratch.

plus the on-demand pieces: the convolution explainer, the top-activating
examples of one channel over the test set, one feature visualisation.
Medians of repeated runs. Run: python -m bench.inside_speed [--repeats 15]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.inside import (assemble, conv_arithmetic_text, explain_conv, layer_values, penultimate,
                          project_pca, representation_at, snapshot_stats, top_activating,
                          visualise_unit)
from dlviz.plots.conv_explainer import conv_explainer_image
from dlviz.plots.distributions import distribution_figure
from dlviz.plots.feature_maps import enlarge, feature_mosaic
from dlviz.plots.representation import representation_figure
from dlviz.plots.unit_values import probabilities_figure, units_strip_figure
from dlviz.presets import PRESETS

SNAPSHOTS, EVERY, BATCH = 60, 5, 64
N_DIST, N_PCA = 256, 500        # test samples for the distributions / the PCA point set


def train_timeline(net, ds) -> list[tuple[int, dict]]:
    """A real, short training run: (step, CPU state dict) every EVERY steps."""
    model = net.model.train()
    opt = torch.optim.Adam(model.parameters(), lr=0.002)
    gen = torch.Generator().manual_seed(0)
    snaps = []
    for step in range(SNAPSHOTS * EVERY):
        if step % EVERY == 0:
            snaps.append((step, {k: v.detach().clone() for k, v in model.state_dict().items()}))
        idx = torch.randint(0, len(ds.x_train), (BATCH,), generator=gen)
        loss = F.cross_entropy(model(ds.x_train[idx]), ds.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return snaps


def png(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")            # what st.image(..., output_format="PNG") sends
    return buf.getvalue()


def inside_update(net, x, classes, true) -> int:
    """Everything the page draws for one input; returns the bytes produced (kept honest)."""
    size = 0
    for v in layer_values(net, x):
        if v.is_map:
            size += len(png(feature_mosaic(v.values).image))
        elif v.kind == "output":
            size += len(probabilities_figure(v.probs, classes, true).to_json())
        else:
            size += len(units_strip_figure(v.values, v.name).to_json())
        if v.name == "conv1":                               # the selected map, enlarged
            size += len(png(enlarge(v.values[0], title="conv1 · map 0")))
    return size


def timed(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    ds = load_dataset("digits")
    classes = list(ds.classes)
    net = build(PRESETS["lenet"].spec(ds.input_shape, ds.output_size, ds.task), seed=0)
    t0 = time.perf_counter()
    snaps = train_timeline(net, ds)
    print(f"trained {SNAPSHOTS * EVERY} steps for {len(snaps)} snapshots in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)
    xd, yd = ds.x_test[:N_DIST], ds.y_test[:N_DIST]
    xp, yp = ds.x_test[:N_PCA], ds.y_test[:N_PCA].numpy()
    model = net.model
    inside_update(net, ds.x_test[0], classes, int(ds.y_test[0]))          # warm-up

    res = {}
    # (a) one input, all layers
    res["a_update_ms"], _ = timed(lambda i: inside_update(net, ds.x_test[i], classes,
                                                          int(ds.y_test[i])), args.repeats)

    # the cache a page keeps per (run, step): stats and features of every snapshot seen
    stats = {s: snapshot_stats(net, w, xd, yd) for s, w in snaps}
    feats = {s: representation_at(net, w, xp) for s, w in snaps}
    steps = [s for s, _ in snaps]

    # (b) another snapshot: one new step's stats and features, the rest cached
    def move(i):
        step, w = snaps[(7 * i + 3) % len(snaps)]
        model.load_state_dict(w)
        inside_update(net, ds.x_test[0], classes, int(ds.y_test[0]))
        stats[step] = snapshot_stats(net, w, xd, yd)           # the new snapshot, not cached yet
        feats[step] = representation_at(net, w, xp)
        series = assemble(steps, [stats[s] for s in steps])
        distribution_figure(series["conv1"]["weights"]).to_json()
        proj = project_pca([feats[s] for s in steps])
        j = steps.index(step)
        representation_figure(proj.coords[j], yp, classes, step, proj.x_range, proj.y_range,
                              proj.explained[j], penultimate(net)).to_json()
    res["b_move_ms"], _ = timed(move, args.repeats)
    parts = {}
    step, w = snaps[-1]
    parts["load_state_dict"] = timed(lambda i: model.load_state_dict(w), args.repeats)[0]
    parts["snapshot_stats"] = timed(lambda i: snapshot_stats(net, w, xd, yd), args.repeats)[0]
    parts["representation_at"] = timed(lambda i: representation_at(net, w, xp), args.repeats)[0]
    parts["assemble_60"] = timed(lambda i: assemble(steps, [stats[s] for s in steps]), args.repeats)[0]
    parts["project_pca_60"] = timed(lambda i: project_pca([feats[s] for s in steps]), args.repeats)[0]
    series = assemble(steps, [stats[s] for s in steps])
    n_figs = sum(len(k) for k in series.values())
    parts[f"all_{n_figs}_distribution_figures"] = timed(
        lambda i: [distribution_figure(s).to_json() for k in series.values() for s in k.values()],
        max(3, args.repeats // 5))[0]

    # (c) the whole timeline from scratch
    def whole(i):
        st = [snapshot_stats(net, w, xd, yd) for _, w in snaps]
        assemble(steps, st)
        project_pca([representation_at(net, w, xp) for _, w in snaps])
    res["c_timeline_60_ms"], _ = timed(whole, 3)

    # on demand
    x0 = ds.x_test[0]
    res["conv_explainer_ms"], _ = timed(lambda i: png(conv_explainer_image(
        explain_conv(net, "conv2", x0, i % 16, 4, 5))) and conv_arithmetic_text(
        explain_conv(net, "conv2", x0, i % 16, 4, 5)), args.repeats)
    res["top_activating_test_set_ms"], _ = timed(
        lambda i: top_activating(net, "conv2_relu", i % 16, ds.x_test, k=9), 5)
    res["visualise_unit_ms"], _ = timed(
        lambda i: visualise_unit(net, "conv2_relu", i % 16, norm_mean=ds.norm_mean,
                                 norm_std=ds.norm_std), 5)
    out = {k: round(v * 1000, 1) for k, v in res.items()}
    out["b_parts_ms"] = {k: round(v * 1000, 1) for k, v in parts.items()}
    out["test_set"] = len(ds.x_test)
    for k, v in out.items():
        print(f"{k:32s} {v}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
