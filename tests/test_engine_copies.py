"""Hidden copies: a permute or transpose only rewrites strides, and the engine charges a copy where a reshape
or .contiguous() needs contiguous memory (ShuffleNet's channel shuffle), where a matmul or einsum must copy a
permuted operand before its batched GEMM (window attention), and where self-attention splits and merges heads.
Ground truth: ATen's own copies counted by the PyTorch profiler running each module on this CPU."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.profiler import profile

import costmodel
from costmodel.engine.copies import is_channel_shuffle

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


def _heads(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Swin's window attention layout: tokens x (2 heads of q, k) x 4, permuted to (N, heads, tokens, 4)."""
    qk = x.flatten(2).transpose(1, 2).reshape(2, 36, 2, 2, 4).permute(2, 0, 3, 1, 4)
    return qk[0] * 0.5, qk[1]


def _window_attention(x: torch.Tensor) -> torch.Tensor:
    q, k = _heads(x)
    return (q @ k.transpose(-2, -1)).softmax(-1).matmul(k).transpose(1, 2).reshape(2, 36, 8)


CASES = {
    "channel shuffle": _shuffle,
    "a permute made contiguous": lambda x: F.layer_norm(x.permute(0, 2, 3, 1).contiguous(), (16,)),
    "a permute flattened": lambda x: x.permute(0, 2, 3, 1).flatten(1),
    "a permute flattened over the moved axis": lambda x: x.permute(0, 2, 3, 1).flatten(2),
    "elementwise on a permute": lambda x: x.permute(0, 2, 3, 1) * 2.0,
    "a transpose multiplied": lambda x: x.flatten(2).transpose(1, 2) @ x.flatten(2),
    "a permute reshaped where a view suffices": lambda x: x.permute(0, 2, 3, 1).reshape(2, 36, 16),
    "a transpose reshaped where a view suffices": lambda x: x.flatten(2).transpose(1, 2).reshape(2, 6, 6, 16),
    "window attention (matmul folds permuted heads)": _window_attention,
    "einsum over permuted heads": lambda x: torch.einsum("bhid,bhjd->bhij", *_heads(x)),
    "a permuted 4-D tensor times a matrix": lambda x: x.permute(0, 2, 3, 1) @ x[0, :, 0, :4],
}


# ATen's copy kernels: clone (a reshape or .contiguous() that cannot be a view) and the fused bias + scale +
# head split of nn.MultiheadAttention's fast path.
ATEN_COPIES = ("aten::clone", "aten::_transform_bias_rescale_qkv")


def _aten_copies(module: nn.Module, shape: tuple[int, ...]) -> int:
    x = torch.randn(shape)
    with torch.no_grad(), profile() as run:
        module(x)
    return sum(event.name in ATEN_COPIES for event in run.events())


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


@pytest.mark.parametrize("need_weights", [False, True], ids=["fast path", "weights path"])
def test_self_attention_copies_as_often_as_pytorch(need_weights):
    """nn.MultiheadAttention splits its packed Q/K/V into heads and merges the heads again: two copies, whether
    PyTorch takes the fused fast path or returns the attention weights."""
    mha = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    module = Lambda(lambda x: mha(x, x, x, need_weights=need_weights)[0])
    module.mha = mha
    assert _engine_copies(module, (2, 9, 16)) == _aten_copies(module, (2, 9, 16)) == 2


def test_vision_transformer_copies_as_often_as_pytorch():
    """torchvision's ViT-B/32: 12 encoder layers, each one self-attention with two copies."""
    model, shape = torchvision.models.vit_b_32().eval(), (1, 3, 224, 224)
    assert _engine_copies(model, shape) == _aten_copies(model, shape) == 24


@pytest.mark.parametrize("copied,shuffle", [
    (torch.empty(1, 2, 58, 28, 28).transpose(1, 2), True),  # ShuffleNet V2's 2-group channel shuffle
    (torch.empty(1, 64, 2, 49, 32).permute(0, 1, 3, 2, 4), False),  # MaxViT's head merge: 5-D too, heads x tokens
    (torch.empty(1, 2, 58, 28, 28), False),  # nothing to shuffle: contiguous
])
def test_a_channel_shuffle_copies_the_group_tensor_with_its_channel_axes_swapped(copied, shuffle):
    assert is_channel_shuffle(copied) is shuffle
