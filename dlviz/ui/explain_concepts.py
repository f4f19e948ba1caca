"""The Explain page's "Which concepts?": how much a human concept (a colour, filled vs
outlined, or the user's own example images) matters for a class at a chosen layer, by
TCAV (Kim et al., 2018) with Captum (dlviz/explain/concepts.py), tested against random
concepts; and how those scores developed over the run's snapshots.

The concept examples come from ``dlviz.data.concept_images``: built in for the shapes
datasets, or a zip of one folder of images per concept (docs/ARCHITECTURE.md,
"Concept attribution").
"""

from __future__ import annotations

import os
import tempfile

import streamlit as st
import torch

from dlviz.data.concept_images import (builtin_concept, builtin_concepts, class_examples, random_sets,
                                       read_concepts)
from dlviz.data.labels import class_name
from dlviz.errors import UserError
from dlviz.explain.concepts import MAX_CONCEPTS, concept_layers, default_concept_layer
from dlviz.explain.registry import BEYOND_PIXELS
from dlviz.plots.concepts import tcav_bars, tcav_over_training
from dlviz.ui import keep
from dlviz.ui.explain_request import ExplainRequest, cached
from dlviz.ui.uploads import read_once

METHOD = BEYOND_PIXELS["tcav"]
UPLOAD_KEY = "explain_concepts_zip"
READ_KEY = "dlviz_explain_concepts_read"       # (digest, message) of the zip read last
HELD_KEY = "dlviz_explain_concepts_held"       # (digest, {name: images}, notes)
OVER_TRAINING = 4                               # snapshots for "over training"


def concepts(req: ExplainRequest) -> None:
    model, ds = req.model, req.model.ds
    if ds.task != "classification":
        st.info("Concept attribution explains a class: this model is a regression model.")
        return
    try:
        layers = concept_layers(model.net)
        default_layer = default_concept_layer(model.net)
    except UserError as e:
        st.info(str(e))
        return
    st.caption(METHOD.explanation)
    builtin = builtin_concepts(ds)
    c1, c2 = st.columns([2, 3])
    classes = list(range(len(ds.classes)))
    ckey, lkey = "explain_concepts_class", "explain_concepts_layer"
    keep.keep(ckey, req.target, valid=lambda v: v if v in classes else None)
    target = c1.selectbox("Class", classes, format_func=lambda i: class_name(ds.classes, i), key=ckey,
                          help="TCAV asks how this class's score responds to each concept")
    keep.kept(ckey, target)
    keep.keep(lkey, default_layer, valid=lambda v: v if v in layers else None)
    layer = c2.selectbox("Layer", layers, key=lkey,
                         help="the concept's direction is learned in this layer's activations; late layers "
                              "hold concepts like 'a red shape', early ones colours and edges")
    keep.kept(lkey, layer)
    own, own_digest, fresh = _uploaded(ds)
    names = list(builtin) + list(own)
    if not names:
        st.info("Give concepts as a zip: one folder of example images per concept (e.g. striped/, dotted/), "
                "5 to 200 images each; random training images are the counterexamples.")
        return
    wkey = "explain_concepts_names"
    default = [n for n in names if n in own] or [n for n in ("red", "green", "blue", "filled", "outlined", "noise")
                                                 if n in names] or names[:MAX_CONCEPTS]
    keep.keep(wkey, default[:MAX_CONCEPTS], valid=lambda v: [n for n in v if n in names] or None)
    if fresh:                       # a zip just given: its concepts are what the person wants to see
        st.session_state[wkey] = (list(own) + [n for n in st.session_state[wkey] if n not in own])[:MAX_CONCEPTS]
    chosen = st.multiselect("Concepts", names, key=wkey, max_selections=MAX_CONCEPTS,
                            format_func=lambda n: n + (" (yours)" if n in own else ""),
                            help="; ".join(f"{n}: {d}" for n, d in builtin.items()) or None)
    keep.kept(wkey, chosen)
    if not chosen:
        st.info("Pick at least one concept.")
        return
    settings = _settings()
    inputs = class_examples(ds, target, settings["inputs"])
    if len(inputs) < 2:
        st.info(f"There are too few examples of {class_name(ds.classes, target)} to score concepts on.")
        return
    key = ("tcav", model.ident, layer, target, tuple(chosen), own_digest,
           tuple(sorted(settings.items())))

    def compute():
        examples = _examples(ds, chosen, own, settings["images"])
        randoms = random_sets(ds, settings["random_sets"], settings["images"])
        return METHOD.run(model.net, layer, target, inputs, examples, randoms)
    r = cached(key, compute, spinner="learning each concept's direction and testing it against random ones (TCAV)...")
    if isinstance(r, str):
        st.error(r)
        return
    name = class_name(ds.classes, target)
    st.markdown(f"**Which concepts does {name} rest on, in {layer}?**")
    st.plotly_chart(tcav_bars(r, name), width="stretch", key="explain_tcav_bars")
    weak = [s.name for s in r.scores if s.cav_accuracy < 0.7]
    st.caption(f"TCAV score: the share of {r.inputs} test images of {name} whose {name} score rises along the "
               f"concept's direction; bars in colour passed a two-sided t-test against {len(r.random_scores)} "
               f"random-vs-random scores (p < 0.05, Bonferroni over {len(r.scores)} concepts), pale ones did "
               f"not; the grey band is what random concepts give. {r.seconds:.1f} s."
               + (f" Concepts the layer barely tells from random images (classifier accuracy under 70%): "
                  f"{', '.join(weak)}." if weak else ""),
               help="A concept that passes with a score near 1 pushes the class up; near 0 pushes it down. A "
                    "score near 0.5, or one that does not pass the test, says nothing. The test is optimistic "
                    "(a concept's scores against the random sets share its images): a concept that passes "
                    "only just is a hint, not a finding; try more random sets. Random pixels ('noise') are no "
                    "control: a layer tells them from any picture. Kim et al., 2018.")
    if model.entry is not None or model.checkpoints:
        _over_training(req, key, layer, target, inputs, chosen, own, settings, name)


