"""What a run looks like on screen: progress, curves, the model's views, health.

Views are computed from a copy of the weights (``latest_weights``) loaded into
a viewer model on the CPU, never from the model the trainer thread is updating.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dlviz.build import BuiltNet, build
from dlviz.plots.confusion import confusion_figure, confusion_png
from dlviz.plots.curve_pictures import accuracy_png, loss_png
from dlviz.plots.curves import accuracy_figure, loss_figure
from dlviz.plots.health import health_figure, units_figure
from dlviz.plots.health_pictures import health_png, units_png
from dlviz.plots.images import FILTERS_HELP, filters_legend, filters_mosaic, prediction_mosaic
from dlviz.plots.live_pictures import boundary_png, network_png
from dlviz.plots.network_view import network_figure
from dlviz.plots.plane import boundary_figure
from dlviz.plots.style import fmt_number
from dlviz.train.advice import diagnose
from dlviz.train.history import Snapshot
from dlviz.train.runs import RunEntry
from dlviz.train.state import TrainerState
from dlviz.views.plane import boundary_values, neuron_maps, plane_grid
from dlviz.views.predictions import denormalise, predict_test_set
from dlviz.views.weights import dense_weights, first_conv_filters
from dlviz.ui import presenter

VIEWERS_KEY = "dlviz_viewers"
VIEWERS_MAX = 4          # models per session: two runs side by side, each at two moments
PREVIEW_KEY = "dlviz_preview"
MOSAIC_N = 32
CONFUSION_N = 1000


@dataclass
class _Viewer:
    net: BuiltNet
    weights: dict[str, torch.Tensor]    # the state dict loaded last (a snapshot's: it never changes)


def viewer(entry: RunEntry, snap: Snapshot) -> BuiltNet:
    """A CPU copy of the run's network holding the weights of ``snap``: one model per
    (run, moment), the last ``VIEWERS_MAX`` kept in this session.

    Two views of the same run at different moments (Compare, a page held while the
    slider moves) each keep their own model, so one never draws with the other's
    weights. A moment seen again costs nothing; a new one reuses the least recently
    used model of the same run (loading weights, no build). Callers must not change
    the model's weights (the explain checks work on a deep copy).
    """
    cache: OrderedDict = st.session_state.setdefault(VIEWERS_KEY, OrderedDict())
    key = (entry.run_id, snap.step)
    held = cache.pop(key, None)
    if held is None:
        held = _spare(cache, entry.run_id) or _Viewer(build(entry.spec, "cpu"), {})
    cache[key] = held                           # the most recently used, last
    if held.weights is not snap.weights:
        held.net.model.load_state_dict(snap.weights)
        held.weights = snap.weights
    held.net.model.eval()
    return held.net


def _spare(cache: OrderedDict, run_id: str) -> _Viewer | None:
    """When the cache is full: the least recently used model goes; it is returned for
    reuse when it is of the same run (the same network), else dropped."""
    if len(cache) < VIEWERS_MAX:
        return None
    (old_run, _), old = cache.popitem(last=False)
    return old if old_run == run_id else None


# A live page redraws twice a second. Streamlit marks each element of a rerunning
# fragment stale: a 1 s opacity transition, started at every redraw and cancelled when
# the new copy comes, which (with the progress bars' 0.5 s glide, turned off on every
# page by presenter.BASE_CSS) kept Chromium animating and drawing all the time
# (docs/ARCHITECTURE.md, "The live Train page"). Here a stale element stays as it is
# until its new copy replaces it.
LIVE_CSS = ('[data-testid="stElementContainer"][data-stale="true"]'
            '{opacity:1 !important;transition:none !important}')


def calm_live_redraws() -> None:
    """On a page that redraws live: no fade of stale elements."""
    st.html(f"<style>{LIVE_CSS}</style>")


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


def curves(s: TrainerState, task: str, pictures: bool = False) -> None:
    """Loss and accuracy over training steps; under each, its newest test figure.

    ``pictures`` (a running run's redraw): PNG pictures, redrawn in place on every
    redraw, up to the step the progress line shows. Otherwise (paused, ended) the
    interactive figures, which change no more: a changed Plotly chart is mounted
    afresh in the browser, and the two took ~0.1 of a core of Chromium's renderer
    redrawn once a second (docs/ARCHITECTURE.md, "The live Train page")."""
    c1, c2 = st.columns(2)
    if pictures:
        c1.image(loss_png(s.history, s.evals, task), width="stretch")
    else:
        c1.plotly_chart(loss_figure(s.history, s.evals, task), width="stretch", key="run_loss")
    c1.caption("loss against training step" + _newest(s.evals, "test_loss"), help=LOSS_HELP)
    if task != "classification":
        return
    if pictures:
        c2.image(accuracy_png(s.evals), width="stretch")
    else:
        c2.plotly_chart(accuracy_figure(s.evals), width="stretch", key="run_acc")
    c2.caption("accuracy against training step" + _newest(s.evals, "test_accuracy"), help=ACCURACY_HELP)


def _newest(evals, key: str) -> str:
    """' · test 97.5% at step 1,200': the newest evaluation's test figure, for a caption."""
    last = next((r for r in reversed(evals or []) if r.get(key) is not None), None)
    if last is None:
        return ""
    v = last[key]
    shown = f"{100 * v:.1f}%" if key.endswith("accuracy") else fmt_number(v, 3)
    return f" · test {shown} at step {last['step']:,}"


# one plain line per chart, the hover of its caption (a caption says what the picture shows)
LOSS_HELP = ("How wrong the network's outputs are, on average: lower is better. Train: the batches "
             "it learns from; test: samples it never learns from. Test rising while train falls: "
             "it is memorising.")
ACCURACY_HELP = "The share of samples given the right class, on the training and on the test set."
BOUNDARY_HELP = ("The background colour is the network's output at each point of the plane; the "
                 "line is where its answer switches class. Dots: the data (outlined: test).")
NETWORK_HELP = ("Each tile is one neuron's output over the whole input plane, the same plane as the "
                "boundary: what that neuron has learned to look for.")
MOSAIC_HELP = "Test images with the class the network gave each: a red frame marks a wrong answer."
CONFUSION_HELP = ("Each row is a true class, each column the class predicted; the diagonal (outlined) "
                  "counts the right answers, every other cell a kind of mistake.")
HEALTH_HELP = ("Gradient size: how strongly each layer is being corrected (near 0: it stopped "
               "learning). Update ratio: how much one step changes its weights (the green band, "
               "1e-4 to 1e-2, is the usual range). Unhealthy units: the share that are dead (always 0) or saturated.")


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
                live: bool = True, pictures: bool = False) -> None:
    """The decision boundary and neurons (2-D data) or predictions and filters (images),
    for the weights of ``snap``; ``key`` keeps two runs' widgets apart.

    ``pictures``: the 2-D views (and the confusion matrix) as PNG pictures instead of
    interactive figures, for a view redrawn twice a second (a running run): a picture
    updates in place, while Streamlit mounts a changed Plotly chart afresh
    (docs/ARCHITECTURE.md, "The live Train page")."""
    net = viewer(entry, snap)
    ds = entry.dataset
    if ds.points_train is not None:
        _plane_views(net, ds, snap.step, key, stacked, pictures)
    elif ds.is_image:
        _image_views(net, ds, snap.step, key, stacked, live=live, pictures=pictures)


