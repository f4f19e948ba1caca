"""The one timing rule of the latency benchmarks: a warm-up call, then the median of repeats."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def median_s(fn: Callable[[], object], repeats: int) -> float:
    """Seconds: the median of ``repeats`` calls of ``fn`` after one warm-up call (lazy
    imports, first allocations)."""
    fn()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
