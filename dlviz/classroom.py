"""A class on one server: a teacher opens a class, students join it with its code.

The teacher's board lists each member's newest run (name, network, status,
accuracy, what its thumbnail shows). Owners are the browser ids of
``ui/identity.py``: joining does not hand anyone control of anything; the
board reads runs through ``RunRegistry.runs_of`` and never marks them seen,
so a projected board does not keep idle runs alive. Every typed value (a
code, a name) is normalised and bounded here, with one clear message.
See docs/ARCHITECTURE.md, "A class board".
"""

from __future__ import annotations

import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from dlviz.errors import UserError

# no 0/O, 1/I/L: read off a projector and typed by 30 students
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 5
MAX_CODE_INPUT = 32                 # characters looked at in a typed code (spaces, dashes)
MAX_CLASSES = 64                    # open classes per server
MAX_MEMBERS = 60                    # students per class
CLASS_TTL_S = 8 * 3600.0            # a class closes by itself after a school day
MAX_NAME_CHARS = 40


class ClassError(UserError):
    """A code or name that cannot be used, or a class that is full or gone."""


@dataclass(frozen=True)
class Member:
    owner: str
    name: str                       # as shown on the board (a name or a seat)
    joined: float


@dataclass
class ClassRoom:
    code: str
    teacher: str
    opened: float
    expires: float
    members: dict[str, Member] = field(default_factory=dict)   # owner -> Member, join order


@dataclass(frozen=True)
class BoardRow:
    """One student on the board: their newest run, or none yet."""
    name: str
    owner: str
    run_id: str | None = None
    network: str = ""               # "playground · 2 hidden (tanh)"
    dataset: str = ""
    status: str = "no run yet"
    step: int = 0
    accuracy: float | None = None   # test accuracy (final, else the newest evaluation)
    loss: float | None = None       # test loss, for regression
    thumbnail: str = ""             # "boundary" (2-D data), "confusion" (images) or ""
    runs: int = 0                   # runs of this student the server keeps


def normalise_code(text) -> str:
    """A typed class code, upper-cased, spaces and dashes dropped; ClassError if not one."""
    if not isinstance(text, str):
        raise ClassError("a class code is text")
    code = "".join(ch for ch in text[:MAX_CODE_INPUT].upper() if ch not in " -\t")
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        raise ClassError(f"a class code is {CODE_LENGTH} letters and digits, like K7QXM; "
                         "ask your teacher for it")
    return code


def clean_name(text) -> str:
    """A name or seat to show on the board: 1 to MAX_NAME_CHARS printable characters."""
    if not isinstance(text, str):
        raise ClassError("a name is text")
    name = " ".join(text[:4 * MAX_NAME_CHARS].split())          # one space between words
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ClassError("a name cannot hold control characters")
    if not name:
        raise ClassError("type your name or seat number")
    if len(name) > MAX_NAME_CHARS:
        raise ClassError(f"a name is at most {MAX_NAME_CHARS} characters")
    return name


