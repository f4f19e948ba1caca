"""The Explain page's parts: which model, the attributions side by side, the
attribution over training, and whether to trust it.

Every attribution runs on a CPU copy of the model holding a snapshot's weights
(never the model a trainer is updating). Results are kept per session, keyed
by everything they depend on, so moving a slider that only changes the look
(opacity, signed or absolute) computes nothing.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dlviz.build import BuiltNet, build
from dlviz.bundle import PICKLE_SUFFIXES, SAFETENSORS_ONLY, Bundle, bundle_from_bytes, bundle_from_zip
from dlviz.data import load_dataset
from dlviz.data.dataset import Dataset
from dlviz.data.registry import DATASETS
from dlviz.errors import UserError
from dlviz.explain import (METHODS, attribute, attribution_strip, available_methods, default_layer,
                           default_methods, delta_check, deletion_curve, explanation, layer_choices, mask_share,
                           param_view, randomisation_check)
from dlviz.explain.randomisation import FLAG_AT
from dlviz.plots.attribution import colour_scale, explanation_sheet, feature_bars, overlay, robust_vmax
from dlviz.plots.trust import deletion_figure, randomisation_figure
from dlviz.train.runs import RunEntry
from dlviz.ui import keep, timeline
from dlviz.ui.input_picker import PickedInput
from dlviz.ui.run_views import viewer

CACHE_KEY = "dlviz_explain_cache"
BUNDLE_KEY = "dlviz_explain_bundle"
STRIP_MAX = 12           # snapshots in the attribution-over-training strip
PER_ROW = 4


@dataclass
class ExplainModel:
    net: BuiltNet
    ds: Dataset                 # for inputs: shape, normalisation, classes, test samples (may be empty)
    title: str
    ident: tuple                # what the weights are: (run id, step) or (bundle, name)
    entry: RunEntry | None = None
    step: int | None = None


def _settings(k: str, params: dict, layers: dict) -> tuple:
    """What a method's result depends on besides model, input and target: part of a cache key."""
    return tuple(sorted(params.get(k, {}).items())), layers.get(k)


def _cache() -> dict:
    cache = st.session_state.setdefault(CACHE_KEY, {})
    if len(cache) > 256:
        cache.clear()
    return cache


# -- the model ---------------------------------------------------------------------------------

def run_model(entry: RunEntry, timeline_key: str) -> ExplainModel:
    s = entry.handle.state()
    step = timeline.timeline_slider(entry, s, timeline_key, label="Model at this moment of training")
    snap = timeline.snapshot_at(entry, step)
    net = viewer(entry, snap.weights)
    return ExplainModel(net, entry.dataset, f"step {snap.step:,}", (entry.run_id, snap.step), entry, snap.step)


def uploaded_model() -> ExplainModel | None:
    files = st.file_uploader(
        "A model bundle: the zip from the Train page's **Download model**, or its model.json and "
        "weights.safetensors", accept_multiple_files=True, key="explain_bundle_files",
        help="safetensors only: pickled PyTorch files (.pt, .pth) can run code and are refused")
    if not files:
        st.caption("No model uploaded yet.")
        return None
    ident = tuple(sorted((f.name, f.size) for f in files))
    held = st.session_state.get(BUNDLE_KEY)
    if held is None or held[0] != ident:
        try:
            bundle = _read_bundle({f.name: f.getvalue() for f in files})
        except UserError as e:
            st.error(f"This model cannot be used: {e}")
            return None
        held = (ident, bundle, _bundle_dataset(bundle))
        st.session_state[BUNDLE_KEY] = held
    _, bundle, ds = held
    net = bundle.model("cpu")
    name = bundle.spec.name or "uploaded model"
    st.caption(f"**{name}**: input {list(bundle.spec.input_shape)}, {bundle.spec.outputs} outputs, "
               f"{len(bundle.spec.layers)} layers" + (f"; trained on {ds.key}" if ds.key else ""))
    return ExplainModel(net, ds, name, ("bundle",) + ident)


def _read_bundle(files: dict[str, bytes]) -> Bundle:
    pickles = [n for n in files if n.lower().endswith(PICKLE_SUFFIXES)]
    if pickles:
        raise UserError(f"{pickles[0]}: {SAFETENSORS_ONLY}")
    zips = [n for n in files if n.lower().endswith(".zip")]
    if zips:
        if len(files) > 1:
            raise UserError("upload either the zip or the two files, not both")
        return bundle_from_zip(files[zips[0]])
    jsons = [n for n in files if n.lower().endswith(".json")]
    weights = [n for n in files if n.lower().endswith(".safetensors")]
    if len(jsons) != 1 or len(weights) != 1:
        raise UserError("a model needs exactly one model.json and one weights.safetensors")
    return bundle_from_bytes(files[jsons[0]], files[weights[0]])


