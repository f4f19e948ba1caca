"""All lessons: every module of ``dlviz/lessons/catalog/`` that defines ``LESSON``.

Found by listing the package, so adding a lesson is adding one file there
(docs/ARCHITECTURE.md, "Lessons"). Keys are checked unique and well formed.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from dlviz.errors import UserError
from dlviz.lessons import catalog
from dlviz.lessons.lesson import KEY_PATTERN, Lesson


@functools.lru_cache(maxsize=1)
def lessons() -> dict[str, Lesson]:
    """key -> Lesson, in teaching order."""
    found: list[Lesson] = []
    for info in pkgutil.iter_modules(catalog.__path__):
        module = importlib.import_module(f"{catalog.__name__}.{info.name}")
        lesson = getattr(module, "LESSON", None)
        if isinstance(lesson, Lesson):
            found.append(lesson.validate())
    keys = [l.key for l in found]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"two lessons share the key {twice[0]!r}")
    return {l.key: l for l in sorted(found, key=lambda l: (l.order, l.key))}


def get_lesson(key) -> Lesson:
    """The lesson ``key`` (from a link: any value), or one UserError naming the choices."""
    if not isinstance(key, str) or not KEY_PATTERN.match(key) or key not in lessons():
        raise UserError(f"unknown lesson {str(key)[:40]!r}; choose one of: {', '.join(lessons())}")
    return lessons()[key]
