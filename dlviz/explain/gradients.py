"""Methods that read the gradient of the class score at the input itself."""

from __future__ import annotations

from captum.attr import GuidedBackprop, InputXGradient, NoiseTunnel, Saliency

from dlviz.explain.job import Job, Raw, batch_limit, spread


def saliency(job: Job) -> Raw:
    # |d score / d x|: (1, *input_shape), non-negative
    return Raw(Saliency(job.model).attribute(job.x, target=job.target, abs=True))


def input_x_gradient(job: Job) -> Raw:
    # x * d score / d x: signed, first-order share of the score per input value
    return Raw(InputXGradient(job.model).attribute(job.x, target=job.target))


def smoothgrad(job: Job) -> Raw:
    # mean |gradient| over noisy copies of x; the noise std is a fraction of x's range
    n = job.params["nt_samples"]
    nt = NoiseTunnel(Saliency(job.model))
    values = nt.attribute(job.x, nt_type="smoothgrad", nt_samples=n,
                          nt_samples_batch_size=min(n, batch_limit(job.x)),
                          stdevs=job.params["stdevs"] * spread(job.x), target=job.target, abs=True)
    return Raw(values)


def guided_backprop(job: Job) -> Raw:
    # gradient with negative signals stopped at every ReLU on the way back
    return Raw(GuidedBackprop(job.model).attribute(job.x, target=job.target))
