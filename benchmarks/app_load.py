"""The served app under load: N concurrent real browser sessions against one fresh server with an empty cache.

Run: `.venv/bin/python benchmarks/app_load.py [--sessions 8] [--rounds 3]` (needs Debian's /usr/bin/chromium and
the playwright package; never `playwright install`). Each session opens every page in turn and moves the page's
main control, for several rounds. Per page it prints the render time (navigation or control move until the
script has finished: no running icon, no spinner) at p50/p95, the time from navigation until the page shows
its title and either a line saying what it computes (spinner, status, progress bar) or its finished content
("feedback", p50 and max over visits), the errors (exceptions on the page, timeouts: must be 0), and the peak RSS of the
server's process tree. A shared, noisy machine inflates every number: read them as an upper bound.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
# first feedback: the title is shown and so is either a line saying what is computed (spinner, status,
# progress bar) or the finished page (no running icon)
STATUS = "[data-testid=stSpinner], [data-testid=stExpanderIconSpinner], [data-testid=stProgress]"
BUSY = f"() => !!document.querySelector('[data-testid=stStatusWidgetRunningIcon], {STATUS}')"
FEEDBACK = ("() => !!document.querySelector('h1') && (!!document.querySelector('" + STATUS + "') || "
            "!document.querySelector('[data-testid=stStatusWidgetRunningIcon]'))")
QUIET_S = 1.5  # the script counts as finished after this long without a running icon or spinner
RENDER_LIMIT_S = 600.0  # a cold server analyses the zoo and the scaling curves once
MAIN = '[data-testid="stMain"]'

# page path -> how its main control moves (None: the page is only opened)
PAGES: dict[str, str | None] = {
    "": None,  # home: the zoo panel
    "ShuffleNet_blocks": "buttons",
    "Guidelines": "slider",
    "EfficientNet_scaling": "slider",
    "Model_zoo": "slider",
    "Device_profiles": "select",
    "Your_model": None,  # waits for an upload; the A/B part renders zoo models
}


@dataclass
class Results:
    renders: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    feedback: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PeakMemory(threading.Thread):
    """Samples the RSS of a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.running = psutil.Process(pid), 0, True

    def run(self) -> None:
        while self.running:
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)


async def settle(tab: Page, started: float, limit_s: float = RENDER_LIMIT_S) -> float:
    """Seconds from `started` until the script finished (the start of QUIET_S without busy signs)."""
    quiet_since: float | None = None
    while time.monotonic() - started < limit_s:
        if await tab.evaluate(BUSY):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_S:
            return quiet_since - started
        await asyncio.sleep(0.1)
    raise TimeoutError(f"still running after {limit_s:g} s")


async def first_feedback(tab: Page, started: float) -> float:
    while not await tab.evaluate(FEEDBACK):
        if time.monotonic() - started > RENDER_LIMIT_S:
            raise TimeoutError("nothing shown")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def move(tab: Page, how: str, step: int) -> None:
    """Move the page's main control once (a new value each round)."""
    if how == "slider":
        await tab.locator(f'{MAIN} [data-testid="stSlider"] input[type="range"]').first.focus()
        await tab.keyboard.press("ArrowRight" if step % 2 == 0 else "ArrowLeft")
    elif how == "buttons":
        buttons = tab.locator(f'{MAIN} [data-testid="stButtonGroup"]').first.locator("button")
        await buttons.first.wait_for()
        await buttons.nth((step + 1) % await buttons.count()).click()
    else:
        await tab.locator(f'{MAIN} [data-testid="stSelectbox"]').first.click()
        await tab.keyboard.press("ArrowDown")
        await tab.keyboard.press("Enter")


async def visit(tab: Page, url: str, path: str, step: int, results: Results) -> None:
    name = path or "home"
    try:
        started = time.monotonic()
        await tab.goto(f"{url}/{path}")
        results.feedback[name].append(await first_feedback(tab, started))
        results.renders[name].append(await settle(tab, started))
        if PAGES[path] is not None:
            started = time.monotonic()
            await move(tab, PAGES[path], step)
            results.renders[name].append(await settle(tab, started))
        shown = tab.locator('[data-testid="stException"]')
        if await shown.count():
            text = (await shown.first.inner_text()).strip().splitlines()
            results.errors[name].append(f"exception shown: {' '.join(text[:2])[:160]}")
    except Exception as error:  # noqa: BLE001 - every failure is counted and reported, the run goes on
        results.errors[name].append(f"{type(error).__name__}: {str(error).splitlines()[0][:100]}")


