"""Figures from plain arrays: Plotly figures and PIL images, never torch modules.

The views (``dlviz.views``) compute arrays from a model; these functions
draw them. Nothing here imports streamlit or needs a model.
"""

from dlviz.plots.architecture import architecture_figure
from dlviz.plots.confusion import confusion_figure
from dlviz.plots.curves import accuracy_figure, loss_figure
from dlviz.plots.health import health_figure, units_figure
from dlviz.plots.images import filters_mosaic, prediction_mosaic, sample_grid
from dlviz.plots.network_view import network_figure
from dlviz.plots.plane import boundary_figure, dataset_figure

__all__ = [
    "architecture_figure", "confusion_figure", "accuracy_figure", "loss_figure",
    "health_figure", "units_figure", "filters_mosaic", "prediction_mosaic", "sample_grid",
    "network_figure", "boundary_figure", "dataset_figure",
]
