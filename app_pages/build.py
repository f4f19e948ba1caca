"""Build: pick a dataset and see it, assemble a network, check every layer's shape."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pandas as pd
import streamlit as st

from dlviz.data import DATASETS, load_dataset
from dlviz.data.features import FEATURES
from dlviz.errors import UserError
from dlviz.plots.architecture import architecture_figure
from dlviz.plots.images import sample_grid
from dlviz.plots.plane import dataset_figure
from dlviz.presets import PRESETS
from dlviz.spec import NetSpec, SpecError, analyse
from dlviz.ui import state, uploads
from dlviz.ui.layer_editor import bump_version, layer_editor
from dlviz.views.predictions import denormalise
from dlviz.workspace import adapt_to_dataset

UPLOAD = "your images (zip)"


def render() -> None:
    st.title("Build")
    ws = state.workspace()
    left, right = st.columns([1, 1.4], gap="large")
    with left:
        ds = _dataset_section(ws)
    ws = state.workspace()
    with right:
        if ds is not None:
            _network_section(ws)


# -- dataset --------------------------------------------------------------------

def _dataset_section(ws):
    st.subheader("Data")
    keys = list(DATASETS) + [UPLOAD]
    current = ws.dataset if ws.dataset in DATASETS else UPLOAD
    key = st.selectbox("Dataset", keys, index=keys.index(current),
                       format_func=lambda k: k if k == UPLOAD else f"{k} — {DATASETS[k].description}",
                       key="build_dataset")
    params = ws.params
    dataset_key = key
    if key == UPLOAD:
        dataset_key = _upload_zip(ws)
        if dataset_key is None:
            return None
    elif DATASETS[key].input_shape == (2,):
        c1, c2 = st.columns(2)
        noise = c1.slider("Noise", 0.0, 1.0, params.noise if params.noise is not None else 0.0, 0.05,
                          key="build_noise")
        n = c2.slider("Samples", 100, 2000, params.n_samples or DATASETS[key].default_samples, 50,
                      key="build_samples")
        feats = st.multiselect("Input features", list(FEATURES), default=list(params.features),
                               key="build_features")
        params = replace(params, noise=noise, n_samples=n, features=tuple(feats) or ("x1", "x2"))
    else:
        n = st.slider("Samples", 500, 20000, params.n_samples or DATASETS[key].default_samples, 500,
                      key="build_samples_img")
        params = replace(params, n_samples=n, noise=None, features=("x1", "x2"))
    test_fraction = st.slider("Test share", 0.1, 0.5, params.test_fraction, 0.05, key="build_test")
    params = replace(params, test_fraction=test_fraction)
    try:
        ds = load_dataset(dataset_key, params)
    except UserError as e:
        st.error(str(e))
        return None
    if dataset_key != ws.dataset or params != ws.params:
        ws = adapt_to_dataset(ws, dataset_key, params, ds.input_shape, ds.output_size, ds.task)
        bump_version()
        state.set_workspace(ws)
    _preview(ds)
    return ds


def _upload_zip(ws) -> str | None:
    up = st.file_uploader("A zip with one folder per class", type=["zip"], key="build_zip")
    if up is None:
        if ws.dataset.startswith("folder:"):
            try:        # only this session's own uploads (or the operator's data folders)
                uploads.check_workspace_dataset(ws)
            except UserError as e:
                st.error(str(e))
                return None
            return ws.dataset
        st.info("Upload a .zip whose top level holds one folder per class (cats/, dogs/, ...).")
        return None
    try:
        return f"folder:{uploads.save_upload(up)}"
    except UserError as e:
        st.error(f"The upload could not be stored: {e}")
    except OSError as e:
        st.error(f"The upload could not be stored ({e.strerror or type(e).__name__}).")
    return None


def _preview(ds) -> None:
    if ds.points_train is not None:
        fig = dataset_figure(ds.points_train.numpy(), ds.y_train.numpy(), ds.points_test.numpy(),
                             ds.y_test.numpy(), ds.task, list(ds.classes))
        st.plotly_chart(fig, width="stretch", key="build_scatter")
    elif ds.is_image:
        imgs = denormalise(ds.x_train[:2000], ds.norm_mean, ds.norm_std)
        st.image(sample_grid(imgs, ds.y_train[:2000].numpy(), list(ds.classes), per_class=8),
                 output_format="PNG", caption="training samples, one row per class")
    if ds.task == "classification":
        counts = pd.Series(ds.y_train.numpy()).value_counts().sort_index()
        st.caption("Training samples per class: " + ", ".join(
            f"{ds.classes[i]} {c}" for i, c in counts.items()))
    st.caption(f"{ds.summary()}" + (f" · {ds.skipped_files} unreadable files skipped"
                                    if ds.skipped_files else ""))


# -- network --------------------------------------------------------------------

def _network_section(ws) -> None:
    st.subheader("Network")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    presets = list(PRESETS)
    preset = c1.selectbox("Preset", presets, index=presets.index(ws.preset) if ws.preset in presets else 0,
                          format_func=lambda k: f"{k} — {PRESETS[k].description}", key="build_preset")
    if c2.button("Use preset", key="build_use_preset"):
        try:
            ws = ws.with_preset(preset, ws.spec.input_shape, ws.spec.outputs, ws.spec.task)
            bump_version()
            state.set_workspace(ws)
            st.rerun()
        except UserError as e:
            st.error(str(e))
    try:
        report, error = analyse(ws.spec), None
    except SpecError as e:
        report, error = None, e
    edited = layer_editor(ws.spec, error)
    if edited != ws.spec:
        state.set_workspace(replace(ws, spec=edited, preset=""))
        st.rerun()
    if error is not None:
        if error.layer == 0 or error.layer > len(ws.spec.layers):
            st.error(str(error))
        st.warning("Training is disabled until the network is fixed.")
    else:
        _report(report)
    _save_load(ws)


def _report(report) -> None:
    rows = [{"layer": r.name, "what": r.description,
             "output": "x".join(map(str, r.output_shape)), "parameters": r.params,
             "memory / sample": _bytes(r.activation_bytes)} for r in report.layers]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"**{report.total_params:,} parameters** · activations "
               f"{_bytes(report.activation_bytes)} per sample")
    st.plotly_chart(architecture_figure(report), width="stretch", key="build_arch")


def _bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def _save_load(ws) -> None:
    st.subheader("Save and share")
    c1, c2 = st.columns(2)
    c1.download_button("Save network (JSON)", ws.spec.to_json(), file_name="network.json",
                       mime="application/json", key="build_save")
    up = c2.file_uploader("Load network (JSON)", type=["json"], key="build_load")
    if up is not None:
        digest = hashlib.sha256(up.getvalue()).hexdigest()
        if st.session_state.get("build_loaded") != digest:
            st.session_state["build_loaded"] = digest
            try:
                spec = NetSpec.from_json(up.getvalue().decode("utf-8", errors="replace"))
                state.set_workspace(replace(ws, spec=spec, preset=""))
                bump_version()
                st.rerun()
            except UserError as e:
                st.error(f"Could not load that file: {e}")
    st.text_input("Link to this network and its training settings", state.share_link(ws),
                  key=f"build_link_{hash(ws.to_url())}", help="Copy it: opening it rebuilds this setup.")


render()
