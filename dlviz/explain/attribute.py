"""``attribute``: one sample, one method -> plain numpy arrays, model left untouched."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np
import torch

from dlviz.build import BuiltNet
from dlviz.errors import UserError
from dlviz.explain.guard import borrowed, fast_convs
from dlviz.explain.job import Job
from dlviz.explain.layers import available_methods, default_layer, layer_choices
from dlviz.explain.params import resolve
from dlviz.explain.registry import METHODS, param_view
from dlviz.plots.style import fmt_number

SEED = 0     # SmoothGrad / GradientSHAP noise: the same map every time for the same input


@contextmanager
def _seeded(device: torch.device) -> Iterator[None]:
    """Fixed torch and numpy seeds inside (Captum's GradientSHAP draws from numpy's
    global generator); both generators' states are put back afterwards."""
    np_state = np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
            torch.manual_seed(SEED)
            np.random.seed(SEED)
            yield
    finally:
        np.random.set_state(np_state)


@dataclass
class Attribution:
    method: str
    target: int
    values: np.ndarray            # float32, x's shape (C, H, W) or (F,); (U,) when not in_input_space
    map2d: np.ndarray             # float32 (H, W) for images, (F,) or (U,) for vectors; signed
    delta: float | None           # convergence delta (IG, DeepLIFT, conductance; GradientSHAP: mean |delta|)
    seconds: float
    layer: str | None = None
    params: dict = field(default_factory=dict)
    in_input_space: bool = True   # False: conductance of a dense layer, one value per unit


def attribute(net: BuiltNet, x: torch.Tensor, target: int | None, method: str,
              params: dict | None = None, layer: str | None = None) -> Attribution:
    """Explain the model's output ``target`` for one input ``x`` (no batch dim).

    ``map2d`` is what a heat map shows: for images the attribution summed over
    channels (Grad-CAM and conductance: the layer's map upsampled to H x W).
    ``target`` None means the predicted class; a single-output (regression)
    model always explains output 0. The model runs in eval mode and is left
    as it was (mode, requires_grad, no hooks), also when this raises. Its
    parameters are frozen while this runs, so pass a model nobody is training
    at the same time (one loaded from a snapshot, as the pages do).
    Raises ``UserError`` for an unknown method, bad settings or a bad layer.
    """
    m = METHODS.get(method)
    if m is None:
        raise UserError(f"unknown attribution method '{method}'; choose one of: {', '.join(METHODS)}")
    model = net.model
    shape = tuple(net.report.layers[0].input_shape)
    # a vector input has its own defaults (occlusion: one feature at a time, not a window of
    # 4 clipped to cover both features of a 2-D input); a blur baseline is refused below, by name
    spec = tuple(replace(param_view(method, q, len(shape) == 3), choices=q.choices) for q in m.params)
    p = resolve(method, m.label, spec, params)
    x = torch.as_tensor(x)
    if tuple(x.shape) != shape:
        raise UserError(f"the input has shape {list(x.shape)}, the model needs {list(shape)}")
    if not torch.isfinite(x).all():
        raise UserError("the input holds NaN or infinite values")
    if method not in available_methods(net):
        raise UserError(f"{m.label} needs a convolution layer; this network has none")
    layer_mod = None
    if m.needs_layer:
        layer = layer or default_layer(net, method)
        if layer not in layer_choices(net, method):
            raise UserError(f"{m.label} cannot use layer '{layer}'; choose one of: "
                            f"{', '.join(layer_choices(net, method))}")
        layer_mod = dict(model.named_children())[layer]
    elif layer is not None:
        raise UserError(f"{m.label} does not take a layer")
    outputs = net.report.layers[-1].output_shape[0]
    device = next(iter(model.parameters()), torch.empty(0)).device
    xb = x.detach().to(device=device, dtype=torch.float32).clone().unsqueeze(0)   # (1, *shape)

    t0 = time.perf_counter()
    with borrowed(model), fast_convs(xb) as xb:
        if outputs == 1:
            target = 0                                  # regression: the one output
        elif target is None:
            with torch.no_grad():
                target = int(model(xb).argmax(dim=1)[0])
        elif isinstance(target, bool) or not isinstance(target, (int, np.integer)) \
                or not 0 <= int(target) < outputs:
            raise UserError(f"target class must be a whole number from 0 to {outputs - 1}, got {target!r}")
        # a leaf that already requires grad: Captum would set it itself, with a warning per call
        job = Job(model, xb.detach().requires_grad_(), int(target), p, layer_mod, layer)
        if m.random:
            with _seeded(device):
                raw = m.run(job)
        else:
            raw = m.run(job)
    seconds = time.perf_counter() - t0

    values = np.ascontiguousarray(raw.values.detach()[0].float().cpu().numpy())   # drop the batch dim
    if raw.map2d is not None:
        map2d = np.ascontiguousarray(raw.map2d.detach().float().cpu().numpy())
    elif raw.in_input_space and values.ndim == 3:
        map2d = values.sum(axis=0)                                      # (C, H, W) -> (H, W)
    else:
        map2d = values
    delta = raw.delta if raw.delta is None or np.isfinite(raw.delta) else None
    return Attribution(method, int(target), values.astype(np.float32), map2d.astype(np.float32),
                       delta, seconds, layer, p, raw.in_input_space)


# a convergence delta above this share of the attributions' own size is flagged
DELTA_FLAG = 0.1
# what shrinks the delta, per method that has one
_DELTA_FIX = {
    "integrated_gradients": "more integration steps shrink it",
    "layer_conductance": "more integration steps shrink it",
    "gradient_shap": "more random samples (or a baseline closer to the input) shrink it",
    "deeplift": "DeepLIFT's rules are exact only for some layers, so no setting shrinks it",
}


@dataclass(frozen=True)
class DeltaCheck:
    delta: float
    scale: float        # the attributions' size: the larger of |their sum| and the map's largest |value|
    large: bool         # |delta| over DELTA_FLAG of the scale: the map does not add up to the score change
    text: str           # one or two sentences for the page


def delta_check(a: Attribution) -> DeltaCheck | None:
    """Is the convergence delta small next to the attributions it qualifies?

    Path methods promise that the attributions add up to the score's change from
    the baseline; the delta is how far they miss. On its own ("delta 2") it says
    nothing: against maps of +-0.42 a delta of 2 means the map is mostly error.
    None for a method without a delta.
    """
    if a.delta is None:
        return None
    d = abs(float(a.delta))
    scale = max(abs(float(np.sum(a.values))), float(np.max(np.abs(a.map2d))) if a.map2d.size else 0.0)
    large = d > DELTA_FLAG * scale
    shown = f"Convergence delta: {fmt_number(a.delta)}"
    if large:
        fix = _DELTA_FIX.get(a.method, "")
        text = (f"{shown}, large next to the attributions themselves (up to {fmt_number(scale)}): they do "
                f"not add up to the change in the score, so read this map with care"
                + (f"; {fix}." if fix else "."))
    else:
        text = f"{shown}, small next to the attributions (up to {fmt_number(scale)}): they add up."
    return DeltaCheck(float(a.delta), scale, large, text)
