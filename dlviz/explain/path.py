"""Methods that compare the input with a baseline (a reference "absent" input)."""

from __future__ import annotations

import torch
from captum.attr import DeepLift, GradientShap, IntegratedGradients

from dlviz.explain.baselines import make_baseline
from dlviz.explain.job import Job, Raw, batch_limit, spread


def integrated_gradients(job: Job) -> Raw:
    # (x - b) * mean gradient along the straight path b -> x; sums to f(x) - f(b) - delta
    n = job.params["n_steps"]
    ig = IntegratedGradients(job.model)
    values, delta = ig.attribute(job.x, baselines=make_baseline(job.x, job.params["baseline"]),
                                 target=job.target, n_steps=n, method="gausslegendre",
                                 internal_batch_size=min(n, batch_limit(job.x)),
                                 return_convergence_delta=True)
    return Raw(values, float(delta.reshape(-1)[0]))


def gradient_shap(job: Job) -> Raw:
    # expected gradients: IG with random points on random paths from a set of baselines
    kinds = ("zero", "blur", "min") if job.x.ndim == 4 else ("zero", "min")
    baselines = torch.cat([make_baseline(job.x, k) for k in kinds])     # (k, *input_shape)
    gs = GradientShap(job.model)
    values, delta = gs.attribute(job.x, baselines=baselines, n_samples=job.params["n_samples"],
                                 stdevs=job.params["stdevs"] * spread(job.x), target=job.target,
                                 return_convergence_delta=True)
    # one delta per random sample: report their mean size
    return Raw(values, float(delta.abs().mean()))


def deeplift(job: Job) -> Raw:
    # (x - b) * multipliers from the rescale rule: differences from the baseline, layer by layer
    values, delta = DeepLift(job.model).attribute(
        job.x, baselines=make_baseline(job.x, job.params["baseline"]), target=job.target,
        return_convergence_delta=True)
    return Raw(values, float(delta.reshape(-1)[0]))
