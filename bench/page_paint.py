"""First paint of the Train page after navigation, in a real headless Chromium.

Starts the app on loopback, opens Home, then clicks the sidebar's "Train"
link and times until the page's Start button is drawn; repeated, median
reported (target: under one second). Needs Debian's chromium and playwright.

    python -m bench.page_paint [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time

from bench.serve import CHROMIUM_ARGS, kill_group, start_app, wait_healthy

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    server, url = start_app()
    try:
        wait_healthy(server, url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            times = []
            for i in range(args.repeats + 1):
                page.goto(url)
                page.get_by_role("heading", name="dlviz").wait_for()
                t0 = time.perf_counter()
                page.locator('[data-testid="stSidebarNav"] a', has_text="Train").click()
                page.get_by_role("button", name="Start", exact=True).wait_for()
                if i:                                   # the first visit warms caches
                    times.append(time.perf_counter() - t0)
            browser.close()
        res = {"case": "Train page first paint after navigation", "median_s": round(statistics.median(times), 3),
               "max_s": round(max(times), 3), "repeats": len(times)}
        print(f"Train page first paint: median {res['median_s']:.3f} s, max {res['max_s']:.3f} s "
              f"over {len(times)} navigations")
        print(json.dumps(res))
        return 0
    finally:
        kill_group(server)


if __name__ == "__main__":
    sys.exit(main())
