"""The only part of dlviz that imports streamlit: session state, run lookup, shared widgets."""
