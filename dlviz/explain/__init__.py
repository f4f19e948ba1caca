"""Explanations: attribution methods over Captum, and checks of whether to trust them.

    from dlviz.explain import METHODS, attribute, randomisation_check, deletion_curve
    a = attribute(net, x, target=3, method="integrated_gradients", params={"n_steps": 50})
    a.map2d          # (H, W) float32, signed
    a.delta          # IG's convergence delta

Each concept is its own module (registry, one file per family of methods,
one per trust check); this package re-exports the public surface. Nothing
here imports streamlit; the renderers are in ``dlviz.plots.attribution``.
"""

from dlviz.explain.attribute import Attribution, DeltaCheck, attribute, delta_check
from dlviz.explain.baselines import BASELINES, make_baseline
from dlviz.explain.deletion import DeletionCurve, deletion_curve, insertion_curve
from dlviz.explain.layers import available_methods, default_layer, default_methods, layer_choices
from dlviz.explain.mask_share import MaskShare, mask_share
from dlviz.explain.params import Param
from dlviz.explain.randomisation import RandomisationResult, randomisation_check
from dlviz.explain.registry import BEYOND_PIXELS, METHODS, Method, explanation, param_view
from dlviz.explain.similarity import spearman
from dlviz.explain.strip import attribution_strip

__all__ = [
    "Attribution", "DeltaCheck", "attribute", "delta_check", "explanation", "param_view", "BASELINES", "make_baseline", "DeletionCurve", "deletion_curve",
    "insertion_curve", "default_layer", "layer_choices", "MaskShare", "mask_share", "Param",
    "RandomisationResult", "randomisation_check", "METHODS", "BEYOND_PIXELS", "Method", "available_methods",
    "default_methods", "spearman", "attribution_strip",
]
