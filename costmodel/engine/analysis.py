"""`analyze`: model + input shape -> Report (trace, build the op graph, derive tables and summary)."""
from __future__ import annotations

import networkx as nx
import torch
from torch import nn

from costmodel.errors import CostModelError
from costmodel.engine.opgraph import OpHandles, build_op_graph
from costmodel.engine.report import Report, blocks_frame, ops_frame, summarise
from costmodel.engine.trace import trace

# Deployment dtypes for MAC bytes; tracing itself always runs in fp32 on meta/fake tensors.
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
COUNT_LIMIT = 2**62  # largest total FLOPs or MAC bytes: int64 columns sum it and its halves without wrapping


def analyze(model: nn.Module, input_shape: tuple[int, ...] | list[int], *, dtype: str = "float32",
            fold_bn: bool = True, arch: str | None = None, op_handles: OpHandles | None = None) -> Report:
    """Trace `model` at `input_shape` (batch first) without real computation and cost every op.

    dtype sets the bytes per element of MAC; fold_bn=False keeps inference BatchNorm as an elementwise op.
    op_handles overrides the op table for this analysis only: {canonical op name or unknown op's target:
    cost handle (OpCall -> OpCost), or None to ignore the op (listed in summary["ignored_ops"])}.
    """
    if dtype not in DTYPE_BYTES:
        raise CostModelError(f"unknown dtype '{dtype}'", f"use one of {', '.join(DTYPE_BYTES)}")
    shape = tuple(int(d) for d in input_shape)
    graph = build_op_graph(trace(model, shape, torch.float32), fold_bn=fold_bn, bytes_per_element=DTYPE_BYTES[dtype],
                           op_handles=op_handles)
    if graph.number_of_nodes() == 0:
        raise CostModelError("the model has no tensor ops to analyse", "check that forward() uses its input")
    _check_countable(graph, shape)
    ops = ops_frame(graph)
    blocks = blocks_frame(graph, ops)
    summary = summarise(graph, ops, blocks, arch=arch or type(model).__name__, input_shape=shape, dtype=dtype,
                        bytes_per_element=DTYPE_BYTES[dtype])
    _count_unread_parameters(summary, model)
    return Report(graph, ops, blocks, summary)


def _check_countable(graph: nx.DiGraph, shape: tuple[int, ...]) -> None:
    """Counts are exact Python integers per op but sum in 64-bit table columns: a total that does not fit would
    wrap round to a negative number, so such an input is refused with its size named instead."""
    for metric, unit in (("flops", "multiply-adds"), ("mac_bytes", "bytes of MAC")):
        total = sum(int(value) for _, value in graph.nodes(data=metric, default=0))
        if total >= COUNT_LIMIT:
            raise CostModelError(f"input {shape} needs {total:.3g} {unit}, more than the 64-bit totals hold "
                                 f"({COUNT_LIMIT:.3g})", "use a smaller input resolution or batch")


def _count_unread_parameters(summary: dict, model: nn.Module) -> None:
    """A model's parameter count includes parameters inference never reads (Inception V3's auxiliary
    classifier runs in training only): they are in summary["params"] and, on their own, in "params_unread"."""
    total = sum(p.numel() for p in model.parameters())
    unread = max(0, total - summary["params"])
    summary["params"] += unread
    summary["params_unread"] = unread
