"""What a run looks like on screen: progress, curves, the model's views, health.

Views are computed from a copy of the weights (``latest_weights``) loaded into
a viewer model on the CPU, never from the model the trainer thread is updating.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st
import torch

from dlviz.build import build
from dlviz.plots.confusion import confusion_figure
from dlviz.plots.curves import accuracy_figure, loss_figure
from dlviz.plots.health import health_figure, units_figure
from dlviz.plots.images import filters_mosaic, prediction_mosaic
from dlviz.plots.network_view import network_figure
from dlviz.plots.plane import boundary_figure
from dlviz.train.advice import diagnose
from dlviz.train.history import Snapshot
from dlviz.train.runs import RunEntry
from dlviz.train.state import TrainerState
from dlviz.views.plane import boundary_values, neuron_maps, plane_grid
from dlviz.views.predictions import denormalise, predict_test_set
from dlviz.views.weights import dense_weights, first_conv_filters

VIEWERS_KEY = "dlviz_viewers"
PREVIEW_KEY = "dlviz_preview"
MOSAIC_N = 32
CONFUSION_N = 1000


def viewer(entry: RunEntry, weights: dict[str, torch.Tensor]):
    """A CPU copy of the run's network holding ``weights`` (built once per run)."""
    cache = st.session_state.setdefault(VIEWERS_KEY, {})
    if entry.run_id not in cache:
        if len(cache) >= 3:                 # two runs side by side, and one more
            cache.pop(next(iter(cache)))
        cache[entry.run_id] = build(entry.spec, "cpu")
    net = cache[entry.run_id]
    net.model.load_state_dict(weights)
    net.model.eval()
    return net


def progress(s: TrainerState) -> None:
    eta = "" if s.eta_s is None else f" · ETA {time.strftime('%M:%S', time.gmtime(s.eta_s))}"
    epoch = min(s.epochs, int(s.epoch) + (1 if s.live and s.epoch < s.epochs else 0))
    st.progress(s.progress, text=f"**{s.status}** · epoch {epoch}/{s.epochs} · step {s.step:,}/"
                                 f"{s.total_steps:,} · {s.samples_per_s:,.0f} samples/s{eta} · {s.device}")
    if s.status in ("diverged", "error"):
        pass                        # said once, with what to try, by advice() below
    elif s.status in ("finished", "stopped") and s.message:
        st.caption(s.message + _final_text(s))


def waiting(s: TrainerState) -> None:
    """A run waiting for a training slot: its place in line, redrawn until it starts."""
    st.info(f"**{s.status}** · {s.message}", icon=":material/hourglass_top:")


def _final_text(s: TrainerState) -> str:
    f = s.final
    if "test_accuracy" in f:
        return f" · test accuracy {100 * f['test_accuracy']:.1f}%"
    if "test_loss" in f:
        return f" · test loss {f['test_loss']:.4f}"
    return ""


def curves(s: TrainerState, task: str) -> None:
    c1, c2 = st.columns(2)
    c1.plotly_chart(loss_figure(s.history, s.evals, task), width="stretch", key="run_loss")
    if task == "classification":
        c2.plotly_chart(accuracy_figure(s.evals), width="stretch", key="run_acc")


def preview_views(spec, ds, seed: int, key: str = "preview") -> None:
    """The untrained network before Start: the weights the run will start from (the
    trainer builds with the same seed), so the first live picture continues this one."""
    cache = st.session_state.setdefault(PREVIEW_KEY, {})
    ident = (spec.to_json(indent=None), seed)
    if ident not in cache:
        cache.clear()                          # one preview per session
        cache[ident] = build(spec, "cpu", seed=seed)
    net = cache[ident]
    net.model.eval()
    if ds.points_train is not None:
        _plane_views(net, ds, 0, key, False)
    elif ds.is_image:
        _image_views(net, ds, 0, key, False)


def model_views(entry: RunEntry, snap: Snapshot, key: str = "run", stacked: bool = False,
                live: bool = True) -> None:
    """The decision boundary and neurons (2-D data) or predictions and filters (images),
    for the weights of ``snap``; ``key`` keeps two runs' widgets apart."""
    net = viewer(entry, snap.weights)
    ds = entry.dataset
    if ds.points_train is not None:
        _plane_views(net, ds, snap.step, key, stacked)
    elif ds.is_image:
        _image_views(net, ds, snap.step, key, stacked, live=live)