class Classes:
    """The open classes of one server (process-wide; thread-safe)."""

    def __init__(self, max_classes: int = MAX_CLASSES, max_members: int = MAX_MEMBERS,
                 ttl_s: float = CLASS_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.max_classes, self.max_members, self.ttl_s = max_classes, max_members, ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._classes: dict[str, ClassRoom] = {}
        self._member_of: dict[str, str] = {}          # owner -> code

    # -- the teacher -------------------------------------------------------------------
    def open(self, teacher: str) -> ClassRoom:
        """A new class taught by ``teacher`` (their open one, if they have one)."""
        with self._lock:
            self._sweep()
            mine = self._taught_by(teacher)
            if mine is not None:
                return mine
            if len(self._classes) >= self.max_classes:
                raise ClassError(f"this server already has {self.max_classes} open classes; "
                                 "close one to open another")
            code = self._new_code()
            now = self._clock()
            room = ClassRoom(code, teacher, now, now + self.ttl_s)
            self._classes[code] = room
            return room

    def close(self, code: str, teacher: str) -> None:
        with self._lock:
            room = self._classes.get(code)
            if room is not None and room.teacher == teacher:
                self._drop(room)

    def taught_by(self, teacher: str) -> ClassRoom | None:
        with self._lock:
            self._sweep()
            return self._taught_by(teacher)

    # -- the students -------------------------------------------------------------------
    def join(self, code_text, owner: str, name_text) -> Member:
        """``owner`` joins the class ``code_text`` as ``name_text`` (leaving any other class)."""
        code, name = normalise_code(code_text), clean_name(name_text)
        with self._lock:
            self._sweep()
            room = self._classes.get(code)
            if room is None:
                raise ClassError(f"no open class has the code {code}; check it with your teacher")
            if room.teacher == owner:
                raise ClassError("this browser opened the class: join it from a student's browser")
            if owner not in room.members and len(room.members) >= self.max_members:
                raise ClassError(f"class {code} is full ({self.max_members} students)")
            self._leave(owner)
            taken = {m.name for m in room.members.values()}
            shown, n = name, 2
            while shown in taken:                      # two students called Sam: "Sam (2)"
                shown, n = f"{name} ({n})", n + 1
            member = Member(owner, shown, self._clock())
            room.members[owner] = member
            self._member_of[owner] = code
            return member

    def leave(self, owner: str) -> None:
        with self._lock:
            self._leave(owner)

    def membership(self, owner: str) -> tuple[ClassRoom, Member] | None:
        with self._lock:
            self._sweep()
            room = self._classes.get(self._member_of.get(owner, ""))
            return (room, room.members[owner]) if room and owner in room.members else None

    def get(self, code: str) -> ClassRoom | None:
        with self._lock:
            self._sweep()
            return self._classes.get(code)

    # -- the board ------------------------------------------------------------------------
    def board(self, code: str, registry) -> list[BoardRow]:
        """One row per member, in join order: their newest run as the registry keeps it."""
        room = self.get(code)
        if room is None:
            return []
        with self._lock:
            members = list(room.members.values())
        return [board_row(m, registry.runs_of(m.owner)) for m in members]

    # -- inside the lock ------------------------------------------------------------------------
    def _taught_by(self, teacher: str) -> ClassRoom | None:
        return next((r for r in self._classes.values() if r.teacher == teacher), None)

    def _new_code(self) -> str:
        while True:                                    # 31^5 = 28 million codes, at most 64 taken
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if code not in self._classes:
                return code

    def _leave(self, owner: str) -> None:
        code = self._member_of.pop(owner, None)
        room = self._classes.get(code or "")
        if room is not None:
            room.members.pop(owner, None)

    def _drop(self, room: ClassRoom) -> None:
        self._classes.pop(room.code, None)
        for owner in room.members:
            self._member_of.pop(owner, None)

    def _sweep(self) -> None:
        now = self._clock()
        for room in [r for r in self._classes.values() if r.expires <= now]:
            self._drop(room)


def network_summary(spec) -> str:
    """"playground · 2 hidden (tanh)": a network as a board's cell names it."""
    hidden = sum(1 for l in spec.layers if "units" in l.args or "channels" in l.args)
    acts = sorted({l.args["activation"] for l in spec.layers
                   if l.args.get("activation") not in (None, "linear")})
    convs = sum(1 for l in spec.layers if "channels" in l.args)
    kind = f"{convs} conv + {hidden - convs} dense" if convs else f"{hidden} hidden"
    return f"{spec.name or 'custom'} · {kind}" + (f" ({'/'.join(acts)})" if acts else "")


def board_row(member: Member, runs: list) -> BoardRow:
    """The row for ``member`` from their runs (``RunEntry``s, oldest first)."""
    if not runs:
        return BoardRow(member.name, member.owner)
    entry = runs[-1]
    s = entry.handle.state()
    ds = entry.dataset
    final = s.final or {}
    latest = s.latest_eval()
    accuracy = final.get("test_accuracy", latest.get("test_accuracy"))
    loss = final.get("test_loss", latest.get("test_loss"))
    thumb = "boundary" if ds.points_train is not None else \
        "confusion" if ds.is_image and ds.task == "classification" else ""
    return BoardRow(member.name, member.owner, entry.run_id, network_summary(entry.spec), ds.key,
                    s.status, s.step, None if accuracy is None else float(accuracy),
                    None if loss is None else float(loss), thumb, len(runs))
