"""First paint of the Train page after navigation, in a real headless Chromium.

Starts the app on loopback, opens Home, then clicks the sidebar's "Train"
link and times until the page's Start button is drawn; repeated, median
reported (target: under one second). Needs Debian's chromium and playwright.

    python -m bench.page_paint [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "DLVIZ_THREADS": "1"}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=[
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
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
        os.killpg(server.pid, 15)


if __name__ == "__main__":
    sys.exit(main())
