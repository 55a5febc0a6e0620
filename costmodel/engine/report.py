"""The cost report: per-op and per-block DataFrames and a JSON-ready summary, all derived from the op graph."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from costmodel.engine import fragmentation
from costmodel.engine.attrs import ATTRIBUTE_COLUMNS
from costmodel.engine.kinds import OpKind

UNITS = {
    "flops": "multiply-adds (1 MAdd = 1 FLOP, the ShuffleNet/MobileNet/EfficientNet convention)",
    "params": "parameter elements",
    "mac_elements": "elements read + written (inputs, parameters, outputs)",
    "mac_bytes": "bytes read + written at the report's dtype",
    "arithmetic_intensity": "multiply-adds per byte of MAC",
    "elementwise.elements": "elements processed by elementwise ops (not in flops)",
}

OP_COLUMNS = [
    "order", "name", "op", "kind", "category", "target", "module", "block", "block_is_unit", "input_shapes",
    "output_shapes", "dtype", "flops", "params", "mac_elements", "mac_bytes", "elementwise_elements",
    "is_elementwise", "is_data_movement", "launches_kernel", "bn_folded", "status", "kernel_hint",
    "mac_unfused_elements", *ATTRIBUTE_COLUMNS,
]
# Attribute columns that hold a count: nullable integers (<NA> where the attribute does not apply).
_COUNT_COLUMNS = ["groups", "in_channels", "out_channels", "in_features", "out_features", "mac_unfused_elements"]


def ops_frame(graph: nx.DiGraph) -> pd.DataFrame:
    rows = [{"name": n, **attrs} for n, attrs in graph.nodes(data=True)]
    ops = pd.DataFrame(rows, columns=OP_COLUMNS).sort_values("order", kind="stable").reset_index(drop=True)
    ops[_COUNT_COLUMNS] = ops[_COUNT_COLUMNS].astype("Int64")
    ops["arithmetic_intensity"] = ops["flops"] / ops["mac_bytes"].where(ops["mac_bytes"] > 0)
    return ops


def blocks_frame(graph: nx.DiGraph, ops: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for block, group in ops.groupby("block", sort=False):
        unknown = group[group["status"] == "unknown"]
        elementwise = group[group["is_elementwise"]]
        moving = group[group["is_data_movement"]]
        rows.append({
            "block": block,
            "is_unit": bool(group["block_is_unit"].iloc[0]),
            "ops": len(group),
            "kernels": int(group["launches_kernel"].sum()),
            "compute_ops": len(fragmentation.compute_ops(graph, group["name"])),
            "width": fragmentation.width(graph, list(group["name"])),
            "flops": int(group["flops"].sum()),
            "params": int(group["params"].sum()),
            "mac_elements": int(group["mac_elements"].sum()),
            "mac_bytes": int(group["mac_bytes"].sum()),
            "elementwise_ops": len(elementwise),
            "elementwise_elements": int(elementwise["elementwise_elements"].sum()),
            "elementwise_mac_bytes": int(elementwise["mac_bytes"].sum()),
            "data_movement_ops": len(moving),
            "data_movement_mac_bytes": int(moving["mac_bytes"].sum()),
            "status": "partial" if len(unknown) else "complete",
            "unknown_ops": ", ".join(unknown["target"]),
        })
    return pd.DataFrame(rows)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _fragmentation_summary(blocks: pd.DataFrame) -> dict[str, Any]:
    units = blocks[blocks["is_unit"]] if blocks["is_unit"].any() else blocks
    return {
        "kernels": int(blocks["kernels"].sum()),
        "blocks": len(units),
        "kernels_per_block_mean": float(units["kernels"].mean()),
        "kernels_per_block_max": int(units["kernels"].max()),
        "compute_ops_per_block_mean": float(units["compute_ops"].mean()),
        "compute_ops_per_block_max": int(units["compute_ops"].max()),
        "width_mean": float(units["width"].mean()),
        "width_max": int(units["width"].max()),
    }


def summarise(graph: nx.DiGraph, ops: pd.DataFrame, blocks: pd.DataFrame, *, arch: str,
              input_shape: tuple[int, ...], dtype: str, bytes_per_element: int) -> dict[str, Any]:
    mac_bytes = int(ops["mac_bytes"].sum())
    flops = int(ops["flops"].sum())
    elementwise = ops[ops["is_elementwise"]]
    moving = ops[ops["is_data_movement"]]
    unknown = ops[ops["status"] == "unknown"]
    return {
        "arch": arch,
        "input_shape": list(input_shape),
        "dtype": dtype,
        "bytes_per_element": bytes_per_element,
        "tracer": graph.graph["tracer"],
        "bn_folded": graph.graph["bn_folded"],
        "flops": flops,
        "params": int(ops["params"].sum()),
        "mac_elements": int(ops["mac_elements"].sum()),
        "mac_bytes": mac_bytes,
        "arithmetic_intensity": _share(flops, mac_bytes),
        "ops": len(ops),
        "elementwise": {
            "ops": len(elementwise),
            "elements": int(elementwise["elementwise_elements"].sum()),
            "mac_elements": int(elementwise["mac_elements"].sum()),
            "mac_bytes": int(elementwise["mac_bytes"].sum()),
            "mac_share": _share(int(elementwise["mac_bytes"].sum()), mac_bytes),
        },
        "data_movement": {
            "ops": len(moving),
            "shuffle_ops": int((moving["kind"] == OpKind.SHUFFLE.value).sum()),
            "mac_elements": int(moving["mac_elements"].sum()),
            "mac_bytes": int(moving["mac_bytes"].sum()),
            "mac_share": _share(int(moving["mac_bytes"].sum()), mac_bytes),
        },
        "fragmentation": _fragmentation_summary(blocks),
        "status": "partial" if len(unknown) else "complete",
        "unknown_ops": sorted(set(unknown["target"])),
        "ignored_ops": sorted(set(ops.loc[ops["status"] == "ignored", "op"])),
        "units": UNITS,
    }


@dataclass
class Report:
    """Everything the engine knows about one model at one input shape."""

    graph: nx.DiGraph
    ops: pd.DataFrame
    blocks: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return self.summary["status"] == "partial"

    def to_json(self) -> str:
        """The report as JSON text: the op graph (node-link form, tuples tagged so shapes come back as tuples)
        and the summary. The tables are not stored: `from_json` derives them from the graph, as `analyze` does."""
        graph = nx.node_link_data(self.graph, edges="edges")
        return json.dumps({"graph": _tag_tuples(graph), "summary": self.summary})

    @classmethod
    def from_json(cls, text: str | bytes) -> Report:
        """The report `to_json` wrote; ValueError on text that is not such a report."""
        try:
            data = json.loads(text)
            graph = nx.node_link_graph(_untag_tuples(data["graph"]), edges="edges")
            ops = ops_frame(graph)
            return cls(graph, ops, blocks_frame(graph, ops), dict(data["summary"]))
        except (AttributeError, KeyError, TypeError, IndexError, nx.NetworkXError) as error:
            raise ValueError(f"not a cost report ({type(error).__name__}: {error})") from None


_TUPLE = "__tuple__"


def _tag_tuples(value: Any) -> Any:
    """JSON has no tuples: wrap each in {"__tuple__": [...]} so any op attribute (shapes, kernel sizes) keeps its
    type."""
    if isinstance(value, tuple):
        return {_TUPLE: [_tag_tuples(item) for item in value]}
    if isinstance(value, list):
        return [_tag_tuples(item) for item in value]
    if isinstance(value, dict):
        return {key: _tag_tuples(item) for key, item in value.items()}
    return value


def _untag_tuples(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_TUPLE}:
            return tuple(_untag_tuples(item) for item in value[_TUPLE])
        return {key: _untag_tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_untag_tuples(item) for item in value]
    return value
