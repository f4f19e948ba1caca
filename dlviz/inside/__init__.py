"""Looking inside a network: what each layer makes of an input, what a unit
responds to, and how weights, gradients, activations and the learned
representation change over training.

Everything here takes a ``BuiltNet`` (live, or with a snapshot's weights),
returns numpy arrays or small dataclasses, leaves the model as it found it
(weights, training flag, no hook) and never imports streamlit. Drawing is in
``dlviz.plots.feature_maps``, ``.units``, ``.conv_explainer``,
``.distributions`` and ``.representation``.
"""

from dlviz.inside.conv import ConvArithmetic, conv_arithmetic_text, explain_conv
from dlviz.inside.distributions import (DistributionSeries, SnapshotStats, assemble,
                                        layer_distributions, snapshot_stats)
from dlviz.inside.representation import (Projection, axis_ranges, pca_step, penultimate,
                                         project_pca, representation_at)
from dlviz.inside.units import top_activating, unit_response
from dlviz.inside.values import LayerValue, layer_values, module_kind
from dlviz.inside.visualise import visualise_unit

__all__ = [
    "ConvArithmetic", "conv_arithmetic_text", "explain_conv",
    "DistributionSeries", "SnapshotStats", "assemble", "layer_distributions", "snapshot_stats",
    "Projection", "axis_ranges", "pca_step", "penultimate", "project_pca", "representation_at",
    "top_activating", "unit_response",
    "LayerValue", "layer_values", "module_kind",
    "visualise_unit",
]
