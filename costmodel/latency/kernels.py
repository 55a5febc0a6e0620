"""Kernel classes: which ops share one set of latency-model parameters, and the shape features of an op.

An op kind (costmodel.engine.kinds) says what an op does to memory and compute; a kernel class says which library
kernel runs it, because that is what its speed depends on. The class comes from the op table's kernel-class
hint (costmodel.engine.ops): dense 1x1 and kxk convs run different kernels (a plain GEMM vs. im2col or direct
convolution), and grouped ones split the same way (`group_conv1x1`: ShuffleNet V1's pointwise group convs run
other library kernels than grouped 3x3 convs; with the classes apart, out of fold, grouped 1x1 convs are
predicted better on the H200 and the CPU and grouped 3x3 convs no worse, docs/readme/gpu.md); transcendental
activations (sigmoid, SiLU, ...) cost more per element than ReLU or an add, and a few (ELU, tanh) run at a
fraction of memory speed in CPU builds (`slow_activation`, 1-3 GB/s against 10-17 GB/s for SiLU on the AMD
EPYC profile); normalisations that compute statistics (LayerNorm, GroupNorm, RMSNorm) make more than one pass
over their input (`norm`), and so does unfused inference BatchNorm on a CPU, while a GPU runs it as one
per-channel scale and shift at memory speed (`batch_norm`: 8 us for 15 MB on the H200, where GroupNorm takes
several kernels); max pooling is far slower than average pooling on CPUs, and global pooling is a reduction;
a channel split of a contiguous tensor is a view in PyTorch but a copy in other frameworks. Attention (SDPA)
runs as batched matrix products and shares the linear class. Each class gets its own fitted parameters, so a
profile learns those differences from measurements instead of assuming them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from costmodel.engine.kinds import OpKind
from costmodel.engine.ops import BY_NAME

KERNEL_CLASSES = (
    "conv1x1", "conv", "group_conv", "group_conv1x1", "depthwise_conv", "linear", "max_pool", "avg_pool",
    "reduction", "elementwise", "activation", "slow_activation", "batch_norm", "norm", "split", "concat",
    "data_movement", "shuffle", "other",
)
# Classes whose time has an arithmetic term (multiply-adds, or window reads for pooling) besides memory traffic.
COMPUTE_CLASSES = frozenset({"conv1x1", "conv", "group_conv", "group_conv1x1", "depthwise_conv", "linear", "max_pool",
                             "avg_pool"})
# Classes that vectorise over input and output channels (a depthwise conv vectorises over channels alone).
LANE_CLASSES = frozenset({"conv1x1", "conv", "group_conv", "group_conv1x1", "linear"})
# Classes with a cost per extra part: one GEMM per group of a group conv, one copy per input of a concat.
GROUPED_CLASSES = frozenset({"group_conv", "group_conv1x1", "concat"})
# Op-table hints that run on another class's kernels.
_SHARED = {"attention": "linear"}
# Where an unmeasured or missing class takes its parameters from: the first available class in its list.
DONORS = {
    "conv1x1": ("conv", "group_conv", "linear"), "conv": ("conv1x1", "group_conv"),
    "group_conv": ("group_conv1x1", "conv1x1", "conv"), "group_conv1x1": ("group_conv", "conv1x1", "conv"),
    "depthwise_conv": ("conv", "conv1x1"), "linear": ("conv1x1", "conv"),
    **{c: ("elementwise", "activation", "concat", "shuffle")
       for c in ("max_pool", "avg_pool", "reduction", "elementwise", "activation", "norm", "split", "shuffle",
                 "other")},
    "slow_activation": ("activation", "elementwise"), "batch_norm": ("norm", "elementwise"),
    "concat": ("data_movement", "shuffle", "elementwise"), "data_movement": ("concat", "shuffle", "elementwise"),
}


def kernel_class(kind: str, op: str, reduction: int, in_channels: int, stride: int, groups: int) -> str:
    """The kernel class of an op: the op table's hint; a dense or group conv is 1x1 exactly when each output
    needs the C_in / groups multiply-adds of its group (reduction = C_in / groups * k*k) and it does not
    stride: PyTorch runs an unstrided 1x1 conv as one plain GEMM (per group) but a strided one through the
    general convolution path, which the micro-benchmarks show costs like a kxk conv (3-5x a GEMM of the same
    size at small sizes)."""
    kind_ = OpKind(kind)
    pointwise = reduction * groups == in_channels and stride == 1
    if kind_ is OpKind.CONV:
        return "conv1x1" if pointwise else "conv"
    if kind_ is OpKind.GROUP_CONV:
        return "group_conv1x1" if pointwise else "group_conv"
    if kind_ is OpKind.DEPTHWISE_CONV:
        return kind_.value
    spec = BY_NAME.get(op)
    hint = spec.hint if spec is not None else "other"
    return _SHARED.get(hint, hint)


@dataclass(frozen=True)
class Geometry:
    """What a kernel's efficiency depends on, GEMM-style: `pixels` output positions (batch included),
    `reduction` multiply-adds (or window reads) per output element, `outputs` output channels per group,
    `groups` (inputs, for a concat), `work` the multiply-adds or window reads, `kernel` and `stride` the
    window's largest side and step (1 where there is no window)."""

    pixels: int
    reduction: int
    outputs: int
    groups: int
    work: int
    kernel: int
    stride: int


def _largest(value: object) -> int:
    """The largest entry of an attribute tuple (kernel_size, stride), 1 where it does not apply."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value):
        return max(int(v) for v in value)
    return int(value) if isinstance(value, (int, float)) and value == value else 1


def geometry(kind: str, flops: int, input_shapes: Sequence[Sequence[int]], output_shapes: Sequence[Sequence[int]],
             *, groups: int | None = None, kernel_size: object = None, stride: object = None) -> Geometry:
    """The GEMM view of an op from its shapes, FLOPs (multiply-adds) and the op graph's exact attributes
    (groups, kernel_size, stride: costmodel.engine.attrs). A concat's `groups` is its number of inputs."""
    kind_ = OpKind(kind)
    out = tuple(output_shapes[0]) if len(output_shapes) else (1,)
    out_elements = max(1, math.prod(out))
    kernel, step = _largest(kernel_size), _largest(stride)
    if kind_ in (OpKind.CONV, OpKind.GROUP_CONV, OpKind.DEPTHWISE_CONV, OpKind.LINEAR):
        c_out = max(1, out[-1 if kind_ is OpKind.LINEAR else 1] if len(out) > 1 else out[0])  # 0: an empty layer
        g = int(groups) if groups and kind_ is not OpKind.LINEAR else 1
        return Geometry(out_elements // c_out, max(1, flops // out_elements), max(1, c_out // g), g, flops,
                        kernel, step)
    if kind_ is OpKind.POOLING and kernel_size is not None:
        window = math.prod(int(k) for k in kernel_size) if isinstance(kernel_size, Sequence) else kernel * kernel
        return Geometry(out_elements, window, 1, 1, out_elements * window, kernel, step)
    parts = len(input_shapes) if kind_ is OpKind.DATA_MOVEMENT else 1
    return Geometry(out_elements, 1, 1, max(1, parts), 0, kernel, step)
