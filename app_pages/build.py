"""Build: pick a dataset and see it, assemble a network, check every layer's shape."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dlviz.data import DATASETS, load_dataset
from dlviz.data.features import FEATURES
from dlviz.data.csv_file import read_header
from dlviz.errors import UserError
from dlviz.plots.architecture import architecture_figure
from dlviz.plots.images import sample_grid
from dlviz.plots.plane import dataset_figure
from dlviz.presets import PRESETS
from dlviz.spec import NetSpec, SpecError, analyse
from dlviz.data.toy2d import DEFAULT_NOISE
from dlviz.ui import keep, presenter, state, uploads
from dlviz.ui import draw_points
from dlviz.ui.layer_editor import bump_version, layer_editor, layer_glossary
from dlviz.views.predictions import denormalise
from dlviz.workspace import adapt_to_dataset, params_for_dataset, samples_shown

UPLOAD = "your images (zip)"
CSV_UPLOAD = "your table (CSV)"
CUSTOM = "custom"
CUSTOM_LABEL = "custom — your own layers (edited from a preset, or loaded)"


def render() -> None:
    st.title("Build")
    ws = state.workspace()
    # side by side; in presenter mode two tabs (dlviz/ui/presenter.py)
    left, right = presenter.sections(["Data", "Network"], key="build_sections", columns=[1, 1.4])
    with left:
        ds = _dataset_section(ws)
    ws = state.workspace()
    with right:
        if ds is not None:
            _network_section(ws)


# -- dataset --------------------------------------------------------------------

def _dataset_section(ws):
    st.subheader("Data")
    keys = list(DATASETS) + [UPLOAD, CSV_UPLOAD, draw_points.CHOICE]
    current = ws.dataset if ws.dataset in DATASETS else UPLOAD
    if ws.dataset.startswith("csv:"):            # a table (dlviz/data/tabular.py)
        current = CSV_UPLOAD
    if ws.dataset.startswith("drawn:"):          # points clicked on the plane (dlviz/ui/draw_points.py)
        current = draw_points.CHOICE
    key = st.selectbox("Dataset", keys, index=keys.index(current),
                       format_func=lambda k: k if k not in DATASETS else f"{k} — {DATASETS[k].description}",
                       key="build_dataset")
    dataset_key = key
    if key == UPLOAD:
        dataset_key = _upload_zip(ws)
        if dataset_key is None:
            return None
    if key == CSV_UPLOAD:
        dataset_key = _upload_csv(ws)
        if dataset_key is None:
            return None
    if key == draw_points.CHOICE:                  # the canvas, its noise and features
        dataset_key, params = draw_points.drawn_points_dataset(ws)
        if dataset_key is None:
            return None
    else:
        # another dataset brings its own sample count and noise (workspace.params_for_dataset),
        # and the widgets below follow: they are keyed alone, and would keep the old values
        params = params_for_dataset(ws.dataset, dataset_key, ws.params)
    if dataset_key != ws.dataset and key != draw_points.CHOICE:
        _note_what_changed(ws.dataset, ws.params, dataset_key, params)
    if key == CSV_UPLOAD:
        params = _target_picker(dataset_key, params)
        if params is None:
            return None
    if key in DATASETS and DATASETS[key].input_shape == (2,):
        c1, c2 = st.columns(2)
        noise = params.noise if params.noise is not None else DEFAULT_NOISE.get(key, 0.0)
        keep.follow("build_noise", float(noise))
        noise = c1.slider("Noise", 0.0, 1.0, step=0.05, key="build_noise")
        n = samples_shown(key, params)
        keep.follow("build_samples", n)
        n = c2.slider("Samples", min(100, n), max(2000, n), step=50 if n % 50 == 0 else 1, key="build_samples")
        keep.follow("build_features", list(params.features))
        feats = st.multiselect("Input features", list(FEATURES), key="build_features")
        params = replace(params, noise=noise, n_samples=n, features=tuple(feats) or ("x1", "x2"))
    elif key in DATASETS:
        n = samples_shown(key, params)
        keep.follow("build_samples_img", n)
        n = st.slider("Samples", min(500, n), max(20000, n), step=500 if n % 500 == 0 else 1,
                      key="build_samples_img")
        params = replace(params, n_samples=n, noise=None, features=("x1", "x2"))
    keep.follow("build_test", params.test_fraction)
    # a link may hold a share outside the slider's usual range: the range grows to show it
    test_fraction = st.slider("Test share", min(0.1, params.test_fraction), max(0.5, params.test_fraction),
                              step=0.05, key="build_test")
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
    note = st.session_state.get(NOTE_KEY)
    if note and note[0] == ws.dataset:        # until the next change of dataset
        st.info(note[1], icon=":material/info:")
    _preview(ds)
    return ds


NOTE_KEY = "build_dataset_note"


def _note_what_changed(old: str, old_params, new: str, params) -> None:
    """A switch of dataset that changes the sample count says so, with the numbers,
    under the settings for as long as that dataset stays chosen."""
    was, now = samples_shown(old, old_params), samples_shown(new, params)
    st.session_state.pop(NOTE_KEY, None)
    if was is not None and was != now:
        name = old if old in DATASETS else "the previous data"
        whole = "all of its rows" if new.startswith("csv:") else "all of its images"
        now_text = f"{now:,}, the default for {new}" if now is not None else whole
        st.session_state[NOTE_KEY] = (new, f"Samples: {now_text}, not the {was:,} of {name} "
                                           f"(a count for one dataset is not one for another).")


def _upload_zip(ws) -> str | None:
    up = st.file_uploader("A zip with one folder per class", type=["zip"], key="build_zip")
    try:
        key = uploads.upload_dataset_key(up, ws)
    except UserError as e:
        st.error(str(e))
        return None
    if key is None:
        st.info("Upload a .zip whose top level holds one folder per class (cats/, dogs/, ...).")
    return key


def _upload_csv(ws) -> str | None:
    """``csv:PATH`` of the table just uploaded (kept in this session's upload folder), or
    the workspace's earlier one when this session may open it; None until there is one."""
    up = st.file_uploader("A CSV file: one row per sample, a header line of column names",
                          type=["csv", "tsv", "txt"], key="build_csv")
    if up is None and not ws.dataset.startswith("csv:"):
        st.info("Upload a .csv table; then choose the column to predict.")
        return None
    try:        # only this session's own uploads (or the operator's data folders)
        return uploads.upload_dataset_key(up, ws, "csv", suffix=uploads.kept_name(up, (".csv", ".tsv", ".txt"), ".table.csv"))
    except UserError as e:
        st.error(str(e))
    return None


def _target_picker(dataset_key: str, params):
    """The column to predict, from the table's header (the last column at first)."""
    try:
        columns = list(read_header(dataset_key.partition(":")[2]))
    except UserError as e:
        st.error(str(e))
        return None
    chosen = params.target_column if params.target_column in columns else columns[-1]
    keep.follow("build_target", chosen)
    target = st.selectbox("Column to predict", columns, key="build_target",
                          help="Text or a few whole numbers: classes. Other numbers: regression.")
    return replace(params, target_column=target)


def _preview(ds) -> None:
    if ds.points_train is not None:
        fig = dataset_figure(ds.points_train.numpy(), ds.y_train.numpy(), ds.points_test.numpy(),
                             ds.y_test.numpy(), ds.task, list(ds.classes))
        st.plotly_chart(fig, width="stretch", key="build_scatter")
        st.caption("the samples on their two input values, coloured by "
                   + ("class" if ds.task == "classification" else "target value") + " (test ones outlined)",
                   help="Each dot is one sample. The network learns from the others; the outlined "
                        "test points are kept aside to check it on samples it never saw.")
    elif ds.is_image:
        imgs = denormalise(ds.x_train[:2000], ds.norm_mean, ds.norm_std)
        st.image(sample_grid(imgs, ds.y_train[:2000].numpy(), list(ds.classes), per_class=8),
                 output_format="PNG", caption="training samples, one row per class")
    if ds.task == "classification":
        counts = pd.Series(ds.y_train.numpy()).value_counts().sort_index()
        st.caption("Training samples per class: " + ", ".join(
            f"{ds.classes[i]} {c}" for i, c in counts.items()))
    if ds.extra.get("notes"):                 # a table: what was done to each column
        st.caption("What was done to the table: " + "; ".join(ds.extra["notes"]) + ".")
    st.caption(f"{ds.summary()}" + (f" · {ds.skipped_files} unreadable files skipped"
                                    if ds.skipped_files else ""))


# -- network --------------------------------------------------------------------

def _network_section(ws) -> None:
    st.subheader("Network")
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    # the box names the network's preset, or "custom" once it is edited (as the sidebar
    # does): it follows the workspace, and a preset picked but not used yet says so
    presets = [CUSTOM] + list(PRESETS)
    keep.follow("build_preset", ws.preset if ws.preset in PRESETS else CUSTOM)
    preset = c1.selectbox("Preset", presets, key="build_preset",
                          format_func=lambda k: CUSTOM_LABEL if k == CUSTOM else f"{k} — {PRESETS[k].description}")
    chosen_other = preset != (ws.preset if ws.preset in PRESETS else CUSTOM)
    if chosen_other and preset != CUSTOM:
        st.caption(f"The network is still **{ws.preset or 'custom'}**: **Use preset** replaces it with {preset}.")
    if c2.button("Use preset", key="build_use_preset", disabled=preset == CUSTOM):
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
    st.caption("the network left to right: the input, then each layer's output and its shape",
               help="A box's height shows an image's size (or a vector's length), its width the number "
                    "of feature maps. Hover a box for the layer's parameter count.")
    layer_glossary(state.workspace().spec)


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
        # a file is read once; what came of it stays on screen while it is in the box
        got = uploads.read_once(up, "build_loaded",
                                lambda b: NetSpec.from_json(b.decode("utf-8", errors="replace")),
                                lambda e: f"Could not load {up.name}: {e}. The network is unchanged.")
        if got.value is not None:
            state.set_workspace(replace(ws, spec=got.value, preset=""))
            bump_version()
            st.rerun()
        if got.error:
            c2.error(got.error)
        else:
            c2.caption(f"Loaded {up.name}: the network above is the file's.")
    st.text_input("Link to this network and its training settings", state.share_link(ws),
                  key=f"build_link_{hash(ws.to_url())}", help="Copy it: opening it rebuilds this setup.")


render()
