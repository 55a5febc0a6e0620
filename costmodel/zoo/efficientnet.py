"""EfficientNet (Tan & Le, ICML 2019): the B0 block strings scaled in width, depth and resolution.

Built as the official TF code and torchvision do: channels times the width coefficient rounded to multiples of
8 (never below 90%), repeats ceil(depth * n), swish, SE with 0.25 of each block's input channels, stem 32 and
head 1280 scaled alike. B0-B7 take the official coefficients; `phi` scales compound-wise with
depth alpha^phi, width beta^phi and resolution 224 * gamma^phi rounded half up to a multiple of 4 (every
official resolution is one; they are not exactly 224 * 1.15^phi, B1 is 240 where phi = 1 gives 256).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from costmodel.errors import CostModelError

from .layers import make_divisible, round_to_multiple
from .mbconv import decode_blocks, mbconv_net
from .spec import ArchSpec, Param, Published, validated

BLOCKS = ("r1_k3_s11_e1_i32_o16_se0.25", "r2_k3_s22_e6_i16_o24_se0.25", "r2_k5_s22_e6_i24_o40_se0.25",
          "r3_k3_s22_e6_i40_o80_se0.25", "r3_k5_s11_e6_i80_o112_se0.25", "r4_k5_s22_e6_i112_o192_se0.25",
          "r1_k3_s11_e6_i192_o320_se0.25")  # efficientnet_builder.py, = Table 1 stages 2-8
HEAD = 1280
BASE_RESOLUTION = 224
RESOLUTION_MULTIPLE = 4


@dataclass(frozen=True)
class EfficientNetScaling:
    """Width and depth coefficients, input resolution and dropout rate of one EfficientNet."""

    width: float
    depth: float
    resolution: int
    dropout: float


# efficientnet_builder.py efficientnet_params(): (width, depth, resolution, dropout)
VARIANTS = {f"b{i}": EfficientNetScaling(*row) for i, row in enumerate((
    (1.0, 1.0, 224, 0.2), (1.0, 1.1, 240, 0.2), (1.1, 1.2, 260, 0.3), (1.2, 1.4, 300, 0.3),
    (1.4, 1.8, 380, 0.4), (1.6, 2.2, 456, 0.4), (1.8, 2.6, 528, 0.5), (2.0, 3.1, 600, 0.5)))}

PARAMS = (
    Param("variant", str, None, "official variant (default b0 unless phi is given)", choices=tuple(VARIANTS)),
    Param("phi", float, None, "compound coefficient: depth alpha^phi, width beta^phi, resolution gamma^phi",
          minimum=0.0, maximum=8.0),
    Param("alpha", float, 1.2, "depth base of compound scaling", minimum=1.0, maximum=2.0),
    Param("beta", float, 1.1, "width base of compound scaling", minimum=1.0, maximum=2.0),
    Param("gamma", float, 1.15, "resolution base of compound scaling", minimum=1.0, maximum=2.0),
    Param("width_coefficient", float, None, "width multiplier, overrides the variant's or phi's",
          minimum=0.1, maximum=8.0),
    Param("depth_coefficient", float, None, "depth multiplier, overrides the variant's or phi's",
          minimum=0.1, maximum=8.0),
)


@validated("efficientnet", PARAMS)
def efficientnet_scaling(*, variant: str | None = None, phi: float | None = None, alpha: float = 1.2,
                         beta: float = 1.1, gamma: float = 1.15, width_coefficient: float | None = None,
                         depth_coefficient: float | None = None) -> EfficientNetScaling:
    """The scaling of a variant (default B0) or of compound coefficient `phi`; explicit width/depth
    coefficients override it (width-only and depth-only scaling curves). alpha, beta, gamma act with phi only."""
    if variant is not None and phi is not None:
        raise CostModelError(f"efficientnet: variant={variant!r} and phi={phi} both choose the scaling",
                             "use either variant or phi")
    if phi is None:
        base = VARIANTS["b0" if variant is None else variant]
    else:
        resolution = round_to_multiple(BASE_RESOLUTION * gamma ** phi, RESOLUTION_MULTIPLE)
        dropout = VARIANTS[f"b{min(7, round(phi))}"].dropout  # the nearest variant's; it costs nothing
        base = EfficientNetScaling(beta ** phi, alpha ** phi, resolution, dropout)
    return EfficientNetScaling(base.width if width_coefficient is None else width_coefficient,
                               base.depth if depth_coefficient is None else depth_coefficient, base.resolution,
                               base.dropout)


def efficientnet(*, variant: str | None = None, phi: float | None = None, alpha: float = 1.2, beta: float = 1.1,
                 gamma: float = 1.15, width_coefficient: float | None = None,
                 depth_coefficient: float | None = None) -> nn.Module:
    """EfficientNet B0-B7 (`variant`), compound-scaled (`phi`) or width/depth-scaled; see efficientnet_scaling."""
    s = efficientnet_scaling(variant=variant, phi=phi, alpha=alpha, beta=beta, gamma=gamma,
                             width_coefficient=width_coefficient, depth_coefficient=depth_coefficient)
    return mbconv_net(decode_blocks(BLOCKS, s.width, s.depth), head_channels=make_divisible(HEAD * s.width),
                      act=nn.SiLU, dropout=s.dropout)


def efficientnet_stages(*, resolution: int | None = None, **scaling: object) -> list[dict[str, object]]:
    """Per-stage configuration in the layout of EfficientNet Table 1, for display.

    Keys: stage, operator, kernel, stride, expand, channels, repeats, input_resolution (default: the
    setting's own resolution).
    """
    s = efficientnet_scaling(**scaling)
    blocks = decode_blocks(BLOCKS, s.width, s.depth)
    size = s.resolution if resolution is None else resolution
    rows: list[dict[str, object]] = []
    layers = [("Conv3x3", 3, 2, None, blocks[0].in_channels, 1)]
    layers += [(f"MBConv{b.expand}, k{b.kernel}x{b.kernel}", b.kernel, b.stride, b.expand, b.out_channels,
                b.repeats) for b in blocks]
    layers.append(("Conv1x1 & Pooling & FC", 1, 1, None, make_divisible(HEAD * s.width), 1))
    for stage, (operator, kernel, stride, expand, channels, repeats) in enumerate(layers, start=1):
        rows.append({"stage": stage, "operator": operator, "kernel": kernel, "stride": stride, "expand": expand,
                     "channels": channels, "repeats": repeats, "input_resolution": size})
        size = (size - 1) // stride + 1  # 'same' padding
    return rows


def _input_shape(**scaling: object) -> tuple[int, int]:
    return 3, efficientnet_scaling(**scaling).resolution


_SRC = "efficientnet_table2_latest.csv: EfficientNet Table 2; exact params torchvision_weights_meta.csv"
_TABLE2 = {"b0": (390, 5.3, 5288548), "b1": (700, 7.8, 7794184), "b2": (1000, 9.2, 9109994),
           "b3": (1800, 12, 12233232), "b4": (4200, 19, 19341616), "b5": (9900, 30, 30389784),
           "b6": (19000, 43, 43040704), "b7": (37000, 66, 66347960)}

SPEC = ArchSpec(
    name="efficientnet", family="EfficientNet",
    summary="EfficientNet: MBConv + SE baseline B0 scaled jointly in depth, width and resolution",
    params=PARAMS,
    published=tuple(Published({"variant": v}, mflops, mparams, exact, _SRC, tolerance=0.05)
                    for v, (mflops, mparams, exact) in _TABLE2.items()),
    builder=efficientnet, input_shape=_input_shape)
