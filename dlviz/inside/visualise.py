"""What a unit is looking for: an input optimised to excite it (activation maximisation).

Gradient ascent on the pixels of one image, starting from faint noise on
mid-grey, with the usual simple regularisers (Olah et al., "Feature
Visualization", 2017):

* jitter: the image is shifted by a few random pixels before every step, so
  the pattern cannot rely on exact pixel positions (kills high-frequency noise);
* blur: a small Gaussian blur every few steps keeps the image smooth;
* clamp: pixels stay inside what the dataset's normalisation can produce
  (pixel values 0..1), so the result is an input the model could really get.

The objective is the unit's value (dense-like output) or, for a feature-map
channel, the channel's **mean over space** (``where="mean"``), so the pattern
tiles the image; ``where="centre"`` excites the channel at the centre
position only, which draws one receptive field (for the first conv layer:
the filter itself, as a picture).
Only the image gets a gradient (``torch.autograd.grad`` w.r.t. the image):
the model's weights, ``.grad`` fields and ``requires_grad`` flags are left
alone; the hook on the module is removed when done. A private generator
seeded by ``seed`` makes the result reproducible without touching the global
RNG.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlviz.build import BuiltNet
from dlviz.probe import capture
from dlviz.train.device import device_of

# monotonic element-wise activations: the same unit exists in their input
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.GELU, nn.Tanh, nn.Sigmoid)


def _gaussian_kernel(sigma: float, channels: int) -> torch.Tensor:
    """(C, 1, 3, 3): a depthwise 3x3 Gaussian blur."""
    t = torch.tensor([-1.0, 0.0, 1.0])
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    k = torch.outer(g, g)
    return (k / k.sum()).expand(channels, 1, 3, 3).contiguous()


def _objective(out: torch.Tensor, unit: int, where: str) -> torch.Tensor:
    """(1, U) -> the unit; (1, C, H, W) -> the channel's mean over space, or its centre value."""
    v = out[0, unit]                                   # () or (H, W)
    if v.ndim == 0:
        return v
    return v.mean() if where == "mean" else v[v.shape[0] // 2, v.shape[1] // 2]


def _forward_to(net: BuiltNet, module_name: str, x: torch.Tensor) -> dict:
    """Run the top-level modules only as far as the one holding ``module_name``
    (cheaper than the whole model); return that module's input and output, with autograd."""
    top = module_name.split(".")[0]
    with capture(net.model, [module_name], inputs=True, detach=False) as probe:
        h = x
        for name, m in net.model.named_children():
            h = m(h)
            if name == top:
                break
    return {"input": probe.inputs[module_name], "output": probe.outputs[module_name]}


def visualise_unit(net: BuiltNet, module_name: str, unit: int, steps: int = 96, lr: float = 0.05,
                   jitter: int = 2, blur_every: int = 4, blur_sigma: float = 0.5, seed: int = 0,
                   input_shape: Sequence[int] | None = None, norm_mean: Sequence[float] = (),
                   norm_std: Sequence[float] = (), where: str = "mean") -> np.ndarray:
    """An input image that excites ``unit`` of ``module_name`` -> uint8 (H, W, 3).

    ``lr`` is the step size as a fraction of the valid pixel range (the gradient
    is normalised to mean |g| = 1 each step). ``norm_mean``/``norm_std`` are the
    dataset's per-channel normalisation (pixels in 0..1); empty means none.
    Grayscale models give a grey RGB image.
    """
    if where not in ("mean", "centre"):
        raise ValueError(f"where must be 'mean' or 'centre', got {where!r}")
    model = net.model
    shape = tuple(input_shape or net.report.layers[0].input_shape)
    if len(shape) != 3:
        raise ValueError(f"feature visualisation needs an image input (C, H, W), got {shape}")
    c = shape[0]
    device = device_of(model)
    mean = torch.as_tensor(list(norm_mean) or [0.0] * c, dtype=torch.float32).reshape(1, c, 1, 1)
    std = torch.as_tensor(list(norm_std) or [1.0] * c, dtype=torch.float32).reshape(1, c, 1, 1)
    lo, hi = (0.0 - mean) / std, (1.0 - mean) / std                  # (1, C, 1, 1) valid range
    gen = torch.Generator().manual_seed(seed)
    pixels = 0.5 + 0.05 * torch.randn((1, *shape), generator=gen)  # (1, C, H, W) faint noise on grey
    img = ((pixels - mean) / std).clamp(lo, hi)
    step = lr * (hi - lo)                                          # (1, C, 1, 1)
    blur = _gaussian_kernel(blur_sigma, c)
    shifts = torch.randint(-jitter, jitter + 1, (steps, 2), generator=gen).tolist() if jitter else None

    is_act = isinstance(dict(model.named_modules()).get(module_name), _ELEMENTWISE)
    was_training = model.training
    model.eval()                               # dropout off, batch-norm running statistics
    try:
        for i in range(steps):
            x = img.clone().requires_grad_(True)
            xj = torch.roll(x, shifts=tuple(shifts[i]), dims=(2, 3)) if shifts else x
            io = _forward_to(net, module_name, xj.to(device))
            out = io["output"]
            if not 0 <= unit < out.shape[1]:
                raise ValueError(f"{module_name} has {out.shape[1]} units/channels; no unit {unit}")
            # only the image gets a gradient: weights and their .grad stay untouched
            (g,) = torch.autograd.grad(_objective(out, unit, where), x, retain_graph=is_act)
            if is_act and not bool(g.any()):
                # a ReLU that is off everywhere has no gradient: climb its input
                # (the pre-activation) until it turns on
                (g,) = torch.autograd.grad(_objective(io["input"], unit, where), x)
            g = g.cpu()
            with torch.no_grad():
                img = img + step * g / (g.abs().mean() + 1e-12)
                if blur_every and (i + 1) % blur_every == 0:
                    img = F.conv2d(F.pad(img, (1, 1, 1, 1), mode="replicate"), blur, groups=c)
                img = torch.max(torch.min(img, hi), lo)
    finally:
        model.train(was_training)
    rgb = ((img * std + mean) * 255).round().clamp(0, 255).to(torch.uint8)[0]   # (C, H, W)
    rgb = rgb.permute(1, 2, 0).numpy()                                           # (H, W, C)
    if c == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    elif c != 3:
        rgb = np.repeat(rgb.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    return np.ascontiguousarray(rgb)