def _bundle_dataset(bundle: Bundle) -> Dataset:
    """The dataset the bundle was trained on when it is one of ours (so test samples
    can be picked), else an empty one carrying what inputs need."""
    info = bundle.dataset
    shape = tuple(bundle.spec.input_shape)
    key = str(info.get("key", ""))
    if key in DATASETS:
        try:
            ds = load_dataset(key)
            if tuple(ds.input_shape) == shape and ds.output_size == bundle.spec.outputs:
                return ds
        except UserError:
            pass
    classes = tuple(str(c) for c in info.get("classes", [])) or tuple(str(i) for i in range(bundle.spec.outputs))
    task = bundle.spec.task
    empty = torch.zeros((0, *shape))
    y = torch.zeros((0,), dtype=torch.long)
    return Dataset(key, task, shape, classes if task == "classification" else (), empty, y, empty, y,
                   features=tuple(info.get("features", [])), norm_mean=tuple(info.get("norm_mean", [])),
                   norm_std=tuple(info.get("norm_std", [])))


# -- the attributions --------------------------------------------------------------------------

def _is_image(net: BuiltNet) -> bool:
    return len(net.report.layers[0].input_shape) == 3


def _range(prm) -> str:
    """' (2 to 300)': a setting's range in its label, where it is seen (not only on hover)."""
    if prm.kind == "choice" or prm.min is None or prm.max is None:
        return ""
    return f" ({prm.min:g} to {prm.max:g})"


def method_settings(net: BuiltNet) -> tuple[list[str], dict, dict]:
    """The method picker and each chosen method's settings -> (keys, params, layers).

    The choices are kept (``keep``) across runs that do not draw them: the page
    stops early while the input is an upload not made yet, and Streamlit drops
    the state of widgets it does not draw, so coming back gave the defaults again.
    """
    avail = available_methods(net)
    defaults = [k for k in default_methods(net) if k in avail]
    image = _is_image(net)
    # methods this model does not offer are dropped; if that leaves none, the defaults
    keep.keep("explain_methods", defaults,
              valid=lambda ks: [k for k in ks if k in avail] or (None if ks else []))
    chosen = st.multiselect("Methods", avail, format_func=lambda k: METHODS[k].label,
                            key="explain_methods",
                            help="each is a small wrapper over Captum; all run on the same input and class")
    keep.kept("explain_methods", chosen)
    params, layers = {}, {}
    tuned = [k for k in chosen if METHODS[k].params or METHODS[k].needs_layer]
    if tuned:
        with st.expander("Method settings", icon=":material/tune:"):
            for k in tuned:
                m = METHODS[k]
                cols = st.columns(max(1, len(m.params) + m.needs_layer) + 1)
                cols[0].markdown(f"**{m.label}**")
                p = {}
                for col, prm in zip(cols[1:], m.params):
                    prm = param_view(k, prm, image)          # a vector input's words and defaults
                    wkey = f"explain_p_{k}_{prm.name}_{'img' if image else 'vec'}"
                    label = prm.label + _range(prm)
                    if prm.kind == "choice":
                        keep.keep(wkey, prm.default, valid=lambda v, c=prm.choices: v if v in c else None)
                        p[prm.name] = col.selectbox(label, prm.choices, key=wkey, help=prm.help or None)
                    elif prm.kind == "float":
                        keep.keep(wkey, float(prm.default))
                        p[prm.name] = col.number_input(label, float(prm.min), float(prm.max), step=float(prm.step),
                                                       key=wkey, help=prm.help or None)
                    else:
                        keep.keep(wkey, int(prm.default))
                        p[prm.name] = int(col.number_input(label, int(prm.min), int(prm.max), step=int(prm.step or 1),
                                                           key=wkey, help=prm.help or None))
                    keep.kept(wkey, p[prm.name])
                params[k] = p
                if m.needs_layer:
                    choices = layer_choices(net, k)
                    d = default_layer(net, k)
                    lkey = f"explain_layer_{k}"
                    keep.keep(lkey, d if d in choices else choices[0], valid=lambda v, c=choices: v if v in c else None)
                    layers[k] = cols[-1].selectbox("Layer", choices, key=lkey)
                    keep.kept(lkey, layers[k])
    return chosen, params, layers


def attributions(model: ExplainModel, picked: PickedInput, input_id, target: int, chosen: list[str],
                 params: dict, layers: dict) -> dict:
    """{method: Attribution or error message}, each computed once per (model, input, target, settings)."""
    cache = _cache()
    out = {}
    for k in chosen:
        key = ("attr", model.ident, input_id, target, k, *_settings(k, params, layers))
        if key not in cache:
            try:
                cache[key] = attribute(model.net, picked.x, target, k, params.get(k), layers.get(k))
            except UserError as e:
                cache[key] = f"{METHODS[k].label}: {e}"
        out[k] = cache[key]
    return out


