"""Which model the Explain page explains: a run at a chosen moment, or an uploaded bundle.

Every attribution runs on a CPU copy of the model holding a snapshot's weights
(never the model a trainer is updating). An upload is read and checked once
(``dlviz.bundle.bundle_from_files``) and its model built once, while the same
files stay in the box.
"""

from __future__ import annotations

import streamlit as st
import torch

from dlviz.bundle import Bundle, bundle_training_set
from dlviz.data.dataset import Dataset
from dlviz.data.registry import DATASETS
from dlviz.errors import UserError
from dlviz.train.runs import RunEntry
from dlviz.ui import timeline
from dlviz.ui.bundle_upload import uploaded_bundle
from dlviz.ui.explain_request import ExplainModel
from dlviz.ui.run_views import viewer

BUNDLE_KEY = "dlviz_explain_bundle"     # (files' ident, dataset, built model)


def run_model(entry: RunEntry, timeline_key: str) -> ExplainModel:
    s = entry.handle.state()
    step = timeline.timeline_slider(entry, s, timeline_key, label="Model at this moment of training")
    snap = timeline.snapshot_at(entry, step)
    net = viewer(entry, snap)
    return ExplainModel(net, entry.dataset, f"step {snap.step:,}", (entry.run_id, snap.step), entry, snap.step)


def uploaded_model() -> ExplainModel | None:
    held = uploaded_bundle("explain_bundle_files")
    if held is None:
        if not st.session_state.get("explain_bundle_files"):
            st.caption("No model uploaded yet.")
        return None
    ident, bundle, _ = held
    built = st.session_state.get(BUNDLE_KEY)
    if built is None or built[0] != ident:          # its dataset and model, once per upload
        built = (ident, bundle_dataset(bundle), bundle.model("cpu"))
        st.session_state[BUNDLE_KEY] = built
    _, ds, net = built
    name = bundle.spec.name or "uploaded model"
    st.caption(f"**{name}**: input {list(bundle.spec.input_shape)}, {bundle.spec.outputs} outputs, "
               f"{len(bundle.spec.layers)} layers" + (f"; trained on {ds.key}" if ds.key else ""))
    return ExplainModel(net, ds, name, ("bundle",) + ident, checkpoints=bundle.checkpoints)


def bundle_dataset(bundle: Bundle) -> Dataset:
    """The dataset the bundle was trained on when it is one of ours (so test samples
    can be picked), else an empty one carrying what inputs need."""
    info = bundle.dataset
    shape = tuple(bundle.spec.input_shape)
    key = str(info.get("key", ""))
    if key in DATASETS:                # a server opens its own datasets only, never a bundle's path
        try:
            return bundle_training_set(bundle)
        except UserError:
            pass
    classes = tuple(str(c) for c in info.get("classes", [])) or tuple(str(i) for i in range(bundle.spec.outputs))
    task = bundle.spec.task
    empty = torch.zeros((0, *shape))
    y = torch.zeros((0,), dtype=torch.long)
    return Dataset(key, task, shape, classes if task == "classification" else (), empty, y, empty, y,
                   features=tuple(info.get("features", [])), norm_mean=tuple(info.get("norm_mean", [])),
                   norm_std=tuple(info.get("norm_std", [])))
