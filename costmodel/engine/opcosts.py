"""Op cost registry: one small pure function per op family, from tensor shapes to FLOPs and MAC.

Conventions (DESIGN.md): FLOPs are multiply-adds and only dense arithmetic (conv, linear, matmul) has them;
elementwise work is counted separately as elements processed; MAC is elements read + written (inputs,
parameters, outputs), assuming a cache big enough for the op's own tensors (ShuffleNet V2's assumption).
Data movement (concat, split, slice, pad, the channel-shuffle copy) has MAC and no FLOPs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

from costmodel.engine.kinds import OpKind

Shape = tuple[int, ...]


@dataclass(frozen=True)
class OpCall:
    """What a cost function sees: activation inputs, parameter tensors read, outputs, extra attributes."""

    inputs: tuple[Shape, ...]
    outputs: tuple[Shape, ...]
    params: tuple[Shape, ...] = ()
    attrs: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OpCost:
    kind: OpKind
    flops: int = 0  # multiply-adds
    mac: int = 0  # elements read + written
    elementwise: int = 0  # elements processed by elementwise arithmetic (never mixed into flops)


CostFn = Callable[[OpCall], OpCost]
OP_COSTS: dict[str, CostFn] = {}


def numel(shape: Shape) -> int:
    return math.prod(shape)


def _io_elements(op: OpCall) -> int:
    return sum(map(numel, op.inputs)) + sum(map(numel, op.outputs)) + sum(map(numel, op.params))


def register(*names: str) -> Callable[[CostFn], CostFn]:
    """Register a cost function under canonical op names (see costmodel.engine.trace for the name mapping)."""

    def add(fn: CostFn) -> CostFn:
        for name in names:
            OP_COSTS[name] = fn
        return fn

    return add


def conv_kind(in_channels: int, weight: Shape) -> OpKind:
    """Dense, group or depthwise, from the input channels and the weight's (C_out, C_in/g, k...) shape."""
    groups = in_channels // weight[1]
    if groups == 1:
        return OpKind.CONV
    return OpKind.DEPTHWISE_CONV if weight[1] == 1 else OpKind.GROUP_CONV


@register("conv")
def conv_cost(op: OpCall) -> OpCost:
    """Every output element needs C_in/g * k_h * k_w multiply-adds; bias adds are not counted (paper rule)."""
    weight = op.params[0]
    per_output = numel(weight[1:])
    return OpCost(
        conv_kind(op.inputs[0][1], weight), flops=numel(op.outputs[0]) * per_output, mac=_io_elements(op)
    )


@register("linear")
def linear_cost(op: OpCall) -> OpCost:
    weight = op.params[0]
    return OpCost(OpKind.LINEAR, flops=numel(op.outputs[0]) * weight[1], mac=_io_elements(op))


@register("matmul")
def matmul_cost(op: OpCall) -> OpCost:
    """Batched matrix product: each output element is a dot product over the shared inner dimension."""
    return OpCost(OpKind.LINEAR, flops=numel(op.outputs[0]) * op.inputs[0][-1], mac=_io_elements(op))


@register(
    "relu", "relu6", "silu", "hardswish", "hardsigmoid", "sigmoid", "gelu", "tanh", "leaky_relu", "elu",
    "softmax", "batch_norm", "layer_norm", "add", "sub", "mul", "div", "neg", "exp", "sqrt", "pow",
)
def elementwise_cost(op: OpCall) -> OpCost:
    """Activations, arithmetic, unfused normalisation: one pass over the output, reads of every input."""
    return OpCost(OpKind.ELEMENTWISE, mac=_io_elements(op), elementwise=numel(op.outputs[0]))


@register("cat", "split", "slice", "pad", "interpolate", "copy")
def data_movement_cost(op: OpCall) -> OpCost:
    return OpCost(OpKind.DATA_MOVEMENT, mac=_io_elements(op))


@register("channel_shuffle")
def shuffle_cost(op: OpCall) -> OpCost:
    """The copy that realises a channel shuffle (reshape + transpose + reshape): read all, write all."""
    return OpCost(OpKind.SHUFFLE, mac=_io_elements(op))


@register("max_pool", "avg_pool", "adaptive_avg_pool", "adaptive_max_pool")
def pooling_cost(op: OpCall) -> OpCost:
    return OpCost(OpKind.POOLING, mac=_io_elements(op))


@register("mean", "sum", "amax")
def reduction_cost(op: OpCall) -> OpCost:
    return OpCost(OpKind.REDUCTION, mac=_io_elements(op))


@register("view", "identity")
def view_cost(op: OpCall) -> OpCost:
    """Reshapes of contiguous tensors, transposes before their copy, dropout at inference: no memory moved."""
    return OpCost(OpKind.VIEW)


def g1_lower_bound(hw: float, flops: float) -> float:
    """ShuffleNet V2's G1: the least MAC (elements) of a 1x1 conv with `flops` multiply-adds over `hw` output
    positions, 2*sqrt(hw*B) + B/hw, reached when input and output channels are equal."""
    return 2 * math.sqrt(hw * flops) + flops / hw


def cost_of(op_name: str, op: OpCall) -> OpCost | None:
    """The op's cost, or None when the engine does not know the op (the caller marks totals partial)."""
    fn = OP_COSTS.get(op_name)
    return fn(op) if fn else None
