"""Explanation methods as data: key -> Method (label, one-sentence meaning, settings, wrapper).

Two families, one ``Method`` type:

- ``METHODS``: attributions to the input (a map over pixels or features). The page
  and the CLI list them; adding one is an entry here, one small wrapper (``Job`` ->
  ``Raw``) and its row in the contract test.
- ``BEYOND_PIXELS``: explanations from what only a tool that owns the training run
  has: which training examples (TracIn over the run's snapshots) and which concepts
  (TCAV). Their ``run`` is the library function itself (``explain.influence.influence``,
  ``explain.concepts.tcav``); their settings are checked with the same ``Param``s by the
  page's widgets and the CLI's flags.

Which input methods apply to a given network is ``dlviz.explain.layers``' question
(it reads ``needs_layer`` and ``conv_only`` from here; nothing here reads it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from dlviz.explain import cam, concepts, conductance, gradients, influence, occlusion, path
from dlviz.explain.baselines import BASELINES
from dlviz.explain.job import Job, Raw
from dlviz.explain.params import Param


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    explanation: str                 # one plain sentence: what the map measures
    run: Callable[[Job], Raw]
    params: tuple[Param, ...] = ()
    needs_layer: bool = False        # Grad-CAM, Guided Grad-CAM, conductance
    conv_only: bool = False          # its layer's output must be an image (C, h, w); read by
                                     # explain/layers.layer_choices
    signed: bool = True              # default display: red/blue around 0, else magnitude only
    is_default: bool = False         # computed when the page opens
    random: bool = False             # draws noise: run under a fixed seed
    family: str = "input"            # "input" (METHODS), "training examples" or "concepts"


def _steps(default: int = 50) -> Param:
    return Param("n_steps", "Integration steps", default, 2, 300, 1, "int",
                 help="More steps: a smaller convergence delta, a slower map.")


def _baseline(default: str = "zero") -> Param:
    return Param("baseline", "Baseline", default, kind="choice", choices=BASELINES,
                 help="The 'absent' input compared against: zero = the training data's average "
                      "colour, blur = this image blurred, min = its darkest value (black).")


METHODS: dict[str, Method] = {m.key: m for m in [
    Method("saliency", "Saliency",
           "How much the class score would change if each pixel changed a tiny bit (the size of the gradient).",
           gradients.saliency, signed=False, is_default=True),
    Method("input_x_gradient", "Input x Gradient",
           "Each pixel's value times its gradient: a first guess at how much that pixel adds to the score.",
           gradients.input_x_gradient, is_default=True),
    Method("integrated_gradients", "Integrated Gradients",
           "How much each pixel adds to the score compared with the baseline image, summing gradients along "
           "the way from one to the other.",
           path.integrated_gradients, (_steps(), _baseline()), is_default=True),
    Method("smoothgrad", "SmoothGrad",
           "Saliency averaged over many noisy copies of the image, so only gradients that hold up remain.",
           gradients.smoothgrad,
           (Param("nt_samples", "Noisy samples", 20, 2, 200, 1, "int"),
            Param("stdevs", "Noise level (fraction of the pixel range)", 0.15, 0.0, 1.0, 0.01, "float")),
           signed=False, random=True),
    Method("gradient_shap", "GradientSHAP",
           "Integrated Gradients averaged over random baselines and random points on the way: an estimate "
           "of each pixel's Shapley value.",
           path.gradient_shap,
           (Param("n_samples", "Random samples", 20, 1, 500, 1, "int"),
            Param("stdevs", "Noise level (fraction of the pixel range)", 0.05, 0.0, 1.0, 0.01, "float")),
           random=True),
    Method("deeplift", "DeepLIFT",
           "How much each pixel's difference from the baseline changes the score, passed back layer by layer.",
           path.deeplift, (_baseline(),)),
    Method("occlusion", "Occlusion",
           "How much the class score drops when a small patch around each pixel is greyed out.",
           occlusion.occlusion,
           (Param("window", "Patch size (pixels)", 4, 1, 64, 1, "int"),
            Param("stride", "Step between patches (pixels)", 2, 1, 32, 1, "int")),
           is_default=True),
    Method("guided_backprop", "Guided Backprop",
           "The gradient with every negative signal stopped at each ReLU on the way back: sharp edges the "
           "network responds to.",
           gradients.guided_backprop, signed=False),
    Method("gradcam", "Grad-CAM",
           "Which regions of a chosen convolution layer's feature maps raise (red) or lower (blue) the class "
           "score, scaled up to the image.",
           cam.gradcam, needs_layer=True, conv_only=True, is_default=True),
    Method("guided_gradcam", "Guided Grad-CAM",
           "Guided Backprop's fine detail kept only where Grad-CAM says the class evidence is.",
           cam.guided_gradcam, needs_layer=True, conv_only=True),
    Method("layer_conductance", "Layer Conductance",
           "How much of the class score flows through each place (or unit) of a chosen hidden layer.",
           conductance.layer_conductance, (_steps(), _baseline()), needs_layer=True),
]}


BEYOND_PIXELS: dict[str, Method] = {m.key: m for m in [
    Method("tracin", "TracIn (training examples)",
           "Which training examples pushed the model towards this prediction and which against: for each, "
           "the dot products of its loss gradient with this input's, summed over snapshots of the run.",
           influence.influence,
           (Param("k", "Examples shown each side", 8, 1, influence.MAX_K, 1, "int",
                  help="the strongest proponents and as many opponents"),
            Param("checkpoints", "Snapshots summed over", influence.MAX_CHECKPOINTS, 1,
                  influence.MAX_CHECKPOINTS, 1, "int",
                  help="evenly spaced over the run, the last always kept; each costs one pass over "
                       "the training set")),
           family="training examples"),
    Method("tcav", "TCAV (concepts)",
           "How much a human concept (a colour, a texture, your own example images) matters for a class: "
           "the share of the class's images whose score rises along the concept's direction in a layer, "
           "tested against random concepts.",
           concepts.tcav,
           (Param("random_sets", "Random sets", 6, concepts.MIN_RANDOM_SETS, concepts.MAX_RANDOM_SETS, 1,
                  "int", help="each concept is learned against each set of random training images; more "
                              "sets make the test against chance stronger and take longer"),
            Param("images", "Images per concept", 50, 10, 200, 1, "int",
                  help="examples of each concept, and of each random set"),
            Param("inputs", "Class images scored", 50, 10, concepts.MAX_INPUTS, 1, "int",
                  help="test images of the class whose scores are tested along each concept")),
           family="concepts"),
]}


# The same sentences for a model whose input is a vector (a 2-D toy's two features,
# or a few engineered ones): no pixels, patches or images there.
VECTOR_EXPLANATIONS = {
    "saliency": "How much the class score would change if each input feature changed a tiny bit "
                "(the size of the gradient).",
    "input_x_gradient": "Each feature's value times its gradient: a first guess at how much that "
                        "feature adds to the score.",
    "integrated_gradients": "How much each feature adds to the score compared with the baseline input, "
                            "summing gradients along the way from one to the other.",
    "smoothgrad": "Saliency averaged over many noisy copies of the input, so only gradients that hold up "
                  "remain.",
    "gradient_shap": "Integrated Gradients averaged over random baselines and random points on the way: "
                     "an estimate of each feature's Shapley value.",
    "deeplift": "How much each feature's difference from the baseline changes the score, passed back "
                "layer by layer.",
    "occlusion": "How much the class score drops when a feature (or a window of neighbouring features) "
                 "is set to 0, the training data's average.",
    "guided_backprop": "The gradient with every negative signal stopped at each ReLU on the way back: "
                       "the features the score responds to most sharply.",
    "layer_conductance": "How much of the class score flows through each unit of a chosen hidden layer.",
}
# settings whose wording (or default) is about pixels: (label, help, default) for a vector input
_VECTOR_PARAMS = {
    ("occlusion", "window"): ("Window (features)", "How many neighbouring features are set to 0 at once.", 1),
    ("occlusion", "stride"): ("Step between windows (features)", "", 1),
    ("smoothgrad", "stdevs"): ("Noise level (fraction of the features' range)", "", None),
    ("gradient_shap", "stdevs"): ("Noise level (fraction of the features' range)", "", None),
}
_VECTOR_BASELINE_HELP = ("The 'absent' input compared against: zero = the training data's average "
                         "(the features are normalised), min = the input's smallest value.")


def explanation(key: str, image: bool = True) -> str:
    """The method's one sentence, worded for an image input or for a vector of features."""
    return METHODS[key].explanation if image else VECTOR_EXPLANATIONS.get(key, METHODS[key].explanation)


def param_view(key: str, p: Param, image: bool = True) -> Param:
    """The setting as a widget shows it for this kind of input: a vector's occlusion
    window counts features and starts at one (the image default of 4 would cover a
    2-D input's both features at once), and a vector has no blurred baseline."""
    if image:
        return p
    if p.name == "baseline":
        return replace(p, choices=tuple(c for c in p.choices if c != "blur"), help=_VECTOR_BASELINE_HELP)
    label, help_, default = _VECTOR_PARAMS.get((key, p.name), (p.label, p.help, None))
    return replace(p, label=label, help=help_ or p.help, default=p.default if default is None else default)
