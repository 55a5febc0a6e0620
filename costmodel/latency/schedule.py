"""How a GPU runs a network's ops: CUDA-graph replay or the eager asynchronous queue.

- graph: the whole network is one replayed CUDA graph; no Python, dispatch or launch per op, so its time is
  the sum of the kernels' device times plus `gap_us` of idle device time between consecutive kernels.
- eager: the host issues the ops in order, each costing its host time; the device runs kernel i from
  max(the moment the host finished issuing it, the end of kernel i-1). The run ends when the last kernel
  ends. The run is host-bound when the host needs longer to issue every op than the device needs to run
  them: the device then idles between kernels and faster kernels would not help.
A CPU runs each op on the thread that issues it: host = device, mode does not matter.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Mode = Literal["eager", "graph"]
MODES: tuple[Mode, ...] = ("eager", "graph")


@dataclass(frozen=True)
class Schedule:
    """A run's time and which resource bounds it; every time in ms."""

    ms: float
    host_ms: float  # the host's issue time (0 in graph mode: one graph launch, not modelled)
    device_ms: float  # the device's busy time
    bound: Literal["host", "device"]


def eager_ends(host: np.ndarray, device: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """End of the last kernel of each of several runs laid end to end (run r is ops starts[r] up to the next
    start; none empty). Unrolling "kernel i starts at max(issue end of op i, end of kernel i-1)" gives
    end = max over k of (issue end of op k + device time of kernels k..last): vectorised, no loop over ops,
    which the calibration fit needs (costmodel.latency.fitting)."""
    issued = np.cumsum(host)
    issued -= np.repeat(issued[starts] - host[starts], np.diff(np.append(starts, len(host))))
    remaining = np.cumsum(device[::-1])[::-1]
    after = np.append(remaining[starts[1:]], 0.0)
    remaining -= np.repeat(after, np.diff(np.append(starts, len(device))))
    return np.maximum.reduceat(issued + remaining, starts)


def eager(host_ms: np.ndarray, device_ms: np.ndarray) -> Schedule:
    """The asynchronous queue: kernel i starts at max(issue end of op i, end of kernel i-1)."""
    host, device = float(np.sum(host_ms)), float(np.sum(device_ms))
    if not len(host_ms):
        return Schedule(0.0, 0.0, 0.0, "device")
    end = float(eager_ends(np.asarray(host_ms, dtype=float), np.asarray(device_ms, dtype=float), np.array([0]))[0])
    return Schedule(end, host, device, "host" if host > device else "device")


def graph(device_ms: np.ndarray, gap_ms: float) -> Schedule:
    """A replayed CUDA graph: device times plus the gap between consecutive kernels."""
    device = float(np.sum(device_ms))
    return Schedule(device + gap_ms * max(0, len(device_ms) - 1), 0.0, device, "device")


def same_thread(device_ms: np.ndarray) -> Schedule:
    """A CPU: the thread that issues an op runs it."""
    total = float(np.sum(device_ms))
    return Schedule(total, total, total, "device")
