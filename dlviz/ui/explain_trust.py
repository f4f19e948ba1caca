"""The Explain page's "Can I trust it?": does the map depend on what the model learned
(randomisation), is it faithful (deletion), does it point at the object (mask share)."""

from __future__ import annotations

import streamlit as st

from dlviz.explain import METHODS, deletion_curve, mask_share, randomisation_check
from dlviz.explain.randomisation import FLAG_AT
from dlviz.plots.attribution import explanation_sheet
from dlviz.plots.trust import deletion_figure, randomisation_figure
from dlviz.ui.explain_request import ExplainRequest, cached


def trust(req: ExplainRequest, results: dict) -> None:
    good = {k: a for k, a in results.items() if not isinstance(a, str) and a.in_input_space}
    if not good:
        st.info("Pick at least one method whose map covers the input.")
        return
    left, right = st.columns(2, gap="large")
    with left:
        _randomisation(req, good)
    with right:
        _deletion(req, good)
        if req.picked.mask is not None:
            _mask_share(req, good)


def _randomisation(req: ExplainRequest, good: dict) -> None:
    st.markdown("**Does the map depend on what the model learned?** (randomisation check, "
                "Adebayo et al. 2018)")
    k = st.selectbox("Method to check", list(good), format_func=lambda k: METHODS[k].label,
                     key="explain_rand_method")
    m = req.methods
    r = cached(req.key("rand", k),
               lambda: randomisation_check(req.model.net, req.picked.x, req.target, k, m.params.get(k),
                                           m.layers.get(k)),
               spinner="re-initialising the layers one by one and explaining again...")
    if isinstance(r, str):
        st.error(r)
        return
    (st.warning if r.flagged else st.success)(r.message)
    st.plotly_chart(randomisation_figure(r.steps, r.similarity_signed, FLAG_AT), width="stretch",
                    key="explain_rand_fig")
    st.caption("how alike the map stays as more layers are re-initialised, from the top",
               help="A map that explains the network must change when its weights are replaced by "
                    "random ones. One that stays alike depends on the input only, not on what the "
                    "network learned.")
    if req.picked.shown is not None and r.original.ndim == 2:
        maps = [r.original] + list(r.maps)
        names = ["trained"] + [f"+ {s}" for s in r.steps]
        st.image(explanation_sheet(None, maps, names, METHODS[k].signed, 1.0, tile=72, cols=len(maps)),
                 output_format="PNG", caption="the map as each layer from the top is randomised")


def _deletion(req: ExplainRequest, good: dict) -> None:
    unit = "pixels" if req.is_image else "features"
    st.markdown(f"**Is the map faithful?** (deletion: remove the most attributed {unit} first)")
    curves = []
    for k, a in good.items():
        c = cached(req.key("del", k), lambda a=a: deletion_curve(req.model.net, req.picked.x, req.target, a.map2d))
        if not isinstance(c, str):
            curves.append((METHODS[k].label, c))
    if curves:
        st.plotly_chart(deletion_figure(curves, req.class_name, unit), width="stretch", key="explain_del_fig")
        st.caption(f"the class's probability as the most attributed {unit} are removed, per method",
                   help=f"Each method ranks the {unit}; removing them in that order shows whether the "
                        f"ones it called important really were.")
        best = min(curves, key=lambda c: c[1].auc)
        removed = ("Removed pixels are replaced by a blurred copy of the image." if unit == "pixels" else
                   "Removed features are set to 0, the training data's average.")
        st.caption(f"A faithful map removes the evidence first, so the probability falls fast: a smaller "
                   f"area is better. Here: **{best[0]}** ({best[1].auc:.2f}). {removed}")


def _mask_share(req: ExplainRequest, good: dict) -> None:
    st.markdown("**Does it point at the object?** (share of attribution inside the shape's mask)")
    mask = req.picked.mask
    rows = []
    for k, a in good.items():
        if a.map2d.shape == mask.shape:
            ms = mask_share(a.map2d, mask)
            rows.append({"method": METHODS[k].label, "inside the mask": ms.share,
                         "mask area": ms.area, "ratio": ms.ratio})
    if rows:
        st.dataframe(rows, hide_index=True, column_config={
            "inside the mask": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1),
            "mask area": st.column_config.NumberColumn(format="percent"),
            "ratio": st.column_config.NumberColumn(format="%.2fx", help="above 1: more attribution "
                                                   "on the object than its size alone would give")})
