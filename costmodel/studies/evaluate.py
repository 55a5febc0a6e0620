"""Cached analysis and per-device prediction: where every sweep, table and page gets its numbers.

Costs (FLOPs, params, MAC, fragmentation) are reported per image (batch 1), as the papers do. Latency is
predicted at each device profile's own batch (gtx1080ti 8 and ARM 1, as ShuffleNet V2 measured whole
networks; each H200 profile at the batch it was measured at) unless the settings fix one batch for all.
Analyses are memoised per process: the CLI, the app and the tests all hit the same caches, keyed by hashable
configurations.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd
from torch import nn

from costmodel.engine.analysis import analyze
from costmodel.engine.kinds import CATEGORIES
from costmodel.latency.model import Latency, predict
from costmodel.studies import validated
from costmodel.studies.lint import LintResult, lint
from costmodel.latency.profiles import PROFILE_DIR, DeviceProfile, load_profile, profile_names
from costmodel.latency.schedule import Mode
from costmodel.engine.report import Report
from costmodel.sources.names import label as zoo_label
from costmodel.sources.names import load_model


class BuiltSource(Protocol):
    """Something analysable here: hashable (a cache key), with a label, buildable at any batch (zoo models,
    single units)."""

    @property
    def label(self) -> str: ...

    def build(self, batch: int) -> tuple[nn.Module, tuple[int, ...]]: ...


@runtime_checkable
class AnalysedSource(Protocol):
    """Something analysable whose model must not be built in this process (a user's model: its code runs only in
    the sandbox), so it hands over its reports instead. Hashable, with a label."""

    @property
    def label(self) -> str: ...

    def analysed(self, batch: int, dtype: str, fold_bn: bool) -> Report: ...


Source = BuiltSource | AnalysedSource


@dataclass(frozen=True)
class ZooModel:
    """A zoo architecture with parameters (sorted, so equal configurations share a cache entry)."""

    arch: str
    params: tuple[tuple[str, Any], ...] = ()
    resolution: int | None = None

    @classmethod
    def of(cls, arch: str, *, resolution: int | None = None, **params: Any) -> ZooModel:
        return cls(arch, tuple(sorted(params.items())), resolution)

    @property
    def label(self) -> str:
        text = zoo_label(self.arch, dict(self.params))
        return f"{text} @{self.resolution}px" if self.resolution else text

    def build(self, batch: int) -> tuple[nn.Module, tuple[int, ...]]:
        model, shape, _ = load_model(self.arch, params=dict(self.params), resolution=self.resolution, batch=batch)
        return model, shape


@dataclass(frozen=True)
class Settings:
    """What every page shares: the device profiles shown (names or profile.json paths), the batch latency is
    predicted at (None: each profile's own), the dtype of MAC bytes, whether BatchNorm is folded, and how a
    GPU runs the network (costmodel.latency.schedule: eager or as a CUDA graph; CPUs ignore it)."""

    devices: tuple[str, ...] = field(default_factory=lambda: tuple(profile_names()))
    batch: int | None = None
    dtype: str = "float32"
    fold_bn: bool = True
    mode: Mode = "eager"


def _stamp(name: str) -> tuple[str, int, int]:
    """Identity of a profile's file as it is now: (path, mtime, size). A re-created profile gets new caches."""
    path = Path(name)
    path = path if path.suffix == ".json" or path.exists() else PROFILE_DIR / f"{name}.json"
    stat = path.stat() if path.exists() else None
    return str(path), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0


@functools.lru_cache(maxsize=64)
def _profile(name: str, stamp: tuple[str, int, int]) -> DeviceProfile:
    return load_profile(name)


def profile(name: str) -> DeviceProfile:
    """A device profile by name or path, re-read when its file changes."""
    return _profile(name, _stamp(name))


def profiles(settings: Settings) -> list[DeviceProfile]:
    return [profile(name) for name in settings.devices]


def device_batch(device: DeviceProfile, settings: Settings) -> int:
    return settings.batch or device.batch


@functools.lru_cache(maxsize=512)
def report(source: Source, batch: int = 1, dtype: str = "float32", fold_bn: bool = True) -> Report:
    """The engine's report of `source` at `batch` (memoised: treat it as read-only), traced here or handed over
    by a source that is analysed elsewhere."""
    if isinstance(source, AnalysedSource):
        return source.analysed(batch, dtype, fold_bn)
    model, shape = source.build(batch)
    return analyze(model, shape, dtype=dtype, fold_bn=fold_bn, arch=source.label)


def per_image(source: Source, settings: Settings) -> Report:
    """The batch-1 report: the costs the papers print."""
    return report(source, 1, settings.dtype, settings.fold_bn)


@functools.lru_cache(maxsize=2048)
def _latency(source: Source, device: str, stamp: tuple[str, int, int], batch: int, dtype: str, fold_bn: bool,
             mode: Mode) -> Latency:
    return predict(report(source, batch, dtype, fold_bn), _profile(device, stamp), mode)


def latency(source: Source, device: str, settings: Settings, batch: int | None = None) -> Latency:
    """Predicted latency of `source` on profile `device` at `batch`, by default that device's (see Settings)."""
    stamp = _stamp(device)
    batch = batch or device_batch(_profile(device, stamp), settings)
    return _latency(source, device, stamp, batch, settings.dtype, settings.fold_bn, settings.mode)


def latencies(source: Source, settings: Settings) -> list[Latency]:
    """Predicted latency of `source` on every device shown, each at its batch (see Settings)."""
    return [latency(source, device, settings) for device in settings.devices]


def host_bound_note(runs: Sequence[str], consequence: str) -> str:
    """The app's one sentence for host-bound runs (`runs`: each device, and what it waits for): in eager mode the
    host issues kernels slower than the GPU runs them, so `consequence`; and how to see the device time."""
    return (f"Host-bound ({'; '.join(runs)}): in eager mode the host issues each kernel slower than the GPU runs "
            f"it, so {consequence}; choose graph under GPU execution in the sidebar to see the device time.")


def host_bound(source: Source, settings: Settings, label: Callable[[DeviceProfile], str]) -> str | None:
    """`host_bound_note` for the devices (named by `label`, as `trust`) on which the host, not the device, bounds
    the run of `source`, with each one's host and device time; None when no run is host-bound."""
    bound = [(profile(name), lat) for name, lat in zip(settings.devices, latencies(source, settings))
             if lat.bound == "host"]
    if not bound:
        return None
    runs = [f"{label(device)}: {lat.host_ms:.3g} ms to issue the kernels, {lat.device_ms:.3g} ms of GPU work"
            for device, lat in bound]
    return host_bound_note(runs, "the time is the launches' and the Figure 2 breakdown (device time) shows where "
                                 "the GPU works, not what the run waits for")


def trust(settings: Settings, label: Callable[[DeviceProfile], str]) -> str:
    """How far to trust the predicted times on every device shown, as a markdown list: each profile's error on
    whole networks it was never fitted or tuned on, at its batch and in the GPU mode shown
    (costmodel.studies.validated), or why it has none. `label` names a device as the page's charts do (the
    views name hardware; this layer knows only profiles)."""
    lines = []
    for name in settings.devices:
        device = profile(name)
        batch = device_batch(device, settings)
        lines.append(f"- **{label(device)}**: {validated.trust(device, batch, settings.mode, settings.fold_bn)}")
    return "How far to trust these times:\n" + "\n".join(lines)


def findings(source: Source, device: str, settings: Settings) -> LintResult:
    """ShuffleNet V2's guideline findings for `source` on profile `device`, at that device's batch: a pure
    function of hashable arguments, so pages cache it with `ui.compute`."""
    profiled = profile(device)
    return lint(report(source, device_batch(profiled, settings), settings.dtype, settings.fold_bn), profiled,
                settings.mode)


def cost_columns(rep: Report) -> dict[str, Any]:
    """The headline costs of a report, flat, in base units (MAdds, elements, bytes)."""
    s = rep.summary
    frag = s["fragmentation"]
    return {
        "flops": s["flops"], "params": s["params"], "mac_elements": s["mac_elements"], "mac_bytes": s["mac_bytes"],
        "elementwise_ops": s["elementwise"]["ops"], "elementwise_mac_share": s["elementwise"]["mac_share"],
        "data_movement_ops": s["data_movement"]["ops"], "kernels": frag["kernels"],
        "kernels_per_block": frag["kernels_per_block_mean"], "parallel_width": frag["width_mean"],
        "status": s["status"],
    }


def latency_columns(source: Source, settings: Settings) -> dict[str, float]:
    """`ms:<device>` and `throughput:<device>` for every device shown."""
    out: dict[str, float] = {}
    for lat in latencies(source, settings):
        out[f"ms:{lat.device}"] = lat.ms
        out[f"throughput:{lat.device}"] = lat.throughput
    return out


def row(source: Source, settings: Settings) -> dict[str, Any]:
    """One table row: label, batch-1 costs and per-device latency."""
    return {"model": source.label, **cost_columns(per_image(source, settings)), **latency_columns(source, settings)}


def rows(sources: list[Source], settings: Settings) -> pd.DataFrame:
    """`row` for several sources: a comparison table."""
    return pd.DataFrame([row(source, settings) for source in sources])


def op_times(source: Source, device: str, settings: Settings) -> dict[str, float]:
    """Predicted ms of each op (by node name) of `source` on `device` at that device's batch."""
    per_op = latency(source, device, settings).per_op
    return dict(zip(per_op["name"], per_op["ms"]))


def block_table(source: Source, settings: Settings) -> pd.DataFrame:
    """Per-block costs of the batch-1 report (kernels, compute ops, width, FLOPs, MAC) with each device's ms."""
    blocks = per_image(source, settings).blocks
    table = blocks[["block", "kernels", "compute_ops", "width", "flops", "params", "mac_bytes", "elementwise_ops",
                    "data_movement_ops", "status"]].rename(columns={"width": "parallel_width"})
    for lat in latencies(source, settings):
        table[f"ms:{lat.device}"] = table["block"].map(dict(zip(lat.per_block["block"], lat.per_block["ms"])))
    return table


def breakdown(sources: list[Source], settings: Settings, names: Sequence[str] = ()) -> pd.DataFrame:
    """ShuffleNet V2 Figure 2 rows: model, device, batch, ms (the run's time), bound (host or device) and device
    time per category (Conv ... Other: on a host-bound GPU run they add up to less than ms). `names` go before
    the sources' labels ('A: shufflenet_v2'): an A/B comparison of a model with itself still gets one bar per
    side, not both stacked on one label."""
    rows = []
    for index, source in enumerate(sources):
        label = f"{names[index]}: {source.label}" if names else source.label
        for lat in latencies(source, settings):
            rows.append({"model": label, "device": lat.device, "batch": lat.batch, "ms": lat.ms, "bound": lat.bound,
                         **lat.breakdown})
    return pd.DataFrame(rows, columns=["model", "device", "batch", "ms", "bound", *CATEGORIES])


def op_table(source: Source, settings: Settings) -> pd.DataFrame:
    """Per-op table of the batch-1 report with each device's predicted ms (at that device's batch)."""
    ops = per_image(source, settings).ops
    table = ops[["order", "name", "op", "kind", "category", "block", "module", "input_shapes", "output_shapes",
                 "flops", "params", "mac_elements", "mac_bytes", "status"]].copy()
    for shape in ("input_shapes", "output_shapes"):
        table[shape] = table[shape].map(lambda shapes: "; ".join("x".join(map(str, s)) for s in shapes))
    for lat in latencies(source, settings):
        table[f"ms:{lat.device}"] = lat.per_op["ms"].to_numpy()
    return table


def analyze_for_profile(spec: str, profile: DeviceProfile, *, params: dict[str, object] | None = None,
                        resolution: int | None = None, input_shape: tuple[int, ...] | None = None) -> Report:
    """Report of a zoo model (or `file.py:Name`) at the profile's own batch and dtype, ready for `predict`
    (gtx1080ti 8 as ShuffleNet V2 Table 8, each H200 profile its own, CPU and ARM 1)."""
    model, shape, name = load_model(spec, params=params, resolution=resolution, batch=profile.batch,
                                    input_shape=input_shape)
    return analyze(model, shape, dtype=profile.dtype, arch=name)