def _settings() -> dict:
    out = {}
    with st.expander("TCAV settings", icon=":material/tune:"):
        cols = st.columns(len(METHOD.params))
        for col, p in zip(cols, METHOD.params):
            wkey = f"explain_concepts_{p.name}"
            keep.keep(wkey, int(p.default),
                      valid=lambda v, p=p: v if isinstance(v, int) and p.min <= v <= p.max else None)
            out[p.name] = int(col.number_input(f"{p.label} ({p.min:g} to {p.max:g})", int(p.min), int(p.max),
                                               step=1, key=wkey, help=p.help or None))
            keep.kept(wkey, out[p.name])
    return out


def _examples(ds, chosen: list[str], own: dict, n: int) -> dict[str, torch.Tensor]:
    return {name: own[name][:n] if name in own else builtin_concept(ds, name, n) for name in chosen}


def _uploaded(ds) -> tuple[dict[str, torch.Tensor], str, bool]:
    """The user's concepts from the zip in the uploader ({} when none), read once per file;
    the file's digest (its part of a cache key; "" when none); whether it was read just now."""
    up = st.file_uploader("Your own concepts (optional): a zip with one folder of images per concept",
                          type=["zip"], key=UPLOAD_KEY,
                          help="e.g. striped/ and dotted/, 5 to 200 images each, any size (resized to the "
                               "model's input); random training images serve as the counterexamples")
    if up is None:
        return {}, "", False

    def read(data: bytes):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "concepts.zip")
            with open(path, "wb") as f:
                f.write(data)
            notes: list[str] = []
            return read_concepts(path, ds, notes), notes
    got = read_once(up, READ_KEY, read, lambda e: f"Your concepts could not be read: {e}")
    if got.error:
        st.error(got.error)
        return {}, "", False
    if got.fresh:
        st.session_state[HELD_KEY] = (st.session_state[READ_KEY][0], *got.value)
    held = st.session_state.get(HELD_KEY)
    if held is None or held[0] != st.session_state[READ_KEY][0]:
        return {}, "", False
    digest, found, notes = held
    for note in notes:
        st.caption(note)
    return found, digest, got.fresh


def _over_training(req, key, layer, target, inputs, chosen, own, settings, name) -> None:
    model, ds = req.model, req.model.ds
    if not st.toggle("How did it develop over training?", key="explain_concepts_over_time",
                     help=f"the same concepts and random sets at {OVER_TRAINING} snapshots of the run"):
        return
    picked = model.snapshot_steps(OVER_TRAINING)

    def compute():
        from dlviz.explain.concepts import tcav_over_training as over
        ckpts = model.weights_at(picked)
        examples = _examples(ds, chosen, own, settings["images"])
        randoms = random_sets(ds, settings["random_sets"], settings["images"])
        return over(model.net, ckpts, layer, target, inputs, examples, randoms)
    series = cached(key + ("over", tuple(picked)), compute,
                    spinner=f"TCAV at {len(picked)} snapshots of the run...")
    if isinstance(series, str):
        st.error(series)
        return
    st.plotly_chart(tcav_over_training(series, name), width="stretch", key="explain_tcav_time")
    st.caption(f"Each concept's TCAV score for {name} at steps {', '.join(f'{s:,}' for s, _ in series)}; a filled "
               "marker where it passed the test against random concepts, a hollow one where it did not.")
