"""Reading each step's loss to the host: at once on the CPU, in batches on a GPU.

The loop needs every step's loss on the host for two things: the divergence
watch (``train/divergence.py``) and the mean train loss of the history rows.
On the CPU ``loss.item()`` is free. On CUDA it is a host synchronisation: the
CPU waits for the GPU to finish the step before it may queue the next, and
the GPU then idles while the CPU launches it: on a small network, whose
kernels are shorter than their launches, that idle time is most of a step.

``LossReads`` in deferred mode keeps step losses on the device, in a
preallocated buffer of ``every`` float32 slots (``copy_`` into a slot is one
queued kernel, no wait), and reads them to the host in one copy when the
buffer is full or the loop asks (``flush``: before anything is recorded,
before a pause, at the end). The watch then sees the losses step by step in
order, and the sums are the same Python floats in the same order as in the
immediate mode, so history rows are identical between the two modes.

Detection delay: a diverged loss (NaN, or grown past the limit) is seen at
most ``every`` steps late; those few extra steps only change weights that
are already bad, no snapshot is taken between them (every recording flushes
first), and the outcome names the step whose loss showed it.
"""

from __future__ import annotations

import torch

from dlviz.train.divergence import DivergenceWatch

DEFER_EVERY = 32      # steps between two reads in deferred mode


class LossReads:
    """Step losses to the host, the divergence watch fed, and their sum since the last row."""

    def __init__(self, device: torch.device, watch: DivergenceWatch, deferred: bool | None = None,
                 every: int = DEFER_EVERY):
        self.deferred = device.type == "cuda" if deferred is None else deferred
        self.watch = watch
        self.every = max(1, every)
        self.sum = 0.0           # sum of the losses read since the last history row
        self.n = 0
        self.last = 0.0          # the newest loss read
        # deferred: (every,) float32 on the device, slots 0.._pending-1 filled; the first step
        # in it is _first_step
        self._buf = torch.zeros(self.every, device=device) if self.deferred else None
        self._pending = 0
        self._first_step = 0

    @property
    def pending(self) -> int:
        """Deferred mode: losses kept on the device, not read yet."""
        return self._pending

    @property
    def full(self) -> bool:
        """Deferred mode: the buffer is full, ``flush`` before the next ``keep``."""
        return self._pending == self.every

    def read(self, step: int, loss: torch.Tensor) -> tuple[str, int, float] | None:
        """Immediate mode: the loss of step ``step`` (a 0-dim tensor, before its update)
        read now; a verdict (what, step, loss) when the run must stop there."""
        return self._take(step, loss.item())

    def _take(self, step: int, v: float) -> tuple[str, int, float] | None:
        """One step's loss on the host: watched, then summed (a stopping loss is not)."""
        verdict = self.watch.observe(step, v)
        if verdict is not None:
            return verdict, step, v
        self.sum += v
        self.n += 1
        self.last = v
        return None

    def keep(self, step: int, loss: torch.Tensor) -> None:
        """Deferred mode: queue the loss of step ``step`` into the device buffer (no host
        read; the caller flushes when ``full``)."""
        if not self._pending:
            self._first_step = step
        self._buf[self._pending].copy_(loss.detach())
        self._pending += 1

    def flush(self) -> tuple[str, int, float] | None:
        """Read the pending losses (one host copy; a sync on CUDA) and feed the watch in
        order; the first verdict, as ``read`` gives it. No-op in immediate mode."""
        if not self._pending:
            return None
        values = self._buf[:self._pending].tolist()
        self._pending = 0
        for i, v in enumerate(values):
            ended = self._take(self._first_step + i, v)
            if ended is not None:
                return ended
        return None

    def take_mean(self) -> float | None:
        """The mean loss since the last call (None if no loss was read), and start again."""
        if not self.n:
            return None
        mean = self.sum / self.n
        self.sum, self.n = 0.0, 0
        return mean
