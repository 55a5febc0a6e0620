"""A first, uncached visit shows the page's title and a line saying what it computes while the engine is still
loading (issue 9, docs/readme/reliability.md).

How it is made observable without timing: the server runs with an import gate that holds the import of
`costmodel.studies.evaluate` (the engine module every page imports) until the test releases it. While the gate
is held, the page must already show its title and a running status line; once released, the page must finish
without an exception and the status line must be gone. A page that imports before its first `st.*` call shows
nothing while the gate is held, so this fails on such a page."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from costmodel.app.header import ENGINE, LOADING

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
STATUS = "[data-testid=stExpanderIconSpinner]"  # a running st.status
WAIT_S = 120  # generous: the shared machine may be busy; the gate, not the clock, decides the order

# Runs streamlit with a meta-path finder that blocks the engine's import until `release` exists and records in
# `reached` that the page got there.
LAUNCHER = textwrap.dedent('''
    import runpy, sys, time
    from pathlib import Path

    GATED, REACHED, RELEASE = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    class Gate:
        def find_spec(self, name, path=None, target=None):
            if name == GATED:
                REACHED.touch()
                while not RELEASE.exists():
                    time.sleep(0.05)
            return None

    sys.meta_path.insert(0, Gate())
    sys.argv = ["streamlit", *sys.argv[4:]]
    runpy.run_module("streamlit", run_name="__main__")
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, limit_s: float = 60) -> None:
    """Until /_stcore/health answers ok; fails at once if the server exited."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer {url}/_stcore/health (exit code {process.poll()})")


@pytest.fixture()
def gated_server(tmp_path: Path) -> Iterator[tuple[str, Path, Path]]:
    """(url, reached, release) of a fresh server with an empty cache and no background warm-up."""
    launcher, reached, release = tmp_path / "launch.py", tmp_path / "reached", tmp_path / "release"
    launcher.write_text(LAUNCHER)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COSTMODEL_CACHE_DIR": str(tmp_path / "cache"),
           "COSTMODEL_WARM_UP": "0"}
    process = subprocess.Popen(
        [sys.executable, str(launcher), ENGINE, str(reached), str(release), "run", "app.py",
         "--server.headless", "true", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url, reached, release
    finally:
        release.touch()
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_title_and_status_line_show_while_the_engine_loads(gated_server: tuple[str, Path, Path]) -> None:
    url, reached, release = gated_server
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        tab = browser.new_page()
        tab.goto(f"{url}/Design_space")
        tab.wait_for_selector("h1", timeout=WAIT_S * 1000)  # the engine's import cannot have returned yet
        end = time.monotonic() + WAIT_S
        while not reached.exists():  # the page goes on to the engine's import and is held there
            assert time.monotonic() < end, "the page never imported the engine"
            time.sleep(0.05)
        assert not release.exists()
        assert tab.locator("h1").first.inner_text().strip() == "Design space"
        tab.wait_for_selector(STATUS, timeout=WAIT_S * 1000)  # sent before the import started
        assert tab.locator(STATUS).count() == 1
        assert LOADING in tab.locator('[data-testid="stExpander"]').first.inner_text()

        release.touch()
        tab.wait_for_selector('[data-testid="stRadio"]', timeout=WAIT_S * 1000)  # the page's first control
        tab.wait_for_function(f"() => !document.querySelector('{STATUS}')", timeout=WAIT_S * 1000)
        assert tab.locator('[data-testid="stException"]').count() == 0
        browser.close()
