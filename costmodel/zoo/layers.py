"""Layers shared by the zoo families: conv-BN-activation, squeeze-excitation, channel shuffle, heads.

Module-structure convention (the engine relies on it): a repeated unit is a custom `nn.Module` placed in an
`nn.Sequential`; helpers that are *not* units (`ConvNormAct`, `classifier_head`) are `nn.Sequential`s so the
engine's block rule looks through them and stems/heads keep their top-level names.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor, nn

Activation = Callable[[], nn.Module]


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round to the nearest multiple of `divisor` (at least `divisor`), never below 90% of `value`.

    The rule of the TF MobileNet/MnasNet/EfficientNet code and of torchvision, so channel counts match theirs.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def round_to_multiple(value: float, multiple: int) -> int:
    """Round half up to the nearest positive multiple of `multiple` (Python's round() rounds half to even)."""
    return max(multiple, int(value / multiple + 0.5) * multiple)


class ConvNormAct(nn.Sequential):
    """Conv2d without bias ('same' padding), then optional BatchNorm2d and optional activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, stride: int = 1,
                 groups: int = 1, *, norm: bool = True, act: Activation | None = nn.ReLU) -> None:
        layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                             (kernel_size - 1) // 2, groups=groups, bias=False)]
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global pool, 1x1 reduce (bias), activation, 1x1 expand (bias), sigmoid gate."""

    def __init__(self, channels: int, squeeze_channels: int, act: Activation = nn.ReLU) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeeze_channels, 1)
        self.act = act()
        self.expand = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(self.pool(x)))))


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet channel shuffle as reshape-transpose-reshape (the form the engine recognises; fx-traceable)."""
    n, c, h, w = x.size()
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


def classifier_head(in_channels: int, *, conv_channels: int | None = None, dropout: float = 0.0,
                    act: Activation = nn.ReLU, num_classes: int = 1000) -> nn.Sequential:
    """[1x1 conv-BN-act] -> global average pool -> [dropout] -> fully connected layer (with bias)."""
    layers: list[nn.Module] = []
    if conv_channels is not None:
        layers.append(ConvNormAct(in_channels, conv_channels, 1, act=act))
        in_channels = conv_channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(in_channels, num_classes))
    return nn.Sequential(*layers)


def stage(repeats: int, in_channels: int, out_channels: int, stride: int,
          make_unit: Callable[[int, int, int], nn.Module]) -> nn.Sequential:
    """`repeats` units made by make_unit(in, out, stride): the first maps in_channels -> out_channels at
    `stride`, the others keep out_channels at stride 1."""
    return nn.Sequential(*(make_unit(in_channels, out_channels, stride) if i == 0 else
                           make_unit(out_channels, out_channels, 1) for i in range(repeats)))


class StagedNet(nn.Module):
    """stem -> named stages (nn.Sequential of repeated units) -> head: the skeleton of every ImageNet network.

    Stages are named after the papers' tables (stage2, stage3, ...; the stem is stage 1).
    """

    def __init__(self, stem: nn.Module, stages: Mapping[str, nn.Sequential], head: nn.Module) -> None:
        super().__init__()
        self.stem = stem
        for name, stage in stages.items():
            self.add_module(name, stage)
        self.stage_names = tuple(stages)
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return self.head(x)
