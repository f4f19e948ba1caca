"""What the UI reads: a consistent copy of a trainer's state."""

from __future__ import annotations

from dataclasses import dataclass, field

# Life cycle: idle -> [queued -> starting ->] running <-> paused -> finished | stopped | diverged | error
# (queued and starting come from the server's run registry: a run waiting for a slot)
LIVE = ("running", "paused")
WAITING = ("queued", "starting")
ACTIVE = LIVE + WAITING             # a page showing such a run redraws by itself
ENDED = ("finished", "stopped", "diverged", "error")


@dataclass(frozen=True)
class TrainerState:
    status: str
    step: int
    total_steps: int
    epoch: float                       # fractional: 2.5 = halfway through epoch 3
    epochs: int
    device: str
    samples_per_s: float
    elapsed_s: float                   # time inside training steps
    loop_s: float                      # time in the loop, recording included, pauses excluded
    eta_s: float | None
    message: str                       # why it stopped, or what went wrong
    history: list[dict] = field(default_factory=list)   # {step, epoch, train_loss, lr}
    evals: list[dict] = field(default_factory=list)     # {step, epoch, train_*, test_*}
    health: list[dict] = field(default_factory=list)    # {step, layers: {name: {...}}}
    timeline: list[dict] = field(default_factory=list)  # {step, epoch, metrics} per snapshot
    final: dict = field(default_factory=dict)           # full test-set metrics at the end

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def latest_eval(self) -> dict:
        return self.evals[-1] if self.evals else {}
