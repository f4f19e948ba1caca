"""GPU memory of a run, estimated before it starts, and the share of a GPU runs may use.

Several runs share one GPU; each is a process of its own (``process_backend``),
so each holds a CUDA context and its own caching allocator, and one that does
not fit would fail with an out-of-memory error in the middle of another's
epoch. So the registry (``train/runs.py``) admits a cuda run only when its
estimate fits beside the running ones' in the budget: refused at once when
it could never fit, queued until others end when it does not fit now.

The estimate (``estimate_run``) is arithmetic on the spec's shape analysis
(``dlviz/spec_analysis.py``), nothing is allocated: weights, gradients and
optimizer state (float32; with bf16, autocast's bfloat16 copies of the
weights too), the training set and the evaluation subsets (the trainer keeps
them on the device), the activations of one batch's forward and backward
(or of one evaluation batch, whichever is more: they never coexist), with an
allowance for the allocator's rounding, plus the process's CUDA context.
``tests/test_cuda.py`` checks it against ``torch.cuda.max_memory_allocated``.

The budget: ``DLVIZ_GPU_MEMORY_MB`` when set, else BUDGET_SHARE of the GPU's
memory, asked once in a worker process (the server itself never initialises
CUDA: docs/ARCHITECTURE.md, "Training on a GPU").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from dlviz.data.dataset import Dataset
from dlviz.errors import UserError
from dlviz.spec import NetSpec, SpecReport, analyse
from dlviz.train.config import TrainConfig
from dlviz.train.evaluation import EVAL_SUBSET

CONTEXT_BYTES = 512 * 2**20   # per process: CUDA context, cuBLAS/cuDNN workspaces (not in the allocator)
ALLOCATOR_SLACK = 1.25        # the caching allocator rounds blocks up and keeps freed ones
BACKWARD_FACTOR = 2.0         # backward holds a gradient the size of the activation it consumes
EVAL_BATCH = 1024             # rows per batch of the evaluations (train/evaluation.py)
BUDGET_SHARE = 0.9            # of a GPU's memory, for all runs together
BUDGET_ENV = "DLVIZ_GPU_MEMORY_MB"
MAX_BUDGET_MB = 16 * 2**20    # 16 TiB: a bound on the variable, far above any GPU
GIB = 2**30


@dataclass(frozen=True)
class GpuEstimate:
    """Bytes one run holds on its GPU at its peak, by what holds them."""
    weights: int          # parameters, gradients, optimizer state (and bf16 weight copies)
    data: int             # training set and evaluation subsets on the device
    activations: int      # one batch's forward and backward, or one evaluation batch
    context: int          # the process's CUDA context (outside the allocator)

    @property
    def total(self) -> int:
        return self.weights + self.data + self.activations + self.context

    def describe(self) -> str:
        return (f"{_gib(self.total)} (weights and optimizer {_gib(self.weights)}, data "
                f"{_gib(self.data)}, activations {_gib(self.activations)}, CUDA context "
                f"{_gib(self.context)})")


def optimizer_slots(config: TrainConfig) -> int:
    """Float32 tensors per parameter the optimizer keeps (Adam: two moments)."""
    if config.optimizer in ("adam", "adamw"):
        return 2
    if config.optimizer == "rmsprop":
        return 1 + (config.momentum > 0)
    return int(config.momentum > 0)        # sgd


def estimate_run(report: SpecReport, dataset: Dataset, config: TrainConfig) -> GpuEstimate:
    """The peak GPU bytes of one run (see the module docstring); pure arithmetic."""
    p = report.total_params
    weights = 4 * p * (2 + optimizer_slots(config)) + (2 * p if config.precision == "bf16" else 0)
    n_train, n_test = len(dataset.y_train), len(dataset.y_test)
    row_train = _row_bytes(dataset.x_train) + _row_bytes(dataset.y_train)
    row_test = _row_bytes(dataset.x_test) + _row_bytes(dataset.y_test)
    data = (n_train + min(EVAL_SUBSET, n_train)) * row_train + min(EVAL_SUBSET, n_test) * row_test
    per_sample = report.activation_bytes * (0.5 if config.precision == "bf16" else 1.0)
    train_batch = min(config.batch_size, n_train) * per_sample * (1 + BACKWARD_FACTOR)
    eval_batch = min(EVAL_BATCH, max(n_train, n_test)) * report.activation_bytes   # eval: float32
    activations = max(train_batch, eval_batch)
    slack = ALLOCATOR_SLACK
    return GpuEstimate(int(weights * slack), int(data * slack), int(activations * slack), CONTEXT_BYTES)


def _row_bytes(t) -> int:
    return t[0].numel() * t.element_size() if len(t) else 0


def budget_from_env() -> int | None:
    """``DLVIZ_GPU_MEMORY_MB`` in bytes, or None when unset; a clear error when malformed."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9 or not 1 <= int(raw) <= MAX_BUDGET_MB:
        raise UserError(f"{BUDGET_ENV} must be a whole number of MiB between 1 and "
                        f"{MAX_BUDGET_MB}, got {raw[:40]!r}")
    return int(raw) * 2**20


def device_total_bytes(device: str) -> int:
    """The memory of GPU ``device`` ("cuda:N"), asked in a worker process, so that this
    process makes no CUDA context (a fork server's parent must not, and the server
    needs none: its views run on CPU copies)."""
    from dlviz.train.process_backend import ask_in_worker
    return ask_in_worker(_total_here, device)


def _total_here(device: str) -> int:
    import torch
    return torch.cuda.mem_get_info(torch.device(device))[1]


def _gib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB" if n < GIB else f"{n / GIB:.2f} GiB"


class GpuAdmission:
    """What the registry asks about a run before it trains: which GPU it needs and how
    much of it, and how much each GPU offers. Every part is injectable: tests give
    fake numbers on a machine without a GPU."""

    def __init__(self, budget: Callable[[str], int] | int | None = None,
                 estimate: Callable[[NetSpec, Dataset, TrainConfig], GpuEstimate] | None = None,
                 device_of: Callable[[TrainConfig], str | None] | None = None):
        self._budget = budget
        self._estimate = estimate or _estimate_from_spec
        self._device_of = device_of or cuda_device_of
        self._budgets: dict[str, int] = {}

    def need(self, spec: NetSpec, dataset: Dataset, config: TrainConfig) -> tuple[str, GpuEstimate] | None:
        """(device, estimate) for a run that trains on a GPU; None for any other."""
        device = self._device_of(config)
        return None if device is None else (device, self._estimate(spec, dataset, config))

    def budget(self, device: str) -> int:
        """Bytes all runs on ``device`` may hold together (asked once per device)."""
        if device not in self._budgets:
            b = self._budget
            if b is None:
                b = budget_from_env()
                if b is None:
                    b = int(device_total_bytes(device) * BUDGET_SHARE)
            elif callable(b):
                b = b(device)
            self._budgets[device] = int(b)
        return self._budgets[device]


def _estimate_from_spec(spec: NetSpec, dataset: Dataset, config: TrainConfig) -> GpuEstimate:
    return estimate_run(analyse(spec), dataset, config)


def cuda_device_of(config: TrainConfig) -> str | None:
    """"cuda:N" when the run trains on a CUDA GPU here ("auto" picks one when there is
    one), else None. Asks ``torch.cuda.is_available`` only: no CUDA context."""
    from dlviz.train.device import pick_device
    try:
        device = pick_device(config.device)
    except UserError:
        return None                 # refused when the run starts, with its own message
    if device.type != "cuda":
        return None
    return f"cuda:{device.index or 0}"
