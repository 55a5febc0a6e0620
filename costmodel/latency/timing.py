"""Wall-clock timing of torch modules, done the same way for micro-benchmarks and whole networks.

Why each rule:
- Fixed thread count: intra-op threads change both speed and which kernel PyTorch picks.
- glibc kept from returning freed memory to the OS (`steady_allocator`): otherwise every activation above
  the mmap threshold is a fresh mapping, its first touch page-faults, and on a virtual machine that can make
  a 112x112 depthwise conv 10x slower from one run to the next. jemalloc/tcmalloc deployments behave alike.
- On a CPU shared with other jobs, one-thread timings use the calling thread's CPU time (`cpu_clock`): the
  wall clock counts every time slice other processes take (on 2 cores with a load of 10 a ResNet-18 call
  reads 500 ms of wall time but 55 ms of thread time, the latter within 5% over 15 calls), while with one
  intra-op thread the op runs entirely in that thread. With more threads, wall time is the only honest
  latency (worker threads wait for each other), so those timings need a quiet machine.
- Samples go round-robin over all cases, so a burst of load from other processes spoils some samples of
  every case instead of every sample of a few; the lower quartile of the samples is kept (`typical_ms`).
- On a GPU, one number cannot serve: eager PyTorch issues kernels asynchronously, so an op costs the host its
  issue time and the GPU its device time, and a call between two synchronizations adds a round-trip to both
  (data/measurements/h200-2026-11-30/README.md). `gpu_times` measures the three separately.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

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


def cpu_clock(threads: int) -> Callable[[], float]:
    """The clock for CPU timings at `threads` intra-op threads: thread CPU time for one, wall time otherwise."""
    return time.thread_time if threads == 1 else time.perf_counter


def _timed_call(module: nn.Module, x: torch.Tensor, sync: Callable[[], None],
                clock: Callable[[], float] = time.perf_counter) -> float:
    sync()
    start = clock()
    module(x)
    sync()
    return clock() - start


def typical_ms(seconds: Sequence[float]) -> float:
    """The lower quartile of the samples, in ms: other processes on a shared machine only ever add time, so
    the lower quartile is the robust estimate of an undisturbed call (the median on a quiet machine)."""
    return statistics.quantiles(seconds, n=4, method="inclusive")[0] * 1e3


ROTATION_BLOCK = 64  # cases that take turns together: a network's worth of distinct ops


def time_in_rotation(cases: Sequence[tuple[nn.Module, torch.Tensor]], *, samples: int = 9,
                     progress: str | None = None, clock: Callable[[], float] = time.perf_counter,
                     block: int = ROTATION_BLOCK) -> list[float]:
    """Milliseconds of one call of each (module, input) as it runs inside a network: the cases take turns
    in blocks of `block`, one call each, so every call finds its weights evicted by the others' work while
    its input is read just before (in a network the previous op has just written it). Blocks stay the size
    of a network: rotating through a thousand benchmarks made a small conv cost ~300 us per call on this CPU
    against ~60 us warm (most likely the library's per-shape kernel cache, 1024 entries in oneDNN, overflowing),
    which no deployed network pays (docs/readme/latency-cpu.md, "Timing")."""
    sync = _synchronizer(cases[0][1].device) if cases else (lambda: None)
    times: list[list[float]] = [[] for _ in cases]
    starts = range(0, len(cases), block)
    with torch.inference_mode(), tqdm(total=len(starts) * samples, desc=progress, unit="turn",
                                      disable=progress is None, leave=False) as bar:
        for start in starts:
            chunk = list(zip(cases[start:start + block], times[start:start + block]))
            for (module, x), _ in chunk:  # first calls create kernels, primitives, caches
                module(x)
            for _ in range(samples):
                for (module, x), spent in chunk:
                    x.sum()
                    spent.append(_timed_call(module, x, sync, clock))
                bar.update()
    return [typical_ms(spent) for spent in times]


def time_modules(cases: Sequence[tuple[nn.Module, torch.Tensor]], *, rounds: int = 5, samples: int = 7,
                 warmup: int = 3, progress: str | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> list[float]:
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
                spent.extend(_timed_call(module, x, sync, clock) for _ in range(samples))
    return [typical_ms(spent) for spent in times]


# ----------------------------------------------------------------------------- GPU: three numbers per op
GRAPH_CALLS = 20  # calls per captured CUDA graph and per host-issue sample (data/measurements/.../meta.json: K)
BUSY_CYCLES = 10_000_000  # GPU clock cycles (~5 ms at 2 GHz) of the spin kernel that keeps the GPU busy while
# the host issues: 20 calls of the slowest-issuing op in the grid take about 2 ms of host time


@dataclass(frozen=True)
class GpuTimes:
    """One op on a GPU: `sync_ms` one call between two synchronizations (what a naive timer sees),
    `graph_ms` per call when replayed as a CUDA graph (device time alone), `host_us` to issue one call while
    the GPU is busy (Python + dispatch + launch, never waiting on the device), and where asked `pipe_ms` per
    call when calls are issued back to back (the eager pipeline: the slower of host and device)."""

    sync_ms: float
    graph_ms: float
    host_us: float
    pipe_ms: float | None = None


class Clock(Protocol):
    """The device-specific part of GPU timing, kept apart so the rest runs (and is tested) on a CPU."""

    def sync(self) -> None: ...

    def keep_busy(self) -> None: ...

    def replay_ms(self, call: Callable[[], object], calls: int, repeats: int) -> float: ...

    def stream_ms(self, call: Callable[[], object], calls: int, repeats: int) -> float: ...


class CudaClock:
    """CUDA: synchronize, a spin kernel (`torch.cuda._sleep`) to keep the GPU busy, CUDA-graph replay timed
    with CUDA events."""

    def sync(self) -> None:
        torch.cuda.synchronize()

    def keep_busy(self) -> None:
        torch.cuda._sleep(BUSY_CYCLES)

    def replay_ms(self, call: Callable[[], object], calls: int, repeats: int) -> float:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the capture stream, as CUDA graph capture requires
            for _ in range(3):
                call()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(calls):
                call()
        return self._events_ms(graph.replay, 1, repeats) / calls

    def stream_ms(self, call: Callable[[], object], calls: int, repeats: int) -> float:
        torch.cuda.synchronize()
        return self._events_ms(call, calls, repeats)

    @staticmethod
    def _events_ms(call: Callable[[], object], calls: int, repeats: int) -> float:
        """Median over `repeats` of the device time between CUDA events around `calls` calls, per call."""
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        per_call = []
        for _ in range(repeats):
            start.record()
            for _ in range(calls):
                call()
            end.record()
            end.synchronize()
            per_call.append(start.elapsed_time(end) / calls)
        return statistics.median(per_call)


class HostClock:
    """A CPU stands in for a GPU: the thread that issues an op runs it, so replay time is call time and
    keeping the device busy is a no-op. Used to test the GPU measurement on machines without one."""

    def sync(self) -> None:
        return None

    def keep_busy(self) -> None:
        return None

    def replay_ms(self, call: Callable[[], object], calls: int, repeats: int) -> float:
        per_call = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(calls):
                call()
            per_call.append((time.perf_counter() - start) / calls * 1e3)
        return statistics.median(per_call)

    def stream_ms(self, call: Callable[[], object], calls: int, repeats: int) -> float:
        return self.replay_ms(call, calls, repeats)


def gpu_times(module: nn.Module, x: torch.Tensor, clock: Clock, *, calls: int = GRAPH_CALLS, sync_samples: int = 9,
              repeats: int = 5, host_samples: int = 3, pipe: bool = False) -> GpuTimes:
    """The three times of one (module, input): sync (median), graph replay (median), host issue (minimum:
    the host is only ever slowed down by other work); with `pipe`, also back-to-back calls (median), what a
    whole network is validated against in eager mode."""
    with torch.inference_mode():
        module(x)
        sync = statistics.median(_timed_call(module, x, clock.sync) for _ in range(sync_samples)) * 1e3
        graph = clock.replay_ms(lambda: module(x), calls, repeats)
        issue = []
        for _ in range(host_samples):
            clock.sync()
            clock.keep_busy()
            start = time.perf_counter()
            for _ in range(calls):
                module(x)
            issue.append((time.perf_counter() - start) / calls * 1e6)
            clock.sync()
        piped = clock.stream_ms(lambda: module(x), calls, repeats) if pipe else None
    return GpuTimes(sync, graph, min(issue), piped)
