"""Views: arrays computed from a model for the plots to draw.

Every function here takes a model the caller passes (a live one, or one
loaded from a timeline snapshot), runs it in ``torch.no_grad`` and eval
mode, restores its training flag, and returns plain numpy arrays. Nothing
here draws, and nothing imports streamlit.
"""

from dlviz.views.plane import NeuronLayer, PlaneGrid, boundary_values, neuron_maps, plane_grid
from dlviz.views.predictions import confusion_matrix, denormalise, predict_proba
from dlviz.views.weights import dense_weights, first_conv_filters

__all__ = [
    "NeuronLayer", "PlaneGrid", "boundary_values", "neuron_maps", "plane_grid",
    "confusion_matrix", "denormalise", "predict_proba",
    "dense_weights", "first_conv_filters",
]