def _two(stacked: bool, widths: list[float]):
    """Two places side by side, or one above the other (half a page, as on Compare; and in
    presenter mode, where side by side shrank the pictures' labels below 16 px)."""
    return (st.container(), st.container()) if stacked or presenter.presenting() else st.columns(widths)


def _plane_views(net, ds, step: int, key: str, stacked: bool, pictures: bool = False) -> None:
    grid = st.session_state.get("dlviz_grid")
    if grid is None or grid[0] != ds.key + str(len(ds.points_train)):
        grid = (ds.key + str(len(ds.points_train)), plane_grid(ds.points_train.numpy(), resolution=60))
        st.session_state["dlviz_grid"] = grid
    grid = grid[1]
    values = boundary_values(net.model, grid, ds.features, ds.task)
    c1, c2 = _two(stacked, [1, 1.6])
    with c1:
        show_test = st.toggle("show test points", value=True, key=f"{key}_show_test")
        args = (grid.xs, grid.ys, values, ds.points_train.numpy(), ds.y_train.numpy(),
                ds.points_test.numpy(), ds.y_test.numpy(), ds.task, list(ds.classes))
        if pictures:
            st.image(boundary_png(*args, show_test=show_test), width="stretch")
        else:
            st.plotly_chart(boundary_figure(*args, show_test=show_test), width="stretch", key=f"{key}_boundary")
        st.caption(f"decision {'surface' if ds.task == 'regression' else 'boundary'} at step {step:,}",
                   help=BOUNDARY_HELP)
    with c2:
        layers = [(l.name, l.maps) for l in neuron_maps(net.model, net.layer_modules, grid, ds.features)]
        args = (layers, dense_weights(net.model, net.layer_modules), values)
        kw = dict(task=ds.task, num_classes=ds.num_classes, input_names=list(ds.features))
        if pictures:
            st.image(network_png(*args, **kw), width="stretch")
        else:
            st.plotly_chart(network_figure(*args, **kw), width="stretch", key=f"{key}_network")
        st.caption("each tile: one neuron's output over the input plane; lines: weights "
                   "(blue positive, orange negative, thickness = size)", help=NETWORK_HELP)


