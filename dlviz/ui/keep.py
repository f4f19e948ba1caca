"""Widget values that neither vanish nor go stale.

Streamlit keeps a widget's value under its key alone, and only while the
widget is drawn. Two ways that goes wrong, each with a helper:

* ``keep(key)``: a widget the page does not draw on one run (Explain returns
  early while the input is an upload not made yet) loses its value, and comes
  back with its defaults. ``keep`` holds the value in a plain session key and
  gives it back to the widget when it is drawn again.
* ``follow(key, value)``: a widget that shows a value the app owns (the
  workspace's preset, sample count, noise) keeps what it showed when that
  value is changed elsewhere (edits make the network custom, a new dataset
  brings its own sample count). ``follow`` puts the new value into the widget
  whenever the app's value changed since the last run, and otherwise leaves
  the user's own edit alone.

Either way the widget is then drawn without a default (``value``/``index``/
``default``): its value comes from session state.
"""

from __future__ import annotations

import streamlit as st

KEPT_KEY = "dlviz_kept_widgets"          # {widget key: last value}
FOLLOWED_KEY = "dlviz_followed_widgets"  # {widget key: the app's value last put into it}


def keep(key: str, default=None, valid=None):
    """Before drawing the widget ``key``: restore its last value if Streamlit dropped it
    (``default`` the first time). ``valid(value)`` -> the value to restore, cleaned
    (e.g. methods no longer offered dropped), or None to fall back to ``default``.
    Call ``kept(key)`` after drawing it."""
    kept = st.session_state.setdefault(KEPT_KEY, {})
    if key in st.session_state:                 # still held: only cleaned (options may have changed)
        if valid is not None:
            current = st.session_state[key]
            cleaned = valid(current)
            cleaned = default if cleaned is None else cleaned
            if cleaned != current and cleaned is not None:
                st.session_state[key] = cleaned
        return
    value = kept.get(key, default)
    if valid is not None and value is not None:
        value = valid(value)
        if value is None:
            value = default
    if value is not None:
        st.session_state[key] = value


def kept(key: str, value) -> None:
    """After drawing the widget ``key``: remember its value for the runs that skip it."""
    st.session_state.setdefault(KEPT_KEY, {})[key] = value


def follow(key: str, value) -> None:
    """Before drawing the widget ``key``: make it show ``value`` when the app's value
    changed since the last run (or on the first run); leave it alone otherwise."""
    followed = st.session_state.setdefault(FOLLOWED_KEY, {})
    if key not in st.session_state or key not in followed or followed[key] != value:
        st.session_state[key] = value
    followed[key] = value
