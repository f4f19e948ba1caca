"""Does watching slow training? A run with a page redrawing twice a second vs none.

The app trains each run in a worker process (ProcessBackend). The "page" here
does in this process what the Train page's live fragment does every 0.5 s:
copy the state and the latest weights over the pipe, compute the model's
views (decision boundary and neuron maps, or predictions and the confusion
matrix), build the Plotly figures and serialise them to JSON. Throughput is
the trainer's own (steps x batch / time in its loop). Target: ratio >= 0.90.

    python -m bench.page_redraw [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from dlviz.build import build
from dlviz.data import load_dataset
from dlviz.plots.confusion import confusion_figure
from dlviz.plots.curves import accuracy_figure, loss_figure
from dlviz.plots.health import health_figure, units_figure
from dlviz.plots.images import filters_mosaic, prediction_mosaic
from dlviz.plots.network_view import network_figure
from dlviz.plots.plane import boundary_figure
from dlviz.presets import PRESETS
from dlviz.train.config import TrainConfig
from dlviz.train.device import set_cpu_threads
from dlviz.train.process_backend import ProcessBackend
from dlviz.views.plane import boundary_values, neuron_maps, plane_grid
from dlviz.views.predictions import confusion_matrix, denormalise, predict_proba
from dlviz.views.weights import dense_weights, first_conv_filters

CASES = [("playground MLP on circle", "playground", "circle", 10, 60, False),
         ("playground MLP, health view", "playground", "circle", 10, 60, True),
         ("LeNet CNN on digits", "lenet", "digits", 64, 2, False)]


def redraw(handle, net, ds, grid, health: bool = False) -> float:
    """One redraw of the Train page's live part; returns its duration."""
    t0 = time.perf_counter()
    s = handle.state()
    snap = handle.latest_weights()
    net.model.load_state_dict(snap.weights)
    net.model.eval()
    # the page's default view: curves plus "What the model sees" (the health view
    # is the other choice of the same control, drawn instead, not as well)
    figs = [loss_figure(s.history, s.evals, ds.task), accuracy_figure(s.evals)]
    if health:
        figs += [health_figure(s.health, "grad_norm"), health_figure(s.health, "update_ratio"),
                 units_figure(s.health)]
    elif grid is not None:
        values = boundary_values(net.model, grid, ds.features, ds.task)
        maps = neuron_maps(net.model, net.layer_modules, grid, ds.features)
        figs += [boundary_figure(grid.xs, grid.ys, values, ds.points_train.numpy(), ds.y_train.numpy(),
                                 ds.points_test.numpy(), ds.y_test.numpy(), ds.task, list(ds.classes)),
                 network_figure([(m.name, m.maps) for m in maps], dense_weights(net.model, net.layer_modules),
                                values, task=ds.task, num_classes=ds.num_classes)]
    else:
        probs = predict_proba(net.model, ds.x_test[:1000])
        pred, y = probs.argmax(1), ds.y_test[:1000].numpy()
        figs.append(confusion_figure(confusion_matrix(y, pred, ds.num_classes), list(ds.classes)))
        prediction_mosaic(denormalise(ds.x_test[:32], ds.norm_mean, ds.norm_std), y[:32], pred[:32],
                          list(ds.classes)).tobytes()
        filters_mosaic(first_conv_filters(net.model)).tobytes()
    for f in figs:
        f.to_json()
    return time.perf_counter() - t0


def one_run(spec, ds, cfg, watch: bool, health: bool = False) -> tuple[float, list[float]]:
    handle = ProcessBackend().submit(spec, ds, cfg)
    net = build(spec, "cpu")
    grid = plane_grid(ds.points_train.numpy()) if ds.points_train is not None else None
    durations: list[float] = []
    try:
        handle.start()
        while handle.is_alive():
            if watch:
                d = redraw(handle, net, ds, grid, health)
                durations.append(d)
                time.sleep(max(0.0, 0.5 - d))
            else:
                time.sleep(0.5)
        s = handle.state()
        return s.step * cfg.batch_size / s.loop_s, durations
    finally:
        handle.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    set_cpu_threads()
    ProcessBackend().warm_up()
    results = []
    for name, preset, dsname, batch, epochs, health in CASES:
        ds = load_dataset(dsname)
        spec = PRESETS[preset].spec(ds.input_shape, ds.output_size, ds.task)
        cfg = TrainConfig.from_dict({**PRESETS[preset].train, "batch_size": batch, "epochs": epochs})
        alone, watched, redraws = [], [], []
        for _ in range(args.repeats):
            alone.append(one_run(spec, ds, cfg, False)[0])
            rate, d = one_run(spec, ds, cfg, True, health)
            watched.append(rate)
            redraws += d
        ratio = statistics.median(w / a for w, a in zip(watched, alone))
        res = {"case": name, "alone_samples_per_s": round(statistics.median(alone)),
               "watched_samples_per_s": round(statistics.median(watched)), "ratio": round(ratio, 3),
               "redraw_ms_median": round(1000 * statistics.median(redraws), 1)}
        results.append(res)
        print(f"{name:26s} alone {res['alone_samples_per_s']:>7} samples/s, page open "
              f"{res['watched_samples_per_s']:>7} samples/s, ratio {ratio:.3f}, "
              f"redraw {res['redraw_ms_median']} ms", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
