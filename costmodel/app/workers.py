"""Where the app's heavy computations run: a pool of worker processes at a lower CPU priority.

The server is one Python process that answers every browser. A computation on one of its threads (tracing a
network, a scaling curve) holds the GIL for most of its seconds, so under several cold sessions the server
answered a health check in 6 s at p95 and pages showed their title 9-15 s late (docs/readme/reliability.md,
"Under load"). In worker processes the work holds neither the server's GIL nor, being niced, the CPU ahead of
the server and the visitors' pages. Workers fork from a forkserver that has imported the engine once, so a
new worker starts in milliseconds; the workers start with the server. Results come back as the cache's JSON
(costmodel.app.codec), never as pickles; work that cannot be sent or whose result the codec cannot encode
runs in the server as before.
COSTMODEL_COMPUTE_PROCESSES sets the pool's size (0: everything in the server process).
Stopping the server stops the workers' computations too: at a clean exit (Ctrl-C, SIGTERM) the server kills
its workers instead of waiting for their tasks, and the workers of a killed server exit at once
(docs/readme/reliability.md, "Stopping the server").
"""
from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import contextlib
import functools
import multiprocessing
import os
import pickle
import select
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

from costmodel.app import codec
from costmodel.app import settings as operator_settings

NICE = 10  # workers yield the CPU to the server and to anything else at normal priority
PRELOAD = ["costmodel.viz.catalog"]  # imported once in the forkserver: torch, the engine, the studies

_lock = threading.Lock()
_pools: dict[int, concurrent.futures.ProcessPoolExecutor] = {}


def _start_worker(server: int) -> None:
    threading.Thread(target=_end_with, args=(server,), name="costmodel-server-watch", daemon=True).start()
    os.nice(NICE)
    import torch

    torch.set_num_threads(1)  # one core per worker: the pool's size is the parallelism


def _end_with(server: int) -> None:
    """Exit this worker as soon as the server process `server` has ended, even by SIGKILL: without a watch a
    worker ran its task to the end (minutes for a cold scaling curve) with nobody left to read the result, and
    the forkserver stays up while any worker does. A pidfd is readable once the process has exited (Linux);
    elsewhere the server is polled every second."""
    try:
        handle = os.pidfd_open(server)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [])
    else:
        while _running(server):
            time.sleep(1.0)
    os._exit(0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_workers() -> None:
    """Kill every pool's workers and drop the pools: the server is exiting. ProcessPoolExecutor's own exit hook
    waits for the running tasks, which kept a stopped server alive until the slowest of them ended. Runs from
    threading's exit hooks, which run in reverse order of registration, so before the executor's."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        processes = list(pool._processes.values())  # no public handle on a pool's processes before Python 3.14
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.kill()


threading._register_atexit(_stop_workers)  # the exit hooks concurrent.futures uses (atexit runs after them)


@contextlib.contextmanager
def blank_main() -> Iterator[None]:
    """Processes started inside the block run none of the app's pages. Streamlit leaves the last page's script
    in sys.modules['__main__'] (with its __file__), and a process started by spawn or a forkserver runs its
    parent's main script first, so a worker started from a page would run that page. A main module without a
    file gives the child nothing to run."""
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = saved


def start() -> None:
    """Start the pool's workers now (the server's start, costmodel/app/startup.py), with a blank main module.
    Only there: pages never start workers (without a started pool they compute in the server process), so no
    worker can start while another session's page is Streamlit's main module."""
    size = operator_settings.from_env().compute_processes
    with _lock:
        if size == 0 or size in _pools:
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        pool = _pools[size] = concurrent.futures.ProcessPoolExecutor(size, mp_context=context,
                                                                     initializer=_start_worker,
                                                                     initargs=(os.getpid(),))
    with blank_main():
        concurrent.futures.wait([pool.submit(os.getpid) for _ in range(size)])  # one task each: all spawn now


def _pool() -> concurrent.futures.ProcessPoolExecutor | None:
    with _lock:
        return _pools.get(operator_settings.from_env().compute_processes)


def _encoded(work: Callable[[], Any]) -> str:
    return codec.dumps(work())


def offloaded(work: functools.partial) -> Callable[[], Any]:
    """`work` as a call that runs it in a worker process when there is a pool and it can be sent there."""
    pool = _pool()
    try:
        pickle.dumps(work)
    except (pickle.PicklingError, TypeError, AttributeError):
        pool = None
    if pool is None:
        return work

    def remote() -> Any:
        try:
            return codec.loads(pool.submit(_encoded, work).result())
        except codec.Unencodable:
            return work()
        except concurrent.futures.process.BrokenProcessPool:  # a worker died (killed, out of memory)
            _discard(pool)
            return work()

    return remote


def _discard(pool: concurrent.futures.ProcessPoolExecutor) -> None:
    """Forget a broken pool: the server computes in its own process from then on."""
    with _lock:
        for size, known in list(_pools.items()):
            if known is pool:
                del _pools[size]
    pool.shutdown(wait=False, cancel_futures=True)
