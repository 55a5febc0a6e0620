"""The app's worker pool (costmodel/app/workers.py): heavy work runs in another process and comes back
through the cache's JSON codec; what cannot be sent runs in the server, and errors arrive as themselves."""
from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import os
import subprocess
import sys
import types
from pathlib import Path

import psutil
import pytest

from costmodel.app import workers
from costmodel.errors import CostModelError
from costmodel.zoo import build


def _fail(arch: str) -> None:
    build(arch)


@pytest.fixture()
def pool(monkeypatch):
    monkeypatch.setenv("COSTMODEL_COMPUTE_PROCESSES", "1")
    workers.start()


def test_a_pool_nobody_started_is_no_pool(monkeypatch):
    """Pages never start workers (a worker started during a page run would run that page): until the server
    started the pool, work runs in the server."""
    monkeypatch.setenv("COSTMODEL_COMPUTE_PROCESSES", "3")
    assert workers.offloaded(functools.partial(os.getpid))() == os.getpid()


def test_work_runs_in_a_worker_process_at_lower_priority(pool):
    assert workers.offloaded(functools.partial(os.getpid))() != os.getpid()
    assert workers.offloaded(functools.partial(os.nice, 0))() == os.nice(0) + workers.NICE


def test_work_that_cannot_be_sent_runs_in_the_server(pool):
    assert workers.offloaded(functools.partial(lambda: os.getpid()))() == os.getpid()


def test_a_workers_error_arrives_as_a_one_line_error(pool):
    with pytest.raises(CostModelError, match="unknown architecture"):
        workers.offloaded(functools.partial(_fail, "no_such_net"))()


def test_without_a_pool_work_runs_in_the_server(monkeypatch):
    monkeypatch.setenv("COSTMODEL_COMPUTE_PROCESSES", "0")
    assert workers.offloaded(functools.partial(os.getpid))() == os.getpid()


def test_a_process_started_under_a_blank_main_runs_no_page(tmp_path, monkeypatch):
    """Streamlit leaves the last page in sys.modules['__main__']; a spawned process runs its parent's main
    script first (here a 'page' that leaves a marker), unless started inside workers.blank_main()."""
    page = tmp_path / "page.py"
    page.write_text(f"open({str(tmp_path / 'ran')!r}, 'w').write('page ran')\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(page)
    monkeypatch.setitem(sys.modules, "__main__", fake)

    def start_one() -> None:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(os.getpid).result()

    with workers.blank_main():
        start_one()
    assert not (tmp_path / "ran").exists()
    start_one()
    assert (tmp_path / "ran").exists()


SERVER = """
import functools, os, sys, threading, time
os.environ["COSTMODEL_COMPUTE_PROCESSES"] = "1"
from costmodel.app import workers
workers.PRELOAD = []  # the engine's imports are not what this checks
workers.start()
threading.Thread(target=workers.offloaded(functools.partial(time.sleep, {task_s})), daemon=True).start()
print("computing", flush=True)
time.sleep(2 if sys.argv[1] == "exit" else 600)
"""
TASK_S = 120  # far longer than any wait below: a worker that finishes its task fails the test


@pytest.fixture()
def computing_server(tmp_path):
    """A 'server' process whose only worker is inside a long task, and that worker."""
    script = tmp_path / "server.py"
    script.write_text(SERVER.format(task_s=TASK_S))
    processes = []

    def start(how: str) -> tuple[subprocess.Popen, psutil.Process]:
        process = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, text=True,
                                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        processes.append(process)
        assert process.stdout.readline().strip() == "computing"
        worker, = [p for p in psutil.Process(process.pid).children(recursive=True) if p.nice() == workers.NICE]
        return process, worker

    yield start
    for process in processes:
        process.kill()
        process.wait()


def test_a_server_that_exits_does_not_wait_for_its_workers_tasks(computing_server):
    """Ctrl-C or SIGTERM ends Streamlit's server with a clean interpreter exit, where ProcessPoolExecutor waits
    for every running task: the server stayed up until its slowest computation ended."""
    process, worker = computing_server("exit")
    assert process.wait(timeout=30) == 0
    assert not psutil.wait_procs([worker], timeout=10)[1]


def test_the_workers_of_a_killed_server_stop_computing(computing_server):
    process, worker = computing_server("kill")
    process.kill()
    process.wait()
    assert not psutil.wait_procs([worker], timeout=10)[1]


IN_PROCESS = """
import threading, time
import torch
from costmodel.app import header
torch.set_num_threads(1)

def work():
    a = torch.randn(1500, 1500)
    while True:
        a = torch.tanh(a @ a)

threading.Thread(target=work, name=header.WORK_THREADS[0], daemon=True).start()
time.sleep(1)
"""


def test_a_server_computing_in_its_own_process_exits_with_one_line_not_an_abort(tmp_path):
    """With COSTMODEL_COMPUTE_PROCESSES=0 a page computes on a daemon thread of the server, inside torch's C++
    code; the interpreter's exit then aborted the server (SIGABRT, 'terminate called without an active
    exception'). Now it waits a moment, then exits with code 1 and a line saying the work was abandoned."""
    script = tmp_path / "server.py"
    script.write_text(IN_PROCESS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert "terminate called" not in done.stderr
    assert done.returncode == 1 and done.stderr.strip().splitlines()[-1] == (
        "costmodel: stopped with 1 computation(s) unfinished in the server's own process; they were abandoned")