def show_attributions(results: dict, picked: PickedInput, ds: Dataset, signed_view: bool, opacity: float) -> None:
    items = list(results.items())
    per_row = len(items) if len(items) <= 6 else PER_ROW      # the defaults (5) fit one row
    for row in range(0, len(items), per_row):
        cols = st.columns(per_row)
        for col, (k, a) in zip(cols, items[row:row + per_row]):
            m = METHODS[k]
            with col:
                if isinstance(a, str):
                    st.error(a)
                    continue
                signed = signed_view and m.signed
                shown_map = a.map2d if signed else np.abs(a.map2d)
                vmax = robust_vmax(shown_map)
                title = m.label + (f" · {a.layer}" if a.layer else "")
                if picked.shown is not None and a.in_input_space and a.map2d.ndim == 2:
                    st.image(overlay(picked.shown, shown_map, signed=signed, opacity=opacity, vmax=vmax),
                             caption=title, width="stretch", output_format="PNG")
                    st.image(colour_scale(signed, vmax), width="stretch", output_format="PNG")
                else:
                    names = (list(ds.features) if a.in_input_space and ds.features else None) if a.in_input_space \
                        else [f"unit {i}" for i in range(np.size(shown_map))]     # a hidden layer's units
                    st.plotly_chart(feature_bars(shown_map, names, title, signed=signed), width="stretch",
                                    key=f"explain_bars_{k}")
                ms = 1000 * a.seconds
                st.caption(f"{explanation(k, picked.x.ndim == 3)} "
                           + (f"Computed in {ms:,.0f} ms." if ms >= 1 else "Computed in under 1 ms."))
                check = delta_check(a)
                if check is not None:       # a delta as big as the map itself is said so, not only printed
                    (st.warning if check.large else st.caption)(check.text)


def downloads(results: dict, picked: PickedInput, class_name: str, signed_view: bool, opacity: float) -> None:
    good = {k: a for k, a in results.items() if not isinstance(a, str)}
    if not good:
        return
    labels = [METHODS[k].label for k in good]
    flags = [signed_view and METHODS[k].signed for k in good]
    maps = [a.map2d if f else np.abs(a.map2d) for a, f in zip(good.values(), flags)]
    sheet = explanation_sheet(picked.shown, maps, labels, flags, opacity, title=f"why {class_name}?")
    png = io.BytesIO()
    sheet.save(png, "PNG")
    c1, c2, _ = st.columns([1, 1.4, 1.6])
    c1.download_button("Explanation (PNG)", png.getvalue(), file_name="dlviz-explanation.png",
                       mime="image/png", key="explain_dl_png", icon=":material/image:")
    c2.download_button(_npy_label(good), _npy(good), file_name=_npy_name(good),
                       mime="application/octet-stream" if len(good) == 1 else "application/zip",
                       key="explain_dl_npy", icon=":material/download:",
                       help="one float32 array per method, shaped like the input")


def _npy_name(good: dict) -> str:
    return f"dlviz-{next(iter(good))}.npy" if len(good) == 1 else "dlviz-attributions.zip"


def _npy_label(good: dict) -> str:
    """The button names the file it gives: one .npy, or a .zip of one .npy per method."""
    return "Raw attributions (.npy)" if len(good) == 1 else f"Raw attributions (.zip of {len(good)} .npy)"


def _npy(good: dict) -> bytes:
    def one(a) -> bytes:
        b = io.BytesIO()
        np.save(b, np.asarray(a.values, dtype=np.float32))
        return b.getvalue()
    if len(good) == 1:
        return one(next(iter(good.values())))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, a in good.items():
            z.writestr(f"{k}.npy", one(a))
    return buf.getvalue()


# -- over training -------------------------------------------------------------------------------

