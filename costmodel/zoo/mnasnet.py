"""MnasNet-A1 (Tan et al., CVPR 2019), Figure 7: the searched MBConv network with SE in three stages.

Block strings of the official TF code (mnasnet_models.py, mnasnet_a1); ReLU throughout (SE included), stem 32
and blocks scaled by `width` with the multiple-of-8 rule; the 1280-channel head is not scaled (as in the
official code and torchvision's MNASNet).
"""
from __future__ import annotations

from torch import nn

from .mbconv import decode_blocks, mbconv_net
from .spec import ArchSpec, Param, Published, imagenet_input, validated

BLOCKS = ("r1_k3_s11_e1_i32_o16_noskip", "r2_k3_s22_e6_i16_o24", "r3_k5_s22_e3_i24_o40_se0.25",
          "r4_k3_s22_e6_i40_o80", "r2_k3_s11_e6_i80_o112_se0.25", "r3_k5_s22_e6_i112_o160_se0.25",
          "r1_k3_s11_e6_i160_o320")
HEAD = 1280
PARAMS = (Param("width", float, 1.0, "width (depth) multiplier", minimum=0.05, maximum=4.0),)


@validated("mnasnet_a1", PARAMS)
def mnasnet_a1(*, width: float = 1.0) -> nn.Module:
    """MnasNet-A1 at depth multiplier `width` (the paper's 1.0 is the published model)."""
    return mbconv_net(decode_blocks(BLOCKS, width), head_channels=HEAD, act=nn.ReLU, dropout=0.2)


SPEC = ArchSpec(
    name="mnasnet_a1", family="MnasNet", summary="MnasNet-A1: mobile NAS result, MBConv3/6 with SE in 3 stages",
    params=PARAMS,
    published=(Published({"width": 1.0}, 312, 3.9, None, "mnasnet_key_numbers.csv: MnasNet Sec. 6.1"),),
    builder=mnasnet_a1, input_shape=imagenet_input)
