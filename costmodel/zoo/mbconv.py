"""Inverted-residual (MBConv) networks described by block strings: MobileNet V2, MnasNet, EfficientNet.

A block string is the official TF notation (efficientnet_builder.py / mnasnet_models.py), e.g.
"r2_k3_s22_e6_i16_o24_se0.25": 2 repeats, 3x3 depthwise kernel, stride 2, expansion 6, 16 -> 24 channels,
squeeze-excitation with 0.25 of the block's input channels; "noskip" disables the residual connection.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from torch import Tensor, nn

from .layers import Activation, ConvNormAct, SqueezeExcite, StagedNet, classifier_head, make_divisible, stage

_TOKEN = re.compile(r"(r|k|s|e|i|o|se)(\d+(?:\.\d+)?)|(noskip)")


@dataclass(frozen=True)
class BlockArgs:
    """One stage of MBConv blocks; the stride applies to the first block only."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    in_channels: int
    out_channels: int
    se_ratio: float = 0.0
    skip: bool = True

    @classmethod
    def decode(cls, text: str) -> BlockArgs:
        fields: dict[str, str] = {}
        for token in text.split("_"):
            match = _TOKEN.fullmatch(token)
            if match is None:
                raise ValueError(f"bad token {token!r} in block string {text!r}")
            if match[3]:
                fields["noskip"] = "1"
            else:
                fields[match[1]] = match[2]
        return cls(repeats=int(fields["r"]), kernel=int(fields["k"]), stride=int(fields["s"][0]),
                   expand=int(fields["e"]), in_channels=int(fields["i"]), out_channels=int(fields["o"]),
                   se_ratio=float(fields.get("se", 0.0)), skip="noskip" not in fields)

    def scaled(self, width: float, depth: float) -> BlockArgs:
        """Channels times `width` rounded by `make_divisible`, repeats ceil(`depth` * repeats) (official rule)."""
        return replace(self, repeats=math.ceil(self.repeats * depth),
                       in_channels=make_divisible(self.in_channels * width),
                       out_channels=make_divisible(self.out_channels * width))


def decode_blocks(texts: Sequence[str], width: float = 1.0, depth: float = 1.0) -> list[BlockArgs]:
    return [BlockArgs.decode(text).scaled(width, depth) for text in texts]


class MBConv(nn.Module):
    """[1x1 expand-BN-act] -> kxk depthwise-BN-act -> [SE] -> 1x1 project-BN, plus identity when shapes match."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, expand: int,
                 se_ratio: float, act: Activation, skip: bool = True) -> None:
        super().__init__()
        hidden = in_channels * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvNormAct(in_channels, hidden, 1, act=act))
        layers.append(ConvNormAct(hidden, hidden, kernel, stride, groups=hidden, act=act))
        if se_ratio > 0:
            layers.append(SqueezeExcite(hidden, max(1, int(in_channels * se_ratio)), act))
        layers.append(ConvNormAct(hidden, out_channels, 1, act=None))
        self.body = nn.Sequential(*layers)
        self.residual = skip and stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        return x + out if self.residual else out


def mbconv_net(blocks: Sequence[BlockArgs], *, head_channels: int, act: Activation, dropout: float) -> StagedNet:
    """Stem 3x3/2 conv -> one stage of MBConv blocks per block string -> 1x1 head conv, pool, dropout, FC."""
    stages = {f"stage{index}": stage(b.repeats, b.in_channels, b.out_channels, b.stride, lambda i, o, s: MBConv(
        i, o, b.kernel, s, b.expand, b.se_ratio, act, b.skip)) for index, b in enumerate(blocks, start=2)}
    return StagedNet(ConvNormAct(3, blocks[0].in_channels, 3, 2, act=act), stages,
                     classifier_head(blocks[-1].out_channels, conv_channels=head_channels, dropout=dropout, act=act))
