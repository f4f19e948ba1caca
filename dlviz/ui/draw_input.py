"""Draw a digit: a canvas whose strokes become the model's input as they are drawn.

The canvas is ``streamlit-drawable-canvas`` (pinned in requirements.txt; its
0.13 release is a Streamlit components-v2 element, checked with Streamlit
1.67 in a headless browser, see docs/ARCHITECTURE.md). It sends its picture
back at the end of every stroke (``update_streamlit=True``), so the page
reruns and the prediction, the maps and the attributions follow the drawing
stroke by stroke. The picture goes through ``dlviz.data.drawn_image``, which
ends in the same ``prepare_image`` an upload goes through.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dlviz.data.dataset import Dataset
from dlviz.data.drawn_image import prepare_drawing
from dlviz.data.model_input import PreparedInput
from dlviz.errors import UserError

CANVAS_PX = 280               # 10 canvas pixels per pixel of a 28x28 digit
TOOLBAR_PX = 26               # the canvas's own toolbar (undo, redo, bin) sits this far above it
STROKE_PX = 22                # a full-height digit (~200 px) comes out ~2 px wide at 28x28, as MNIST's
NOT_FOR_COLOUR = ("Drawing is offered for grayscale image data such as digits: this dataset's "
                  "images are in colour (a drawing would be nothing like them). Upload an image instead.")


def drawable(ds: Dataset) -> bool:
    """True when a drawing can stand for this dataset's images (one channel: digits-like)."""
    return ds.is_image and ds.input_shape[0] == 1


def draw_input(ds: Dataset, key: str) -> PreparedInput | None:
    """The canvas and, once something is drawn, the drawing as the model's input."""
    if not drawable(ds):
        st.info(NOT_FOR_COLOUR, icon=":material/info:")
        return None
    try:
        from streamlit_drawable_canvas import st_canvas
    except ImportError:
        st.error("The drawing canvas is not installed on this server "
                 "(pip install -r requirements.txt installs streamlit-drawable-canvas).")
        return None
    st.caption("Draw a digit with the mouse (or a finger): white on black, like the training "
               "images. The model looks again after every stroke; the bin on the canvas "
               "clears it, the arrows undo and redo.")
    st.space(TOOLBAR_PX)            # the canvas's toolbar floats above it: keep it off the text
    # the key is per dataset: another dataset starts a clean canvas
    result = st_canvas(stroke_width=STROKE_PX, stroke_color="#FFFFFF", background_color="#000000",
                       height=CANVAS_PX, width=CANVAS_PX, drawing_mode="freedraw",
                       update_streamlit=True, return_image_data=True, key=f"{key}_canvas_{ds.key}"[:200])
    rgba = result.image_data                       # (CANVAS_PX, CANVAS_PX, 4) uint8, or None
    if rgba is None or not _has_strokes(result.json_data):
        st.caption("Nothing drawn yet.")
        return None
    try:
        return prepare_drawing(np.asarray(rgba, dtype=np.uint8), ds.input_shape, ds.norm_mean, ds.norm_std)
    except UserError as e:
        st.info(str(e))
        return None


def _has_strokes(json_data) -> bool:
    return bool(isinstance(json_data, dict) and json_data.get("objects"))
