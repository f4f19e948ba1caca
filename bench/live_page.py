"""The live Train page as a person sees it: a real browser, the server and the worker together.

Serves the app on loopback, opens the Train page in Debian's headless
Chromium, presses Start and measures from the page itself (a MutationObserver
in the page timestamps every change of the progress line and checks the
charts at that moment):

* time from the click to the first live picture (progress past step 0 with
  its charts drawn);
* redraw interval (median and 90th percentile of progress-line changes);
* redraws at which a chart on the page was blank (no plot drawn), before the
  first complete picture (charts mounting) and after it;
* the trainer's samples/s with the page open (the progress line's own
  figure, median over the run) against the same run with no page (the CLI,
  same settings, same machine, run just before) -- the ratio;
* Pause, Resume, Step and Stop latency: click to the progress line saying so
  (Step: to it showing the next step);
* the wall time from the Start click to the accuracy chart first showing a
  test accuracy of 100% (the circle reaches it; TensorFlow Playground takes
  ~2.6 s on this machine);
* the charts and pictures on screen at each redraw, checked in the frame
  about to be painted (what a screenshot shows): blank ones, and how many
  there are (Streamlit keeps a replaced chart's old copy hidden, no box);
* how far the picture's step (its caption) is from the progress line's, when
  the picture of a redraw is in (the progress line of that redraw came first);
* the CPU each part used while watching (cores: server, training workers,
  Chromium's renderer and the rest), from /proc, with the load average:
  other work on the machine moves every throughput figure.

The page is open --settle-s seconds (5) before Start: the server's first page view
starts its fork server, whose preload of torch takes 2-3 s on two busy cores; a Start
within that time waits for it (first picture 1.1-1.8 s at 1.5 s, 0.5-0.6 s at 5 s).

    python -m bench.live_page [--preset playground --dataset circle] [--seconds 8] [--rounds 3]
    python -m bench.live_page --preset lenet --dataset digits

Runs --rounds interleaved rounds (the CLI's headless run, then the page's run) and prints
one JSON line per round, then a summary line: each figure's median and range. Needs Debian's chromium and playwright (see README).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import replace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.serve import CHROMIUM_ARGS, kill_group, start_app, wait_healthy  # noqa: E402

OBSERVER = """() => {
  window.__log = [];
  const main = document.querySelector('[data-testid="stMain"]');
  let last = '';
  // textContent, never innerText: innerText lays the page out, and this runs at every
  // change of the page and 20 times a second (the measurement must not load the renderer)
  const testAccuracy = () => {       // the newest test accuracy shown, or -1
    // the accuracy chart's caption says it ("... · test 97.5% at step 1,200"): while
    // running the chart is a picture; paused or ended, a figure whose points are read
    for (const c of main.querySelectorAll('[data-testid="stCaptionContainer"]')) {
      const m = c.textContent.match(/accuracy against training step · test ([\d.]+)%/);
      if (m) return parseFloat(m[1]) / 100;
    }
    for (const gd of main.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
      const i = (gd.data || []).findIndex(t => t.name === 'test accuracy');
      const c = i >= 0 && gd.calcdata && gd.calcdata[i];
      if (c && c.length) return c[c.length - 1].y;
    }
    return -1;
  };
  // when the picture's caption changes: its step and the progress line's (the progress
  // line comes first in each redraw, the picture last; compared once both are in)
  window.__pic = [];
  let lastCap = '';
  const look = () => {
    const p = main.querySelector('[data-testid="stProgress"]');
    const text = p ? p.textContent : '';
    const capEl = [...main.querySelectorAll('[data-testid="stCaptionContainer"]')]
      .find(c => /at step [\d,]+/.test(c.textContent));
    const capText = capEl ? capEl.textContent : '';
    if (capText && capText !== lastCap) {
      lastCap = capText;
      window.__pic.push([performance.now(), text, parseInt(capText.match(/at step ([\d,]+)/)[1].replace(/,/g, ''))]);
    }
    if (text && text !== last) {
      last = text;
      // what the next painted frame shows (a screenshot's view): checked just before it
      const t = performance.now();
      requestAnimationFrame(() => check(t, text));
    }
  };
  const check = (t, text) => {
    {
      // Streamlit keeps a replaced chart's old copy hidden (no box) until the redraw
      // ends: only the charts with a box on screen count
      const charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')]
        .filter(c => c.getBoundingClientRect().height > 0);
      const blankIdx = charts.map((c, i) => (!c.querySelector('.main-svg .plot, .main-svg .cartesianlayer, .gl-container')
                                     || c.getBoundingClientRect().height < 20) ? i : -1).filter(i => i >= 0);
      // pictures (st.image): blank when no picture is laid out (a new src that has not
      // loaded yet leaves naturalWidth 0, but Chromium keeps painting the old picture, at
      // its size, until the new one is decoded)
      const imgs = [...main.querySelectorAll('[data-testid="stImage"] img')]
        .filter(im => im.closest('[data-testid="stImage"]').getBoundingClientRect().height > 0);
      const blankImg = imgs.filter(im => im.getBoundingClientRect().height < 20).length;
      // CSS animations and transitions running in that frame (each keeps the browser
      // drawing frames until it ends)
      const running = document.getAnimations().filter(a => a.playState === 'running');
      const animating = running.length;
      if (animating) window.__anims = (window.__anims || []).concat(running.map(a => Math.round(t) + ' ' +
        (a.transitionProperty || a.animationName || '?') + ' ' + ((a.effect && a.effect.target &&
         (a.effect.target.dataset.testid || a.effect.target.className)) || '')));
      window.__log.push([t, text, charts.length + imgs.length, blankIdx.length + blankImg,
                         blankIdx.join(',') + (blankImg ? ` and ${blankImg} picture(s)` : ''), testAccuracy(),
                         animating]);
    }
  };
  new MutationObserver(look).observe(main, {subtree: true, childList: true, characterData: true});
  // the accuracy chart may be redrawn after the progress line: look at it on its own too
  window.__acc = [];
  const poll = () => { window.__acc.push([performance.now(), testAccuracy()]); };
  window.__accTimer = setInterval(poll, 50);
}"""
STEP = re.compile(r"step ([\d,]+)/")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the server process, its training workers (the
    server's process group), and this benchmark's Chromium (its renderers, and
    the rest), from /proc."""
    procs = {}                                  # pid -> (ppid, pgid, cpu seconds, cmdline)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        procs[int(d)] = (int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / TICKS, cmd)

    def mine(pid: int) -> bool:                 # a descendant of this benchmark
        while pid > 1 and pid in procs:
            if pid == os.getpid():
                return True
            pid = procs[pid][0]
        return False

    out = {"server": 0.0, "workers": 0.0, "chromium_renderer": 0.0, "chromium_other": 0.0}
    for pid, (_ppid, pgid, used, cmd) in procs.items():
        if pid == server_pid:
            out["server"] += used
        elif pgid == server_pid:
            out["workers"] += used
        elif "chrom" in cmd and mine(pid):
            out["chromium_renderer" if "--type=renderer" in cmd else "chromium_other"] += used
    return out
