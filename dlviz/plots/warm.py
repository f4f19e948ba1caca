"""Import Plotly's lazily loaded classes once, in one thread, before a class arrives.

Plotly imports each trace, layout and validator class the first time a
figure touches it. When a class of students opens the Train page at once,
eight script threads make their first figures together and their imports
contend for Python's per-module import locks: measured on the 2-core
server, pages then hung for over a minute inside plotly's importer. One
figure with every trace type and layout part dlviz draws, built when the
server starts, does those imports up front (and takes the cost off the
first user's first picture).

pandas too: Plotly's validators look for pandas in ``sys.modules`` without
importing it (``get_module(..., should_load=False)``), so a figure built while
another thread is halfway through importing pandas (scikit-learn does, the
first time a page fits a concept's direction) read a half-made module and
raised "partially initialized module 'pandas' has no attribute 'Series'" in
the browser. Imported whole here, it is never half-made.
"""

from __future__ import annotations

import plotly.graph_objects as go


def warm_up() -> int:
    """Import pandas, then build and serialise one figure touching what dlviz's figures use;
    returns its JSON size."""
    import pandas  # noqa: F401  (see the module's docstring)
    fig = go.Figure([go.Scatter(x=[0, 1], y=[0, 1], mode="lines+markers", marker={"color": [0, 1]}),
                     go.Heatmap(z=[[0, 1], [1, 0]], colorbar={"title": {"text": "v"}}),
                     go.Bar(x=["a"], y=[1], orientation="v"),
                     go.Contour(z=[[0, 1], [1, 0]], showscale=False)])
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, legend={"orientation": "h"},
                      title={"text": "t"}, hovermode="closest", coloraxis={"colorscale": "RdBu"},
                      font={"size": 12}, paper_bgcolor="white", plot_bgcolor="white")
    fig.update_xaxes(title={"text": "x"}, type="log", range=[0, 1], showgrid=True, constrain="domain")
    fig.update_yaxes(title={"text": "y"}, scaleanchor="x", scaleratio=1, autorange="reversed")
    fig.add_annotation(x=0, y=0, text="a", showarrow=False)
    fig.add_shape(type="rect", x0=0, x1=1, y0=0, y1=1, line={"color": "red"})
    fig.add_hline(y=0.5)
    fig.add_vline(x=0.5)
    return len(fig.to_json())
