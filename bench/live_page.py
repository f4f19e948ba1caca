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
* Pause and Stop latency: click to the progress line saying so.

    python -m bench.live_page [--preset playground --dataset circle] [--seconds 8]
    python -m bench.live_page --preset lenet --dataset digits

Prints one JSON line. Needs Debian's chromium and playwright (see README).
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
  const look = () => {
    const p = main.querySelector('[data-testid="stProgress"]');
    const text = p ? p.innerText : '';
    if (text && text !== last) {
      last = text;
      const charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')];
      const blankIdx = charts.map((c, i) => (!c.querySelector('.main-svg .plot, .main-svg .cartesianlayer, .gl-container')
                                     || c.getBoundingClientRect().height < 20) ? i : -1).filter(i => i >= 0);
      const blank = blankIdx.length;
      window.__log.push([performance.now(), text, charts.length, blank, blankIdx.join(',')]);
    }
  };
  new MutationObserver(look).observe(main, {subtree: true, childList: true, characterData: true});
}"""
STEP = re.compile(r"step ([\d,]+)/")
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
    args = ap.parse_args(argv)
    if not 1 <= args.seconds <= 120:
        ap.error("--seconds must be in [1, 120]")
    from playwright.sync_api import sync_playwright

    from dlviz.data import load_dataset
    from dlviz.workspace import default_workspace

    ds = load_dataset(args.dataset)
    ws = default_workspace().with_preset(args.preset, ds.input_shape, ds.output_size, ds.task)
    ws = replace(ws, dataset=args.dataset)
    epochs = args.epochs or (3000 if ds.points_train is not None else 30)
    ws = replace(ws, config=ws.config.replace(epochs=epochs))
    # the baseline: the CLI, the same run, for a few seconds' worth of epochs
    base_epochs = max(1, epochs // 10 if ds.points_train is not None else 2)
    base = headless_rate(args.preset, args.dataset, base_epochs)

    server, url = start_app()
    result = {"preset": args.preset, "dataset": args.dataset, "headless_samples_per_s": round(base)}
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
            page.wait_for_timeout(1500)                 # the untrained preview settles
            page.evaluate(OBSERVER)
            t_click = page.evaluate("performance.now()")
            start.click()
            page.wait_for_timeout(args.seconds * 1000)
            log = page.evaluate("window.__log")
            # Pause, then Stop: click to the progress line saying so
            lat = {}
            for name, word in (("Pause", "paused"), ("Stop", "stopped")):
                t0 = page.evaluate("performance.now()")
                main_area.get_by_role("button", name=name, exact=True).click()
                page.locator('[data-testid="stMain"] [data-testid="stProgress"]').filter(
                    has_text=word).wait_for(timeout=60_000)
                lat[name.lower() + "_s"] = round((page.evaluate("performance.now()") - t0) / 1000, 3)
                if name == "Pause":
                    main_area.get_by_role("button", name="Resume", exact=True).wait_for()
            browser.close()
    finally:
        kill_group(server)

    live = [(t, text, n, blank, which) for t, text, n, blank, which in log
            if STEP.search(text) and int(STEP.search(text).group(1).replace(",", "")) > 0
            and text.startswith("running")]
    if not live:
        print(json.dumps({**result, "error": "no live redraw seen"}))
        return 1
    first = next((t for t, _, n, blank, _w in live if n and not blank), live[0][0])
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
        "redraws_with_a_blank_chart_after": sum(1 for t, *_, blank, _w in live if blank and t > first),
        "page_open_samples_per_s": round(rate),
        "ratio_page_open_vs_headless": round(rate / base, 3) if base else None,
        **lat,
    })
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
