"""The Inside page's three views, for one run at one snapshot.

* one input through every layer: feature-map mosaics, unit strips, the
  output probabilities, a map enlarged, the convolution arithmetic;
* what a unit responds to: the test images that excite it most, and an input
  optimised to excite it;
* learning over time: weight / gradient / activation distributions per layer
  against the step, and the penultimate layer's PCA at the chosen moment.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dlviz.inside import (assemble, axis_ranges, conv_arithmetic_text, explain_conv, layer_values, penultimate,
                          project_pca, representation_at, snapshot_stats, top_activating, visualise_unit)
from dlviz.inside.embedding import PROJECTIONS, tsne_step
from dlviz.plots.conv_explainer import conv_explainer_image
from dlviz.plots.distributions import distribution_figure
from dlviz.plots.feature_maps import enlarge, feature_mosaic
from dlviz.plots.unit_values import probabilities_figure, units_strip_figure
from dlviz.plots.images import FILTERS_HELP, filters_legend, filters_mosaic, pixelated, prediction_mosaic
from dlviz.plots.representation import representation_figure
from dlviz.plots.style import fmt_number
from dlviz.train.history import Snapshot
from dlviz.train.runs import RunEntry
from dlviz.train.state import TrainerState
from dlviz.ui import presenter, timeline
from dlviz.ui.input_picker import PickedInput, pick_input, show_input
from dlviz.ui.run_views import viewer
from dlviz.views.predictions import denormalise, predict_proba
from dlviz.views.weights import first_conv_filters

STATS_N = 256            # test samples behind the distributions and the PCA
POOL_N = 2000            # test samples searched for a unit's strongest responses
CACHE_KEY = "dlviz_inside_cache"


def _cache() -> dict:
    return st.session_state.setdefault(CACHE_KEY, {})


def _map_layers(values) -> list:
    return [v for v in values if len(v.shape) == 3]


# -- one input -----------------------------------------------------------------------------

CONV_PART = "How a convolution computes one value"


def one_input(entry: RunEntry, snap: Snapshot) -> None:
    ds = entry.dataset
    net = viewer(entry, snap)
    has_conv = any(r.view == "conv" for r in net.records)
    # stacked on one page; in presenter mode one tab each (the explainer was at the bottom
    # of a long scroll)
    parts = presenter.sections(["This input", "Layer by layer"] + ([CONV_PART] if has_conv else []),
                               key="inside_one_parts")
    with parts[0]:
        left, right = st.columns([1, 2], gap="large")
        with left:
            picked = pick_input(ds, net.model, "inside_in")
    if picked is None:
        return
    values = layer_values(net, picked.x)
    out = values[-1]
    with parts[0]:
        with left:
            show_input(picked, ds)
        with right:
            st.markdown(f"**Output at step {snap.step:,}**")
            if out.probs is not None and ds.task == "classification":
                st.plotly_chart(probabilities_figure(out.probs, list(ds.classes), true=picked.label),
                                width="stretch", key="inside_probs")
                st.caption("the network's probability for each class for this input",
                           help="The last layer's scores put through softmax: positive numbers that add "
                                "up to 1. The tallest bar is the prediction.")
            else:
                st.metric("predicted value", f"{float(out.values[0]):.4f}")
            maps = _map_layers(values)
            if maps:
                _enlarged(maps, picked)
    with parts[1]:
        if not presenter.presenting():
            st.divider()
        _layer_walk(values[:-1], picked)
    conv_layers = [v.name for v in values if v.kind == "conv"]
    if conv_layers and len(parts) > 2:
        if presenter.presenting():
            with parts[2]:
                _conv_explainer(net, conv_layers, values, picked)
        else:
            with parts[2], st.expander(CONV_PART, expanded=False, icon=":material/calculate:"):
                _conv_explainer(net, conv_layers, values, picked)


def _enlarged(maps, picked: PickedInput) -> None:
    names = [m.name for m in maps]
    c1, c2 = st.columns([1, 1])
    name = c1.selectbox("Enlarge a feature map of", names, key="inside_big_layer")
    layer = maps[names.index(name)]
    n = layer.shape[0]
    ch = c2.number_input(f"map (0 to {n - 1})", 0, n - 1, 0, key=f"inside_big_ch_{name}")
    st.session_state["inside_selected"] = (name, int(ch))
    st.image(enlarge(layer.values[int(ch)], title=f"{name} · map {int(ch)} of {n}"), output_format="PNG")
    st.caption(f"map {int(ch)} of {name}, enlarged, with its colour scale",
               help="A feature map: where in the image this filter found its pattern. Blue: the "
                    "filter's sum was positive there; orange: negative; white: 0.")


def _layer_walk(values, picked: PickedInput) -> None:
    selected = st.session_state.get("inside_selected", (None, None))
    for v in values:
        if v.kind == "flatten":
            continue
        shape = "x".join(str(d) for d in v.shape)
        head = f"**{v.name}** · {shape} · range {fmt_number(v.vmin, 3)} to {fmt_number(v.vmax, 3)}"
        if len(v.shape) == 3:
            c, h, w = v.shape
            st.markdown(f"{head} · {c} maps of {h}x{w}")
            highlight = selected[1] if selected[0] == v.name else None
            # maps about 100 px across: readable on a projector, one image per layer
            mosaic = feature_mosaic(v.values, scale=max(1, round(100 / max(h, w))), highlight=highlight)
            st.image(mosaic.image, output_format="PNG")
            st.caption(mosaic.caption, help=_VIEW_HELP.get(v.kind, _VIEW_HELP["maps"]))
        else:
            st.markdown(head)
            fig = units_strip_figure(v.values, v.name).update_layout(title=None, margin_t=8)
            st.plotly_chart(fig, width="stretch", key=f"inside_strip_{v.name}")
            st.caption(f"the {v.shape[0]} values {v.name} passes on for this input",
                       help=_VIEW_HELP.get(v.kind, _VIEW_HELP["units"]))


# what each kind of layer's picture shows, in plain words (the hover of its caption)
_VIEW_HELP = {
    "conv": "A convolution slides each of its filters over its input; each tile is one filter's "
            "feature map: where it found its pattern (blue: positive, orange: negative).",
    "pool": "Pooling shrinks each map by keeping the largest (max) or the average value of every "
            "small window: the same maps, coarser.",
    "activation": "An activation is applied to every value on its own; ReLU, for instance, turns "
                  "every negative value (orange) into 0 (white).",
    "batchnorm": "Batch normalisation rescales each map to a steady average and spread.",
    "residual": "A residual block's output: two convolutions whose result is added to its input.",
    "dense": "A dense layer: each bar is one unit, the weighted sum of all its inputs "
             "(after the activation, if the layer has one).",
    "maps": "Each tile is one feature map of this layer (blue: positive, orange: negative, white: 0).",
    "units": "Each bar is one unit's value for this input (blue: positive, orange: negative).",
}


def _conv_explainer(net, conv_layers, values, picked: PickedInput) -> None:
    by_name = {v.name: v for v in values}
    c1, c2, c3, c4 = st.columns(4)
    name = c1.selectbox("Conv layer", conv_layers, key="inside_conv_layer")
    c, h, w = by_name[name].shape
    ch = c2.number_input(f"output map (0-{c - 1})", 0, c - 1, 0, key=f"inside_conv_ch_{name}")
    row = c3.number_input(f"row (0-{h - 1})", 0, h - 1, h // 2, key=f"inside_conv_row_{name}")
    col = c4.number_input(f"column (0-{w - 1})", 0, w - 1, w // 2, key=f"inside_conv_col_{name}")
    a = explain_conv(net, name, picked.x, int(ch), int(row), int(col))
    # where the window sits: the input channel that contributes most, window outlined
    cin = int(np.argmax(np.abs(a.channel_sums)))
    source = picked.x.numpy() if a.input_name == "input" else by_name[a.input_name].values
    kh, kw = a.kernel.shape[1:]
    # side by side; stacked in presenter mode, where the arithmetic needs the page's width
    left, right = (st.container(), st.container()) if presenter.presenting() else st.columns([1, 3])
    left.image(enlarge(source[cin], size=200, box=(a.top, a.left, a.top + kh, a.left + kw),
                       title=f"{a.input_name} · channel {cin}"), output_format="PNG",
               caption="the window on the layer's input (the channel adding the most)")
    right.image(conv_explainer_image(a, in_channel=cin), output_format="PNG")
    right.caption("the window's values times the filter's weights, and their sum",
                  help="A convolution's output value is the sum of the input values in a small "
                       "window, each times the matching filter weight, plus the bias.")
    st.code(conv_arithmetic_text(a), language=None)
    ok = abs(a.total - a.layer_output) <= 1e-4 * max(1.0, abs(a.layer_output))
    (st.success if ok else st.error)(
        f"The network's own {name} output at map {a.channel}, row {a.row}, column {a.col} is "
        f"{a.layer_output:.5f}; the sum above gives {a.total:.5f}.")


# -- what a unit responds to -------------------------------------------------------------------

def unit_responses(entry: RunEntry, snap: Snapshot) -> None:
    ds = entry.dataset
    net = viewer(entry, snap)
    # shapes from the builder's records: no forward pass needed; layers that only pass
    # their input on (flatten, dropout) have no units of their own
    records = [r for r in net.records if not r.passthrough]
    shapes = {r.name: tuple(r.shape) for r in records}
    candidates = list(shapes)
    c1, c2 = st.columns([2, 1])
    name = c1.selectbox("Layer", candidates, index=_default_unit_layer(records), key="inside_unit_layer")
    n = shapes[name][0]
    what = "channel" if len(shapes[name]) == 3 else "unit"
    unit = int(c2.number_input(f"{what} (0 to {n - 1})", 0, n - 1, 0, key=f"inside_unit_{name}"))
    if name == "output" and ds.task == "classification":
        st.caption(f"output unit {unit} is the logit of class **{ds.classes[unit]}**")
    pool = ds.x_test[:POOL_N]
    idx, vals = top_activating(net, name, unit, pool, k=12)
    left, right = st.columns([3, 2], gap="large")
    with left:
        among = (f"among the first {len(pool):,} of {len(ds.x_test):,}, " if len(pool) < len(ds.x_test) else "")
        st.markdown(f"**The test {'images' if ds.is_image else 'points'} that excite {name} "
                    f"{what} {unit} most** ({among}at step {snap.step:,})")
        if ds.is_image:
            imgs = denormalise(pool[idx], ds.norm_mean, ds.norm_std)
            pred = predict_proba(net.model, pool[idx]).argmax(1)
            st.image(prediction_mosaic(imgs, ds.y_test[:POOL_N][idx].numpy(), pred, list(ds.classes), cols=6),
                     output_format="PNG",
                     caption="strongest first; response: " + ", ".join(f"{v:.2f}" for v in vals)
                             + (" (the channel's maximum over its map)" if what == "channel" else ""))
        elif ds.points_test is not None:
            pts = ds.points_test[:POOL_N][idx].numpy()
            st.dataframe({"x1": pts[:, 0], "x2": pts[:, 1], "response": vals}, hide_index=True)
        else:            # a table's rows (standardised / one-hot inputs), by column name
            rows = pool[idx].numpy()
            names = list(ds.input_names) or [f"input {j}" for j in range(rows.shape[1])]
            st.dataframe({"unit response": vals, **{n: rows[:, j] for j, n in enumerate(names)}},
                         hide_index=True)
    with right:
        if ds.is_image:
            st.markdown("**An input made to excite it**")
            where = "mean"
            if what == "channel":
                choice = st.segmented_control(
                    "Excite", ["at the centre", "everywhere"], default="at the centre",
                    key="inside_vis_where", help="at the centre: one position of the map, which draws "
                    "its receptive field (for the first conv layer, the filter itself); everywhere: the "
                    "map's mean, which tiles the pattern over the image")
                where = "mean" if choice == "everywhere" else "centre"
            key = (entry.run_id, snap.step, name, unit, where)
            cache = _cache()
            if st.button("Make one", key="inside_vis", icon=":material/auto_awesome:",
                         help="start from noise and follow the gradient to the input that makes "
                              "this unit fire most, with jitter and blur so it stays image-like"):
                with st.spinner("optimising an input..."):
                    cache[("vis", *key)] = visualise_unit(net, name, unit, input_shape=ds.input_shape,
                                                          norm_mean=ds.norm_mean, norm_std=ds.norm_std,
                                                          where=where)
            img = cache.get(("vis", *key))
            if img is not None:
                st.image(pixelated(img), output_format="PNG",
                         caption=f"activation maximisation for {name} {what} {unit} at step {snap.step:,}")


def _default_unit_layer(records) -> int:
    """The first convolution's own module, else the first candidate."""
    convs = [i for i, r in enumerate(records) if r.view == "conv"]
    return convs[0] if convs else 0