def strip_over_training(model: ExplainModel, picked: PickedInput, input_id, target: int, class_name: str,
                        chosen: list[str], params: dict, layers: dict, signed_view: bool, opacity: float) -> None:
    entry = model.entry
    s = entry.handle.state()
    steps = [t["step"] for t in s.timeline]
    if len(steps) > STRIP_MAX:          # evenly over the (log-spaced) snapshots, first and last kept
        steps = [steps[round(i)] for i in np.linspace(0, len(steps) - 1, STRIP_MAX)]
    c1, _ = st.columns([1, 2])
    k = c1.selectbox("Method", chosen, format_func=lambda k: METHODS[k].label, key="explain_strip_method")
    cache = _cache()
    key = ("strip", entry.run_id, tuple(steps), input_id, target, k, *_settings(k, params, layers))
    if key not in cache:
        snaps = [timeline.snapshot_at(entry, st_) for st_ in steps]
        try:
            cache[key] = attribution_strip(lambda: build(entry.spec, "cpu"), snaps, picked.x, target, k,
                                           params.get(k), layers.get(k))
        except UserError as e:
            cache[key] = str(e)
    strip = cache[key]
    if isinstance(strip, str):
        st.error(strip)
        return
    signed = signed_view and METHODS[k].signed
    cols = st.columns(len(strip))
    for col, (step, m) in zip(cols, strip):
        m = m if signed else np.abs(m)
        if picked.shown is not None and m.ndim == 2:
            col.image(overlay(picked.shown, m, signed=signed, opacity=opacity), caption=f"step {step:,}",
                      width="stretch", output_format="PNG")
        else:
            col.caption(f"step {step:,}: " + ", ".join(f"{v:+.2f}" for v in np.ravel(m)[:6]))
    st.caption(f"{METHODS[k].label} for class {class_name} at {len(strip)} moments of training, each map on its "
               f"own colour scale: watch where the network starts to look as it learns.")


# -- can I trust it? -----------------------------------------------------------------------------

def trust(model: ExplainModel, picked: PickedInput, input_id, target: int, class_name: str, results: dict,
          params: dict, layers: dict) -> None:
    good = {k: a for k, a in results.items() if not isinstance(a, str) and a.in_input_space}
    if not good:
        st.info("Pick at least one method whose map covers the input.")
        return
    cache = _cache()
    left, right = st.columns(2, gap="large")
    with left:
        st.markdown("**Does the map depend on what the model learned?** (randomisation check, "
                    "Adebayo et al. 2018)")
        k = st.selectbox("Method to check", list(good), format_func=lambda k: METHODS[k].label,
                         key="explain_rand_method")
        key = ("rand", model.ident, input_id, target, k, *_settings(k, params, layers))
        if key not in cache:
            with st.spinner("re-initialising the layers one by one and explaining again..."):
                try:
                    cache[key] = randomisation_check(model.net, picked.x, target, k, params.get(k), layers.get(k))
                except UserError as e:
                    cache[key] = str(e)
        r = cache[key]
        if isinstance(r, str):
            st.error(r)
        else:
            (st.warning if r.flagged else st.success)(r.message)
            st.plotly_chart(randomisation_figure(r.steps, r.similarity_signed, FLAG_AT), width="stretch",
                            key="explain_rand_fig")
            if picked.shown is not None and r.original.ndim == 2:
                maps = [r.original] + list(r.maps)
                names = ["trained"] + [f"+ {s}" for s in r.steps]
                flags = METHODS[k].signed
                st.image(explanation_sheet(None, maps, names, flags, 1.0, tile=72, cols=len(maps)),
                         output_format="PNG", caption="the map as each layer from the top is randomised")
    with right:
        unit = "pixels" if picked.x.ndim == 3 else "features"
        st.markdown(f"**Is the map faithful?** (deletion: remove the most attributed {unit} first)")
        curves = []
        for k, a in good.items():
            key = ("del", model.ident, input_id, target, k, *_settings(k, params, layers))
            if key not in cache:
                try:
                    cache[key] = deletion_curve(model.net, picked.x, target, a.map2d)
                except UserError as e:
                    cache[key] = str(e)
            if not isinstance(cache[key], str):
                curves.append((METHODS[k].label, cache[key]))
        if curves:
            st.plotly_chart(deletion_figure(curves, class_name, unit), width="stretch", key="explain_del_fig")
            best = min(curves, key=lambda c: c[1].auc)
            removed = ("Removed pixels are replaced by a blurred copy of the image." if unit == "pixels" else
                       "Removed features are set to 0, the training data's average.")
            st.caption(f"A faithful map removes the evidence first, so the probability falls fast: a smaller "
                       f"area is better. Here: **{best[0]}** ({best[1].auc:.2f}). {removed}")
        if picked.mask is not None:
            st.markdown("**Does it point at the object?** (share of attribution inside the shape's mask)")
            rows = []
            for k, a in good.items():
                if a.map2d.shape == picked.mask.shape:
                    ms = mask_share(a.map2d, picked.mask)
                    rows.append({"method": METHODS[k].label, "inside the mask": ms.share,
                                 "mask area": ms.area, "ratio": ms.ratio})
            if rows:
                st.dataframe(rows, hide_index=True, column_config={
                    "inside the mask": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
                    "mask area": st.column_config.NumberColumn(format="percent"),
                    "ratio": st.column_config.NumberColumn(format="%.2fx", help="above 1: more attribution "
                                                           "on the object than its size alone would give")})
