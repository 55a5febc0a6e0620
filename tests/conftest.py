"""Shared test setup: the project root on sys.path, so `costmodel` imports without installation, and a fresh
app cache folder per test session (the app's own cache, costmodel/app/cache.py), so no test reads results
that an earlier run or a running app left behind."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("COSTMODEL_CACHE_DIR", tempfile.mkdtemp(prefix="costmodel-test-cache-"))
# Pages tested in-process (AppTest) compute in the test's own process; the served app's worker pool
# (costmodel/app/workers.py) is tested where a real server runs (tests/test_browser_e2e.py).
os.environ.setdefault("COSTMODEL_COMPUTE_PROCESSES", "0")
