"""Two runs side by side: one timeline position, the same views for both."""

from __future__ import annotations

import streamlit as st

from dlviz.plots.compare import compare_figure
from dlviz.train.runs import RunEntry
from dlviz.ui import run_views, state, timeline

VIEWS = ["What the model sees", "Layer health"]


def side_by_side(left: RunEntry, right: RunEntry, key: str) -> None:
    sl, sr = left.handle.state(), right.handle.state()
    steps = sorted({t["step"] for t in sl.timeline} | {t["step"] for t in sr.timeline})
    live = sl.live or sr.live
    step = timeline.step_slider(f"{left.run_id}|{right.run_id}", steps, live,
                                lambda o: "now" if o == timeline.NOW else f"step {o:,}", key,
                                label="Moment of training (both runs)", end=max(steps + [sl.step, sr.step]))
    # legends name each run by what sets it apart from the other (lr, activation, depth, seed)
    pair = [left, right]
    names = [("left: " + state.run_label(left, pair, short=True), sl),
             ("right: " + state.run_label(right, pair, short=True), sr)]
    marker = None if step == timeline.NOW else step
    diverged = [s.status == "diverged" for _, s in names]
    c0, _ = st.columns([1, 3])
    scale = c0.segmented_control("Loss axis", ["auto", "linear", "log"], default="auto", key=f"{key}_scale",
                                 help="auto: logarithmic when a run's loss blew up (a diverged run's "
                                      "1e11 would flatten the other run to a line at 0)") or "auto"
    log_y = {"auto": None, "linear": False, "log": True}[scale]
    c1, c2 = st.columns(2)
    c1.plotly_chart(compare_figure([(n, s.history, d) for (n, s), d in zip(names, diverged)], "train_loss",
                                   "train loss", marker, log_y=log_y), width="stretch", key=f"{key}_loss")
    if left.spec.task == "classification" and right.spec.task == "classification":
        c2.plotly_chart(compare_figure([(n, s.evals, d) for (n, s), d in zip(names, diverged)], "test_accuracy",
                                       "test accuracy", marker, percent=True), width="stretch", key=f"{key}_acc")
    else:
        c2.plotly_chart(compare_figure([(n, s.evals, d) for (n, s), d in zip(names, diverged)], "test_loss",
                                       "test loss", marker, log_y=log_y), width="stretch", key=f"{key}_acc")
    st.caption("both runs' curves against training step"
               + ("; the dotted line: the moment shown below" if marker is not None else ""),
               help="Loss: how wrong the outputs are on average (lower is better). Accuracy: the share of "
                    "test samples given the right class. A run that learns faster reaches the same "
                    "height in fewer steps.")
    view = st.segmented_control("View", VIEWS, default=VIEWS[0], key=f"{key}_view",
                                label_visibility="collapsed") or VIEWS[0]
    cols = st.columns(2, border=True)
    for col, entry, s, side in ((cols[0], left, sl, "left"), (cols[1], right, sr, "right")):
        with col:
            st.markdown(f"**{side}:** {state.run_label(entry, pair)}")
            if view == "Layer health":
                run_views.health(s, key=f"{key}_{side}")
            else:
                # each run at its snapshot nearest the shared step
                run_views.model_views(entry, timeline.snapshot_at(entry, step), key=f"{key}_{side}",
                                      stacked=True)
