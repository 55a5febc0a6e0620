"""MobileNet V1 (Howard et al. 2017) and V2 (Sandler et al. 2018): the baselines of both ShuffleNet papers.

The resolution multiplier of both papers is the input resolution, passed to `build(..., resolution=R)`.
"""
from __future__ import annotations

from torch import Tensor, nn

from .layers import ConvNormAct, StagedNet, classifier_head, make_divisible
from .mbconv import decode_blocks, mbconv_net
from .spec import ArchSpec, Param, Published, imagenet_input, validated

# MobileNet V1 Table 1: (output channels, stride) of the 13 depthwise-separable layers after the 32-channel stem.
V1_LAYERS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
V1_STEM = 32
V1_MIN_CHANNELS = 8

# MobileNet V2 Table 2 (t, c, n, s) as block strings.
V2_BLOCKS = ("r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24", "r3_k3_s22_e6_i24_o32", "r4_k3_s22_e6_i32_o64",
             "r3_k3_s11_e6_i64_o96", "r3_k3_s22_e6_i96_o160", "r1_k3_s11_e6_i160_o320")
V2_HEAD = 1280

PARAMS = (Param("width", float, 1.0, "width multiplier alpha (channels scale by it)", minimum=0.05, maximum=4.0),)


class DepthwiseSeparable(nn.Module):
    """MobileNet V1 layer: 3x3 depthwise conv-BN-ReLU, then 1x1 pointwise conv-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.depthwise = ConvNormAct(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = ConvNormAct(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


@validated("mobilenet_v1", PARAMS)
def mobilenet_v1(*, width: float = 1.0) -> nn.Module:
    """MobileNet V1; channels are int(c * width), at least 8 (TF-slim's depth_multiplier rule)."""
    widths = [max(int(c * width), V1_MIN_CHANNELS) for c in (V1_STEM, *(c for c, _ in V1_LAYERS))]
    layers = nn.Sequential(*(DepthwiseSeparable(widths[i], widths[i + 1], stride)
                             for i, (_, stride) in enumerate(V1_LAYERS)))
    return StagedNet(ConvNormAct(3, widths[0], 3, 2), {"layers": layers}, classifier_head(widths[-1]))


@validated("mobilenet_v2", PARAMS)
def mobilenet_v2(*, width: float = 1.0) -> nn.Module:
    """MobileNet V2 as torchvision builds it: channels rounded to multiples of 8, head 1280 * max(1, width)."""
    return mbconv_net(decode_blocks(V2_BLOCKS, width), head_channels=make_divisible(V2_HEAD * max(1.0, width)),
                     act=nn.ReLU6, dropout=0.2)


_T3 = "efficientnet_table3_scaling.csv: EfficientNet Table 3, scaling by width w=2 or resolution r=2"
_MV1 = ("extra_published.csv: MobileNets (arXiv 1704.04861) Tables 6-7; the FLOPs at 224 also in "
        "shufflenetv2_table8_accuracy.csv")

MOBILENET_V1 = ArchSpec(
    name="mobilenet_v1", family="MobileNet", summary="MobileNet V1: depthwise-separable convolutions",
    params=PARAMS,
    published=(
        Published({"width": 1.0}, 569, 4.2, None, _MV1),
        Published({"width": 0.75}, 325, 2.6, None, _MV1),
        Published({"width": 0.5}, 149, 1.3, None, _MV1),
        Published({"width": 0.25}, 41, 0.5, None, _MV1, tolerance=0.1),  # "0.5M" is printed to +-10%
        Published({"width": 1.0, "resolution": 192}, 418, 4.2, None, _MV1),
        Published({"width": 1.0, "resolution": 160}, 290, 4.2, None, _MV1),
        Published({"width": 1.0, "resolution": 128}, 186, 4.2, None, _MV1),
        Published({"width": 2.0}, 2200, None, None, _T3, tolerance=0.05),
        Published({"width": 1.0, "resolution": 448}, 2200, None, None, _T3, tolerance=0.05),
    ),
    builder=mobilenet_v1, input_shape=imagenet_input)

MOBILENET_V2 = ArchSpec(
    name="mobilenet_v2", family="MobileNet", summary="MobileNet V2: inverted residuals with linear bottlenecks",
    params=PARAMS,
    published=(
        # torchvision's build (ours) has 3.1% more parameters than the paper's printed 3.4M.
        Published({"width": 1.0}, 300, 3.4, 3504872, "torchvision_weights_meta.csv: torchvision mobilenet_v2; "
                  "FLOPs/params from shufflenetv2_megvii_repo_results.csv", tolerance=0.04),
        # The same table's 6.9M parameters disagree with the official 6.06M of MobileNetV2 1.4 (and with ours).
        Published({"width": 1.4}, 585, None, None, "shufflenetv2_megvii_repo_results.csv: MobileNetV2 (1.4)"),
        Published({"width": 2.0}, 1100, None, None, _T3, tolerance=0.05),
        Published({"width": 1.0, "resolution": 448}, 1200, None, None, _T3, tolerance=0.05),
    ),
    builder=mobilenet_v2, input_shape=imagenet_input)
