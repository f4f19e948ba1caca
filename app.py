"""dlviz web app: ``streamlit run app.py``."""

from pathlib import Path

import streamlit as st

from dlviz.train.device import set_cpu_threads
from dlviz.ui import identity, presenter, state
from dlviz.ui.sidebar import sidebar


# The tab's icon is a file of ours: a ":material/...:" page icon makes the browser
# fetch an SVG from fonts.gstatic.com (Streamlit bundles the icon font for the
# page, not the favicon), which fails offline, and the app needs no network.
ICON = str(Path(__file__).resolve().parent / "assets" / "icon.png")

# the home page's steps: (title, what it does, page, link label, icon)
STEPS = [
    ("1. Build", "Pick a dataset (2-D toys, handwritten digits, shapes, or your own images) and a "
     "network: start from a preset or add layers yourself.",
     "app_pages/build.py", "Build a network", ":material/construction:"),
    ("2. Train", "Choose an optimizer and press Start. Loss, accuracy, the model's view of the data "
     "and layer health update twice a second.",
     "app_pages/train.py", "Train it", ":material/monitoring:"),
    ("3. Look inside", "One input through every layer: feature maps, unit values, how a convolution "
     "computes, what a unit responds to, and how the layers changed over training.",
     "app_pages/inside.py", "Inside the network", ":material/visibility:"),
    ("4. Explain", "Why did it say that? Captum attributions side by side for a test sample or your "
     "own image, and checks of whether to trust them.",
     "app_pages/explain.py", "Explain a prediction", ":material/psychology_alt:"),
    ("5. Compare", "Two runs side by side at the same moment of training: tanh vs relu, shallow vs deep.",
     "app_pages/compare.py", "Compare two runs", ":material/compare:"),
    ("Learn", "Nine guided lessons, from why XOR needs a hidden layer to bias in the training data, "
     "each checked on your own run.",
     "app_pages/lessons.py", "Start a lesson", ":material/school:"),
    ("Teach", "Open a class: students join with a code, and the board shows every student's run, live. "
     "Presenter mode (in the sidebar) makes every page readable on a projector.",
     "app_pages/board.py", "Open the class board", ":material/groups:"),
]


def home() -> None:
    st.title("dlviz")
    st.markdown(
        "Build a layered neural network, **train it live**, and watch it learn from the inside: "
        "the decision boundary forming, what every neuron responds to, the health of each layer. "
        "From a 2-D toy to an image CNN, entirely in your browser.")
    for row in (STEPS[:2], STEPS[2:5], STEPS[5:]):
        for col, (title, text, page, label, icon) in zip(st.columns(len(row)), row):
            with col:
                st.markdown(f"#### {title}")
                st.markdown(text)
                st.page_link(page, label=label, icon=icon)
    st.caption("A link to any page keeps your network: copy it from the Build page to share it. "
               "A slider on the Train, Inside and Explain pages replays any moment of training.")


def main() -> None:
    set_cpu_threads()            # once per process, in the main thread: leave a core for the server
    st.set_page_config(page_title="dlviz", page_icon=ICON, layout="wide",
                       initial_sidebar_state=presenter.sidebar_state())
    presenter.apply()            # the page's CSS: presenter mode's, and narrow windows' rules
    identity.browser_id()        # who is looking: the owner of the runs this browser starts
    identity.write_cookie()
    # pages live in app_pages/, not pages/: Streamlit treats a pages/ folder as
    # the old automatic navigation, and a fresh server then serves /build
    # without running this entry point
    pages = [st.Page(home, title="Home", icon=":material/home:", default=True),
             st.Page("app_pages/build.py", title="Build", icon=":material/construction:"),
             st.Page("app_pages/train.py", title="Train", icon=":material/monitoring:"),
             st.Page("app_pages/inside.py", title="Inside", icon=":material/visibility:"),
             st.Page("app_pages/explain.py", title="Explain", icon=":material/psychology_alt:"),
             st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:"),
             st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:"),
             st.Page("app_pages/board.py", title="Class board", icon=":material/groups:")]
    page = st.navigation(pages)
    presenter.toggle()           # at the top of the sidebar, under the pages
    state.workspace()            # first call of a session reads ?net= and ?run=
    message = state.url_message()
    if message:
        st.warning(message)
    page.run()
    # drawn after the page, which may change the workspace (a new dataset, a preset): drawn
    # before it, the sidebar named the previous network until the next click
    sidebar()
    state.sync_url()
    presenter.sync_url()         # ?present=1 next to ?net= and ?run=


main()
