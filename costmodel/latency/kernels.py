"""Kernel classes: which ops share one set of latency-model parameters, and the shape features of an op.

An op kind (costmodel.engine.kinds) says what an op does to memory and compute; a kernel class says which library
kernel runs it, because that is what its speed depends on. Dense 1x1 and kxk convs run different kernels
(a plain GEMM vs. im2col or direct convolution) on every library we measured; transcendental activations
(sigmoid, SiLU, ...) cost more per element than ReLU or an add; max pooling is far slower than average
pooling on CPUs, and global pooling is a reduction; a channel split of a contiguous tensor is a
view in PyTorch but a copy in other frameworks. Each class gets its own fitted parameters, so a profile
learns those differences from measurements instead of assuming them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from costmodel.engine.kinds import OpKind

KERNEL_CLASSES = (
    "conv1x1", "conv", "group_conv", "depthwise_conv", "linear", "max_pool", "avg_pool", "reduction",
    "elementwise", "activation", "split", "concat", "data_movement", "shuffle", "other",
)
# Classes whose time has an arithmetic term (multiply-adds) besides memory traffic and overhead.
COMPUTE_CLASSES = frozenset({"conv1x1", "conv", "group_conv", "depthwise_conv", "linear"})
# Classes that vectorise over input and output channels (a depthwise conv vectorises over channels alone).
LANE_CLASSES = frozenset({"conv1x1", "conv", "group_conv", "linear"})
# Classes whose kernels are split into one GEMM per group (the per-group cost term applies).
GROUPED_CLASSES = frozenset({"group_conv"})

_TRANSCENDENTAL = frozenset({"sigmoid", "silu", "gelu", "tanh", "elu", "exp", "softmax", "layer_norm"})
# Window pooling reads every input several times; global (adaptive) pooling is a reduction over H x W.
_WINDOW_POOLS = frozenset({"max_pool", "avg_pool"})
_BY_KIND = {
    OpKind.GROUP_CONV: "group_conv", OpKind.DEPTHWISE_CONV: "depthwise_conv", OpKind.LINEAR: "linear",
    OpKind.REDUCTION: "reduction", OpKind.SHUFFLE: "shuffle",
}


def kernel_class(kind: str, op: str, reduction: int, in_channels: int) -> str:
    """The kernel class of an op from its kind, canonical op name and conv geometry."""
    kind_ = OpKind(kind)
    if kind_ is OpKind.CONV:
        return "conv1x1" if reduction == in_channels else "conv"
    if kind_ is OpKind.ELEMENTWISE:
        return "activation" if op in _TRANSCENDENTAL else "elementwise"
    if kind_ is OpKind.POOLING:
        return op if op in _WINDOW_POOLS else "reduction"
    if kind_ is OpKind.DATA_MOVEMENT:
        return {"split": "split", "slice": "split", "cat": "concat"}.get(op, "data_movement")
    return _BY_KIND.get(kind_, "other")


@dataclass(frozen=True)
class Geometry:
    """What a kernel's efficiency depends on, GEMM-style: `pixels` output positions (batch included),
    `reduction` multiply-adds per output element, `outputs` output channels per group, `groups`."""

    pixels: int
    reduction: int
    outputs: int
    groups: int


def _numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


def _groups(kind: OpKind, in_channels: int, reduction: int) -> int:
    """Group count of a conv from C_in and K = C_in/g * k*k. For a group conv the kernel size is not in the
    op graph; the smallest odd k that gives an integer g with 1 < g < C_in is taken (1x1 in every zoo net)."""
    if kind is OpKind.DEPTHWISE_CONV:
        return in_channels
    if kind is not OpKind.GROUP_CONV:
        return 1
    for k in (1, 3, 5, 7):
        groups, rest = divmod(in_channels * k * k, reduction)
        if not rest and 1 < groups < in_channels:
            return groups
    return max(2, round(in_channels / reduction))


def geometry(kind: str, flops: int, input_shapes: Sequence[Sequence[int]],
             output_shapes: Sequence[Sequence[int]]) -> Geometry:
    """The GEMM view of an op from the op graph's shapes and FLOPs (multiply-adds)."""
    kind_ = OpKind(kind)
    out = tuple(output_shapes[0]) if output_shapes else (1,)
    first_in = tuple(input_shapes[0]) if input_shapes else out
    out_elements = max(1, _numel(out))
    if kind_ in (OpKind.CONV, OpKind.GROUP_CONV, OpKind.DEPTHWISE_CONV, OpKind.LINEAR):
        channel_axis = -1 if kind_ is OpKind.LINEAR else 1
        c_in, c_out = first_in[channel_axis], out[channel_axis]
        reduction = max(1, flops // out_elements)
        groups = _groups(kind_, c_in, reduction)
        return Geometry(out_elements // c_out, reduction, max(1, c_out // groups), groups)
    return Geometry(out_elements, 1, 1, 1)
