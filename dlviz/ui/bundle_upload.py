"""A model bundle from an uploader, read and checked once while the same files stay in the box.

The Explain page (a model to explain) and the Train page's head start (weights to
start from) take the same upload: the zip from **Download model**, or its
model.json and weights.safetensors. ``dlviz.bundle.bundle_from_files`` reads and
checks it (pickles refused, sizes bounded) on the first run that sees the files;
later reruns reuse the result.
"""

from __future__ import annotations

import streamlit as st

from dlviz.bundle import Bundle, bundle_from_files
from dlviz.errors import UserError

LABEL = ("A model bundle: the zip from the Train page's **Download model**, or its model.json and "
         "weights.safetensors")
HELP = "safetensors only: pickled PyTorch files (.pt, .pth) can run code and are refused"


def uploaded_bundle(key: str, label: str = LABEL) -> tuple[tuple, Bundle, str] | None:
    """(what the files are, the bundle, a name for it) for the files in the uploader ``key``;
    None while it is empty or when the files are not a bundle (the message is shown)."""
    files = st.file_uploader(label, accept_multiple_files=True, key=key, help=HELP)
    if not files:
        return None
    # file_id: two uploads of the same names and sizes (another training's weights) differ
    ident = tuple(sorted((f.name, f.size, f.file_id) for f in files))
    held_key = f"{key}__bundle"
    held = st.session_state.get(held_key)
    if held is None or held[0] != ident:
        try:
            bundle = bundle_from_files({f.name: f.getvalue() for f in files})
        except UserError as e:
            st.error(f"This model cannot be used: {e}")
            return None
        name = "".join(c if c.isprintable() else "_" for c in (bundle.spec.name or files[0].name))
        held = (ident, bundle, name)
        st.session_state[held_key] = held
    return held
