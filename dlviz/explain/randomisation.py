"""Model-parameter randomisation sanity check (Adebayo et al., 2018, "Sanity Checks for Saliency Maps").

If an explanation reflects what the model learned, destroying the learned
weights must change it. Starting from the output layer, layers are
re-initialised one more at a time (cascading, top-down) on a copy of the
model, the attribution is recomputed after each step, and compared with the
original by rank correlation (see FLAG_AT). A map that stays much the same
while the layers are being destroyed describes the input (edges, bright
pixels) more than the model: it is flagged.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from dlviz.build import BuiltNet
from dlviz.explain.attribute import attribute
from dlviz.explain.similarity import spearman

# Two similarities per step, as in Adebayo et al.: Spearman's rho of the
# magnitudes |map| ("does it still light up the same pixels?") and of the maps
# as the method produces them ("does it still say the same thing?", signs
# included; for Saliency and SmoothGrad, which are magnitudes, the two agree).
# The flag uses the second, averaged over the cascade: >= FLAG_AT means the map
# barely reacts to destroying the model. Measured on a small CNN trained on
# shapes (10 images, 5 steps), mean signed rho: Saliency 0.31, IG -0.03,
# Grad-CAM 0.10, Input x Gradient -0.04, DeepLIFT -0.04, Occlusion -0.03, but
# Guided Backprop 0.69 (0.84 with only the output layer random: it hardly
# depends on the class weights, Adebayo et al.'s finding too); Guided Grad-CAM
# 0.49, half Guided Backprop. By magnitude alone Grad-CAM would look stable
# (0.71 after the head is randomised) though its signs flip: the evidence the
# map shows has reversed, which is a change.
FLAG_AT = 0.5


@dataclass
class RandomisationResult:
    steps: list[str]             # module re-initialised at each step (cumulative, output first)
    similarity: list[float]      # Spearman rho of |map| vs the original |map|, after each step
    similarity_signed: list[float]   # Spearman rho of the maps as produced (signs included)
    maps: list[np.ndarray]       # map2d after each step
    original: np.ndarray         # map2d of the trained model
    flagged: bool                # True: the map barely changes, it does not reflect the model
    message: str                 # one sentence for a person
    mean_similarity: float = 0.0  # mean of similarity_signed over the steps, compared with FLAG_AT


def randomisation_check(net: BuiltNet, x: torch.Tensor, target: int | None, method: str,
                        params: dict | None = None, layer: str | None = None,
                        seed: int = 0) -> RandomisationResult:
    """Cascading randomisation on a deep copy of ``net`` (``net`` itself is never touched).

    ``target`` None: the trained model's predicted class, kept fixed for every step.
    """
    first = attribute(net, x, target, method, params, layer)
    work = copy.deepcopy(net)
    steps, sims, signed, maps = [], [], [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in reversed([n for n, m in work.model.named_children()
                              if any(True for _ in m.parameters())]):
            _reinit(work.model.get_submodule(name))
            a = attribute(work, x, first.target, method, params, layer)
            steps.append(name)
            maps.append(a.map2d)
            sims.append(spearman(np.abs(a.map2d), np.abs(first.map2d)))
            signed.append(spearman(a.map2d, first.map2d))
    mean = float(np.mean(signed)) if signed else 1.0
    flagged = mean >= FLAG_AT
    if flagged:
        message = (f"The map barely changes as the model's layers are randomised (mean rank "
                   f"correlation {mean:.2f}): it shows the input more than what the model learned.")
    else:
        message = (f"Randomising the model's layers changes the map (mean rank correlation {mean:.2f}, "
                   f"{signed[-1]:.2f} with every layer random): it depends on what the model learned.")
    return RandomisationResult(steps, sims, signed, maps, first.map2d, flagged, message, mean)


def _reinit(module: torch.nn.Module) -> None:
    """Fresh initial weights for every part of the module that has them (convs,
    linears, batch norms with their running statistics)."""
    for m in module.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
        if hasattr(m, "reset_running_stats"):
            m.reset_running_stats()
