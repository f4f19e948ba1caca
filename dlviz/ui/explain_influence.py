"""The Explain page's "Which training examples?": the training examples that pushed the
model towards the explained class for this input (proponents) and against it
(opponents), by TracIn over the run's own snapshots (dlviz/explain/influence.py)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from torch import nn

from dlviz.explain.influence import MAX_CHECKPOINTS, Influence, influence
from dlviz.plots.images import pixelated
from dlviz.ui import timeline
from dlviz.ui.explain_request import ExplainRequest, cached
from dlviz.views.predictions import denormalise

SHOWN = 8                # proponents and opponents shown, each


def training_examples(req: ExplainRequest) -> None:
    model, ds = req.model, req.model.ds
    if model.entry is None or len(ds.x_train) == 0:
        st.info("Training-data influence needs a run of this session: its snapshots and its training set.")
        return
    regression = ds.task != "classification"
    if regression and req.picked.index is None:
        st.info("For a regression model pick a test sample: influence is on its loss, which needs its true value.")
        return
    target = ds.y_test[req.picked.index] if regression else torch.tensor(req.target)
    steps = _steps_upto(model.entry, model.step)

    def compute() -> Influence:
        snaps = [timeline.snapshot_at(model.entry, s) for s in steps]
        loss = nn.MSELoss(reduction="sum") if regression else nn.CrossEntropyLoss(reduction="sum")
        return influence(model.net, [(sn.step, sn.weights) for sn in snaps], ds.x_train, ds.y_train,
                         req.picked.x, target, k=SHOWN, loss=loss)
    r = cached(("influence", model.ident, tuple(steps), req.input_id, req.target), compute,
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
        _plane(r, req, ds)
    else:
        _table(r, ds)
    st.caption(f"TracIn (Pruthi et al., 2020) with Captum's TracInCPFast: summed over {len(r.steps)} "
               f"snapshots (steps {', '.join(f'{s:,}' for s in r.steps)}), the dot product of a training "
               f"example's loss gradient and this input's, in the output layer's weights; "
               f"{r.considered:,} training examples scored in {r.seconds:.2f} s.",
               help="A positive score: a training step on that example lowered this input's loss for the "
                    "explained class; a negative one raised it. For a wrong prediction, the proponents "
                    "of the predicted class are the training examples the mistake came from; opponents "
                    "that look like this input are often mislabelled.")


def _steps_upto(entry, step: int | None) -> list[int]:
    """At most MAX_CHECKPOINTS snapshot steps, evenly spaced up to the moment explained."""
    steps = [t["step"] for t in entry.handle.state().timeline]
    if step is not None:
        steps = [s for s in steps if s <= step] or steps[:1]
    if len(steps) > MAX_CHECKPOINTS:
        steps = [steps[round(i)] for i in np.linspace(0, len(steps) - 1, MAX_CHECKPOINTS)]
    return steps


def _label(ds, i: int) -> str:
    y = ds.y_train[i]
    if ds.task == "classification":
        return ds.classes[int(y)] if int(y) < len(ds.classes) else str(int(y))
    return f"{float(y.reshape(-1)[0]):.3g}"


def _images(idx: torch.Tensor, scores: torch.Tensor, ds, title: str) -> None:
    st.markdown(f"*{title}*")
    imgs = denormalise(ds.x_train[idx], ds.norm_mean, ds.norm_std)     # uint8 (k, H, W, C)
    cols = st.columns(len(idx))
    for col, img, i, s in zip(cols, imgs, idx.tolist(), scores.tolist()):
        rgb = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img[..., :3]
        col.image(pixelated(rgb, 96), caption=f"{_label(ds, i)} · {s:+.3g}", output_format="PNG")


def _plane(r: Influence, req: ExplainRequest, ds) -> None:
    pts = (ds.points_train if ds.points_train is not None else ds.x_train[:, :2]).numpy()
    fig = go.Figure()
    fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name="training",
                    marker=dict(size=4, color="#cccccc"), hoverinfo="skip")
    for name, idx, scores, colour in (("proponents", r.proponents, r.proponent_scores, "#2ca02c"),
                                      ("opponents", r.opponents, r.opponent_scores, "#d62728")):
        i = idx.numpy()
        fig.add_scatter(x=pts[i, 0], y=pts[i, 1], mode="markers+text", name=name,
                        marker=dict(size=11, color=colour, line=dict(width=1, color="black")),
                        text=[_label(ds, j) for j in i.tolist()], textposition="top center",
                        customdata=scores.numpy(), hovertemplate="influence %{customdata:+.3g}")
    if req.picked.point is not None:
        fig.add_scatter(x=[req.picked.point[0]], y=[req.picked.point[1]], mode="markers", name="this input",
                        marker=dict(size=16, symbol="star", color="#1f77b4", line=dict(width=1, color="black")))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=10, b=10), yaxis_scaleanchor="x")
    st.plotly_chart(fig, width="stretch", key="explain_influence_plane")
    _table(r, ds)


def _table(r: Influence, ds) -> None:
    rows = [{"training example": i, "label": _label(ds, i), "influence": s, "side": side}
            for side, idx, sc in (("proponent", r.proponents, r.proponent_scores),
                                  ("opponent", r.opponents, r.opponent_scores))
            for i, s in zip(idx.tolist(), sc.tolist())]
    st.dataframe(rows, hide_index=True,
                 column_config={"influence": st.column_config.NumberColumn(format="%+.3g")})

