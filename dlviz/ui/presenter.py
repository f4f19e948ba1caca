"""Presenter mode: every page readable from the back of a room on a 1024x768 projector.

One switch at the top of the sidebar, kept in the link as ``?present=1`` next to
``?net=`` and ``?run=`` (``dlviz.ui.state``), so a teacher's bookmark opens in it.
When it is on:

* the page's text is larger (a larger root font: Streamlit sizes text in rem), captions
  darker, and the toolbar's menu and the charts' zoom/save buttons hidden
  (``.streamlit/config.toml`` already hides the developer options and the Deploy button);
* the sidebar starts collapsed (``sidebar_state``, read by ``st.set_page_config``);
* charts and picture labels are drawn ``SCALE`` times larger (>= 16 px): the plots read
  the scale from ``dlviz.plots.style.font_scale``, whose source this module registers;
* long pages put their parts in tabs (``sections``): one idea per screen.

The layout rules that make narrow windows work (no word broken inside, inputs never
squeezed to an empty box) apply with the switch off too (``BASE_CSS``).
"""

from __future__ import annotations

from typing import Sequence

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dlviz.plots import style

PARAM = "present"               # ?present=1
KEY = "dlviz_present"           # the mode, a plain session key (kept across pages)
TOGGLE_KEY = "dlviz_present_toggle"
SCALE = 1.6                     # charts' 10-12 px text -> 16-19 px; picture labels alike
ROOT_FONT_PX = 20               # the page's text: Streamlit's rem sizes x 1.25
_ON, _OFF = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
_MAX_PARAM_CHARS = 8

# always: labels break between words only, a column holding just a button is as wide as
# the button's text ("Use …" was cut), and narrow windows get narrower side margins (at
# 1024 px Streamlit's 5 rem of padding a side left the Build page ~600 px)
BASE_CSS = """
[data-testid="stWidgetLabel"] p, [data-testid="stWidgetLabel"] {
  word-break: normal; overflow-wrap: normal; hyphens: none;
}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p,
[data-testid="stImageCaption"] { color: #4b5563; }
[data-testid="stColumn"]:has(> [data-testid="stVerticalBlock"] > [data-testid="stElementContainer"]:only-child
  > :is([data-testid="stButton"], [data-testid="stDownloadButton"])) { min-width: max-content; }
@media (max-width: 1280px) {
  [data-testid="stMainBlockContainer"] { padding-left: 2rem; padding-right: 2rem; }
}
[data-testid="stProgress"] * { transition: none !important; }
"""
# (the last rule: a live run's progress bar, in the sidebar of every page, steps at each
# redraw instead of gliding 0.5 s to it, which kept the browser drawing frames without
# end; docs/ARCHITECTURE.md, "The live Train page")

PRESENTER_CSS = f"""
html {{ font-size: {ROOT_FONT_PX}px; }}
[data-testid="stMainBlockContainer"] {{
  padding-top: 3.5rem; padding-left: 1.5rem; padding-right: 1.5rem; max-width: none;
}}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p,
[data-testid="stImageCaption"] {{ font-size: 1rem; color: #374151; }}
[data-testid="stMainMenu"], [data-testid="stToolbarActions"], [data-testid="stAppDeployButton"],
.modebar-container {{ display: none; }}
"""


def _parse(raw) -> bool:
    """``?present=`` as typed: on, off (also when absent), or a message for anything else
    (then off)."""
    if raw is None:
        return False
    text = raw.strip().lower() if isinstance(raw, str) and len(raw) <= _MAX_PARAM_CHARS else None
    if text in _ON:
        return True
    if text not in _OFF:
        st.toast(f"The link's {PARAM}= should be 1 or 0, got {str(raw)[:_MAX_PARAM_CHARS]!r}: "
                 "presenter mode is off.")
    return False


def presenting() -> bool:
    """Whether presenter mode is on; on the first run of a session, from the link."""
    if KEY not in st.session_state:
        st.session_state[KEY] = _parse(st.query_params.get(PARAM))
    return bool(st.session_state[KEY])


def set_presenting(on: bool) -> None:
    st.session_state[KEY] = bool(on)
    sync_url()


def sidebar_state() -> str:
    """For ``st.set_page_config(initial_sidebar_state=...)``."""
    return "collapsed" if presenting() else "auto"


def apply() -> None:
    """At the top of every script run, after ``st.set_page_config``: the page's CSS."""
    st.html(f"<style>{BASE_CSS}{PRESENTER_CSS if presenting() else ''}</style>")


def toggle() -> None:
    """The switch, at the top of the sidebar (drawn on every page, so its key stays)."""
    st.session_state[TOGGLE_KEY] = presenting()
    st.sidebar.toggle("Presenter mode", key=TOGGLE_KEY, on_change=_flipped,
                      help="Large text and charts for a projector, the sidebar folded away, long "
                           "pages in tabs. Kept in the link (present=1).")


def _flipped() -> None:
    set_presenting(st.session_state[TOGGLE_KEY])


def sync_url() -> None:
    """``?present=1`` while on (page switches drop the query; ``state.sync_url`` puts back
    ``net`` and ``run``, this the mode), no parameter while off."""
    if presenting():
        st.query_params[PARAM] = "1"
    elif PARAM in st.query_params:
        del st.query_params[PARAM]


def current_scale() -> float:
    """The font scale of this session's script run; 1.0 outside one (a worker, the CLI)."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return 1.0
    try:
        return SCALE if st.session_state.get(KEY) else 1.0
    except Exception:  # noqa: BLE001 - no session state here (a bare thread): normal size
        return 1.0


# asked by every figure and picture built in a script run, fragments' reruns included
style.use_font_scale_source(current_scale)


def sections(names: Sequence[str], key: str, columns: Sequence[float] | None = None,
             gap: str = "large") -> list:
    """Containers for a page's parts: tabs in presenter mode (one idea per screen),
    otherwise stacked containers, or side-by-side ``columns`` (their widths) if given.
    Every part is drawn either way (a tab's content is sent and hidden), so a page's
    flow, which one part may feed the next, stays the same."""
    if presenting():
        return list(st.tabs(list(names), key=key))
    if columns is not None:
        return list(st.columns(list(columns), gap=gap))
    return [st.container() for _ in names]

