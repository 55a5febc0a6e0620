"""Where the app's heavy computations run: a pool of worker processes at a lower CPU priority.

The server is one Python process that answers every browser. A computation on one of its threads (tracing a
network, a scaling curve) holds the GIL for most of its seconds, so under several cold sessions the server
answered a health check in 6 s at p95 and pages showed their title 9-15 s late (docs/readme/reliability.md,
"Under load"). In worker processes the work holds neither the server's GIL nor, being niced, the CPU ahead of
the server and the visitors' pages. Workers fork from a forkserver that has imported the engine once, so a
new worker starts in milliseconds; the workers start with the server. Results come back as the cache's JSON (costmodel.app.codec), never as
pickles; work that cannot be sent or whose result the codec cannot encode runs in the server as before.
COSTMODEL_COMPUTE_PROCESSES sets the pool's size (0: everything in the server process).
"""
from __future__ import annotations

import concurrent.futures
import concurrent.futures.process
import functools
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable
from typing import Any

from costmodel.app import codec
from costmodel.app import settings as operator_settings

NICE = 10  # workers yield the CPU to the server and to anything else at normal priority
PRELOAD = ["costmodel.viz.catalog"]  # imported once in the forkserver: torch, the engine, the studies

_lock = threading.Lock()
_pools: dict[int, concurrent.futures.ProcessPoolExecutor] = {}


def _start_worker() -> None:
    os.nice(NICE)
    import torch

    torch.set_num_threads(1)  # one core per worker: the pool's size is the parallelism


def start() -> None:
    """Start the pool's workers now (the server's start, costmodel/app/startup.py). Only there: a process
    started while a page runs would take that page's script for its main module (Streamlit puts it in
    sys.modules['__main__']) and run it, so pages never start workers; without a started pool they compute
    in the server process."""
    size = operator_settings.from_env().compute_processes
    with _lock:
        if size == 0 or size in _pools:
            return
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        pool = _pools[size] = concurrent.futures.ProcessPoolExecutor(size, mp_context=context,
                                                                     initializer=_start_worker)
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