def _image_views(net, ds, step: int, key: str, stacked: bool, live: bool = True,
                 pictures: bool = False) -> None:
    # a fixed moment (an ended run, a past step): the whole test set, as the final test
    # accuracy counts it; while live, the first CONFUSION_N (said so), to keep redraws cheap
    p = predict_test_set(net.model, ds.x_test, ds.y_test, CONFUSION_N if live else None)
    pred, y, n = p.pred, p.y, p.n
    c1, c2 = _two(stacked, [1.3, 1])
    with c1:
        only_wrong = st.toggle("show only mistakes", key=f"{key}_only_wrong", help=MOSAIC_HELP)
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
        args = (p.confusion(ds.num_classes), list(ds.classes))
        if pictures:                    # a running run: a picture, redrawn in place
            st.image(confusion_png(*args, of=p.of), width="stretch")
        else:
            st.plotly_chart(confusion_figure(*args, of=p.of), width="stretch", key=f"{key}_confusion")
        st.caption("test samples by true class (rows) and predicted class (columns)", help=CONFUSION_HELP)
    filters = first_conv_filters(net.model)
    if filters is not None:
        st.image(filters_mosaic(filters), output_format="PNG",
                 caption=f"first-layer filters ({filters.shape[0]} of {filters.shape[2]}x{filters.shape[3]})")
        st.caption(filters_legend(filters.shape[1]), help=FILTERS_HELP)


def advice(s: TrainerState) -> None:
    """Plain-language warnings (vanishing gradients, dead units, ...) with what to try."""
    for a in diagnose(s):
        getattr(st, a.level)(f"**{a.title}.** {a.text}")


def health(s: TrainerState, key: str = "run", pictures: bool = False) -> None:
    """Gradient norms, update ratios and unhealthy units per layer; ``pictures`` (a
    running run's redraw): as pictures, redrawn in place, as the curves are."""
    if not s.health:
        st.caption("layer health appears after the first steps")
        return
    c1, c2, c3 = st.columns(3)
    if pictures:
        c1.image(health_png(s.health, "grad_norm"), width="stretch")
        c2.image(health_png(s.health, "update_ratio"), width="stretch")
        c3.image(units_png(s.health), width="stretch")
    else:
        c1.plotly_chart(health_figure(s.health, "grad_norm"), width="stretch", key=f"{key}_grad")
        c2.plotly_chart(health_figure(s.health, "update_ratio"), width="stretch", key=f"{key}_update")
        c3.plotly_chart(units_figure(s.health), width="stretch", key=f"{key}_units")
    st.caption("per layer, against training step: gradient size, update ratio, unhealthy units",
               help=HEALTH_HELP)
