"""A lesson as data: a set-up (dataset, network, settings) and a sequence of steps.

Each step is one sentence of explanation, one action for the student, the
view that shows the point, and an optional check the app evaluates on the
student's own runs (``checks.py``). Lessons live one per module in
``dlviz/lessons/catalog/``; see docs/ARCHITECTURE.md, "Lessons".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:                       # only for annotations: no import cycle at run time
    from dlviz.lessons.facts import Work
    from dlviz.workspace import Workspace

# where a step's point is seen; the UI maps each to a page (and a view on it)
VIEWS = ("build", "train", "layer health", "inside", "explain", "compare", "lesson chart")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
MAX_STEPS = 12


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    text: str                            # what was measured, or what is still missing


@dataclass(frozen=True)
class Check:
    """``fn(work) -> CheckResult``: a pure function of the student's runs."""
    goal: str                            # what it looks for, said before it passes
    fn: Callable[["Work"], CheckResult]
    costly: bool = False                 # computes on the model: the UI caches it per run and step

    def __call__(self, work: "Work") -> CheckResult:
        return self.fn(work)


@dataclass(frozen=True)
class Step:
    text: str                            # one sentence (or two) of explanation
    action: str                          # the one thing to do
    view: str = "train"                  # one of VIEWS
    check: Check | None = None           # None: a step to look, nothing to check
    done: str = ""                       # said after a passed check ("you made the network deep enough")


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    summary: str
    setup: Callable[[], "Workspace"]     # dataset, network and settings the lesson starts from
    steps: tuple[Step, ...] = field(default_factory=tuple)
    order: int = 100                     # place in the list (then the key)

    def validate(self) -> "Lesson":
        if not KEY_PATTERN.match(self.key):
            raise ValueError(f"lesson key {self.key!r} must be 2-32 of a-z, 0-9 and '-'")
        if not self.title or not self.steps or len(self.steps) > MAX_STEPS:
            raise ValueError(f"lesson {self.key}: needs a title and 1 to {MAX_STEPS} steps")
        for i, s in enumerate(self.steps):
            if s.view not in VIEWS:
                raise ValueError(f"lesson {self.key} step {i + 1}: unknown view {s.view!r}")
        return self

    @property
    def link(self) -> str:
        """The page path that opens this lesson (relative to the app's address)."""
        return f"lessons?lesson={self.key}"

    def workspace_link(self) -> str:
        """``lessons?lesson=KEY&net=...``: the lesson and its set-up in one link."""
        return f"{self.link}&net={self.setup().to_url()}"