# -- learning over time -------------------------------------------------------------------------

def _per_step(kind: str, entry: RunEntry, steps: list[int], compute) -> list:
    """``compute(snapshot)`` for every step, each kept once computed: snapshots never
    change, so moving the timeline or a new snapshot costs one step's work."""
    cache = _cache()
    for k in [k for k in cache if k[0] == kind and k[1] != entry.run_id]:
        del cache[k]                      # one run's worth per session
    out = []
    for step in steps:
        key = (kind, entry.run_id, step)
        if key not in cache:
            cache[key] = compute(timeline.snapshot_at(entry, step))
        out.append(cache[key])
    return out


def over_time(entry: RunEntry, s: TrainerState, snap: Snapshot) -> None:
    ds = entry.dataset
    steps = [t["step"] for t in s.timeline]
    net = viewer(entry, snap)
    x, y = ds.x_test[:STATS_N], ds.y_test[:STATS_N]
    # both are computed with each snapshot's weights substituted (functional_call),
    # so the viewer keeps the chosen moment's weights
    with st.spinner(f"reading {len(steps)} snapshots (once; later moves cost one snapshot each)..."):
        stats = _per_step("stats", entry, steps, lambda sn: snapshot_stats(net, sn.weights, x, y))
        feats = _per_step("feats", entry, steps, lambda sn: representation_at(net, sn.weights, x))
    dists = assemble(steps, stats)
    i = min(range(len(steps)), key=lambda j: abs(steps[j] - snap.step))
    left, right = presenter.sections(["Distributions", "Representation"], key="inside_time_parts",
                                     columns=[1, 1])
    with left:
        st.markdown(f"**Distributions over training** ({len(steps)} snapshots, {len(x)} test samples)")
        layers = list(dists)
        c1, c2 = st.columns([1, 2])
        layer = c1.selectbox("Layer", layers, key="inside_dist_layer")
        kinds = list(dists[layer])
        kind = c2.segmented_control("Of", kinds, default=kinds[0], key="inside_dist_kind") or kinds[0]
        if kind not in dists[layer]:
            kind = kinds[0]
        fig = distribution_figure(dists[layer][kind])
        fig.add_vline(x=steps[i], line=dict(color="#6b7280", width=1, dash="dot"))
        st.plotly_chart(fig, width="stretch", key="inside_dist")
        st.caption("each column is a histogram at one snapshot (darker: more values); the line is the "
                   "median",
                   help="How the layer's values spread at each moment of training. Weights that never "
                        "move, gradients that shrink to zero, or activations piling up at the ends of "
                        "their range are signs of trouble.")
        filters = first_conv_filters(net.model)            # (C_out, C_in, k, k) at the chosen step
        if filters is not None:
            st.image(filters_mosaic(filters), output_format="PNG",
                     caption=f"first-layer filters at step {snap.step:,}, one tile per filter")
            st.caption(filters_legend(filters.shape[1]) + " (move the timeline to compare moments)",
                       help=FILTERS_HELP)
    with right:
        proj = project_pca(feats)
        # each step scaled to unit RMS spread: at step 0 the activations are small,
        # and on raw axes their structure would be a dot; what matters is separation
        coords = [c / max(float(np.sqrt((c ** 2).sum(1).mean())), 1e-12) for c in proj.coords]
        x_range, y_range = axis_ranges(coords)
        layer = penultimate(net)
        st.markdown(f"**What {layer} makes of the same {len(x)} test samples**")
        how = st.segmented_control("Projection", list(PROJECTIONS), default="PCA", key="inside_proj",
                                   help=" · ".join(PROJECTIONS.values())) or "PCA"
        if how == "t-SNE":          # only the moment shown, started from (and aligned to) its PCA
            with st.spinner("t-SNE of this snapshot (once)..."):
                coords[i] = _per_step("tsne", entry, steps[i:i + 1], lambda sn: tsne_step(feats[i], coords[i]))[0]
            x_range, y_range = axis_ranges(coords[i:i + 1])
        labels = y.numpy().ravel()
        fig = representation_figure(coords[i], labels, list(ds.classes), steps[i], x_range=x_range,
                                    y_range=y_range, explained=proj.explained[i] if how == "PCA" else None,
                                    layer=layer)
        if how == "t-SNE":
            fig.update_layout(title_text=f"{layer} features, t-SNE to 2-D · step {steps[i]:,}",
                              xaxis_title_text="t-SNE 1", yaxis_title_text="t-SNE 2")
        st.plotly_chart(fig, width="stretch", key="inside_pca")
        st.caption(f"{layer} activations projected on "
                   f"{'their top two principal components' if how == 'PCA' else 't-SNE (neighbours kept together)'}"
                   f" at step {steps[i]:,}, scaled to the same spread at every step. Press Play to see how "
                   f"they move over training.",
                   help="Each point is one test sample, placed by the two directions in which the "
                        "layer's values differ most (PCA). Classes far apart are easy for the last "
                        "layer to tell apart.")
