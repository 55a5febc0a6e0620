"""Op kinds (docs/DESIGN.md vocabulary) and the groupings every report and chart uses."""
from __future__ import annotations

from enum import Enum


class OpKind(str, Enum):
    """What an op does to memory and compute; decides its cost formula and its time category."""

    CONV = "conv"
    GROUP_CONV = "group_conv"
    DEPTHWISE_CONV = "depthwise_conv"
    LINEAR = "linear"
    POOLING = "pooling"
    REDUCTION = "reduction"
    ELEMENTWISE = "elementwise"
    DATA_MOVEMENT = "data_movement"
    SHUFFLE = "shuffle"
    VIEW = "view"  # metadata only (view, flatten, a transpose before its copy): no kernel, no memory moved
    OTHER = "other"
    UNKNOWN = "unknown"


CONV_KINDS = frozenset({OpKind.CONV, OpKind.GROUP_CONV, OpKind.DEPTHWISE_CONV})
# The operators ShuffleNet V2 counts as "fragmented operators" (G3).
COMPUTE_KINDS = CONV_KINDS | {OpKind.LINEAR, OpKind.POOLING}
DATA_KINDS = frozenset({OpKind.DATA_MOVEMENT, OpKind.SHUFFLE})

# ShuffleNet V2 Figure 2 time categories; every kind falls in exactly one.
CATEGORIES = ("Conv", "Elemwise", "Data", "Shuffle", "Other")
_CATEGORY_OF = {
    OpKind.CONV: "Conv",
    OpKind.GROUP_CONV: "Conv",
    OpKind.DEPTHWISE_CONV: "Conv",
    OpKind.LINEAR: "Conv",
    OpKind.ELEMENTWISE: "Elemwise",
    OpKind.DATA_MOVEMENT: "Data",
    OpKind.SHUFFLE: "Shuffle",
}


def category(kind: OpKind) -> str:
    """The Figure 2 category of a kind (pooling, reductions, views and unknown ops are 'Other')."""
    return _CATEGORY_OF.get(kind, "Other")


def launches_kernel(kind: OpKind) -> bool:
    """Whether the op costs a kernel launch / dispatch: everything but metadata-only views."""
    return kind is not OpKind.VIEW
