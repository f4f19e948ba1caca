"""The Explain page's attributions: each chosen method's map side by side, and the downloads."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import streamlit as st

from dlviz.explain import METHODS, attribute, delta_check, explanation
from dlviz.explain.features import by_source_column
from dlviz.plots.attribution import colour_scale, explanation_sheet, feature_bars, overlay, robust_vmax
from dlviz.ui.explain_request import ExplainRequest, cached

PER_ROW = 4


def attributions(req: ExplainRequest) -> dict:
    """{method: Attribution or error message}, each computed once per (model, input, target, settings)."""
    m, x = req.methods, req.picked.x
    return {k: cached(req.key("attr", k),
                      lambda k=k: attribute(req.model.net, x, req.target, k, m.params.get(k), m.layers.get(k)),
                      failed=f"{METHODS[k].label}: ")
            for k in m.chosen}


def show_attributions(req: ExplainRequest, results: dict) -> None:
    picked, ds = req.picked, req.model.ds
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
                signed = req.signed(k)
                shown_map = a.map2d if signed else np.abs(a.map2d)
                vmax = robust_vmax(shown_map)
                title = m.label + (f" · {a.layer}" if a.layer else "")
                if picked.shown is not None and a.in_input_space and a.map2d.ndim == 2:
                    st.image(overlay(picked.shown, shown_map, signed=signed, opacity=req.opacity, vmax=vmax),
                             caption=title, width="stretch", output_format="PNG")
                    st.image(colour_scale(signed, vmax), width="stretch", output_format="PNG")
                else:
                    names = [f"unit {i}" for i in range(np.size(shown_map))]     # a hidden layer's units
                    if a.in_input_space and not ds.is_image:     # a table's columns, one-hot parts summed
                        shown_map, names = by_source_column(ds, shown_map)
                    elif a.in_input_space:
                        names = None
                    st.plotly_chart(feature_bars(shown_map, names, title, signed=signed), width="stretch",
                                    key=f"explain_bars_{k}")
                ms = 1000 * a.seconds
                st.caption(f"{explanation(k, req.is_image)} "
                           + (f"Computed in {ms:,.0f} ms." if ms >= 1 else "Computed in under 1 ms."))
                check = delta_check(a)
                if check is not None:       # a delta as big as the map itself is said so, not only printed
                    (st.warning if check.large else st.caption)(check.text)


def downloads(req: ExplainRequest, results: dict) -> None:
    good = {k: a for k, a in results.items() if not isinstance(a, str)}
    if not good:
        return
    labels = [METHODS[k].label for k in good]
    flags = [req.signed(k) for k in good]
    maps = [a.map2d if f else np.abs(a.map2d) for a, f in zip(good.values(), flags)]
    sheet = explanation_sheet(req.picked.shown, maps, labels, flags, req.opacity, title=f"why {req.class_name}?")
    png = io.BytesIO()
    sheet.save(png, "PNG")
    c1, c2, _ = st.columns([1, 1.4, 1.6])
    c1.download_button("Explanation (PNG)", png.getvalue(), file_name="dlviz-explanation.png",
                       mime="image/png", key="explain_dl_png", icon=":material/image:")
    c2.download_button(npy_label(good), npy_bytes(good), file_name=npy_name(good),
                       mime="application/octet-stream" if len(good) == 1 else "application/zip",
                       key="explain_dl_npy", icon=":material/download:",
                       help="one float32 array per method, shaped like the input")


def npy_name(good: dict) -> str:
    return f"dlviz-{next(iter(good))}.npy" if len(good) == 1 else "dlviz-attributions.zip"


def npy_label(good: dict) -> str:
    """The button names the file it gives: one .npy, or a .zip of one .npy per method."""
    return "Raw attributions (.npy)" if len(good) == 1 else f"Raw attributions (.zip of {len(good)} .npy)"


def npy_bytes(good: dict) -> bytes:
    """One method: its values as a .npy file; more: a zip of one ``<method>.npy`` each."""
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