async def session(browser: object, url: str, index: int, rounds: int, deadline: float, results: Results) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    context.set_default_timeout(RENDER_LIMIT_S * 1000)  # Playwright's 30 s is too short for a cold, loaded server
    context.set_default_navigation_timeout(RENDER_LIMIT_S * 1000)
    tab = await context.new_page()
    order = list(PAGES)
    for round_ in range(rounds):
        shift = (index + round_) % len(order)  # sessions start on different pages
        for path in order[shift:] + order[:shift]:
            if time.monotonic() > deadline:  # out of time: report what was measured (the table says how much)
                break
            await visit(tab, url, path, round_, results)
    await context.close()


async def drive(url: str, sessions: int, rounds: int, budget_s: float) -> Results:
    results = Results()
    deadline = time.monotonic() + budget_s
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        await asyncio.gather(*(session(browser, url, i, rounds, deadline, results) for i in range(sessions)))
        await browser.close()
    return results


def start_server(port: int, cache_dir: str, log: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COSTMODEL_CACHE_DIR": cache_dir}
    sink = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    for _ in range(240):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read() == b"ok":
                return process
        except OSError:
            time.sleep(0.25)
    process.kill()
    raise SystemExit("streamlit did not answer /_stcore/health within 60 s")


class Responsiveness(threading.Thread):
    """Round trips of the server's /_stcore/health (its event loop only, no script) every half second: how long
    any browser message waits for the server's Python while the sessions compute."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.samples, self.running = url, [], True

    def run(self) -> None:
        while self.running:
            started = time.monotonic()
            try:
                urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=60).read()
                self.samples.append(time.monotonic() - started)
            except OSError:
                pass
            time.sleep(0.5)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return (f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"Python {platform.python_version()}")


def report(results: Results, sessions: int, rounds: int, peak: int, wall: float, health: list[float]) -> None:
    print(f"App under load: {sessions} concurrent Chromium sessions x {rounds} rounds, one fresh server, empty cache")
    print(f"Machine: {machine()}; date {datetime.date.today()}; wall time {wall:.0f} s; shared machine: noisy")
    print()
    print("| page | renders | p50 s | p95 s | feedback p50 s | feedback max s | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for path in PAGES:
        name = path or "home"
        times = results.renders.get(name, [])
        cells = (f"{statistics.median(times):.2f} | {percentile(times, 0.95):.2f}" if times else "- | -")
        feedback = results.feedback.get(name, [])
        first = f"{statistics.median(feedback):.2f} | {max(feedback):.2f}" if feedback else "- | -"
        print(f"| {name} | {len(times)} | {cells} | {first} | {len(results.errors.get(name, []))} |")
    print()
    print(f"Server peak RSS (process tree): {peak / 2**20:.0f} MiB")
    if health:
        print(f"Server /_stcore/health round trip: p50 {statistics.median(health) * 1e3:.0f} ms, p95 "
              f"{percentile(health, 0.95) * 1e3:.0f} ms, max {max(health) * 1e3:.0f} ms ({len(health)} samples)")
    print(f"Load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name, errors in results.errors.items():
        for error in errors[:3]:
            print(f"error on {name}: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=3600.0,
                        help="no new page visit starts after this many seconds (a loaded machine is slow)")
    parser.add_argument("--server-log", type=Path, help="write the server's output here (default: discarded)")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="costmodel_load_cache_") as cache_dir:
        server = start_server(port, cache_dir, args.server_log)
        memory, health = PeakMemory(server.pid), Responsiveness(f"http://127.0.0.1:{port}")
        memory.start()
        health.start()
        started = time.monotonic()
        try:
            results = asyncio.run(drive(f"http://127.0.0.1:{port}", args.sessions, args.rounds, args.budget_s))
        finally:
            memory.running = health.running = False
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        report(results, args.sessions, args.rounds, memory.peak, time.monotonic() - started, health.samples)


if __name__ == "__main__":
    main()
