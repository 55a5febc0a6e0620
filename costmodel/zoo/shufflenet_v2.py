"""ShuffleNet V2 (Ma et al., ECCV 2018), Table 5: the architecture of megvii's and torchvision's code.

Widths other than Table 5's: stage-2 channels are interpolated linearly in the width between Table 5's
(0.5x: 48, 1x: 116, 1.5x: 176, 2x: 244; proportional to the width below 0.5x and above 2x) and rounded to a
multiple of 4; stages 3 and 4 double it. Conv5 has 1024 channels below 2x and 1024 * width (multiple of 8)
from 2x on, as in Table 5.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from costmodel.errors import CostModelError

from .layers import ConvNormAct, SqueezeExcite, StagedNet, channel_shuffle, classifier_head, make_divisible, \
    round_to_multiple, stage
from .spec import ArchSpec, Param, Published, imagenet_input, validated

STEM = 24
REPEATS = (4, 8, 4)  # stages 2, 3, 4; the first unit of each has stride 2
STAGE2_CHANNELS = ((0.5, 48), (1.0, 116), (1.5, 176), (2.0, 244))  # Table 5, width -> stage-2 channels
CONV5 = 1024
SE_REDUCTION = 4  # squeeze channels = branch channels // 4, as megvii's ShuffleNetV2+ SE layer
PARAMS = (
    Param("width", float, 1.0, "width multiplier (Table 5: 0.5, 1.0, 1.5, 2.0)", minimum=0.05, maximum=4.0),
    Param("se", bool, False, "squeeze-excitation at the end of each unit's conv branch"),
    Param("split_ratio", float, 0.5, "share of channels through the conv branch of a stride-1 unit",
          minimum=0.05, maximum=0.95),
)


def stage_channels(width: float) -> tuple[int, int, int, int]:
    """Output channels of stages 2, 3, 4 and conv5 at `width` (Table 5 exactly at its four widths)."""
    (w_lo, c_lo), (w_hi, c_hi) = STAGE2_CHANNELS[0], STAGE2_CHANNELS[-1]
    if width <= w_lo:
        stage2 = c_lo * width / w_lo
    elif width >= w_hi:
        stage2 = c_hi * width / w_hi
    else:
        (w0, c0), (w1, c1) = next((a, b) for a, b in zip(STAGE2_CHANNELS, STAGE2_CHANNELS[1:]) if width <= b[0])
        stage2 = c0 + (c1 - c0) * (width - w0) / (w1 - w0)
    c = round_to_multiple(stage2, 4)
    return c, 2 * c, 4 * c, CONV5 if width < w_hi else make_divisible(CONV5 * width)


class ShuffleV2Unit(nn.Module):
    """Stride 1: channel split, identity | 1x1-dw3x3-1x1 branch, concat, shuffle. Stride 2: no split, both
    branches (dw3x3-1x1 | 1x1-dw3x3-1x1) see the whole input and halve the resolution."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, split_ratio: float, se: bool) -> None:
        super().__init__()
        right = round(out_channels * split_ratio)
        if not 0 < right < out_channels:
            raise CostModelError(f"shufflenet_v2: split_ratio={split_ratio} leaves a branch of a {out_channels}-"
                                 "channel unit without channels", "use a split_ratio nearer 0.5")
        self.split = (out_channels - right, right)
        self.branch1 = None if stride == 1 else nn.Sequential(
            ConvNormAct(in_channels, in_channels, 3, stride, groups=in_channels, act=None),
            ConvNormAct(in_channels, self.split[0], 1))
        branch2 = [ConvNormAct(right if stride == 1 else in_channels, right, 1),
                   ConvNormAct(right, right, 3, stride, groups=right, act=None),
                   ConvNormAct(right, right, 1)]
        if se:
            branch2.append(SqueezeExcite(right, max(1, right // SE_REDUCTION)))
        self.branch2 = nn.Sequential(*branch2)

    def forward(self, x: Tensor) -> Tensor:
        if self.branch1 is None:
            left, right = x.split(self.split, dim=1)
            out = torch.cat((left, self.branch2(right)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


@validated("shufflenet_v2", PARAMS)
def shufflenet_v2(*, width: float = 1.0, se: bool = False, split_ratio: float = 0.5) -> nn.Module:
    """ShuffleNet V2 at `width`; `split_ratio` = share of channels through the conv branch (paper: 0.5)."""
    *widths, conv5 = stage_channels(width)
    stages, in_channels = {}, STEM
    for index, (repeats, out_channels) in enumerate(zip(REPEATS, widths), start=2):
        stages[f"stage{index}"] = stage(repeats, in_channels, out_channels, 2,
                                        lambda i, o, s: ShuffleV2Unit(i, o, s, split_ratio, se))
        in_channels = out_channels
    stem = nn.Sequential(ConvNormAct(3, STEM, 3, 2), nn.MaxPool2d(3, 2, 1))
    return StagedNet(stem, stages, classifier_head(in_channels, conv_channels=conv5))


_TV = "torchvision_weights_meta.csv: torchvision shufflenet_v2_x*; FLOPs/params in shufflenetv2_table5_arch.csv"

SPEC = ArchSpec(
    name="shufflenet_v2", family="ShuffleNet",
    summary="ShuffleNet V2: channel split, equal-width branches, concat and channel shuffle",
    params=PARAMS,
    published=(
        Published({"width": 0.5}, 41, 1.4, 1366792, _TV),
        Published({"width": 1.0}, 146, 2.3, 2278604, _TV),
        Published({"width": 1.5}, 299, 3.5, 3503624, _TV),
        Published({"width": 2.0}, 591, 7.4, 7393996, _TV),
    ),
    builder=shufflenet_v2, input_shape=imagenet_input)
