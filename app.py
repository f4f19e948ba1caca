"""dlviz web app: ``streamlit run app.py``."""

import streamlit as st

from dlviz.train.device import set_cpu_threads
from dlviz.ui import state
from dlviz.ui.sidebar import sidebar


def home() -> None:
    st.title("dlviz")
    st.markdown(
        "Build a layered neural network, **train it live**, and watch it learn from the inside: "
        "the decision boundary forming, what every neuron responds to, the health of each layer. "
        "From a 2-D toy to an image CNN, entirely in your browser.")
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("#### 1. Build")
        st.markdown("Pick a dataset (2-D toys, handwritten digits, shapes, or your own images) "
                    "and a network: start from a preset or add layers yourself.")
        st.page_link("app_pages/build.py", label="Build a network", icon=":material/construction:")
    with c2:
        st.markdown("#### 2. Train")
        st.markdown("Choose an optimizer and press Start. Loss, accuracy, the model's view of the "
                    "data and layer health update twice a second.")
        st.page_link("app_pages/train.py", label="Train it", icon=":material/monitoring:")
    c3, c4, c5 = st.columns(3)
    with c3:
        st.markdown("#### 3. Look inside")
        st.markdown("One input through every layer: feature maps, unit values, how a convolution "
                    "computes, what a unit responds to, and how the layers changed over training.")
        st.page_link("app_pages/inside.py", label="Inside the network", icon=":material/visibility:")
    with c4:
        st.markdown("#### 4. Explain")
        st.markdown("Why did it say that? Captum attributions side by side for a test sample or your "
                    "own image, and checks of whether to trust them.")
        st.page_link("app_pages/explain.py", label="Explain a prediction", icon=":material/psychology_alt:")
    with c5:
        st.markdown("#### 5. Compare")
        st.markdown("Two runs side by side at the same moment of training: tanh vs relu, shallow "
                    "vs deep.")
        st.page_link("app_pages/compare.py", label="Compare two runs", icon=":material/compare:")
    st.caption("A link to any page keeps your network: copy it from the Build page to share it. "
               "A slider on the Train, Inside and Explain pages replays any moment of training.")


def main() -> None:
    set_cpu_threads()            # once per process, in the main thread: leave a core for the server
    st.set_page_config(page_title="dlviz", page_icon=":material/neurology:", layout="wide")
    # pages live in app_pages/, not pages/: Streamlit treats a pages/ folder as
    # the old automatic navigation, and a fresh server then serves /build
    # without running this entry point
    pages = [st.Page(home, title="Home", icon=":material/home:", default=True),
             st.Page("app_pages/build.py", title="Build", icon=":material/construction:"),
             st.Page("app_pages/train.py", title="Train", icon=":material/monitoring:"),
             st.Page("app_pages/inside.py", title="Inside", icon=":material/visibility:"),
             st.Page("app_pages/explain.py", title="Explain", icon=":material/psychology_alt:"),
             st.Page("app_pages/compare.py", title="Compare", icon=":material/compare:")]
    page = st.navigation(pages)
    state.workspace()            # first call of a session reads ?net= and ?run=
    message = state.url_message()
    if message:
        st.warning(message)
    sidebar()
    page.run()
    state.sync_url()


main()
