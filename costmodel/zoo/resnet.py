"""ResNet-50 (He et al., CVPR 2016) with bottleneck units, as torchvision builds it (stride on the 3x3 conv)."""
from __future__ import annotations

from torch import Tensor, nn

from .layers import ConvNormAct, StagedNet, classifier_head, stage
from .spec import ArchSpec, Published, imagenet_input

STEM = 64
STAGES = ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2))  # conv2_x-conv5_x: (units, width, stride)
EXPANSION = 4


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 -> 1x1 expand, plus a shortcut (1x1 projection where the shape changes); ReLU after
    each conv and after the add. `norm`, `relu`, `shortcut` switch parts off for the G4 micro-network."""

    def __init__(self, in_channels: int, width: int, out_channels: int, stride: int = 1, *, norm: bool = True,
                 relu: bool = True, shortcut: bool = True) -> None:
        super().__init__()
        act = nn.ReLU if relu else None
        self.body = nn.Sequential(ConvNormAct(in_channels, width, 1, norm=norm, act=act),
                                  ConvNormAct(width, width, 3, stride, norm=norm, act=act),
                                  ConvNormAct(width, out_channels, 1, norm=norm, act=None))
        self.shortcut = shortcut
        self.project = ConvNormAct(in_channels, out_channels, 1, stride, norm=norm, act=None) \
            if shortcut and (stride != 1 or in_channels != out_channels) else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(x)
        if self.shortcut:
            out = out + (x if self.project is None else self.project(x))
        return out if self.relu is None else self.relu(out)


def resnet50() -> nn.Module:
    """ResNet-50: 7x7/2 stem conv and 3x3/2 max pool, then 3, 4, 6, 3 bottlenecks."""
    stages, in_channels = {}, STEM
    for index, (units, width, stride) in enumerate(STAGES, start=2):
        out_channels = width * EXPANSION
        stages[f"stage{index}"] = stage(units, in_channels, out_channels, stride,
                                        lambda i, o, s: Bottleneck(i, width, o, s))
        in_channels = out_channels
    stem = nn.Sequential(ConvNormAct(3, STEM, 7, 2), nn.MaxPool2d(3, 2, 1))
    return StagedNet(stem, stages, classifier_head(in_channels))


SPEC = ArchSpec(
    name="resnet50", family="ResNet", summary="ResNet-50: bottleneck residual network, the FLOPs-heavy reference",
    params=(),
    published=(Published({}, 4100, 26, 25557032, "efficientnet_table2_latest.csv: EfficientNet Table 2; exact "
                         "params extra_published.csv"),
               Published({"resolution": 448}, 16400, None, None,
                         "efficientnet_table3_scaling.csv: EfficientNet Table 3, ResNet-50 scaled by r=2")),
    builder=resnet50, input_shape=imagenet_input)
