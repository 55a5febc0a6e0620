"""Hidden copies: a permute or transpose only rewrites strides, and the engine charges a copy where a reshape
or .contiguous() needs contiguous memory (ShuffleNet's channel shuffle). Ground truth: ATen's own copies
(aten::clone) counted by the PyTorch profiler running each module on this CPU."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.profiler import profile

import costmodel

SHAPE = (2, 16, 6, 6)  # N, C, H, W


class Lambda(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def _shuffle(x: torch.Tensor) -> torch.Tensor:  # ShuffleNet's channel shuffle, 2 groups
    n, c, h, w = x.shape
    return x.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


CASES = {
    "channel shuffle": _shuffle,
    "a permute made contiguous": lambda x: F.layer_norm(x.permute(0, 2, 3, 1).contiguous(), (16,)),
    "a permute flattened": lambda x: x.permute(0, 2, 3, 1).flatten(1),
    "a permute flattened over the moved axis": lambda x: x.permute(0, 2, 3, 1).flatten(2),
    "elementwise on a permute": lambda x: x.permute(0, 2, 3, 1) * 2.0,
    "a transpose multiplied": lambda x: x.flatten(2).transpose(1, 2) @ x.flatten(2),
}


def _aten_copies(module: nn.Module, shape: tuple[int, ...]) -> int:
    x = torch.randn(shape)
    with torch.no_grad(), profile() as run:
        module(x)
    return sum(event.name == "aten::clone" for event in run.events())


def _engine_copies(module: nn.Module, shape: tuple[int, ...]) -> int:
    ops = costmodel.analyze(module, shape).ops
    return int(ops["op"].isin(["copy", "channel_shuffle"]).sum())


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_engine_copies_where_pytorch_copies(case):
    module = Lambda(CASES[case])
    assert _engine_copies(module, SHAPE) == _aten_copies(module, SHAPE)


def test_shufflenet_v2_copies_as_often_as_pytorch():
    """torchvision's ShuffleNet V2 1.0x: one channel shuffle per unit (16), each a copy in ATen too."""
    model, shape = torchvision.models.shufflenet_v2_x1_0().eval(), (1, 3, 64, 64)
    assert _engine_copies(model, shape) == _aten_copies(model, shape) == 16
