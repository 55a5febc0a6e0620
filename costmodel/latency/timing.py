"""Wall-clock timing of torch modules, done the same way for micro-benchmarks and whole networks.

Why each rule:
- Fixed thread count: intra-op threads change both speed and which kernel PyTorch picks.
- glibc kept from returning freed memory to the OS (`steady_allocator`): otherwise every activation above
  the mmap threshold is a fresh mapping, its first touch page-faults, and on a virtual machine that can make
  a 112x112 depthwise conv 10x slower from one run to the next. jemalloc/tcmalloc deployments behave alike.
- Samples go round-robin over all cases, so a burst of load from other processes spoils some samples of
  every case instead of every sample of a few; the lower quartile of the samples is kept (`typical_ms`).
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import statistics
import time
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn
from tqdm import tqdm

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit


def steady_allocator() -> bool:
    """Ask glibc malloc to keep freed memory (no trimming, no per-tensor mmap); False where not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return bool(libc and libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
                    and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))  # C int: at most 2 GiB
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` intra-op threads (None: leave torch's setting), restored afterwards."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _synchronizer(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def _timed_call(module: nn.Module, x: torch.Tensor, sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    module(x)
    sync()
    return time.perf_counter() - start


def typical_ms(seconds: Sequence[float]) -> float:
    """The lower quartile of the samples, in ms: other processes on a shared machine only ever add time, so
    the lower quartile is the robust estimate of an undisturbed call (the median on a quiet machine)."""
    return statistics.quantiles(seconds, n=4, method="inclusive")[0] * 1e3


def time_in_rotation(cases: Sequence[tuple[nn.Module, torch.Tensor]], *, samples: int = 9,
                     progress: str | None = None) -> list[float]:
    """Milliseconds of one call of each (module, input) as it runs inside a network: the cases take turns,
    one call each, so every call finds its weights and code evicted by the others' work, while its input
    is read just before (in a network the previous op has just written it)."""
    sync = _synchronizer(cases[0][1].device) if cases else (lambda: None)
    times: list[list[float]] = [[] for _ in cases]
    with torch.inference_mode():
        for module, x in cases:  # first calls create kernels, primitives, caches
            module(x)
        for _ in tqdm(range(samples), desc=progress, unit="turn", disable=progress is None, leave=False):
            for (module, x), spent in zip(cases, times):
                x.sum()
                spent.append(_timed_call(module, x, sync))
    return [typical_ms(spent) for spent in times]


def time_modules(cases: Sequence[tuple[nn.Module, torch.Tensor]], *, rounds: int = 5, samples: int = 7,
                 warmup: int = 3, progress: str | None = None) -> list[float]:
    """Milliseconds per call of each (module, input) called back to back, as a deployed network runs:
    in each round every case gets `warmup` calls, then `samples` timed ones. Modules and inputs must already
    be on their device, in eval mode; the caller fixes the thread count."""
    sync = _synchronizer(cases[0][1].device) if cases else (lambda: None)
    times: list[list[float]] = [[] for _ in cases]
    with torch.inference_mode():
        for _ in tqdm(range(rounds), desc=progress, unit="round", disable=progress is None, leave=False):
            for (module, x), spent in zip(cases, times):
                for _ in range(warmup):
                    module(x)
                spent.extend(_timed_call(module, x, sync) for _ in range(samples))
    return [typical_ms(spent) for spent in times]
