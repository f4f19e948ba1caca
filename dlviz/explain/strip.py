"""Attribution over training: one input, one method, at every snapshot of the timeline."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch

from dlviz.build import BuiltNet
from dlviz.explain.attribute import attribute
from dlviz.views._eval import inference


def attribution_strip(net_factory: Callable[[], BuiltNet],
                      snapshots: Iterable[tuple[int, dict[str, torch.Tensor]]], x: torch.Tensor,
                      target: int | None, method: str, params: dict | None = None,
                      layer: str | None = None) -> list[tuple[int, np.ndarray]]:
    """[(step, map2d)] in the order given.

    ``net_factory()`` builds the network on the CPU (e.g. ``lambda: build(spec)``);
    it is built once and each snapshot's weights are loaded into it in turn.
    ``snapshots``: (step, state_dict) pairs (of a timeline's ``Snapshot``:
    ``(s.step, s.weights)``).
    ``target`` None: the class the *last* snapshot predicts, kept for every
    step, so the strip shows one question answered over time.
    """
    pairs = [(int(step), weights) for step, weights in snapshots]
    if not pairs:
        return []
    net = net_factory()
    if target is None:
        net.model.load_state_dict(pairs[-1][1])
        with inference(net.model) as device:
            out = net.model(torch.as_tensor(x, dtype=torch.float32).unsqueeze(0).to(device))
        target = int(out.argmax(dim=1)[0])
    frames = []
    for step, weights in pairs:
        net.model.load_state_dict(weights)
        frames.append((step, attribute(net, x, target, method, params, layer).map2d))
    return frames
