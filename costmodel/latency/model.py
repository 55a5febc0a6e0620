"""The latency model: time of every op on a device profile, summed along the execution order.

Per op of kernel class c (costmodel.latency.kernels), in seconds:

    t = overhead_c + per_group_c * (groups - 1) + smoothmax(compute, memory)
    compute = W / (peak_c * eff),   eff = lanes * P/(P + P_c) * min(K/(K + K_c), N/(N + N_c))
    memory  = (B + spill * max(0, B - cache)) / bandwidth_c

W is the op's work: its multiply-adds (FLOPs) for convs and linear layers, its window reads (outputs x window
area, from the exact kernel_size) for max and average pooling. B is the op's MAC bytes; P, K, N are its output
positions (batch included; on a GPU, `parallel_channels`, its output elements: positions x channels, which a
GPU spreads over its multiprocessors alike - a 1x1 conv with 2048 outputs at 7x7 fills an H200 that 49
positions alone would not), multiply-adds (window reads) per output and output channels per group: a kernel
small in P cannot fill the device, and one narrow in K or N cannot fill its register tiles - the narrower
dimension limits it, which is why equal widths run fastest at equal FLOPs (ShuffleNet V2's G1) and small
fragmented kernels run below their roofline (G3). `lanes` is the share of vector lanes used once input and
output channels per group are padded to the device's vector width, times `unaligned` when either is not a
multiple of it (a GPU runs aligned fp32 convs on TF32 tensor cores and the rest on slower kernels: 1.2-3.1x
between a conv with multiples of 8 channels and its odd-width twin on the H200 where compute matters,
data/measurements/h200-2026-11-30-profiler/). Bytes beyond the cache cost (1 + spill) times more.
`smoothmax` is a p-norm: a roofline whose corner is rounded because real kernels overlap compute and memory
only partly. A group conv pays per_group_c for every group beyond the first (one GEMM each), a concat for
every input beyond the first (one copy each). Views cost nothing; every other op pays its overhead, so
elementwise ops and data movement are never free (G4). Ops run one after another (one stream), as the papers
measured. On a GPU this is the device time; how it combines with the host's issue time depends on the
execution mode (costmodel.latency.schedule).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from costmodel.errors import CostModelError
from costmodel.latency import schedule
from costmodel.latency.host import host_us
from costmodel.latency.kernels import (COMPUTE_CLASSES, GROUPED_CLASSES, KERNEL_CLASSES, LANE_CLASSES, geometry,
                                       kernel_class)
from costmodel.engine.kinds import CATEGORIES
from costmodel.latency.profiles import DeviceProfile, KernelParams, LatencyModel, OpSample
from costmodel.latency.schedule import Mode, Schedule
from costmodel.engine.report import Report

OVERLAP_NORM = 3.0  # p of the smooth max: 1 would add compute and memory time, infinity would be a roofline
FEATURES = ["kind", "op", "flops", "mac_bytes", "pixels", "reduction", "outputs", "groups", "in_channels", "stride"]
_NUMERIC = ("flops", "mac_bytes", "pixels", "reduction", "outputs", "groups", "in_channels")  # stride: class only
_CLASS_INDEX = {c: i for i, c in enumerate(KERNEL_CLASSES)}
_PARAM_FIELDS = ("overhead_us", "gbytes_per_s", "gmadds_per_s", "half_pixels", "half_reduction", "half_outputs",
                 "per_group_us")


def _attribute(op: object, name: str) -> object:
    """An exact op attribute from the op graph (costmodel.engine.attrs), None where it does not apply."""
    value = getattr(op, name, None)
    return None if value is None or value is pd.NA or (isinstance(value, float) and value != value) else value


def op_features(ops: pd.DataFrame) -> pd.DataFrame:
    """Latency features of every op of a report (`Report.ops`), in its order; views get `launches` False."""
    rows = []
    for op in ops.itertuples(index=False):
        shape = geometry(op.kind, int(op.flops), op.input_shapes, op.output_shapes, groups=_attribute(op, "groups"),
                         kernel_size=_attribute(op, "kernel_size"), stride=_attribute(op, "stride"))
        channels = _attribute(op, "in_features" if op.kind == "linear" else "in_channels")
        if channels is None:  # elementwise, pooling, data movement: the channel axis of the first input
            first_in = op.input_shapes[0] if len(op.input_shapes) else op.output_shapes[0]
            channels = first_in[-1] if op.kind == "linear" else first_in[1] if len(first_in) > 1 else 1
        rows.append({"kind": op.kind, "op": op.op, "flops": int(op.flops), "mac_bytes": int(op.mac_bytes),
                     "pixels": shape.pixels, "reduction": shape.reduction, "outputs": shape.outputs,
                     "groups": shape.groups, "in_channels": max(1, int(channels)), "stride": shape.stride,
                     "launches": bool(op.launches_kernel)})
    return pd.DataFrame(rows, columns=[*FEATURES, "launches"])


def op_samples(ops: pd.DataFrame) -> list[OpSample]:
    """The kernel-launching ops of a report as samples for a Measurement, identical ops merged with a count."""
    features = op_features(ops)
    launched = features[features["launches"]]
    grouped = launched.groupby(FEATURES, sort=False).size().reset_index(name="count")
    return [OpSample(**row) for row in grouped.to_dict("records")]


def samples_frame(samples: Iterable[OpSample]) -> pd.DataFrame:
    return pd.DataFrame([s.model_dump() for s in samples], columns=[*FEATURES, "count"])


@dataclass(frozen=True)
class ClassArrays:
    """Per-kernel-class parameters as arrays indexed like KERNEL_CLASSES (NaN peak: no compute term)."""

    overhead_us: np.ndarray
    gbytes_per_s: np.ndarray
    gmadds_per_s: np.ndarray
    half_pixels: np.ndarray
    half_reduction: np.ndarray
    half_outputs: np.ndarray
    per_group_us: np.ndarray

    @classmethod
    def of(cls, model: LatencyModel) -> ClassArrays:
        params = [model.kernels[c] for c in KERNEL_CLASSES]
        return cls(*(np.array([np.nan if getattr(p, f) is None else getattr(p, f) for p in params], dtype=float)
                     for f in _PARAM_FIELDS))

    def kernels(self) -> dict[str, KernelParams]:
        out = {}
        for i, name in enumerate(KERNEL_CLASSES):
            values = {f: float(getattr(self, f)[i]) for f in _PARAM_FIELDS}
            if name not in COMPUTE_CLASSES:
                values.update(gmadds_per_s=None, half_pixels=0.0, half_reduction=0.0, half_outputs=0.0)
            if name not in GROUPED_CLASSES:
                values["per_group_us"] = 0.0
            out[name] = KernelParams(**values)
        return out


@dataclass(frozen=True)
class DeviceScalars:
    """The device-wide parameters of a latency model (profiles.LatencyModel's fields of the same names)."""

    cache_bytes: float
    spill: float
    lanes: int = 1
    unaligned: float = 1.0
    parallel_channels: bool = False

    @classmethod
    def of(cls, model: LatencyModel) -> DeviceScalars:
        return cls(model.cache_bytes, model.spill, model.lanes, model.unaligned, model.parallel_channels)


class Features:
    """Feature columns as float arrays plus each op's kernel-class index, ready for `seconds`."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.cls = np.array([_CLASS_INDEX[kernel_class(*row)] for row in
                             zip(frame["kind"], frame["op"], frame["reduction"], frame["in_channels"],
                                 frame["stride"], frame["groups"])], dtype=int)
        column = {name: frame[name].to_numpy(dtype=float) for name in _NUMERIC}
        self.flops, self.mac_bytes, self.pixels = column["flops"], column["mac_bytes"], column["pixels"]
        self.reduction, self.outputs, self.groups = column["reduction"], column["outputs"], column["groups"]
        self.inputs_per_group = np.maximum(1.0, column["in_channels"] / self.groups)
        self.vectorised = np.isin(self.cls, [_CLASS_INDEX[c] for c in LANE_CLASSES])
        self.output_elements = np.where(self.vectorised, self.pixels * self.outputs * self.groups, self.pixels)
        pools = np.isin(self.cls, [_CLASS_INDEX[c] for c in ("max_pool", "avg_pool")])
        self.work = np.where(pools, self.pixels * self.reduction, self.flops)

    def lane_use(self, lanes: int, unaligned: float = 1.0) -> np.ndarray:
        """Share of vector lanes doing useful work: input channels per group and output channels per group
        each padded to a multiple of `lanes`, times `unaligned` where either is not a multiple (1 for ops that
        do not vectorise over channels)."""
        def used(channels: np.ndarray) -> np.ndarray:
            return channels / (np.ceil(channels / lanes) * lanes)

        aligned = (self.inputs_per_group % lanes == 0) & (self.outputs % lanes == 0)
        share = used(self.inputs_per_group) * used(self.outputs) * np.where(aligned, 1.0, unaligned)
        return np.where(self.vectorised, share, 1.0)

    def seconds(self, p: ClassArrays, device: DeviceScalars) -> np.ndarray:
        """The model's time of each op (the formula in the module docstring)."""
        c = self.cls

        def saturation(size: np.ndarray, half: np.ndarray) -> np.ndarray:
            return size / (size + half[c])

        filled = saturation(self.output_elements if device.parallel_channels else self.pixels, p.half_pixels)
        efficiency = self.lane_use(device.lanes, device.unaligned) * filled * np.minimum(
            saturation(self.reduction, p.half_reduction), saturation(self.outputs, p.half_outputs))
        peak = np.nan_to_num(p.gmadds_per_s[c], nan=np.inf) * 1e9
        compute = self.work / (peak * efficiency)
        beyond_cache = np.maximum(0.0, self.mac_bytes - device.cache_bytes)
        memory = (self.mac_bytes + device.spill * beyond_cache) / (p.gbytes_per_s[c] * 1e9)
        busy = (compute ** OVERLAP_NORM + memory ** OVERLAP_NORM) ** (1 / OVERLAP_NORM)
        return (p.overhead_us[c] + p.per_group_us[c] * (self.groups - 1)) * 1e-6 + busy


def op_milliseconds(frame: pd.DataFrame, model: LatencyModel) -> np.ndarray:
    """Predicted ms of each row of a features frame (no count applied)."""
    return Features(frame).seconds(ClassArrays.of(model), DeviceScalars.of(model)) * 1e3


def measurement_ms(samples: Iterable[OpSample], model: LatencyModel) -> float:
    """Predicted time of a Measurement's ops, ms."""
    frame = samples_frame(samples)
    return float((op_milliseconds(frame, model) * frame["count"]).sum())


@dataclass(frozen=True)
class Latency:
    """Predicted time of one report on one device in one execution mode (costmodel.latency.schedule): the
    total `ms`, the host's issue time and the device's busy time, which of them bounds the run, and the
    device time per op, per block and by ShuffleNet V2 Figure 2 category (the parts sum to `device_ms`)."""

    device: str
    batch: int
    ms: float
    throughput: float
    unit: str
    breakdown: dict[str, float]
    per_op: pd.DataFrame
    per_block: pd.DataFrame
    partial: bool = False  # the report has unknown ops: their time is the overhead only
    mode: Mode = "eager"
    bound: str = "device"  # "host": the device waits for the host to issue kernels
    host_ms: float = 0.0
    device_ms: float = 0.0
    one_resource: bool = False  # a CPU: the thread that issues an op runs it, so host and device are one

    def to_dict(self) -> dict[str, Any]:
        """JSON form; throughput is null for a model without kernels (0 ms)."""
        throughput = self.throughput if np.isfinite(self.throughput) else None
        return {"device": self.device, "batch": self.batch, "mode": self.mode, "ms": self.ms,
                "throughput": throughput, "unit": self.unit, "bound": self.bound, "host_ms": self.host_ms,
                "device_ms": self.device_ms, "breakdown": dict(self.breakdown)}


def run_schedule(features: pd.DataFrame, device_ms: np.ndarray, profile: DeviceProfile, mode: Mode) -> Schedule:
    """The run of a report's kernel-launching ops (features from `op_features`) on `profile` in `mode`."""
    launched = features["launches"].to_numpy(dtype=bool)
    if profile.host is None:
        return schedule.same_thread(device_ms[launched])
    if mode == "graph":
        return schedule.graph(device_ms[launched], profile.host.gap_us * 1e-3)
    issue = host_us(Features(features[launched]).cls, profile.host) * 1e-3
    return schedule.eager(issue, device_ms[launched])


def predict(report: Report, profile: DeviceProfile, mode: Mode = "eager") -> Latency:
    """Latency of `report` at its own batch (its input shape) on `profile`, run eagerly or as a CUDA graph
    (the mode matters only for profiles with a host model, i.e. GPUs)."""
    if mode not in schedule.MODES:
        raise CostModelError(f"unknown execution mode '{mode}'", f"use one of {', '.join(schedule.MODES)}")
    ops = report.ops
    features = op_features(ops)
    ms = np.where(features["launches"], op_milliseconds(features, profile.latency_model), 0.0)
    run = run_schedule(features, ms, profile, mode)
    per_op = pd.DataFrame({"name": ops["name"], "kind": ops["kind"], "category": ops["category"],
                           "block": ops["block"], "ms": ms})
    per_block = per_op.groupby("block", sort=False)["ms"].sum().reset_index()
    breakdown = {c: float(per_op.loc[per_op["category"] == c, "ms"].sum()) for c in CATEGORIES}
    batch = int(report.summary["input_shape"][0])
    per_second = 1e3 / run.ms if run.ms > 0 else float("inf")
    throughput = per_second if profile.kind == "gpu" else per_second * batch
    return Latency(profile.name, batch, run.ms, throughput, profile.unit, breakdown, per_op, per_block,
                   partial=report.partial, mode=mode, bound=run.bound, host_ms=run.host_ms, device_ms=run.device_ms,
                   one_resource=profile.host is None)
