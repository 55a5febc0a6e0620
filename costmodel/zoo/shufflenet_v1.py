"""ShuffleNet V1 (Zhang et al., CVPR 2018), Table 1: stage widths per group count g, as megvii's code.

Width multiplier s ("ShuffleNet s x"): stage 2's width of Table 1 times s, rounded half up to a multiple of 4g
(so the bottleneck, 1/4 of a stage's width, splits into g groups); stages 3 and 4 double it, as in Table 1.
Conv1 scales by the largest power of two not above s, rounded half up to a multiple of g (so a stride-2 unit's
conv branch, stage width minus input width, splits too). Both rules reproduce megvii's released 0.5x/1x/1.5x/2x
models at g = 3 and 8 (conv1 12/16, 24, 24, 48), whose FLOPs and parameters are the published numbers below.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .layers import ConvNormAct, StagedNet, channel_shuffle, classifier_head, round_to_multiple, stage
from .spec import ArchSpec, Param, Published, imagenet_input, validated

STEM = 24
REPEATS = (4, 8, 4)  # stages 2, 3, 4; the first unit of each has stride 2
STAGE_WIDTHS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}  # Table 1: stage 2 per g; stages 3 and 4 double it
BOTTLENECK_RATIO = 4
PARAMS = (
    Param("groups", int, 3, "groups of the 1x1 convolutions (Table 1)", choices=tuple(STAGE_WIDTHS)),
    Param("width", float, 1.0, "width multiplier s (ShuffleNet s x)", minimum=0.05, maximum=4.0),
)


class ShuffleV1Unit(nn.Module):
    """1x1 group conv-BN-ReLU, shuffle, 3x3 depthwise conv-BN, 1x1 group conv-BN; merged with the input by
    add (stride 1) or by concat with a 3x3/2 average-pooled shortcut (stride 2); then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int, first_groups: int) -> None:
        super().__init__()
        mid = out_channels // BOTTLENECK_RATIO
        self.groups = groups
        self.reduce = ConvNormAct(in_channels, mid, 1, groups=first_groups)
        self.depthwise = ConvNormAct(mid, mid, 3, stride, groups=mid, act=None)
        self.expand = ConvNormAct(mid, out_channels - (in_channels if stride == 2 else 0), 1, groups=groups,
                                  act=None)
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else None
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.reduce(x)
        if self.groups > 1:
            out = channel_shuffle(out, self.groups)
        out = self.expand(self.depthwise(out))
        out = x + out if self.shortcut is None else torch.cat((self.shortcut(x), out), dim=1)
        return self.relu(out)


@validated("shufflenet_v1", PARAMS)
def shufflenet_v1(*, groups: int = 3, width: float = 1.0) -> nn.Module:
    """ShuffleNet V1 with `groups` in Table 1's 1, 2, 3, 4, 8 at width multiplier `width`."""
    stage2 = round_to_multiple(STAGE_WIDTHS[groups] * width, BOTTLENECK_RATIO * groups)
    widths = (stage2, 2 * stage2, 4 * stage2)
    stem = round_to_multiple(STEM * 2 ** math.floor(math.log2(width)), groups)
    stages, in_channels = {}, stem
    for index, (repeats, out_channels) in enumerate(zip(REPEATS, widths), start=2):
        # Stage 2's first unit reads the narrow conv1 output: its first 1x1 conv is not grouped (Table 1).
        ungrouped = index == 2
        stages[f"stage{index}"] = stage(repeats, in_channels, out_channels, 2, lambda i, o, s: ShuffleV1Unit(
            i, o, s, groups, 1 if ungrouped and s == 2 else groups))
        in_channels = out_channels
    stem_layers = nn.Sequential(ConvNormAct(3, stem, 3, 2), nn.MaxPool2d(3, 2, 1))
    return StagedNet(stem_layers, stages, classifier_head(in_channels))


_T1 = "shufflenetv1_table1_arch.csv: ShuffleNet V1 Table 1 complexity"
_MEGVII = "shufflenetv1_megvii_repo_results.csv: megvii ShuffleNet-Series README"

SPEC = ArchSpec(
    name="shufflenet_v1", family="ShuffleNet",
    summary="ShuffleNet V1: 1x1 group convolutions with channel shuffle in ResNet-style bottlenecks",
    params=PARAMS,
    published=(
        Published({"groups": 1}, 143, None, None, _T1),
        Published({"groups": 2}, 140, None, None, _T1),
        Published({"groups": 3}, 137, None, None, _T1),
        Published({"groups": 4}, 133, None, None, _T1),
        Published({"groups": 8}, 137, None, None, _T1),
        Published({"groups": 3, "width": 0.5}, 38, 0.7, None, _MEGVII),
        Published({"groups": 8, "width": 0.5}, 40, 1.0, None, _MEGVII),
        Published({"groups": 3, "width": 1.0}, 138, 1.9, None, _MEGVII),
        Published({"groups": 8, "width": 1.0}, 138, 2.4, None, _MEGVII),
        Published({"groups": 3, "width": 1.5}, 292, 3.4, None, _MEGVII),
        Published({"groups": 8, "width": 1.5}, 290, 4.3, None, _MEGVII),
        Published({"groups": 3, "width": 2.0}, 524, 5.4, None, _MEGVII),
        Published({"groups": 8, "width": 2.0}, 522, 6.5, None, _MEGVII),
    ),
    builder=shufflenet_v1, input_shape=imagenet_input)
