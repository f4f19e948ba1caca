"""dlviz web app: ``streamlit run app.py``."""

import streamlit as st

from dlviz.train.device import set_cpu_threads


def home() -> None:
    st.title("dlviz")
    st.write("Build a layered neural network, train it live, watch it learn from the inside, "
             "and ask why it predicted what it did.")
    st.info("The pages arrive here as they are built. Meanwhile the engine trains from the "
            "command line: `python -m dlviz train --preset playground --dataset spiral`.")


def main() -> None:
    set_cpu_threads()            # once, in the main thread: leave a core for the server
    st.set_page_config(page_title="dlviz", layout="wide")
    st.navigation([st.Page(home, title="Home", default=True)]).run()


main()
