"""Explain: why did the network say what it said, and is that explanation sound?"""

from __future__ import annotations

import streamlit as st

from dlviz.plots.unit_values import probabilities_figure
from dlviz.ui import keep, state
from dlviz.ui.explain_attributions import attributions, downloads, show_attributions
from dlviz.ui.explain_concepts import concepts
from dlviz.ui.explain_influence import training_examples
from dlviz.ui.explain_methods import method_settings
from dlviz.ui.explain_model import run_model, uploaded_model
from dlviz.ui.explain_request import ExplainRequest, input_key
from dlviz.ui.explain_strip import strip_over_training
from dlviz.ui.explain_trust import trust
from dlviz.ui.input_picker import pick_input, show_input
from dlviz.views.predictions import predict_proba

TIMELINE_KEY = "explain_timeline"
SOURCES = ["A run of this session", "Upload a model"]
SECTIONS = ["Attributions", "Over training", "Can I trust it?", "Which training examples?", "Which concepts?"]


def render() -> None:
    st.title("Explain a prediction")
    entry = state.current_run()
    source = st.segmented_control("Model", SOURCES, default=SOURCES[0] if entry else SOURCES[1],
                                  key="explain_source") or SOURCES[0]
    if source == SOURCES[1]:
        model = uploaded_model()
    elif entry is None:
        st.info("Train a network first (or upload a model bundle): this page explains its predictions.")
        st.page_link("app_pages/train.py", label="Train a network", icon=":material/monitoring:")
        return
    else:
        entry = state.pick_run(entry, "explain_run")
        waiting = state.not_ready(entry)
        if waiting:
            st.info(waiting)
            return
        model = run_model(entry, TIMELINE_KEY)
    if model is None:
        return
    ds = model.ds
    left, right = st.columns([1, 1], gap="large")
    with left:
        picked = pick_input(ds, model.net.model, "explain_in", camera=True)
    if picked is None:
        return
    input_id = input_key(picked.x)
    probs = predict_proba(model.net.model, picked.x.unsqueeze(0))[0]
    classification = ds.task == "classification"
    classes = list(ds.classes) if classification else []
    with left:
        show_input(picked, ds)
    with right:
        st.markdown(f"**Prediction** ({model.title})")
        st.plotly_chart(probabilities_figure(probs if classification else probs[:1], classes or None,
                                             true=picked.label), width="stretch", key="explain_probs")
        st.caption("the network's output for this input" + (", one bar per class" if classification else ""),
                   help="The last layer's scores put through softmax: probabilities that add up to 1; "
                        "the tallest bar is the prediction." if classification else
                   "The network's predicted value for this input.")
        if classification:
            pred = int(probs.argmax())
            target = st.selectbox("Explain the class", range(len(classes)), index=pred,
                                  format_func=lambda i: f"{classes[i]}" + (" (predicted)" if i == pred else ""),
                                  key=f"explain_target_{input_id}",
                                  help="the predicted class by default; pick another to ask \"why not this?\"")
        else:
            target = 0
    methods = method_settings(model.net)
    if not methods.chosen:
        st.info("Pick at least one method.")
        return
    c1, c2, _ = st.columns([2, 2, 3])
    # kept across the runs that stop before drawing them (an upload not made yet)
    keep.keep("explain_opacity", 0.7)
    opacity = c1.slider("Overlay opacity", 0.0, 1.0, step=0.05, key="explain_opacity")
    keep.kept("explain_opacity", opacity)
    keep.keep("explain_signed", "signed")
    shown = c2.segmented_control("Show", ["signed", "absolute"], key="explain_signed",
                                 help="signed: red raises the class score, blue lowers it; "
                                      "absolute: how much, either way") or "signed"
    keep.kept("explain_signed", shown)
    req = ExplainRequest(model, picked, input_id, target, classes[target] if classification else "the output",
                         methods, signed_view=shown == "signed", opacity=opacity)
    with st.spinner("explaining..."):
        results = attributions(req)
    # an upload has no timeline; its training examples need the checkpoints it was saved with,
    # its concepts random images from its training set
    sections = SECTIONS if model.entry is not None else [SECTIONS[0], SECTIONS[2]] + (
        [SECTIONS[3]] if model.checkpoints and len(ds.x_train) else []) + (
        [SECTIONS[4]] if len(ds.x_train) else [])
    keep.keep("explain_section", sections[0], valid=lambda v: v if v in sections else None)
    section = st.segmented_control("Section", sections, key="explain_section",
                                   label_visibility="collapsed") or sections[0]
    keep.kept("explain_section", section)
    if section == SECTIONS[0]:
        st.markdown(f"**Why {req.class_name}?**")
        show_attributions(req, results)
        downloads(req, results)
    elif section == SECTIONS[1]:
        strip_over_training(req)
    elif section == SECTIONS[2]:
        trust(req, results)
    elif section == SECTIONS[3]:
        training_examples(req)
    else:
        concepts(req)


render()
