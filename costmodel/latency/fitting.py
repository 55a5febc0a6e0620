"""Fit the latency model's parameters to measurements by least squares (scipy) on log time.

The residual of a measurement is log(predicted / measured), so every sample counts by its relative error
whatever its size. Parameters are fitted in log space, each pulled weakly towards a prior (the device's
spec sheet, or a generic value): a parameter the data do not constrain stays near its prior instead of
drifting. Kernel classes that no measurement exercises are not fitted at all: they borrow the fitted
parameters of the nearest measured class (`DONORS`), and the profile lists which classes were fitted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from costmodel.errors import CostModelError
from costmodel.latency.kernels import COMPUTE_CLASSES, DONORS, GROUPED_CLASSES, KERNEL_CLASSES
from costmodel.latency.model import ClassArrays, Features, samples_frame
from costmodel.latency.profiles import FitQuality, LatencyModel, Measurement

PRIOR_SPREAD = 20.0  # prior residual = (log value - log prior) / spread: weak, it only settles what the data leave open
ORDER_WEIGHT = 3.0  # within a group, predicting a faster measurement slower costs 3x its log ratio
LANE_CHOICES = (1, 4, 8, 16, 32)  # fp32 channels per vector: scalar, NEON/SSE, AVX2, AVX-512, a GPU warp
_FLOOR = 1e-3  # smallest value of a parameter whose prior is 0 (log space needs a positive start)
_RANGE = 1e4  # a parameter may move by at most this factor from its prior
_SIZE_FIELDS = ("half_pixels", "half_reduction", "half_outputs")


def _free_fields(name: str) -> tuple[str, ...]:
    fields = ("overhead_us", "gbytes_per_s")
    if name in COMPUTE_CLASSES:
        fields += ("gmadds_per_s", *_SIZE_FIELDS)
    if name in GROUPED_CLASSES:
        fields += ("per_group_us",)
    return fields


class _Problem:
    """Measurements flattened to one features table, plus the layout of the free-parameter vector."""

    def __init__(self, measurements: list[Measurement], prior: LatencyModel, lanes: int) -> None:
        self.lanes = lanes
        frames = [samples_frame(m.ops).assign(measurement=i) for i, m in enumerate(measurements)]
        frame = pd.concat(frames, ignore_index=True)
        self.features = Features(frame)
        self.count = frame["count"].to_numpy(dtype=float)
        self.owner = frame["measurement"].to_numpy()
        self.measured = np.array([m.ms for m in measurements]) * 1e-3
        self.fitted = sorted({KERNEL_CLASSES[i] for i in np.unique(self.features.cls)}, key=KERNEL_CLASSES.index)
        self.prior = ClassArrays.of(prior)
        self.slots = [(field, KERNEL_CLASSES.index(c)) for c in self.fitted for field in _free_fields(c)]
        start = [getattr(self.prior, field)[i] for field, i in self.slots] + [prior.cache_bytes, prior.spill]
        if any(not np.isfinite(v) for v in start):
            raise CostModelError("the prior has no compute peak for a measured compute class",
                                 "give every conv/linear class gmadds_per_s in the prior")
        self.theta0 = np.log(np.maximum(start, _FLOOR))
        groups: dict[str, list[int]] = {}
        for i, m in enumerate(measurements):
            if m.group is not None:
                groups.setdefault(m.group, []).append(i)
        self.pairs = np.array([(a, b) for members in groups.values() for a in members for b in members
                               if measurements[a].ms < measurements[b].ms], dtype=int).reshape(-1, 2)

    def unpack(self, theta: np.ndarray) -> tuple[ClassArrays, float, float]:
        values = np.exp(theta)
        arrays = {f: getattr(self.prior, f).copy() for f in ClassArrays.__dataclass_fields__}
        for (field, i), value in zip(self.slots, values):
            arrays[field][i] = value
        return ClassArrays(**arrays), float(values[-2]), float(values[-1])

    def predicted(self, theta: np.ndarray) -> np.ndarray:
        params, cache, spill = self.unpack(theta)
        per_op = self.features.seconds(params, cache, spill, self.lanes) * self.count
        return np.bincount(self.owner, weights=per_op, minlength=len(self.measured))

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        predicted = np.log(self.predicted(theta))
        fit = predicted - np.log(self.measured)
        faster, slower = self.pairs.T
        inverted = np.maximum(0.0, predicted[faster] - predicted[slower]) * ORDER_WEIGHT
        return np.concatenate([fit, inverted, (theta - self.theta0) / PRIOR_SPREAD])


def _borrow(params: ClassArrays, fitted: list[str]) -> ClassArrays:
    """Unmeasured classes take every parameter from their first fitted donor (or keep the prior)."""
    arrays = {f: getattr(params, f).copy() for f in ClassArrays.__dataclass_fields__}
    for name in KERNEL_CLASSES:
        donor = next((d for d in DONORS[name] if d in fitted), None)
        if name in fitted or donor is None:
            continue
        i, j = KERNEL_CLASSES.index(name), KERNEL_CLASSES.index(donor)
        for field, values in arrays.items():
            if field in ("overhead_us", "gbytes_per_s") or (name in COMPUTE_CLASSES and donor in COMPUTE_CLASSES):
                values[i] = values[j]
    return ClassArrays(**arrays)


def quality(measured: np.ndarray, predicted: np.ndarray) -> FitQuality:
    ape = np.abs(predicted / measured - 1) * 100
    return FitQuality(samples=len(ape), median_ape=float(np.median(ape)), max_ape=float(ape.max()))


def _solve(problem: _Problem) -> tuple[np.ndarray, float]:
    span = np.log(_RANGE)
    result = least_squares(problem.residuals, problem.theta0, bounds=(problem.theta0 - span, problem.theta0 + span),
                           method="trf", x_scale=1.0, max_nfev=400 * len(problem.theta0))
    return result.x, float(result.cost)


def fit(measurements: list[Measurement], prior: LatencyModel, *, lanes: int | None = None
        ) -> tuple[LatencyModel, list[Measurement], FitQuality]:
    """Fitted model, the measurements with their predicted_ms, and the fit error on them. The vector width
    is discrete: given (from a spec sheet) or, if None, every width in LANE_CHOICES is fitted and the best kept."""
    if not measurements:
        raise CostModelError("nothing to fit: no measurements", "run the profiler on at least one benchmark")
    problems = [_Problem(measurements, prior, width) for width in ((lanes,) if lanes else LANE_CHOICES)]
    (theta, _), problem = min(((_solve(p), p) for p in problems), key=lambda solved: solved[0][1])
    params, cache, spill = problem.unpack(theta)
    model = LatencyModel(kernels=_borrow(params, problem.fitted).kernels(), cache_bytes=cache, spill=spill,
                         lanes=problem.lanes, fitted=problem.fitted)
    predicted = problem.predicted(theta)
    updated = [m.model_copy(update={"predicted_ms": float(p * 1e3)}) for m, p in zip(measurements, predicted)]
    return model, updated, quality(problem.measured, predicted)


def class_scales(per_class_ms: pd.DataFrame, measured_ms: np.ndarray, *, spread: float = 1.0) -> pd.Series:
    """One time multiplier per kernel class that makes whole networks' predicted times (`per_class_ms`: one
    row per network, one column per class) match `measured_ms`, by least squares on log time; each log
    multiplier is pulled towards 0 (no change) with weight 1/spread, so classes the networks barely use stay
    as the micro-benchmarks fitted them. Networks correct what isolated micro-benchmarks miss (warm caches,
    the previous op's output still in cache) without giving any op up its own time."""
    parts = per_class_ms.to_numpy(dtype=float)
    target = np.log(np.asarray(measured_ms, dtype=float))

    def residuals(log_scale: np.ndarray) -> np.ndarray:
        return np.concatenate([np.log(parts @ np.exp(log_scale)) - target, log_scale / spread])

    solved = least_squares(residuals, np.zeros(parts.shape[1]), bounds=(-np.log(10), np.log(10)))
    return pd.Series(np.exp(solved.x), index=per_class_ms.columns)


def scaled(model: LatencyModel, scales: pd.Series) -> LatencyModel:
    """`model` with every class's time multiplied by its scale: overheads times it, throughputs divided by it
    (exact, because each op's time is homogeneous of degree 1 in those four parameters)."""
    kernels = {}
    for name, params in model.kernels.items():
        s = float(scales.get(name, 1.0))
        kernels[name] = params.model_copy(update={
            "overhead_us": params.overhead_us * s, "per_group_us": params.per_group_us * s,
            "gbytes_per_s": params.gbytes_per_s / s,
            "gmadds_per_s": None if params.gmadds_per_s is None else params.gmadds_per_s / s})
    return model.model_copy(update={"kernels": kernels})
