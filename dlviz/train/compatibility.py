"""Whether a network can be trained on a dataset: input shape, task, outputs.

The one check used by the trainer, the run registry (``backend.check_run``,
before a run is queued) and the Train page (before Start is offered), so the
page refuses exactly what training would refuse.
"""

from __future__ import annotations

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec


def compatibility_problem(spec: NetSpec, ds: Dataset) -> str | None:
    """What makes ``spec`` untrainable on ``ds``, in one sentence; None when it fits."""
    if tuple(spec.input_shape) != tuple(ds.input_shape):
        return (f"the network expects input {list(spec.input_shape)} but dataset "
                f"'{ds.key}' gives {list(ds.input_shape)}")
    if spec.task != ds.task:
        return f"the network does {spec.task} but dataset '{ds.key}' is {ds.task}"
    if spec.outputs != ds.output_size:
        return f"the network has {spec.outputs} outputs but dataset '{ds.key}' needs {ds.output_size}"
    return None


def check_compatible(spec: NetSpec, ds: Dataset) -> None:
    """Raise ``UserError`` with ``compatibility_problem``'s sentence when they do not fit."""
    problem = compatibility_problem(spec, ds)
    if problem is not None:
        raise UserError(problem)
