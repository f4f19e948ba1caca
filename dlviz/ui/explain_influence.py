"""The Explain page's "Which training examples?": for the input explained, the training
examples that pushed the model towards the explained class (proponents) and against it
(opponents); and per class, the training examples with the highest self-influence, where
mislabelled ones surface. Both by TracIn over the run's own snapshots (or an uploaded
bundle's checkpoints): dlviz/explain/influence.py, docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from torch import nn

from dlviz.data.labels import class_name
from dlviz.explain.influence import Influence, SelfInfluence, self_influence_by_class
from dlviz.explain.registry import BEYOND_PIXELS
from dlviz.plots.example_grid import short_score
from dlviz.plots.images import pixelated
from dlviz.ui import keep
from dlviz.ui.explain_request import ExplainRequest, cached
from dlviz.views.predictions import denormalise

VIEWS = ["For this input", "Most self-influential, per class"]
METHOD = BEYOND_PIXELS["tracin"]


def training_examples(req: ExplainRequest) -> None:
    model, ds = req.model, req.model.ds
    if len(ds.x_train) == 0 or (model.entry is None and not model.checkpoints):
        st.info("Training-data influence needs the model's training set and its snapshots: a run of this "
                "session, or a bundle saved with checkpoints from one of dlviz's datasets.")
        return
    st.caption(METHOD.explanation)
    regression = ds.task != "classification"
    views = VIEWS[:1] if regression else VIEWS
    c1, c2, c3 = st.columns([3, 2, 2])
    keep.keep("explain_influence_view", views[0], valid=lambda v: v if v in views else None)
    view = c1.segmented_control("Which examples", views, key="explain_influence_view",
                                label_visibility="collapsed") or views[0]
    keep.kept("explain_influence_view", view)
    k, used = (_setting(col, p) for col, p in zip((c2, c3), METHOD.params))
    steps = req.model.snapshot_steps(used)              # the checkpoints summed over
    if view == VIEWS[0]:
        _for_this_input(req, steps, k, used, regression)
    else:
        _self_influence(req, steps, k, used)


def _setting(col, p) -> int:
    wkey = f"explain_influence_{p.name}"
    keep.keep(wkey, int(p.default), valid=lambda v, p=p: v if isinstance(v, int) and p.min <= v <= p.max else None)
    v = int(col.number_input(f"{p.label} ({p.min:g} to {p.max:g})", int(p.min), int(p.max), step=1, key=wkey,
                             help=p.help or None))
    keep.kept(wkey, v)
    return v


def _for_this_input(req: ExplainRequest, steps: list[int], k: int, used: int, regression: bool) -> None:
    model, ds = req.model, req.model.ds
    if regression and req.picked.index is None:
        st.info("For a regression model pick a test sample: influence is on its loss, which needs its true value.")
        return
    target = ds.y_test[req.picked.index] if regression else torch.tensor(req.target)

    def compute() -> Influence:
        loss = nn.MSELoss(reduction="sum") if regression else nn.CrossEntropyLoss(reduction="sum")
        return METHOD.run(model.net, model.weights_at(steps), ds.x_train, ds.y_train, req.picked.x,
                          target, k=k, loss=loss, checkpoints_used=used)
    r = cached(("influence", model.ident, tuple(steps), used, k, req.input_id, req.target), compute,
               spinner="scoring the training examples at each snapshot (TracIn)...")
    if isinstance(r, str):
        st.error(r)
        return
    towards = f"towards {req.class_name}" if not regression else "to lower this sample's error"
    st.markdown(f"**Which training examples pushed the model {towards}, and which against?**")
    if ds.is_image:
        _images(r.proponents, r.proponent_scores, ds, "Proponents (pushed towards)")
        _images(r.opponents, r.opponent_scores, ds, "Opponents (pushed against)")
    elif ds.points_train is not None or ds.x_train.shape[1] == 2:
        _plane([("proponents", r.proponents, r.proponent_scores, "#2ca02c"),
                ("opponents", r.opponents, r.opponent_scores, "#d62728")], req, ds, "explain_influence_plane")
        _table([("proponent", r.proponents, r.proponent_scores), ("opponent", r.opponents, r.opponent_scores)],
               ds, "influence")
    else:
        _table([("proponent", r.proponents, r.proponent_scores), ("opponent", r.opponents, r.opponent_scores)],
               ds, "influence")
    st.caption(f"TracIn (Pruthi et al., 2020) with Captum's TracInCPFast: summed over {len(r.steps)} "
               f"snapshots (steps {', '.join(f'{s:,}' for s in r.steps)}), the dot product of a training "
               f"example's loss gradient and this input's, in the output layer's weights; "
               f"{r.considered:,} training examples scored in {r.seconds:.2f} s.",
               help="A positive score: a training step on that example lowered this input's loss for the "
                    "explained class; a negative one raised it. For a wrong prediction, the proponents "
                    "of the predicted class are the training examples the mistake came from; opponents "
                    "that look like this input are often mislabelled.")


def _self_influence(req: ExplainRequest, steps: list[int], k: int, used: int) -> None:
    model, ds = req.model, req.model.ds

    def compute() -> SelfInfluence:
        return self_influence_by_class(model.net, model.weights_at(steps), ds.x_train, ds.y_train,
                                       k=k, checkpoints_used=used)
    r = cached(("self_influence", model.ident, tuple(steps), used, k), compute,
               spinner="scoring every training example against itself at each snapshot (TracIn)...")
    if isinstance(r, str):
        st.error(r)
        return
    classes = [c for c in r.top]
    wkey = "explain_self_influence_class"
    keep.keep(wkey, req.target if req.target in classes else classes[0],
              valid=lambda v: v if v in classes else None)
    c = st.selectbox("Class", classes, format_func=lambda i: class_name(ds.classes, i), key=wkey,
                     help="training examples labelled with this class, the most self-influential first")
    keep.kept(wkey, c)
    st.markdown(f"**The training examples labelled {class_name(ds.classes, c)} that were hardest to learn**")
    if ds.is_image:
        _images(r.top[c], r.scores[c], ds, f"Highest self-influence (the class's median: "
                                             f"{short_score(r.median[c])})")
    elif ds.points_train is not None or ds.x_train.shape[1] == 2:
        _plane([("most self-influential", r.top[c], r.scores[c], "#ff7f0e")], req, ds, "explain_self_plane")
        _table([("self-influence", r.top[c], r.scores[c])], ds, "self-influence")
    else:
        _table([("self-influence", r.top[c], r.scores[c])], ds, "self-influence")
    st.caption(f"Self-influence: each training example's TracIn score on itself, summed over {len(r.steps)} "
               f"snapshots (steps {', '.join(f'{s:,}' for s in r.steps)}); {r.considered:,} training examples "
               f"scored in {r.seconds:.2f} s.",
               help="An example the model had to keep pushing towards its label, checkpoint after checkpoint, "
                    "scores high: hard examples, ambiguous ones and mislabelled ones (Pruthi et al. found "
                    "most planted mislabels among the top few percent). One far above its class's median "
                    "is worth a look.")


def _label(ds, i: int) -> str:
    y = ds.y_train[i]
    if ds.task == "classification":
        return class_name(ds.classes, int(y))
    return f"{float(y.reshape(-1)[0]):.3g}"


def _images(idx: torch.Tensor, scores: torch.Tensor, ds, title: str) -> None:
    st.markdown(f"*{title}*")
    if len(idx) == 0:
        return
    imgs = denormalise(ds.x_train[idx], ds.norm_mean, ds.norm_std)     # uint8 (k, H, W, C)
    per_row = 8
    for start in range(0, len(idx), per_row):
        cols = st.columns(per_row)
        for col, img, i, s in zip(cols, imgs[start:], idx[start:].tolist(), scores[start:].tolist()):
            rgb = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]
            col.image(pixelated(rgb, 96), caption=f"{_label(ds, i)} · {s:+.3g}", output_format="PNG")


def _plane(groups, req: ExplainRequest, ds, key: str) -> None:
    pts = (ds.points_train if ds.points_train is not None else ds.x_train[:, :2]).numpy()
    fig = go.Figure()
    fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="training",
                    marker=dict(size=4, color="#cccccc"), hoverinfo="skip")
    for name, idx, scores, colour in groups:
        i = idx.numpy()
        fig.add_scatter(x=pts[i, 0], y=pts[i, 1], mode="markers+text", name=name,
                        marker=dict(size=11, color=colour, line=dict(width=1, color="black")),
                        text=[_label(ds, j) for j in i.tolist()], textposition="top center",
                        customdata=scores.numpy(), hovertemplate="score %{customdata:+.3g}")
    if req.picked.point is not None:
        fig.add_scatter(x=[req.picked.point[0]], y=[req.picked.point[1]], mode="markers", name="this input",
                        marker=dict(size=16, symbol="star", color="#1f77b4", line=dict(width=1, color="black")))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), yaxis_scaleanchor="x")
    st.plotly_chart(fig, width="stretch", key=key)


def _table(groups, ds, score_name: str) -> None:
    rows = [{"training example": i, "label": _label(ds, i), score_name: s, "side": side}
            for side, idx, sc in groups for i, s in zip(idx.tolist(), sc.tolist())]
    st.dataframe(rows, hide_index=True,
                 column_config={score_name: st.column_config.NumberColumn(format="%+.3g")})
