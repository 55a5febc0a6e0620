"""Which reshapes really copy memory, decided the way ATen decides it: by the operands' strides.

A permute or transpose only rewrites strides. A later reshape, flatten or .contiguous() is a view when the new
shape can be expressed in those strides and a full copy when it cannot; ShuffleNet's channel shuffle is the
classic copy. Some ops also copy inside themselves: ATen's matmul and einsum fold batch dimensions with a
reshape, so a permuted q or k in windowed attention (Swin) is copied before the batched GEMM, a kernel the
graph never shows. Both are read off the meta/fake tensors the trace already holds (docs/DESIGN.md, "MAC"):
nothing is computed, and the answer is ATen's own, not a rule of thumb about permutes.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode

Shape = tuple[int, ...]

# Tensor methods / functions that are a view when the strides allow it and a copy otherwise.
MAY_COPY = frozenset({"reshape", "flatten", "contiguous", "view", "unflatten", "reshape_as"})
# Ops that may copy an operand inside themselves before their kernel (a batched GEMM).
COPY_INSIDE = frozenset({"matmul", "einsum"})


def is_channel_shuffle(source: torch.Tensor) -> bool:
    """Whether a copy of `source` is ShuffleNet's channel shuffle (docs/DESIGN.md, op kinds): a 5-D tensor that
    is the (N, groups, C/groups, H, W) channel-group tensor with its two channel axes swapped. Other 5-D copies
    (attention's head merge swaps heads and tokens) are plain copies."""
    return source.dim() == 5 and not source.is_contiguous() and source.transpose(1, 2).is_contiguous()


def copies_its_input(output: object, source: object) -> bool:
    """True when `output` (a reshape's result) does not share memory with `source`: the reshape copied."""
    if not (isinstance(output, torch.Tensor) and isinstance(source, torch.Tensor)):
        return False
    return not torch._C._is_alias_of(output, source)


class _CloneRecorder(TorchDispatchMode):
    """Sees the ATen ops an op decomposes into and keeps, for every clone, which operand it copied."""

    def __init__(self, operands: Sequence[torch.Tensor]) -> None:
        super().__init__()
        self.operands = operands
        self.clones: list[tuple[int, Shape]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's own signature
        result = func(*args, **(kwargs or {}))
        if func is torch.ops.aten.clone.default:
            source = next((i for i, t in enumerate(self.operands) if torch._C._is_alias_of(args[0], t)), None)
            if source is not None:
                self.clones.append((source, tuple(int(d) for d in result.shape)))
        return result


def copies_inside(run: Callable[[], object], operands: Sequence[torch.Tensor]) -> list[tuple[int, Shape]]:
    """(operand index, copied shape) for each copy `run` makes of one of its operands, in order. `run` repeats
    the op on the trace's meta/fake tensors, so this costs microseconds and computes nothing."""
    with torch.no_grad(), _CloneRecorder(operands) as recorder:
        run()
    return recorder.clones