RATE = re.compile(r"([\d,]+) samples/s")


def headless_rate(preset: str, dataset: str, epochs: int) -> float:
    """samples/s of the same run from the CLI, no page open."""
    out = subprocess.run([sys.executable, "-m", "dlviz", "train", "--preset", preset, "--dataset", dataset,
                          "--epochs", str(epochs)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "DLVIZ_THREADS": "1"}, timeout=600)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["samples_per_s"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="playground")
    ap.add_argument("--dataset", default="circle")
    ap.add_argument("--seconds", type=float, default=8.0, help="how long to watch the live run")
    ap.add_argument("--epochs", type=int, default=0, help="run length (0: long enough to watch)")
    ap.add_argument("--settle-s", type=float, default=5.0,
                    help="seconds the page is open before Start (the server's first page view starts "
                         "its fork server, whose preload of torch takes 2-3 s; a class arrives at a "
                         "server up for longer; 1.5 for a server started just before)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of (headless run, page-open run): each round's ratio "
                         "is printed, then their median and range (other work on a shared machine "
                         "moves one round's figures by 20%% or more)")
    args = ap.parse_args(argv)
    if not 1 <= args.seconds <= 120:
        ap.error("--seconds must be in [1, 120]")
    if not 1 <= args.rounds <= 20:
        ap.error("--rounds must be in [1, 20]")
    from dlviz.data import load_dataset
    from dlviz.workspace import default_workspace

    ds = load_dataset(args.dataset)
    ws = default_workspace().with_preset(args.preset, ds.input_shape, ds.output_size, ds.task)
    ws = replace(ws, dataset=args.dataset)
    epochs = args.epochs or (3000 if ds.points_train is not None else 30)
    ws = replace(ws, config=ws.config.replace(epochs=epochs))
    # the baseline: the CLI, the same run, for a few seconds' worth of epochs
    base_epochs = max(1, epochs // 10 if ds.points_train is not None else 2)
    rounds = []
    for i in range(args.rounds):
        base = headless_rate(args.preset, args.dataset, base_epochs)
        result = watch_once(args, ws, base)
        result["round"] = i + 1
        print(json.dumps(result), flush=True)
        if "error" in result:
            return 1
        rounds.append(result)
    print(json.dumps(summary(args, rounds)))
    return 0


# figures summarised over rounds: median, min and max of each
SUMMARISED = ("ratio_page_open_vs_headless", "headless_samples_per_s", "page_open_samples_per_s",
              "first_live_picture_s", "redraw_median_s", "redraw_p90_s", "start_to_100pct_test_accuracy_s",
              "pause_s", "resume_s", "pause_again_s", "step_s", "stop_s")


def summary(args, rounds: list[dict]) -> dict:
    """The rounds' figures as median [min, max], blank charts summed, CPU use by part (median)."""
    out = {"preset": args.preset, "dataset": args.dataset, "rounds": len(rounds), "summary": True}
    for key in SUMMARISED:
        v = [r[key] for r in rounds if r.get(key) is not None]
        if v:
            out[key] = [round(statistics.median(v), 3), min(v), max(v)]
    out["ratio_each_round"] = [r["ratio_page_open_vs_headless"] for r in rounds]
    out["redraws_with_a_blank_chart_after"] = sum(r["redraws_with_a_blank_chart_after"] for r in rounds)
    out["animations_running_max"] = max(r["animations_running_max"] for r in rounds)
    out["cpu_cores_used_median"] = {k: round(statistics.median(r["cpu_cores_used"][k] for r in rounds), 2)
                                    for k in rounds[0]["cpu_cores_used"]}
    out["load_average_1min"] = [r["load_average_1min"] for r in rounds]
    return out


def watch_once(args, ws, base: float) -> dict:
    """One page-open run against the baseline ``base`` (samples/s headless, just before)."""
    from playwright.sync_api import sync_playwright

    server, url = start_app()
    result = {"preset": args.preset, "dataset": args.dataset, "headless_samples_per_s": round(base),
              "settle_s": max(1.5, args.settle_s)}
    try:
        wait_healthy(server, url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{url}/train?net={ws.to_url()}")
            main_area = page.locator('[data-testid="stMain"]')
            start = main_area.get_by_role("button", name="Start", exact=True)
            start.wait_for()
            page.wait_for_timeout(1000 * max(1.5, args.settle_s))   # the preview, the server's warm-up
            page.evaluate(OBSERVER)
            t_click = page.evaluate("performance.now()")
            start.click()
            page.wait_for_timeout(2000)                 # past the first picture
            cpu0, w0 = cpu_seconds(server.pid), page.evaluate("performance.now()")
            page.wait_for_timeout(max(0.0, args.seconds - 2) * 1000)
            cpu1, w1 = cpu_seconds(server.pid), page.evaluate("performance.now()")
            log = page.evaluate("window.__log")
            acc_log = page.evaluate("window.__acc")
            pic_log = page.evaluate("window.__pic")
            anims = page.evaluate("window.__anims || []")
            # Pause, Resume, Pause, Step, then Stop: click to the progress line saying so
            # (Step: to the progress line showing the next step)
            lat = {}
            progress = page.locator('[data-testid="stMain"] [data-testid="stProgress"]')
            for name, word, then in (("Pause", "paused", "Resume"), ("Resume", "running", "Pause"),
                                     ("Pause", "paused", "Resume"), ("Step", None, None),
                                     ("Stop", "stopped", None)):
                before = progress.first.text_content()
                t0 = page.evaluate("performance.now()")
                main_area.get_by_role("button", name=name, exact=True).click()
                if word:
                    progress.filter(has_text=word).wait_for(timeout=60_000)
                else:
                    page.wait_for_function(
                        "old => { const e = document.querySelector("
                        "'[data-testid=\"stMain\"] [data-testid=\"stProgress\"]');"
                        " return e && e.textContent !== old; }", arg=before, timeout=60_000)
                key = name.lower() + "_s"
                lat[key if key not in lat else name.lower() + "_again_s"] = \
                    round((page.evaluate("performance.now()") - t0) / 1000, 3)
                if then:
                    main_area.get_by_role("button", name=then, exact=True).wait_for()
            browser.close()
    finally:
        kill_group(server)

    solved = next((t for t, acc in acc_log if acc >= 1.0), None)
    gaps_pic = [int(STEP.search(text).group(1).replace(",", "")) - pic for _t, text, pic in pic_log
                if STEP.search(text) and text.startswith("running")]
    live = [(t, text, n, blank, which) for t, text, n, blank, which, _acc, _anim in log
            if STEP.search(text) and int(STEP.search(text).group(1).replace(",", "")) > 0
            and text.startswith("running")]
    if not live:
        return {**result, "error": "no live redraw seen"}
    first = next((t for t, _, n, blank, _w in live if n and not blank), live[0][0])
    blank_after = [w for t, *_, blank, w in live if blank and t > first]
    times = [t for t, *_ in live]
    gaps = [(b - a) / 1000 for a, b in zip(times, times[1:])]
    rates = [float(RATE.search(text).group(1).replace(",", "")) for _, text, *_ in live
             if RATE.search(text)]
    rate = statistics.median(rates[len(rates) // 3:]) if rates else 0.0     # past the warm-up
    result.update({
        "first_live_picture_s": round((first - t_click) / 1000, 3),
        "redraws": len(live),
        "redraw_median_s": round(statistics.median(gaps), 3) if gaps else None,
        "redraw_p90_s": round(sorted(gaps)[int(0.9 * (len(gaps) - 1))], 3) if gaps else None,
        # while the page first mounts its charts after Start, and after that
        "redraws_with_a_blank_chart_before_first_picture": sum(1 for t, *_, blank, _w in live
                                                               if blank and t < first),
        "redraws_with_a_blank_chart_after": len(blank_after),
        "blank_after_which": blank_after[:6],        # chart indexes on the page
        # charts and pictures on screen (fewer than usual: one missing; more: a new one beside an old one)
        # the most CSS animations running at a redraw while live (Streamlit's stale fade,
        # the progress bar's glide: the Train page turns them off)
        "animations_seen_after_first_picture": sorted({a.split(" ", 1)[1] for a in anims
                                                       if float(a.split(" ", 1)[0]) > first})[:8],
        # (after the first complete picture: the first copy of a kind of element loads its
        # code behind Streamlit's animated skeleton)
        "animations_running_max": max((row[6] for row in log if row[0] > first and row[1].startswith("running")),
                                      default=0),
        "chart_elements_min_max_after": [min((n for t, _, n, *_ in live if t > first), default=0),
                                         max((n for t, _, n, *_ in live if t > first), default=0)],
        # Start -> the accuracy chart first showing 100% test accuracy (None: not within the watch)
        "start_to_100pct_test_accuracy_s": round((solved - t_click) / 1000, 3) if solved else None,
        "test_accuracy_shown_max": max((acc for _t, acc in acc_log), default=-1),
        # progress line's step minus the picture's (its caption's), per redraw: they should agree
        "picture_steps_behind_progress_median_max": [statistics.median(gaps_pic), max(gaps_pic)]
        if gaps_pic else None,
        "page_open_samples_per_s": round(rate),
        "ratio_page_open_vs_headless": round(rate / base, 3) if base else None,
        # share of one core each used while watching (after the first 2 s)
        "cpu_cores_used": {k: round((cpu1[k] - cpu0[k]) / ((w1 - w0) / 1000), 2) for k in cpu0},
        "load_average_1min": round(os.getloadavg()[0], 2),
        **lat,
    })
    return result


if __name__ == "__main__":
    sys.exit(main())
