"""Grad-CAM and Guided Grad-CAM: where a chosen conv layer's class evidence is."""

from __future__ import annotations

import torch
from captum.attr import GuidedGradCam, LayerAttribution, LayerGradCam

from dlviz.explain.job import Job, Raw


def gradcam(job: Job) -> Raw:
    # layer map (1, 1, h, w) = sum_k mean(d score / d A_k) * A_k, not ReLU'd, so the
    # map also shows where the layer argues against the class (negative, blue)
    cam = LayerGradCam(job.model, job.layer).attribute(job.x, target=job.target,
                                                       relu_attributions=False)
    return upsampled(cam, job.x)


def guided_gradcam(job: Job) -> Raw:
    # Guided Backprop (pixel detail) x Grad-CAM (where) -> (1, C, H, W)
    values = GuidedGradCam(job.model, job.layer).attribute(job.x, target=job.target,
                                                           interpolate_mode="bilinear")
    return Raw(values)


def upsampled(layer_map: torch.Tensor, x: torch.Tensor) -> Raw:
    """(1, 1, h, w) layer map -> Raw with map2d (H, W) and values broadcast to x's channels."""
    h, w = x.shape[-2:]
    up = LayerAttribution.interpolate(layer_map, (h, w), interpolate_mode="bilinear")   # (1, 1, H, W)
    return Raw(up.expand_as(x).contiguous(), map2d=up[0, 0])
