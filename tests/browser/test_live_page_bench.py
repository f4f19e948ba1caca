"""The live-page benchmark reads the page it measures: one short round, its figures there.

``bench/live_page.py`` reads what a person sees (the progress line, the curves'
captions, the pictures on screen). This checks that it still finds each of them
on today's page, and that the page answered every control; no time is asserted
(the machines are shared: timing belongs to the benchmark's own figures).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT, _unavailable


def test_live_page_bench_finds_every_figure_on_the_page():
    if shutil.which("chromium") is None:
        _unavailable("no `chromium` on PATH (apt-get install chromium chromium-driver)")
    pytest.importorskip("playwright")
    out = subprocess.run([sys.executable, "-m", "bench.live_page", "--rounds", "1", "--seconds", "4",
                          "--settle-s", "1.5", "--epochs", "2000"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.strip().splitlines() if line.startswith("{")]
    assert len(lines) == 2 and lines[-1]["summary"] and lines[0]["round"] == 1
    r = lines[0]
    assert r["redraws"] >= 3                       # the progress line moved while watched
    assert r["first_live_picture_s"] > 0
    # the pictures were found on screen at every redraw (four while running: two curves,
    # the boundary, the network), and none was blank after the first complete picture
    assert r["chart_elements_min_max_after"][0] >= 4
    assert r["redraws_with_a_blank_chart_after"] == 0
    # nothing animates between redraws (no stale fade, no gliding progress bar)
    assert r["animations_running_max"] == 0
    # the accuracy caption was read: the circle is solved within seconds
    assert r["test_accuracy_shown_max"] > 0.8
    assert 0 < r["ratio_page_open_vs_headless"] < 3
    for control in ("pause_s", "resume_s", "step_s", "stop_s"):
        assert r[control] > 0
    assert set(r["cpu_cores_used"]) == {"server", "workers", "chromium_renderer", "chromium_other"}
