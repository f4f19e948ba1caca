"""dlviz: build a layered network, train it live, look inside it, explain it.

The library never imports streamlit outside ``dlviz.ui``; everything here can
be driven from tests or the command line (``python -m dlviz``).
"""

__version__ = "0.1.0"
