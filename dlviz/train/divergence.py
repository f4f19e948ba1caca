"""The divergence watch: a run stops when its loss is NaN, or grows far past its start.

Divergence without NaN: a short running mean of the step loss far above
where it started (the smallest of the first steps' losses, floored so that a
tiny regression loss does not trip on noise) stops the run, as a NaN does.
Each step costs a few Python float operations on the loss the loop already
read to the host: no device read.
"""

from __future__ import annotations

import math

DIVERGE_FACTOR = 100.0     # running mean above this times the starting loss: diverged
CALM_FACTOR = 10.0         # below this times the starting loss the weights count as good
LOSS_FLOOR = 0.1           # the starting loss is taken as at least this (limit >= 10)
START_STEPS = 5            # the starting loss: the smallest of the first steps' losses
LOSS_EMA = 1 / 3           # running-mean weight of the newest step (~ the last 5 steps)

NOT_FINITE, GROWN = "not finite", "grown"


class DivergenceWatch:
    def __init__(self) -> None:
        # infinite limits until the first step
        self.loss_start = math.inf      # the starting loss
        self.loss_mean = 0.0            # running mean of the step loss
        self.calm_limit = math.inf
        self.diverge_limit = math.inf
        self.calm_step = 0              # last step whose running mean was below the calm limit

    def observe(self, step: int, loss_value: float) -> str | None:
        """The loss of step ``step`` (1-based), before its update: NOT_FINITE or GROWN
        when the run must stop there, else None."""
        if not math.isfinite(loss_value):
            return NOT_FINITE
        if step <= START_STEPS:
            self._watch_start(step, loss_value)
        mean = self.loss_mean = self.loss_mean + LOSS_EMA * (loss_value - self.loss_mean)
        if mean > self.calm_limit:
            if mean > self.diverge_limit:
                return GROWN
        else:
            self.calm_step = step
        return None

    def _watch_start(self, step: int, loss_value: float) -> None:
        """One of the first START_STEPS losses: set the starting loss and the limits.

        The smallest of them, not their mean: a run that explodes within its
        first steps would otherwise raise its own limit past its explosion."""
        if loss_value < self.loss_start:
            self.loss_start = loss_value
            base = max(loss_value, LOSS_FLOOR)
            self.calm_limit = CALM_FACTOR * base
            self.diverge_limit = DIVERGE_FACTOR * base
        if step == 1:
            self.loss_mean = loss_value

    def good_until(self, grown: bool, step_count: int) -> int:
        """The last step whose snapshot counts as good weights (``step_count`` steps taken).

        A non-finite loss: the current weights gave it, so a snapshot of them is not
        good; a grown loss: neither are those taken after it left its calm range (a
        snapshot at step s gave the loss of step s + 1)."""
        return self.calm_step - 1 if grown else step_count - 1

    def message(self, loss_value: float, grown: bool, step_count: int, batches_per_epoch: int,
                lr: float, last_kept: int) -> str:
        step = step_count + 1          # the step whose loss showed it (not taken)
        what = (f"the loss grew from {self.loss_start:.3g} to {loss_value:.3g} by step {step}"
                if grown else f"the loss became {loss_value} at step {step}")
        return (f"{what} (epoch {step_count // batches_per_epoch + 1}); "
                f"the learning rate {lr:g} is probably too high — try {lr / 10:g}. "
                f"The weights of step {last_kept} are kept.")
