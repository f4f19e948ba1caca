"""When a run records: the schedule of its metrics, evaluations, health rows and snapshots.

Each activity (``record``: the train-loss row; ``eval``; ``health``;
``snapshot``) is due at a step. After it runs, the next is spaced so that it
costs about OVERHEAD_SHARE of training time, with at least MIN_POINTS of
each over a run where that costs at most MAX_SHARE, and none more often than
a screen can show. A ``TrainConfig``'s ``*_every`` fixes an interval instead.
Pure arithmetic on times measured by the loop (``train/loop.py``).
"""

from __future__ import annotations

import time
from typing import Callable

from dlviz.train.config import TrainConfig

OVERHEAD_SHARE = 0.01      # target share of training time for each recording activity
MIN_INTERVAL_S = 0.05      # records more often than this are never seen
MIN_POINTS = 40            # evaluations and health rows over a run, at least (if time allows)
MAX_SHARE = 0.03           # ... for which each activity may take up to this share of training
ACTIVITIES = ("record", "eval", "health", "snapshot")


class RecordingSchedule:
    def __init__(self, config: TrainConfig, total_steps: int):
        self.config = config
        self.total_steps = total_steps
        self.due = {what: 1 for what in ACTIVITIES}          # next step at which each is due
        self.next_due = 1                                    # the soonest of them: one test per step
        self.cost = {what: 0.0 for what in ACTIVITIES}       # running mean of its seconds
        self.step_time = 0.0                                 # running mean of one step's seconds
        self._every = {"record": 0, "eval": config.eval_every, "health": config.health_every,
                       "snapshot": config.snapshot_every}

    def is_due(self, what: str, step: int) -> bool:
        return step >= self.due[what]

    def note_step(self, seconds: float) -> None:
        self.step_time = 0.98 * self.step_time + 0.02 * seconds if self.step_time else seconds

    def note_steps(self, mean_seconds: float, n: int) -> None:
        """``n`` steps of ``mean_seconds`` each, timed together: on a GPU, over the window
        between two loss reads (``train/loss_reads.py``), a step's own host time being only
        the launch of its kernels. The same running mean as ``n`` calls of ``note_step``."""
        keep = 0.98 ** n
        self.step_time = keep * self.step_time + (1 - keep) * mean_seconds if self.step_time \
            else mean_seconds

    def timed(self, what: str, step_count: int, fn: Callable[[], None]) -> None:
        """Run ``fn`` (one ``what``) and space the next by its cost."""
        t0 = time.perf_counter()
        fn()
        self.reschedule(what, step_count, t0, time.perf_counter())

    def reschedule(self, what: str, step_count: int, t0: float, t1: float,
                   step_time: float | None = None) -> None:
        """Space the next ``what`` after ``step_count`` so that it costs about OVERHEAD_SHARE
        of training, no denser than the bounded series keep and a screen can show.
        ``step_time``: the step time to weigh it against (default: the running mean)."""
        self.cost[what] = t1 - t0 if not self.cost[what] else 0.8 * self.cost[what] + 0.2 * (t1 - t0)
        st = max(self.step_time if step_time is None else step_time, 1e-7)
        by_cost = self.cost[what] / (OVERHEAD_SHARE * st)
        every = self._every[what]
        if every:
            interval = every
        elif what == "snapshot":
            # geometric early (1, 2, 4, ...), then spread the timeline over the run: as many
            # as it keeps (twice as many were taken, the timeline thinning every other one:
            # 127 snapshots on a 6,500-step run for 60 kept)
            interval = max(step_count, 1) if step_count < 64 else max(
                by_cost, self.total_steps / self.config.max_snapshots)
        else:
            # At most ~1% of training time each, and no more often than a screen can
            # show. But evaluations and health at least MIN_POINTS times over a run (a
            # curve of 3 points says nothing), up to MAX_SHARE of training time, so one
            # slow measurement never pushes the next past the end. No floor from the
            # run's length: a run of 100,000 epochs shows its first points in its first
            # second too (the bounded series thin themselves evenly when full).
            at_least = self.total_steps / MIN_POINTS
            interval = max(min(by_cost, at_least), by_cost * OVERHEAD_SHARE / MAX_SHARE,
                           min(MIN_INTERVAL_S / st, at_least))
        self.due[what] = step_count + max(1, int(interval))
        self.next_due = min(self.due.values())
