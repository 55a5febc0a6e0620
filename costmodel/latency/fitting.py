"""Fit the latency model's parameters to measurements by least squares (scipy) on log time.

The residual of a measurement is log(predicted / measured), so every sample counts by its relative error
whatever its size. Parameters are fitted in log space, each pulled weakly towards a prior (the device's
spec sheet, or a generic value): a parameter the data do not constrain stays near its prior instead of
drifting. Kernel classes that no measurement exercises are not fitted at all: they borrow the fitted
parameters of the nearest measured class (`DONORS`), and the profile lists which classes were fitted.
The fit is told only times, never which measurement is faster: orderings a paper concludes from are
predictions of the fitted model (tests/test_calibration.py checks them on tables held out of the fit).

`fit_eager` fits both resources of a GPU at once to whole runs timed in eager mode (published framework
speeds, e.g. ShuffleNet V2 Tables 1-4): per class a host issue time besides the device parameters, and each
measurement predicted by the asynchronous queue of costmodel.latency.schedule. Its ops are read in issue
order, an OpSample's `count` being consecutive repeats of that op.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from costmodel.errors import CostModelError
from costmodel.latency.host import filled_host
from costmodel.latency.kernels import COMPUTE_CLASSES, DONORS, GROUPED_CLASSES, KERNEL_CLASSES
from costmodel.latency.model import ClassArrays, DeviceScalars, Features, samples_frame
from costmodel.latency.profiles import FitQuality, HostModel, LatencyModel, Measurement
from costmodel.latency.schedule import eager_ends

PRIOR_SPREAD = 20.0  # prior residual = (log value - log prior) / spread: weak, it only settles what the data leave open
LANE_CHOICES = (1, 4, 8, 16, 32)  # fp32 channels per vector: scalar, NEON/SSE, AVX2, AVX-512, a GPU warp
_FLOOR = 1e-3  # smallest value of a parameter whose prior is 0 (log space needs a positive start)
_RANGE = 1e4  # a parameter may move by at most this factor from its prior
_SIZE_FIELDS = ("half_pixels", "half_reduction", "half_outputs")


def in_issue_order(frame: pd.DataFrame) -> pd.DataFrame:
    """A samples frame with every op on its own row, in issue order (`count` = consecutive repeats)."""
    return frame.loc[frame.index.repeat(frame["count"])].assign(count=1).reset_index(drop=True)


def _free_fields(name: str) -> tuple[str, ...]:
    fields = ("overhead_us", "gbytes_per_s")
    if name in COMPUTE_CLASSES:
        fields += ("gmadds_per_s", *_SIZE_FIELDS)
    if name in GROUPED_CLASSES:
        fields += ("per_group_us",)
    return fields


class _Problem:
    """Measurements flattened to one features table, plus the layout of the free-parameter vector. With a
    host prior (us per kernel of each class) the ops are expanded in issue order and every measurement is an
    eager run of host and device; without one it is the sum of its ops' device times."""

    def __init__(self, measurements: list[Measurement], prior: LatencyModel, lanes: int,
                 host_prior: HostModel | None = None, *, aligned: bool = False) -> None:
        self.lanes, self.unaligned, self.parallel_channels = lanes, prior.unaligned, prior.parallel_channels
        frames = [samples_frame(m.ops).assign(measurement=i) for i, m in enumerate(measurements)]
        frame = pd.concat(frames, ignore_index=True)
        if host_prior is not None:
            frame = in_issue_order(frame)
        self.features = Features(frame)
        self.count = frame["count"].to_numpy(dtype=float)
        self.owner = frame["measurement"].to_numpy()
        self.starts = np.flatnonzero(np.diff(self.owner, prepend=-1))
        self.measured = np.array([m.ms for m in measurements]) * 1e-3
        self.fitted = sorted({KERNEL_CLASSES[i] for i in np.unique(self.features.cls)}, key=KERNEL_CLASSES.index)
        self.prior = ClassArrays.of(prior)
        self.slots = [(field, KERNEL_CLASSES.index(c)) for c in self.fitted for field in _free_fields(c)]
        start = [getattr(self.prior, field)[i] for field, i in self.slots] + [prior.cache_bytes, prior.spill]
        start += [prior.unaligned] if aligned else []
        if any(not np.isfinite(v) for v in start):
            raise CostModelError("the prior has no compute peak for a measured compute class",
                                 "give every conv/linear class gmadds_per_s in the prior")
        self.host_prior = host_prior
        self.host_slots = [] if host_prior is None else [KERNEL_CLASSES.index(c) for c in self.fitted]
        host_start = [host_prior.kernels[KERNEL_CLASSES[i]] for i in self.host_slots] if host_prior else []
        self.theta0 = np.log(np.maximum(host_start + start, _FLOOR))

    def unpack(self, theta: np.ndarray) -> tuple[ClassArrays, DeviceScalars, np.ndarray]:
        """Per-class and device-wide parameters, and the host issue time of every class (us; 0 without a
        host)."""
        values = np.exp(theta)
        host = np.zeros(len(KERNEL_CLASSES))
        host[self.host_slots] = values[:len(self.host_slots)]
        arrays = {f: getattr(self.prior, f).copy() for f in ClassArrays.__dataclass_fields__}
        for (field, i), value in zip(self.slots, values[len(self.host_slots):]):
            arrays[field][i] = value
        cache, spill, *unaligned = values[len(self.host_slots) + len(self.slots):]
        speed = float(unaligned[0]) if unaligned else self.unaligned
        return ClassArrays(**arrays), DeviceScalars(float(cache), float(spill), self.lanes, speed,
                                                    self.parallel_channels), host

    def predicted(self, theta: np.ndarray) -> np.ndarray:
        params, device, host = self.unpack(theta)
        per_op = self.features.seconds(params, device) * self.count
        if self.host_prior is not None:
            return eager_ends(host[self.features.cls] * 1e-6, per_op, self.starts)
        return np.bincount(self.owner, weights=per_op, minlength=len(self.measured))

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        fit = np.log(self.predicted(theta) / self.measured)
        return np.concatenate([fit, (theta - self.theta0) / PRIOR_SPREAD])


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


