"""Class board: a teacher opens a class; students join with its code."""

from __future__ import annotations

import streamlit as st

from dlviz.ui import board_views, run_views


def render() -> None:
    st.title("Class board")
    run_views.calm_live_redraws()        # its views redraw live
    board_views.page()


render()