def _two(stacked: bool, widths: list[float]):
    """Two places side by side, or one above the other (half a page, as on Compare)."""
    return (st.container(), st.container()) if stacked else st.columns(widths)


def _plane_views(net, ds, step: int, key: str, stacked: bool) -> None:
    grid = st.session_state.get("dlviz_grid")
    if grid is None or grid[0] != ds.key + str(len(ds.points_train)):
        grid = (ds.key + str(len(ds.points_train)), plane_grid(ds.points_train.numpy(), resolution=60))
        st.session_state["dlviz_grid"] = grid
    grid = grid[1]
    values = boundary_values(net.model, grid, ds.features, ds.task)
    c1, c2 = _two(stacked, [1, 1.6])
    with c1:
        show_test = st.toggle("show test points", value=True, key=f"{key}_show_test")
        fig = boundary_figure(grid.xs, grid.ys, values, ds.points_train.numpy(), ds.y_train.numpy(),
                              ds.points_test.numpy(), ds.y_test.numpy(), ds.task, list(ds.classes),
                              show_test=show_test)
        st.plotly_chart(fig, width="stretch", key=f"{key}_boundary")
        st.caption(f"decision {'surface' if ds.task == 'regression' else 'boundary'} at step {step:,}")
    with c2:
        layers = [(l.name, l.maps) for l in neuron_maps(net.model, net.layer_modules, grid, ds.features)]
        fig = network_figure(layers, dense_weights(net.model, net.layer_modules), values,
                             task=ds.task, num_classes=ds.num_classes, input_names=list(ds.features))
        st.plotly_chart(fig, width="stretch", key=f"{key}_network")
        st.caption("each tile: one neuron's output over the input plane; lines: weights "
                   "(blue positive, orange negative, thickness = size)")


def _image_views(net, ds, step: int, key: str, stacked: bool, live: bool = True) -> None:
    # a fixed moment (an ended run, a past step): the whole test set, as the final test
    # accuracy counts it; while live, the first CONFUSION_N (said so), to keep redraws cheap
    p = predict_test_set(net.model, ds.x_test, ds.y_test, CONFUSION_N if live else None)
    pred, y, n = p.pred, p.y, p.n
    c1, c2 = _two(stacked, [1.3, 1])
    with c1:
        only_wrong = st.toggle("show only mistakes", key=f"{key}_only_wrong")
        idx = np.flatnonzero(pred != y) if only_wrong else np.arange(n)
        idx = idx[:MOSAIC_N]
        if len(idx):
            imgs = denormalise(ds.x_test[idx], ds.norm_mean, ds.norm_std)
            st.image(prediction_mosaic(imgs, y[idx], pred[idx], list(ds.classes), cols=8),
                     output_format="PNG",
                     caption=f"test images at step {step:,}: {p.summary()}; wrong ones in red")
        else:
            st.success("No mistakes on these test images.")
    with c2:
        st.plotly_chart(confusion_figure(p.confusion(ds.num_classes), list(ds.classes), of=p.of),
                        width="stretch", key=f"{key}_confusion")
    filters = first_conv_filters(net.model)
    if filters is not None:
        st.image(filters_mosaic(filters), output_format="PNG",
                 caption=f"first-layer filters ({filters.shape[0]} of {filters.shape[2]}x{filters.shape[3]})")


def advice(s: TrainerState) -> None:
    """Plain-language warnings (vanishing gradients, dead units, ...) with what to try."""
    for a in diagnose(s):
        getattr(st, a.level)(f"**{a.title}.** {a.text}")


def health(s: TrainerState, key: str = "run") -> None:
    if not s.health:
        st.caption("layer health appears after the first steps")
        return
    c1, c2, c3 = st.columns(3)
    c1.plotly_chart(health_figure(s.health, "grad_norm"), width="stretch", key=f"{key}_grad")
    c2.plotly_chart(health_figure(s.health, "update_ratio"), width="stretch", key=f"{key}_update")
    c3.plotly_chart(units_figure(s.health), width="stretch", key=f"{key}_units")
