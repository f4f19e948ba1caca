"""Who is looking: a browser's own id, kept in a cookie so it survives a refresh.

The run registry gives control of a run to the browser that started it and
lets everyone else with the link watch. A Streamlit session ends at every
refresh, so the id cannot live in ``st.session_state`` alone; it must not
live in the URL either (a copied link would hand over control). It is a
random token in a first-party cookie: Streamlit sends cookies with the page's
websocket request (``st.context.cookies``); the first visit sets it with a
line of JavaScript. See docs/ARCHITECTURE.md, "Owner and watchers".
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

COOKIE = "dlviz_browser"
KEY = "dlviz_browser_id"
_VALID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_AGE_S = 30 * 86400


def browser_id() -> str:
    """This browser's id (made, and written to its cookie, on its first visit)."""
    bid = st.session_state.get(KEY)
    if bid:
        return bid
    try:
        cookie = st.context.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no client context (AppTest, bare mode)
        cookie = None
    if isinstance(cookie, str) and _VALID.match(cookie):
        bid = cookie
    else:
        bid = secrets.token_urlsafe(18)          # 24 characters of [A-Za-z0-9_-]
        st.session_state[f"{KEY}_new"] = True
    st.session_state[KEY] = bid
    return bid


def write_cookie() -> None:
    """Set the cookie once per session when it was new (an invisible element)."""
    if st.session_state.pop(f"{KEY}_new", False):
        bid = st.session_state[KEY]
        assert _VALID.match(bid)                 # no quoting needed in the script below
        st.html(f"<script>document.cookie = '{COOKIE}={bid}; path=/; max-age={MAX_AGE_S}; "
                f"SameSite=Strict';</script>", unsafe_allow_javascript=True)
