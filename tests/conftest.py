"""Shared test setup: the project root on sys.path, so `costmodel` imports without installation, and a fresh
app cache folder per test session (the app's own cache, costmodel/app/cache.py), so no test reads results
that an earlier run or a running app left behind."""
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COSTMODEL_CACHE_DIR", tempfile.mkdtemp(prefix="costmodel-test-cache-"))
# Pages tested in-process (AppTest) compute in the test's own process; the served app's worker pool
# (costmodel/app/workers.py) is tested where a real server runs (tests/test_browser_e2e.py).
os.environ.setdefault("COSTMODEL_COMPUTE_PROCESSES", "0")
# ... and without the server's background warm-up, which no AppTest needs: in the test's process it builds the
# zoo's torch modules in daemon threads that outlive the test, and a daemon thread inside torch's C++ code when
# the interpreter exits aborts it ("terminate called without an active exception", exit code 134).
os.environ.setdefault("COSTMODEL_WARM_UP", "0")
PAGE_THREADS_S = 300  # the longest a page's computation left running by a test may take to finish


def pytest_sessionfinish() -> None:
    """Let computations that pages started in this process (costmodel-page-work threads: a rerun leaves the
    previous one running) end before the interpreter does, for the reason above."""
    from costmodel.app.header import WORK_THREADS

    deadline = time.monotonic() + PAGE_THREADS_S
    for thread in threading.enumerate():
        if thread.name in WORK_THREADS:
            thread.join(max(0.0, deadline - time.monotonic()))
