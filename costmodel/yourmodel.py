"""A user's own model in the app: an upload or an importable module, analysed in the sandbox at the batches
the settings need (batch 1 for costs, each device's batch for latency) in one child process, and the tables the
zoo pages show, built from those reports with the same columns (so `tables.readable` labels them)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from costmodel.errors import CostModelError
from costmodel.evaluate import Settings, ZooModel, cost_columns, device_batch, latency, per_image, profiles, report
from costmodel.kinds import CATEGORIES
from costmodel.latency import Latency
from costmodel.report import Report
from costmodel.sandbox import Limits, reports_from_data, run_sandboxed, run_uploaded


@dataclass(frozen=True)
class UserModel:
    """Where the model comes from and its input shape per sample (no batch). Hashable: a cache key (an upload
    by its bytes)."""

    source: str  # the uploaded file's name, or 'package.module:Name'
    sample_shape: tuple[int, ...]
    attr: str = ""  # class or function in an uploaded file; '' = its only nn.Module class
    content: bytes | None = None  # the uploaded file; None: import `source` from the working directory
    limits: Limits = Limits()

    @property
    def label(self) -> str:
        return f"{self.source}:{self.attr}" if self.attr else self.source


@dataclass(frozen=True)
class Evaluated:
    """A model's batch-1 report (costs, as the papers print them), and per device the report at that
    device's batch and its predicted latency."""

    label: str
    per_image: Report
    reports: tuple[Report, ...]
    latencies: tuple[Latency, ...]


@functools.lru_cache(maxsize=32)
def _sandboxed(model: UserModel, batches: tuple[int, ...], dtype: str, fold_bn: bool) -> dict[int, Report] | str:
    """Reports per batch, or the one-line error: failures are cached too, so a file that loops forever costs
    its time limit once, not on every rerun."""
    shapes = [(batch, *model.sample_shape) for batch in batches]
    options = dict(dtype=dtype, fold_bn=fold_bn, limits=model.limits, label=model.label)
    try:
        if model.content is None:
            data = run_sandboxed(model.source, shapes, **options)
        else:
            data = run_uploaded(model.content, model.source, model.attr or None, shapes, **options)
    except CostModelError as error:
        return str(error)
    return dict(zip(batches, reports_from_data(data)))


def evaluate(model: UserModel, settings: Settings) -> Evaluated:
    """The model's reports and latencies for `settings` (one sandbox run); CostModelError if it fails."""
    devices = profiles(settings)
    batches = tuple(sorted({1, *(device_batch(d, settings) for d in devices)}))
    outcome = _sandboxed(model, batches, settings.dtype, settings.fold_bn)
    if isinstance(outcome, str):
        raise CostModelError(outcome)
    reports = tuple(outcome[device_batch(d, settings)] for d in devices)
    return Evaluated(model.label, outcome[1], reports, tuple(r.latency(d) for r, d in zip(reports, devices)))


def zoo_evaluated(model: ZooModel, settings: Settings) -> Evaluated:
    """The same for a zoo model, from the app's shared caches."""
    devices = profiles(settings)
    reports = tuple(report(model, device_batch(d, settings), settings.dtype, settings.fold_bn) for d in devices)
    return Evaluated(model.label, per_image(model, settings), reports,
                     tuple(latency(model, name, settings) for name in settings.devices))


def metrics_row(ev: Evaluated) -> pd.DataFrame:
    """One row: label, batch-1 costs, and ms / throughput per device (the zoo pages' comparison columns)."""
    ms = {f"ms:{lat.device}": lat.ms for lat in ev.latencies}
    throughput = {f"throughput:{lat.device}": lat.throughput for lat in ev.latencies}
    return pd.DataFrame([{"model": ev.label, **cost_columns(ev.per_image), **ms, **throughput}])


def breakdown(ev: Evaluated) -> pd.DataFrame:
    """ShuffleNet V2 Figure 2 rows: model, device, batch, ms and ms per category."""
    return pd.DataFrame([{"model": ev.label, "device": lat.device, "batch": lat.batch, "ms": lat.ms,
                          **lat.breakdown} for lat in ev.latencies], columns=["model", "device", "batch", "ms",
                                                                              *CATEGORIES])


def block_table(ev: Evaluated) -> pd.DataFrame:
    """Per-block costs (batch 1) with each device's predicted ms of the block (at that device's batch)."""
    table = ev.per_image.blocks[["block", "kernels", "compute_ops", "width", "flops", "params", "mac_bytes",
                                 "elementwise_ops", "data_movement_ops", "status"]]
    per_device = {f"ms:{lat.device}": table["block"].map(lat.per_block.set_index("block")["ms"])
                  for lat in ev.latencies}
    return table.rename(columns={"width": "parallel_width"}).assign(**per_device)


def op_table(ev: Evaluated) -> pd.DataFrame:
    """Per-op costs (batch 1), shapes as text, with each device's predicted ms of the op."""
    ops = ev.per_image.ops
    shapes = {column: ops[column].map(lambda items: "; ".join("x".join(map(str, s)) for s in items))
              for column in ("input_shapes", "output_shapes")}
    per_device = {f"ms:{lat.device}": lat.per_op["ms"].to_numpy() for lat in ev.latencies}
    return ops[["order", "name", "op", "kind", "category", "block", "module", "flops", "params", "mac_elements",
                "mac_bytes", "status"]].assign(**shapes, **per_device)
