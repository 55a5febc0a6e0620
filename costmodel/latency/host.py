"""Host issue time of GPU ops: what Python, ATen dispatch and the kernel launch cost the CPU per op.

In eager PyTorch the host issues kernels into the GPU's queue and moves on; a network is host-bound when
issuing takes longer than the GPU takes to run what was issued (docs/readme/gpu.md). The host cost of an
op hardly depends on its size, only on which library call it is, so the model is one number per kernel
class: `host_us[c]`. It is fitted to micro-benchmarks timed with the GPU kept busy, so issuing never waited
(data/measurements/h200-2026-11-30/README.md: `host_us`). A micro-benchmark may issue several ops (a
split and an add); its time is the sum of its ops' class times. Host timings are noisy (a run on a fresh
machine moves them by ~8%, some by 50%), so the fit is robust: log residuals under a soft-L1 loss, which
lands near the per-class median instead of being pulled by the slow outliers.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from costmodel.errors import CostModelError
from costmodel.latency.kernels import KERNEL_CLASSES, kernel_class
from costmodel.latency.profiles import HostModel, Measurement

_START_US = 20.0  # any positive start: the fit moves it (in log space) to the data
_ROBUST_SCALE = 0.1  # soft-L1 turns linear beyond a 10% log error: slower outliers count less


def host_us(classes: np.ndarray, model: HostModel) -> np.ndarray:
    """Host issue time of each op, given each op's index into KERNEL_CLASSES, us."""
    per_class = np.array([model.kernels[c] for c in KERNEL_CLASSES])
    return per_class[classes]


def _counts(measurements: Sequence[Measurement]) -> tuple[np.ndarray, list[str]]:
    """Ops of each kernel class per measurement (rows) and the classes that occur at all."""
    counts = np.zeros((len(measurements), len(KERNEL_CLASSES)))
    for row, m in enumerate(measurements):
        for op in m.ops:
            cls = kernel_class(op.kind, op.op, op.reduction, op.in_channels, op.stride, op.groups)
            counts[row, KERNEL_CLASSES.index(cls)] += op.count
    seen = [c for i, c in enumerate(KERNEL_CLASSES) if counts[:, i].any()]
    return counts, seen


def fit_host(measurements: Sequence[Measurement], data: str) -> tuple[HostModel, np.ndarray]:
    """Per-class host issue times fitted to the measurements' `host_ms`, and the fitted host ms of each.
    Classes no measurement uses get the median of the fitted classes' times."""
    from scipy.optimize import least_squares  # only when fitting: predicting must not load scipy (CLI start-up)

    timed = [m for m in measurements if m.host_ms is not None]
    if not timed:
        raise CostModelError("no measurement has a host time (host_ms)",
                             "profile a GPU with the CUDA profiler, which measures host issue time")
    counts, seen = _counts(timed)
    columns = [KERNEL_CLASSES.index(c) for c in seen]
    measured = np.array([m.host_ms for m in timed]) * 1e3

    def residuals(theta: np.ndarray) -> np.ndarray:
        return np.log(counts[:, columns] @ np.exp(theta) / measured)

    solved = least_squares(residuals, np.full(len(columns), np.log(_START_US)), loss="soft_l1", f_scale=_ROBUST_SCALE)
    model = filled_host(dict(zip(seen, np.exp(solved.x).tolist())), data)
    return model, counts[:, columns] @ np.exp(solved.x) / 1e3


def filled_host(fitted: dict[str, float], data: str) -> HostModel:
    """A host model from the fitted classes' issue times (us); classes no measurement issues get the median
    of the fitted times (issuing any kernel costs about the same Python and dispatch work)."""
    typical = float(np.median(list(fitted.values())))
    return HostModel(kernels={c: fitted.get(c, typical) for c in KERNEL_CLASSES}, data=data)
