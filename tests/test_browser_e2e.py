"""End to end in a real headless Chromium (Playwright, Debian's /usr/bin/chromium): start `streamlit run app.py`,
open every page, move the phi slider and see the network change, download an SVG.

SAVE_SCREENSHOTS=1 also writes docs/screenshots/<page>.png (the README's pictures)."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from costmodel.app import cache, workers
from costmodel.zoo.layers import round_to_multiple

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "docs" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGES = {"home": "", "shufflenet_blocks": "ShuffleNet_blocks", "guidelines": "Guidelines",
         "efficientnet_scaling": "EfficientNet_scaling", "model_zoo": "Model_zoo",
         "device_profiles": "Device_profiles", "your_model": "Your_model", "design_space": "Design_space"}
BUSY = "() => !!document.querySelector('[data-testid=stStatusWidgetRunningIcon], [data-testid=stSpinner]')"
COLD_S = 240  # a cold server analyses the zoo and the scaling curves once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def served_as_deployed() -> dict[str, str]:
    """This environment without the test suite's in-process settings (tests/conftest.py): the server runs its
    worker pool and warms its slowest panels."""
    return {k: v for k, v in os.environ.items() if k not in ("COSTMODEL_COMPUTE_PROCESSES", "COSTMODEL_WARM_UP")}


@contextlib.contextmanager
def serving(env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit run app.py` on a free port (with extra environment `env`) until the block ends; its URL and
    process."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**served_as_deployed(), "PYTHONPATH": str(ROOT), **(env or {})}, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("streamlit did not answer /_stcore/health within 30 s")
        yield url, process
    finally:  # the whole process group: the worker pool's processes would go on computing a warm-up for minutes
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serving() as (url, _):
        yield url


def test_the_server_warms_the_slowest_panels_when_it_starts_in_its_worker_pool(tmp_path):
    """No visitor at all: soon after the server starts, its empty cache holds the zoo panel and the scaling
    curves for the sidebar's default settings (costmodel/app/startup.py; before, only a visit started them),
    computed by the worker processes it started, which are all still alive (costmodel/app/workers.py)."""
    from costmodel.app import ui
    from costmodel.studies import scaling
    from costmodel.studies.evaluate import Settings
    from costmodel.viz import catalog

    folder = tmp_path / "cache"
    keys = [ui._key(catalog.zoo_panel, (Settings(),), {}),
            ui._key(catalog.scaling_panel, (scaling.Bases(), Settings()), {})]
    with serving({"COSTMODEL_CACHE_DIR": str(folder), "COSTMODEL_WARM_UP": "1",
                  "COSTMODEL_COMPUTE_PROCESSES": "2"}) as (_, process):
        deadline = time.monotonic() + COLD_S
        while time.monotonic() < deadline and len(list(folder.rglob("*.json"))) < len(keys):
            time.sleep(1)
        niced = [p for p in psutil.Process(process.pid).children(recursive=True) if p.nice() == workers.NICE]
    store = cache.ResultCache(folder, 2**30)
    assert len(niced) == 2
    assert [store.get(key)[0] for key in keys] == [True, True]


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        # Tall viewport: Streamlit scrolls an inner container, so full_page screenshots stop at the viewport.
        tab = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
        yield tab
        browser.close()


def settle(tab: object, timeout_s: float = COLD_S) -> None:
    """Wait until the script has finished: no running icon and no spinner for 3 s in a row."""
    end, quiet = time.monotonic() + timeout_s, 0
    while quiet < 6:
        assert time.monotonic() < end, "the page kept running"
        quiet = 0 if tab.evaluate(BUSY) else quiet + 1
        time.sleep(0.5)


def open_page(tab: object, server: str, path: str) -> None:
    tab.goto(f"{server}/{path}")
    tab.wait_for_selector("h1", timeout=COLD_S * 1000)
    settle(tab)


def metric(tab: object, label: str) -> str:
    return tab.locator('[data-testid="stMetric"]').filter(has_text=label).locator(
        '[data-testid="stMetricValue"]').inner_text()


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders(server: str, page: object, name: str) -> None:
    open_page(page, server, PAGES[name])
    if name == "design_space":  # it draws once a sweep has run: the default grid, on its local Dask cluster
        page.get_by_role("button", name=re.compile("^Run the sweep")).click()
        settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    if name != "your_model":  # it waits for an upload before drawing anything
        assert page.locator(".js-plotly-plot").count() >= 1
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{list(PAGES).index(name)}_{name}.png"))


def test_phi_slider_and_svg_download(server: str, page: object, tmp_path: Path) -> None:
    open_page(page, server, PAGES["efficientnet_scaling"])
    assert metric(page, "Resolution") == f"{round_to_multiple(224 * 1.15, 4)} px"  # phi = 1
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="phi (compound coefficient)")
    slider.locator('input[type="range"]').focus()
    for _ in range(15):  # step 0.1: phi 1.0 -> 2.5
        page.keyboard.press("ArrowRight")
    settle(page)
    assert slider.locator('[data-testid="stSliderThumbValue"]').inner_text() == "2.50"
    assert metric(page, "Resolution") == f"{round_to_multiple(224 * 1.15 ** 2.5, 4)} px"

    with page.expect_download() as download:
        page.get_by_role("button", name="SVG").first.click()
    target = tmp_path / download.value.suggested_filename
    download.value.save_as(target)
    assert target.name == "scaling_curves.svg"
    data = target.read_bytes()
    assert data.lstrip()[:4] == b"<svg" and data.rstrip().endswith(b"</svg>")
    assert b"compound scaling" in data
