"""Pick one input for the Inside and Explain pages.

The sources: a test sample (browse by class, or only the ones the model
gets wrong), an uploaded image (any common format, converted to what the
model expects, the conversion shown), a digit drawn on a canvas (the same
conversion, after centring the strokes: ``dlviz.ui.draw_input``), or for 2-D
data a point on the plane. Every upload goes through
``dlviz.data.image_files.open_image``: a bad file gets one message and the
rest of the page keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from dlviz.data.dataset import Dataset
from dlviz.data.features import featurize
from dlviz.data.image_files import FORMATS, open_image
from dlviz.data.model_input import prepare_image, stored_size
from dlviz.errors import UserError
from dlviz.plots.images import pixelated
from dlviz.ui.draw_input import draw_input
from dlviz.views.predictions import denormalise, predict_proba

POOL_N = 1000          # test samples offered for browsing (predictions are computed for these)
ANY_CLASS = "any class"
DISPLAY_PX = 320       # uploads are decoded at least this big, for the preview
DRAW = "Draw"


@dataclass
class PickedInput:
    x: torch.Tensor                  # what the model gets: input_shape, normalised
    source: str                      # "test" | "upload" | "camera" | "draw" | "plane"
    shown: np.ndarray | None = None  # images: (H, W, 3) uint8, the input as the model sees it
    original: object = None          # uploads: the decoded PIL image, before conversion
    label: int | None = None         # the true class, when known
    index: int | None = None         # test-set index
    point: tuple[float, float] | None = None   # 2-D data: the plane coordinates
    mask: np.ndarray | None = None   # synthetic shapes: the object's (H, W) bool mask
    note: str = ""                   # how an upload was converted

    of: int | None = None            # test samples in the dataset

    @property
    def title(self) -> str:
        if self.source == "test":       # counted from 1, as the Sample box counts
            return f"test sample {self.index + 1:,}" + (f" of {self.of:,}" if self.of else "")
        if self.point is not None:
            return f"point ({self.point[0]:.2f}, {self.point[1]:.2f})"
        return {"upload": "your image", "draw": "your drawing"}.get(self.source, "camera picture")


def pick_input(ds: Dataset, model: torch.nn.Module, key: str, *, camera: bool = False) -> PickedInput | None:
    """Draw the input chooser; returns the chosen input (None until there is one)."""
    sources = ["Test sample"]
    if ds.is_image:
        sources.append("Upload an image")
        sources.append(DRAW)
        if camera:
            sources.append("Camera")
    elif ds.points_test is not None:
        sources.append("Point on the plane")
    source = st.segmented_control("Input", sources, default=sources[0], key=f"{key}_source") or sources[0]
    if source == "Upload an image":
        return _upload(ds, key)
    if source == "Camera":
        return _camera(ds, key)
    if source == DRAW:
        return _drawn(ds, key)
    if source == "Point on the plane":
        return _plane_point(ds, key)
    return _test_sample(ds, model, key)


def _test_sample(ds: Dataset, model, key: str) -> PickedInput | None:
    n = min(POOL_N, len(ds.x_test))
    if n == 0:
        st.info("This dataset has no test samples.")
        return None
    y = ds.y_test[:n]
    c1, c3 = st.columns(2, vertical_alignment="bottom")
    idx = np.arange(n)
    pred = None
    if ds.task == "classification":
        cls = c1.selectbox("Class", [ANY_CLASS, *ds.classes], key=f"{key}_class")
        wrong = st.toggle("only the misclassified ones", key=f"{key}_wrong",
                          help="test samples the model (at the chosen moment) gets wrong")
        pred = predict_proba(model, ds.x_test[:n]).argmax(1)
        if cls != ANY_CLASS:
            idx = idx[y.numpy() == ds.classes.index(cls)]
        if wrong:
            idx = idx[pred[idx] != y.numpy()[idx]]
    if len(idx) == 0:
        st.info("No test sample matches: the model gets every one of them right.")
        return None
    of = len(ds.x_test)
    pool = f"the first {n:,} of {of:,} test samples" if n < of else f"the {of:,} test samples"
    filtered = len(idx) < n
    k = c3.number_input(f"Sample (1 to {len(idx):,})", 1, len(idx), 1, key=f"{key}_k_{len(idx)}",
                        help=f"which of the {len(idx):,} matching samples among {pool}" if filtered else
                             f"which of {pool}")
    i = int(idx[int(k) - 1])
    label = int(y[i]) if ds.task == "classification" else None
    # one count from 1 everywhere: the box's "1" is test sample 1, not "#0"
    where = f"test sample {i + 1:,} of {of:,}" + (f" (match {int(k):,} of {len(idx):,})" if filtered else "")
    if pred is not None:
        st.caption(f"{where}: true class **{ds.classes[label]}**, "
                   f"model says **{ds.classes[int(pred[i])]}**")
    else:
        st.caption(where)
    shown = denormalise(ds.x_test[i:i + 1], ds.norm_mean, ds.norm_std)[0] if ds.is_image else None
    if shown is not None and shown.shape[-1] == 1:
        shown = np.repeat(shown, 3, axis=-1)
    point = tuple(float(v) for v in ds.points_test[i]) if ds.points_test is not None else None
    mask = ds.masks_test[i].numpy() if ds.masks_test is not None else None
    return PickedInput(ds.x_test[i], "test", shown=shown, label=label, index=i, point=point, mask=mask, of=of)


def _from_bytes(ds: Dataset, data: bytes, name: str, source: str, key: str) -> PickedInput | None:
    try:
        # decoded at >= 320 px (JPEG draft mode): enough for the preview, cheap for big photos
        im = open_image(data, name, min_size=max(DISPLAY_PX, *ds.input_shape[1:]))
        size = stored_size(data, im.size)
        prepared = prepare_image(im, ds.input_shape, ds.norm_mean, ds.norm_std, source_size=size)
        if ds.input_shape[0] == 1:
            # digits are light ink on dark; a photo of ink on paper is the opposite
            if st.toggle("invert (dark ink on light paper)", value=prepared.suggest_invert,
                         key=f"{key}_invert_{name}_{len(data)}",
                         help="the training images are light on dark: turn this on for dark-on-light "
                              "images (it starts on when the image looks like that)"):
                prepared = prepare_image(im, ds.input_shape, ds.norm_mean, ds.norm_std, invert=True,
                                         source_size=size)
    except UserError as e:
        st.error(str(e))
        return None
    return PickedInput(prepared.x, source, shown=prepared.shown, original=im, note=prepared.note)


def _upload(ds: Dataset, key: str) -> PickedInput | None:
    # no type= filter: Streamlit would refuse other names with an exception of
    # its own; every file goes to open_image, which sniffs the bytes and says why
    f = st.file_uploader("An image (" + ", ".join(FORMATS) + ")", key=f"{key}_upload",
                         help="any size up to the server's upload limit; it is resized and converted "
                              "to what the network expects")
    if f is None:
        st.caption("Upload a photo or a drawing to see what the network makes of it.")
        return None
    return _from_bytes(ds, f.getvalue(), f.name, "upload", key)


def _camera(ds: Dataset, key: str) -> PickedInput | None:
    f = st.camera_input("Take a picture", key=f"{key}_camera")
    if f is None:
        return None
    return _from_bytes(ds, f.getvalue(), "camera picture", "camera", key)


def _drawn(ds: Dataset, key: str) -> PickedInput | None:
    prepared = draw_input(ds, key)
    if prepared is None:
        return None
    return PickedInput(prepared.x, "draw", shown=prepared.shown, note=prepared.note)


def _plane_point(ds: Dataset, key: str) -> PickedInput | None:
    pts = ds.points_test.numpy()
    lo, hi = pts.min(0), pts.max(0)
    c1, c2 = st.columns(2)
    px = c1.slider("x1", float(lo[0]), float(hi[0]), float((lo[0] + hi[0]) / 2), key=f"{key}_px")
    py = c2.slider("x2", float(lo[1]), float(hi[1]), float((lo[1] + hi[1]) / 2), key=f"{key}_py")
    x = featurize(torch.tensor([[px, py]], dtype=torch.float32), ds.features)[0]
    return PickedInput(x, "plane", point=(px, py))


def show_input(picked: PickedInput, ds: Dataset) -> None:
    """The chosen input: an upload beside what the model sees (and how it was
    converted), a test image, or a plane point's feature values."""
    if picked.shown is not None:
        c1, c2 = st.columns(2)
        if picked.original is not None:
            thumb = picked.original.copy()
            thumb.thumbnail((DISPLAY_PX, DISPLAY_PX))
            c1.image(thumb, caption="your image", width="stretch")
            c2.image(pixelated(picked.shown), caption="what the model sees", width="stretch",
                     output_format="PNG")
            st.caption(picked.note)
        else:
            c1.image(pixelated(picked.shown), caption=picked.title, width="stretch", output_format="PNG")
            if picked.note:                 # a drawing: how the strokes became the input
                st.caption(picked.note)
    elif picked.point is not None:
        st.caption(f"input {picked.title}: features " + ", ".join(
            f"{n} = {float(v):.3f}" for n, v in zip(ds.features, picked.x)))
