"""A/B comparison of two models: headline metrics side by side, and where the difference comes from - per
ShuffleNet V2 Figure 2 category (Conv, Elemwise, Data, Shuffle, Other) for FLOPs, MAC and kernels, and for
predicted time on each device.

Every op falls in exactly one category, so per-category values sum to the model's total and per-category
deltas sum to the total delta; the tables carry a 'Total' row computed from the model totals (not from the
categories), which keeps that identity checkable.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from costmodel.engine.kinds import CATEGORIES
from costmodel.latency.model import Latency
from costmodel.engine.report import Report
from costmodel.units import json_records, si

TOTAL = "Total"


@dataclass(frozen=True)
class Quantity:
    """A per-category cost: the ops column summed, its unit, and the model total in the report's summary."""

    column: str
    unit: str
    total: Callable[[dict], float]


COST_QUANTITIES = {
    "FLOPs": Quantity("flops", "multiply-adds", lambda s: s["flops"]),
    "MAC": Quantity("mac_bytes", "bytes read + written", lambda s: s["mac_bytes"]),
    "Kernels": Quantity("kernels", "kernel launches", lambda s: s["fragmentation"]["kernels"]),
}


@dataclass(frozen=True)
class Comparison:
    """A vs B. Each table has columns `a`, `b` and `delta` (= b - a), plus identifying columns."""

    a: str
    b: str
    metrics: pd.DataFrame  # metric, device (None for costs), unit, a, b, delta, ratio (b / a)
    costs: pd.DataFrame  # quantity, unit, category (..., Total), a, b, delta
    latency: pd.DataFrame  # device, category (..., Total), a, b, delta - in ms
    unknown_ops: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # of A and B: their totals leave these out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the labels, each model's status (partial: unknown ops left out of its totals) and every
        table as a list of records; a ratio with nothing to divide by is null."""
        tables = {name: json_records(getattr(self, name)) for name in ("metrics", "costs", "latency")}
        status = {side: "partial" if unknown else "complete" for side, unknown in zip("ab", self.unknown_ops)}
        return {"a": self.a, "b": self.b, "units": {"latency": "ms"}, "status": status,
                "unknown_ops": {"a": list(self.unknown_ops[0]), "b": list(self.unknown_ops[1])}, **tables}


Row = tuple[str, str | None, str]  # metric, device (None: a cost of the model itself), unit


def _metric_rows(report: Report) -> dict[Row, float]:
    s = report.summary
    frag = s["fragmentation"]
    return {
        ("FLOPs", None, "multiply-adds"): s["flops"],
        ("Params", None, "parameters"): s["params"],
        ("MAC", None, "elements"): s["mac_elements"],
        ("MAC", None, "bytes"): s["mac_bytes"],
        ("Arithmetic intensity", None, "multiply-adds per byte"): s["arithmetic_intensity"],
        ("Elementwise ops", None, "ops"): s["elementwise"]["ops"],
        ("Data-movement ops", None, "ops"): s["data_movement"]["ops"],
        ("Kernels", None, "kernel launches"): frag["kernels"],
        ("Blocks", None, "blocks"): frag["blocks"],
        ("Width", None, "mean parallel compute ops per block"): frag["width_mean"],
    }


def _latency_rows(latencies: Sequence[Latency]) -> dict[Row, float]:
    rows: dict[Row, float] = {}
    for latency in latencies:
        rows[("Latency", latency.device, f"ms (batch {latency.batch})")] = latency.ms
        rows[("Throughput", latency.device, latency.unit)] = latency.throughput
    return rows


def _side_by_side(a: dict[Row, float], b: dict[Row, float]) -> pd.DataFrame:
    frame = pd.DataFrame([(*row, a[row], b[row]) for row in a], columns=["metric", "device", "unit", "a", "b"])
    frame["delta"] = frame["b"] - frame["a"]
    frame["ratio"] = frame["b"] / frame["a"].where(frame["a"] != 0)
    return frame


def category_costs(report: Report) -> pd.DataFrame:
    """Per category: FLOPs, MAC bytes and kernels (rows: categories in Figure 2 order; 0 where absent)."""
    ops = report.ops.assign(kernels=report.ops["launches_kernel"].astype(int))
    columns = [q.column for q in COST_QUANTITIES.values()]
    return ops.groupby("category")[columns].sum().reindex(list(CATEGORIES), fill_value=0)


def _cost_table(a: Report, b: Report) -> pd.DataFrame:
    per_a, per_b = category_costs(a), category_costs(b)
    rows = []
    for name, q in COST_QUANTITIES.items():
        for category in CATEGORIES:
            rows.append((name, q.unit, category, per_a.at[category, q.column], per_b.at[category, q.column]))
        rows.append((name, q.unit, TOTAL, q.total(a.summary), q.total(b.summary)))
    frame = pd.DataFrame(rows, columns=["quantity", "unit", "category", "a", "b"])
    return frame.assign(delta=frame["b"] - frame["a"])


def _latency_table(latency_a: Sequence[Latency], latency_b: Sequence[Latency]) -> pd.DataFrame:
    """Device time per Figure 2 category and its total (on a host-bound GPU run the run takes longer: the
    metrics' latency rows hold the run's time)."""
    rows = []
    for lat_a, lat_b in zip(latency_a, latency_b):
        for category in CATEGORIES:
            rows.append((lat_a.device, category, lat_a.breakdown[category], lat_b.breakdown[category]))
        rows.append((lat_a.device, TOTAL, lat_a.device_ms, lat_b.device_ms))
    frame = pd.DataFrame(rows, columns=["device", "category", "a", "b"])
    return frame.assign(delta=frame["b"] - frame["a"])


def _labels(a: Report, b: Report) -> tuple[str, str]:
    label_a, label_b = a.summary["arch"], b.summary["arch"]
    return (f"{label_a} (A)", f"{label_b} (B)") if label_a == label_b else (label_a, label_b)


HEADERS = {"a": "A", "b": "B", "delta": "B - A", "ratio": "B / A"}


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A table of this module for people: values with SI prefixes (deltas signed), ratios to 3 digits,
    headers A, B, B - A, B / A, no device named on a model's own costs."""
    out = frame.copy()
    if "device" in out:
        out["device"] = out["device"].fillna("")
    for column in ("a", "b"):
        out[column] = [si(v) for v in frame[column]]
    out["delta"] = [("+" if v > 0 else "") + si(v) for v in frame["delta"]]
    if "ratio" in out:
        out["ratio"] = [f"{v:.3f}" if pd.notna(v) else "-" for v in frame["ratio"]]
    return out.rename(columns=HEADERS)


def compare(a: Report, b: Report, latency_a: Sequence[Latency] = (), latency_b: Sequence[Latency] = ()
            ) -> Comparison:
    """Compare report `a` with report `b` (their costs), and their predicted latencies device by device
    (`latency_a[i]` and `latency_b[i]` on the same device at the same batch, e.g. that device's own)."""
    pairs = [(x.device, x.batch) for x in latency_a], [(y.device, y.batch) for y in latency_b]
    if pairs[0] != pairs[1]:
        raise ValueError(f"latencies must pair up by device and batch: {pairs[0]} vs {pairs[1]}")
    metrics = _side_by_side({**_metric_rows(a), **_latency_rows(latency_a)},
                            {**_metric_rows(b), **_latency_rows(latency_b)})
    return Comparison(*_labels(a, b), metrics=metrics, costs=_cost_table(a, b),
                      latency=_latency_table(latency_a, latency_b),
                      unknown_ops=(tuple(a.summary["unknown_ops"]), tuple(b.summary["unknown_ops"])))