def _solve(problem: _Problem, robust: float | None = None) -> tuple[np.ndarray, float]:
    span = np.log(_RANGE)
    loss = {"loss": "soft_l1", "f_scale": robust} if robust else {}
    result = least_squares(problem.residuals, problem.theta0, bounds=(problem.theta0 - span, problem.theta0 + span),
                           method="trf", x_scale=1.0, max_nfev=400 * len(problem.theta0), **loss)
    return result.x, float(result.cost)


def _solved(problem: _Problem, theta: np.ndarray) -> tuple[LatencyModel, np.ndarray, np.ndarray]:
    """The fitted device model at the solution `theta`, the host issue time of every class (us) and each
    measurement's predicted seconds."""
    params, device, host = problem.unpack(theta)
    model = LatencyModel(kernels=_borrow(params, problem.fitted).kernels(), cache_bytes=device.cache_bytes,
                         spill=device.spill, lanes=device.lanes, unaligned=min(device.unaligned, 10.0),
                         parallel_channels=device.parallel_channels, fitted=problem.fitted)
    return model, host, problem.predicted(theta)


def _with_predictions(measurements: list[Measurement], predicted_s: np.ndarray) -> list[Measurement]:
    return [m.model_copy(update={"predicted_ms": float(p * 1e3)}) for m, p in zip(measurements, predicted_s)]


def fit(measurements: list[Measurement], prior: LatencyModel, *, lanes: int | None = None, aligned: bool = False,
        robust: float | None = None) -> tuple[LatencyModel, list[Measurement], FitQuality]:
    """Fitted model, the measurements with their predicted_ms, and the fit error on them. The vector width
    is discrete: given (from a spec sheet) or, if None, every width in LANE_CHOICES is fitted and the best kept.
    With `aligned` the speed of convs with unaligned channels is fitted too (GPUs: tensor cores), else it
    stays the prior's. With `robust` the loss is soft-L1 on log time, linear beyond that log error: a few
    benchmarks a library runs on an unusually slow algorithm (cuDNN's grouped convs: up to 11x their class)
    then no longer drag their whole class (benchmarks/crossvalidate_micro.py)."""
    if not measurements:
        raise CostModelError("nothing to fit: no measurements", "run the profiler on at least one benchmark")
    problems = [_Problem(measurements, prior, width, aligned=aligned)
                for width in ((lanes,) if lanes else LANE_CHOICES)]
    problem, (theta, _) = min(((p, _solve(p, robust)) for p in problems), key=lambda solution: solution[1][1])
    model, _, predicted = _solved(problem, theta)
    return model, _with_predictions(measurements, predicted), quality(problem.measured, predicted)


def fit_eager(measurements: list[Measurement], prior: LatencyModel, host_prior: HostModel, *, lanes: int
              ) -> tuple[LatencyModel, HostModel, list[Measurement], FitQuality]:
    """Both resources of a GPU fitted to eager runs (each measurement's `ms` is its whole run): the device
    model, the host model (classes no measurement issues get the median fitted time; host_prior's `data`
    names the measurements), the measurements with their predicted_ms, and the fit error."""
    if not measurements:
        raise CostModelError("nothing to fit: no measurements", "give at least one timed eager run")
    problem = _Problem(measurements, prior, lanes, host_prior)
    model, host, predicted = _solved(problem, _solve(problem)[0])
    issue = filled_host({c: float(host[KERNEL_CLASSES.index(c)]) for c in problem.fitted}, host_prior.data)
    return model, issue, _with_predictions(measurements, predicted), quality(problem.measured, predicted)


def class_scales(per_class_ms: pd.DataFrame, measured_ms: np.ndarray, *, spread: float = 1.0) -> pd.Series:
    """One time multiplier per kernel class that makes whole networks' predicted times (`per_class_ms`: one
    row per network, one column per class) match `measured_ms`, by least squares on log time; each log
    multiplier is pulled towards 0 (no change) with weight 1/spread, so classes the networks barely use stay
    as the micro-benchmarks fitted them. Networks correct what micro-benchmarks timed apart still miss (the
    previous op's output in cache, a library path chosen by context) without giving any op up its own time."""
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
