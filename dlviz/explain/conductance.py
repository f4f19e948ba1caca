"""Layer conductance: how much of the class score flows through a chosen hidden layer."""

from __future__ import annotations

from captum.attr import LayerConductance

from dlviz.explain.baselines import make_baseline
from dlviz.explain.cam import upsampled
from dlviz.explain.job import Job, Raw, batch_limit


def layer_conductance(job: Job) -> Raw:
    # integrated gradients of the score w.r.t. the layer's units, baseline b -> x:
    # (1, *layer_shape); the units' total is f(x) - f(b) up to the reported delta
    n = job.params["n_steps"]
    values, delta = LayerConductance(job.model, job.layer).attribute(
        job.x, baselines=make_baseline(job.x, job.params["baseline"]), target=job.target,
        n_steps=n, internal_batch_size=min(n, batch_limit(job.x)), return_convergence_delta=True)
    d = float(delta.reshape(-1)[0])
    if values.ndim == 4:
        raw = upsampled(values.sum(dim=1, keepdim=True), job.x)   # channels summed: (1, 1, h, w)
        raw.delta = d
        return raw
    # a dense layer has no place in the input: one value per unit, (1, U)
    return Raw(values, d, in_input_space=False)
