"""A class on one server: N browsers open the Train page, some press Start at once.

Starts the app on loopback (DLVIZ_THREADS=1; DLVIZ_MAX_LIVE_RUNS from
--max-live, else the server's default: cores - 1) and drives Debian's headless
Chromium with Playwright. Each student is a browser context of its own (its
own cookies, so its own owner). Measures:

* page open latency: goto until the Train heading or the Start button is
  visible, for the N sessions opening together, then for idle sessions opened
  one at a time while runs train (median and worst);
* how many runs train and how many wait, with the places in line the pages say;
* training throughput per live run (samples/s from the progress line, median);
* Stop on a running page -> the 1st-in-line page says "running";
* memory: RSS of the streamlit server and of each training worker (the
  server's grandchildren: children of its forkserver child), total and per
  session (server RSS growth from before the N sessions opened, divided by N).

Bounded: it stops by itself within --max-s seconds. The server log goes to
test-output/bench-class-load.log (errors in it are counted in the result).
Prints one JSON line with all figures at the end.

    python -m bench.class_load [--sessions 20] [--starters 8] [--max-live K] [--max-s 240]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from bench.serve import healthy, kill_group, start_app

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "test-output" / "bench-class-load.log"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
MAIN = '[data-testid="stMain"]'
PROGRESS = f'{MAIN} [data-testid="stProgress"]'
EXCEPTION = '[data-testid="stException"]'
PLACE = re.compile(r"waiting: (\d+)\w\w in line")
RATE = re.compile(r"([\d,]+) samples/s")
CLEANUP_S = 25.0            # kept back from --max-s for closing the browser and the server


# -- processes and memory ------------------------------------------------------------
def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def memory(server_pid: int) -> dict:
    """Server, forkserver(s) and workers (the server's grandchildren), RSS in MiB."""
    kids = children(server_pid)
    workers = {w: rss_mb(w) for k in kids for w in children(k)}
    workers = {w: m for w, m in workers.items() if m is not None}
    helpers = [m for m in (rss_mb(k) for k in kids) if m is not None]
    return {"server_mb": round(rss_mb(server_pid) or 0.0, 1),
            "helpers_mb": round(sum(helpers), 1),          # the forkserver (and any other child)
            "workers": len(workers),
            "worker_mb_each": sorted(round(m, 1) for m in workers.values()),
            "workers_total_mb": round(sum(workers.values()), 1)}


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def r3(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def spread(xs: list[float]) -> dict:
    return {"n": len(xs), "median_s": r3(statistics.median(xs)) if xs else None,
            "max_s": r3(max(xs)) if xs else None}


# -- the browser side -------------------------------------------------------------------
class Bench:
    def __init__(self, args, url: str, server_pid: int, deadline: float):
        self.args, self.url, self.pid, self.deadline = args, url, server_pid, deadline
        self.fig: dict = {}
        self.notes: list[str] = []
        self.contexts: list = []

    def left_ms(self, cap_s: float = 60.0) -> float:
        return max(1000.0, 1000 * min(cap_s, self.deadline - time.monotonic()))

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    async def open_train(self, browser, train_url: str) -> tuple[object, float | None]:
        ctx = await browser.new_context(viewport={"width": 1200, "height": 900})
        self.contexts.append(ctx)
        ctx.set_default_timeout(self.left_ms())
        page = await ctx.new_page()
        t0 = time.monotonic()
        try:
            await page.goto(train_url, timeout=self.left_ms())
            await (page.get_by_role("heading", name="Train", exact=True)
                   .or_(page.get_by_role("button", name="Start", exact=True)).first
                   .wait_for(state="visible", timeout=self.left_ms()))
        except Exception as e:          # a page that never showed: counted, the rest goes on
            self.note(f"a Train page did not show within the limit: {type(e).__name__}")
            return page, None
        return page, time.monotonic() - t0

    async def status(self, page) -> tuple[str, int | None, float | None]:
        """('queued', place, None) | ('starting', ...) | (progress word, None, samples/s) | ('none', ...)."""
        if await page.locator(PROGRESS).count():
            text = await page.locator(PROGRESS).first.inner_text()
            word = text.split("·")[0].strip().strip("*").strip()
            m = RATE.search(text)
            return word, None, float(m.group(1).replace(",", "")) if m else None
        main = await page.locator(MAIN).first.inner_text() if await page.locator(MAIN).count() else ""
        m = PLACE.search(main)
        if m:
            return "queued", int(m.group(1)), None
        if "starting" in main:
            return "starting", None, None
        return "none", None, None

    async def settled(self, page, timeout_s: float = 60.0):
        """Poll until the page says running (or any ended word) or its place in line."""
        end = min(self.deadline, time.monotonic() + timeout_s)
        last = ("none", None, None)
        while True:                     # at least one look, even past the deadline
            try:
                last = await self.status(page)
            except Exception:
                pass
            if last[0] not in ("none", "starting") or time.monotonic() >= end:
                return last
            await asyncio.sleep(0.25)

    async def run(self, browser) -> None:
        a, fig = self.args, self.fig
        from dlviz.workspace import default_workspace
        ws = default_workspace()
        ws = replace(ws, config=ws.config.replace(epochs=100_000))      # runs that outlast the bench
        train_url = f"{self.url}/train?net={ws.to_url()}"
        fig["memory_cold"] = memory(self.pid)

        # warm-up: one throwaway visit loads the app's modules into the server
        if a.warmup:
            page, t = await self.open_train(browser, train_url)
            fig["warmup_open_s"] = r3(t)
            ctx = self.contexts.pop()
            await ctx.close()
            await asyncio.sleep(3)
        base = memory(self.pid)
        fig["memory_before_sessions"] = base
        print(f"server RSS before the sessions: {base['server_mb']:.0f} MiB"
              f" (cold, before any visit: {fig['memory_cold']['server_mb']:.0f} MiB)", flush=True)

        # N students open the Train page together
        t0 = time.monotonic()
        opened = await asyncio.gather(*(self.open_train(browser, train_url) for _ in range(a.sessions)))
        pages = [p for p, _ in opened]
        times = [t for _, t in opened if t is not None]
        fig["open_together"] = {**spread(times), "failed": a.sessions - len(times),
                                "all_open_s": r3(time.monotonic() - t0)}
        print(f"{a.sessions} sessions opened together: median {fig['open_together']['median_s']} s, "
              f"worst {fig['open_together']['max_s']} s, {fig['open_together']['failed']} failed", flush=True)
        await asyncio.sleep(3)
        after_open = memory(self.pid)
        fig["memory_sessions_open"] = after_open
        fig["server_mb_per_session_open"] = round((after_open["server_mb"] - base["server_mb"]) / a.sessions, 2)

        # the starters press Start at once
        starters = pages[:a.starters]
        for pg in starters:
            await pg.get_by_role("button", name="Start", exact=True).wait_for(timeout=self.left_ms())
        t0 = time.monotonic()
        await asyncio.gather(*(pg.get_by_role("button", name="Start", exact=True).click(timeout=self.left_ms())
                               for pg in starters))
        fig["starts_pressed_within_s"] = r3(time.monotonic() - t0)
        statuses = await asyncio.gather(*(self.settled(pg) for pg in starters))
        fig["status_seen_s"] = r3(time.monotonic() - t0)
        words = [s[0] for s in statuses]
        places = sorted(s[1] for s in statuses if s[0] == "queued")
        fig["runs_training"] = words.count("running")
        fig["runs_waiting"] = words.count("queued")
        fig["queue_places"] = places
        fig["statuses"] = words
        never = [i for i, w in enumerate(words) if w in ("none", "starting")]
        if never:
            self.note(f"starter page(s) {never} never showed running or a place in line: {words}")
        if places != list(range(1, len(places) + 1)):
            self.note(f"queue places are not 1..{len(places)}: {places}")
        print(f"{a.starters} Starts pressed within {fig['starts_pressed_within_s']} s: "
              f"{fig['runs_training']} training, {fig['runs_waiting']} waiting at places {places}", flush=True)

        # throughput per live run, from the progress lines
        running = [pg for pg, s in zip(starters, statuses) if s[0] == "running"]
        per_run: dict[int, list[float]] = {i: [] for i in range(len(running))}
        await asyncio.sleep(min(a.settle_s, max(0.0, self.deadline - time.monotonic() - 30 - a.sample_s)))
        end = min(self.deadline - 30, time.monotonic() + a.sample_s)
        workers = [w for k in children(self.pid) for w in children(k)]
        c0, w0, t0 = cpu_s(self.pid), {w: cpu_s(w) for w in workers}, time.monotonic()
        while time.monotonic() < end:
            for i, pg in enumerate(running):
                try:
                    word, _, rate = await self.status(pg)
                except Exception:
                    continue
                if word == "running" and rate:
                    per_run[i].append(rate)
            await asyncio.sleep(1.0)
        dt = time.monotonic() - t0
        fig["cpu_pct_while_training"] = {
            "server": round(100 * (cpu_s(self.pid) - c0) / dt),
            "workers": [round(100 * (cpu_s(w) - c) / dt) for w, c in w0.items()]}
        medians = [statistics.median(v) for v in per_run.values() if v]
        fig["samples_per_s_per_run"] = [round(m) for m in medians]
        fig["samples_per_s_median"] = round(statistics.median(medians)) if medians else None
        fig["memory_training"] = memory(self.pid)
        fig["server_mb_per_session_training"] = round(
            (fig["memory_training"]["server_mb"] - base["server_mb"]) / a.sessions, 2)
        print(f"throughput per live run: median {fig['samples_per_s_median']} samples/s "
              f"(per run: {fig['samples_per_s_per_run']}); CPU % while training: "
              f"{fig['cpu_pct_while_training']}", flush=True)

        # idle sessions open while the runs train
        idle = []
        for _ in range(a.idle_opens):
            if self.deadline - time.monotonic() < 45:
                self.note("idle opens cut short by --max-s")
                break
            page, t = await self.open_train(browser, train_url)
            if t is not None:
                idle.append(t)
            ctx = self.contexts.pop()
            await ctx.close()
        fig["open_idle_while_training"] = spread(idle)
        print(f"idle session opened while {fig['runs_training']} run(s) train: median "
              f"{fig['open_idle_while_training']['median_s']} s, worst "
              f"{fig['open_idle_while_training']['max_s']} s", flush=True)

        # a Stop on a running page: the 1st in line starts
        first = None
        for pg, s in zip(starters, statuses):
            if s[0] == "queued":
                now = await self.status(pg)
                if now[0] == "queued" and now[1] == 1:
                    first = pg
        if running and first is not None:
            t0 = time.monotonic()
            # enabled only: while a rerun draws, Streamlit may keep a stale (disabled) copy
            await running[0].locator(MAIN).get_by_role("button", name="Stop", exact=True,
                                                       disabled=False).first.click(timeout=self.left_ms())
            try:
                await first.locator(PROGRESS).first.get_by_text("running").wait_for(timeout=self.left_ms())
                fig["stop_to_next_running_s"] = r3(time.monotonic() - t0)
            except Exception as e:
                fig["stop_to_next_running_s"] = None
                self.note(f"the 1st in line did not show running after a Stop: {type(e).__name__}")
            print(f"Stop -> 1st in line running: {fig['stop_to_next_running_s']} s", flush=True)
            await asyncio.sleep(2)
            after = await asyncio.gather(*(self.settled(pg, 15) for pg in starters))
            fig["statuses_after_stop"] = [s[0] for s in after]
            fig["queue_places_after_stop"] = sorted(s[1] for s in after if s[0] == "queued")
        else:
            fig["stop_to_next_running_s"] = None
            self.note("no running page and 1st in line to time a Stop with")
        fig["memory_end"] = memory(self.pid)

        errors = 0
        for pg in pages:
            try:
                errors += await pg.locator(EXCEPTION).count()
            except Exception:
                pass
        fig["pages_with_exceptions"] = errors
        if errors:
            self.note(f"{errors} exception box(es) on the pages")


async def drive(bench: Bench) -> None:
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            await bench.run(browser)
        finally:
            try:
                await asyncio.wait_for(asyncio.gather(*(c.close() for c in bench.contexts),
                                                      return_exceptions=True), 10)
            except Exception:
                pass
            try:
                await asyncio.wait_for(browser.close(), 10)
            except Exception:
                pass


def log_errors(path: Path) -> dict:
    """Errors in the server log while the bench ran, and those after the SIGTERM ("Stopping...")."""
    text = path.read_text(errors="replace") if path.exists() else ""
    during, _, after = text.partition("Stopping...")
    pick = re.compile(r"^((?=\S).*(Error|Exception|Disconnected|Uncaught|WARNING|dlviz:).*)$", re.M)
    return {"log": str(path.relative_to(ROOT)),
            "tracebacks": during.count("Traceback"), "uncaught_app_errors": during.count("Uncaught app"),
            "errors": [m.group(1)[:200] for m in pick.finditer(during)][:8],
            "tracebacks_at_shutdown": after.count("Traceback"),
            "errors_at_shutdown": sorted({m.group(1)[:120] for m in pick.finditer(after)})[:6]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=20, help="browser sessions (contexts) on the Train page")
    ap.add_argument("--starters", type=int, default=8, help="how many of them press Start at once")
    ap.add_argument("--max-live", type=int, default=None,
                    help="DLVIZ_MAX_LIVE_RUNS for the server (default: unset, the server's cores - 1)")
    ap.add_argument("--idle-opens", type=int, default=3, help="idle sessions opened one by one while runs train")
    ap.add_argument("--settle-s", type=float, default=5.0, help="wait before sampling throughput")
    ap.add_argument("--sample-s", type=float, default=10.0, help="seconds of throughput sampling")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the throwaway first visit that loads the app's modules")
    ap.add_argument("--max-s", type=float, default=240.0, help="the bench stops by itself within this")
    args = ap.parse_args(argv)
    args.starters = min(args.starters, args.sessions)
    t_start = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]     # the machine may be shared
    hard_end = t_start + args.max_s

    env = dict(os.environ, DLVIZ_THREADS="1")
    env.pop("DLVIZ_MAX_LIVE_RUNS", None)
    if args.max_live is not None:
        env["DLVIZ_MAX_LIVE_RUNS"] = str(args.max_live)
    cache = tempfile.mkdtemp(prefix="dlviz-bench-class-")
    env.setdefault("DLVIZ_CACHE_DIR", cache)
    LOG.parent.mkdir(exist_ok=True)
    with open(LOG, "wb") as log:
        server, url = start_app(env, log)

    def backstop():                   # the last resort if the cleanup itself hangs
        print(json.dumps({"case": "class load", "complete": False, "error": "hard time limit"}), flush=True)
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os._exit(3)

    timer = threading.Timer(args.max_s - 2, backstop)
    timer.daemon = True
    timer.start()
    bench = None
    error = None
    try:
        while not healthy(url):
            if server.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {server.returncode}; see {LOG}")
            if time.monotonic() - t_start > 60:
                raise RuntimeError(f"streamlit not healthy after 60 s; see {LOG}")
            time.sleep(0.25)
        startup_s = time.monotonic() - t_start
        print(f"server up in {startup_s:.1f} s at {url} (pid {server.pid}); cores {os.cpu_count()}, "
              f"DLVIZ_MAX_LIVE_RUNS={env.get('DLVIZ_MAX_LIVE_RUNS', 'default')}", flush=True)
        bench = Bench(args, url, server.pid, hard_end - CLEANUP_S)
        bench.fig["server_startup_s"] = r3(startup_s)
        try:
            asyncio.run(asyncio.wait_for(drive(bench), max(5.0, hard_end - CLEANUP_S + 10 - time.monotonic())))
        except (asyncio.TimeoutError, TimeoutError):
            error = f"--max-s {args.max_s:g} reached"
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
    finally:
        kill_group(server)
        shutil.rmtree(cache, ignore_errors=True)
        timer.cancel()
    fig = bench.fig if bench else {}
    res = {"case": "class load", "cores": os.cpu_count(), "load_avg_start": load_start,
           "load_avg_end": [round(x, 2) for x in os.getloadavg()], "sessions": args.sessions, "starters": args.starters,
           "max_live_runs": args.max_live if args.max_live is not None else "default",
           **fig, "notes": bench.notes if bench else [], "server_log": log_errors(LOG),
           "wall_s": r3(time.monotonic() - t_start), "complete": error is None}
    if error:
        res["error"] = error
        print(f"stopped early: {error}", file=sys.stderr)
    lg = res["server_log"]
    if lg["tracebacks"] or lg["errors"]:
        print(f"server log {lg['log']}: {lg['tracebacks']} traceback(s) while the bench ran: "
              f"{lg['errors']}", flush=True)
    if lg["tracebacks_at_shutdown"]:
        print(f"server log: {lg['tracebacks_at_shutdown']} traceback(s) after SIGTERM", flush=True)
    print(json.dumps(res), flush=True)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
