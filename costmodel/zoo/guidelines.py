"""Micro-networks of ShuffleNet V2's four guidelines (Sec. 2, Tables 1-4): 10 stacked blocks on 56x56 input.

No BatchNorm and no biases; ReLU only where a block has it (G4, switchable). Readings of the paper:
- G1 (Table 1): a block is a 1x1 conv c1 -> c2 then a 1x1 conv c2 -> c1.
- G2 (Table 2): a block is one 1x1 group conv c -> c with g groups ("10 stacked pointwise group convolution
  layers"; g=1, c=128 then equals G3's 1-fragment block at c=128, and both tables report ~2450 batches/s).
- G3 (Table 3): the series structures chain k 1x1 convs c' -> c' with c' = round(c / sqrt(k)), so their
  FLOPs equal the 1-fragment block's c*c; the parallel structures apply k 1x1 convs c -> c/k to the same
  input and concatenate them (merge by concat: no elementwise add, so only fragmentation differs; the
  FLOPs are c*c exactly). The paper's figure of these blocks is not in the text: this is our choice.
- G4 (Table 4): a ResNet bottleneck with c input/output channels and c/4 in the middle (1x1 c -> c/4,
  3x3 c/4 -> c/4, 1x1 c/4 -> c), ReLU after each conv but the last and after the add. All convs at full c
  would need more multiply-adds per second than a GTX 1080Ti or one Snapdragon 810 core has, for the
  published speeds, so c is the unit's outer width.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable

import torch
from torch import Tensor, nn

from costmodel.errors import CostModelError

from .layers import round_to_multiple
from .resnet import Bottleneck
from .spec import ArchSpec, Param, reference_csv, validated

RESOLUTION = 56
DEPTH = 10
STRUCTURES = {"1-fragment": (1, False), "2-fragment-series": (2, False), "4-fragment-series": (4, False),
              "2-fragment-parallel": (2, True), "4-fragment-parallel": (4, True)}  # (fragments, parallel)
BOTTLENECK_RATIO = 4
G1_WIDTH_AT_X1 = {"gpu": 128, "arm": 32}  # Table 1's 1:1 pair at x1; the other pairs have its FLOPs


def _channels(name: str, default: int, help: str) -> Param:
    return Param(name, int, default, help, minimum=1, maximum=4096)


G1_PARAMS = (_channels("c1", 128, "input/output channels of a block"), _channels("c2", 128, "middle channels"))
G2_PARAMS = (Param("g", int, 1, "groups", minimum=1, maximum=4096), _channels("c", 128, "channels"))
G3_PARAMS = (Param("structure", str, "1-fragment", "block structure", choices=tuple(STRUCTURES)),
             _channels("c", 128, "channels of the 1-fragment block (others at equal FLOPs)"))
G4_PARAMS = (Param("relu", bool, True, "ReLU after the convs and the add"),
             Param("shortcut", bool, True, "identity shortcut added to the output"),
             _channels("c", 64, "input/output channels of a unit"))


class PointwiseChain(nn.Module):
    """1x1 convs (no bias) through `widths` in series: G1 (c1, c2, c1), G2 (c, c), G3 series (c', ..., c')."""

    def __init__(self, widths: tuple[int, ...], groups: int = 1) -> None:
        super().__init__()
        self.convs = nn.Sequential(*(nn.Conv2d(a, b, 1, groups=groups, bias=False)
                                     for a, b in zip(widths, widths[1:])))

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(x)


class PointwiseParallel(nn.Module):
    """`branches` 1x1 convs c -> c/branches on the same input, concatenated back to c channels."""

    def __init__(self, channels: int, branches: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(channels, channels // branches, 1, bias=False)
                                      for _ in range(branches))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class MicroNet(nn.Module):
    """`DEPTH` copies of a block, stacked (the benchmark network of every guideline)."""

    def __init__(self, make_block: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(make_block() for _ in range(DEPTH)))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)


def _require_multiple(arch: str, c: int, divisor: int, what: str) -> None:
    if c % divisor:
        raise CostModelError(f"{arch}: c={c} does not split into {what}", f"use c a multiple of {divisor}")


@validated("g1_pointwise", G1_PARAMS)
def g1_pointwise(*, c1: int = 128, c2: int = 128) -> nn.Module:
    """G1: blocks of 1x1 conv c1 -> c2, 1x1 conv c2 -> c1 (equal c1 = c2 minimises MAC at fixed FLOPs)."""
    return MicroNet(lambda: PointwiseChain((c1, c2, c1)))


@validated("g2_groupconv", G2_PARAMS)
def g2_groupconv(*, g: int = 1, c: int = 128) -> nn.Module:
    """G2: blocks of one 1x1 group conv c -> c with `g` groups (more groups: more MAC at fixed FLOPs)."""
    _require_multiple("g2_groupconv", c, g, f"g={g} groups")
    return MicroNet(lambda: PointwiseChain((c, c), groups=g))


def g3_width(structure: str, c: int) -> int:
    """Channels of a G3 block's input (and of its series convs): c, or c / sqrt(k) in a k-fragment series."""
    fragments, parallel = STRUCTURES[structure]
    return c if parallel else round(c / math.sqrt(fragments))


@validated("g3_fragments", G3_PARAMS)
def g3_fragments(*, structure: str = "1-fragment", c: int = 128) -> nn.Module:
    """G3: blocks of 1, 2 or 4 1x1 convs in series or in parallel at equal FLOPs (see the module notes)."""
    fragments, parallel = STRUCTURES[structure]
    if parallel:
        _require_multiple("g3_fragments", c, fragments, f"{fragments} parallel branches")
        return MicroNet(lambda: PointwiseParallel(c, fragments))
    return MicroNet(lambda: PointwiseChain((g3_width(structure, c),) * (fragments + 1)))


@validated("g4_bottleneck", G4_PARAMS)
def g4_bottleneck(*, relu: bool = True, shortcut: bool = True, c: int = 64) -> nn.Module:
    """G4: ResNet bottlenecks (c -> c/4 -> c/4 -> c) with ReLU and/or the shortcut add removed."""
    _require_multiple("g4_bottleneck", c, BOTTLENECK_RATIO, "a bottleneck of c/4 channels")
    return MicroNet(lambda: Bottleneck(c, c // BOTTLENECK_RATIO, c, norm=False, relu=relu, shortcut=shortcut))


# Settings of the paper's tables ---------------------------------------------------------------------------

_SPEED_COLUMN = re.compile(r"(gpu|arm|cpu)_([xc])(\d+)")  # x<k>: k times column x1's channels; c<n>: c = n


def g1_pair(width: int, ratio: float) -> tuple[int, int]:
    """Table 1's channel pair for c1:c2 = 1:ratio at the FLOPs of (width, width): c1 = floor(width /
    sqrt(ratio)), c2 = ratio * c1. This rule gives every pair the paper prints for its x1 columns."""
    c1 = max(1, math.floor(width / math.sqrt(ratio) + 1e-9))
    return c1, max(1, round(ratio * c1))


def _table1(row: dict[str, str], device: str, factor: int) -> tuple[str, dict[str, object]]:
    ratio = int(row["c1:c2"].split(":")[1])
    width = G1_WIDTH_AT_X1[device] * factor
    c1, c2 = g1_pair(width, ratio)
    return row["c1:c2"], {"c1": c1, "c2": c2}


def _table2(row: dict[str, str], device: str, factor: int) -> tuple[str, dict[str, object]]:
    g = int(row["g"])
    return f"g={g}", {"g": g, "c": round_to_multiple(int(row[f"{device}_c_at_x1"]), g) * factor}


def _table3(row: dict[str, str], _: str, c: int) -> tuple[str, dict[str, object]]:
    return row["structure"], {"structure": row["structure"], "c": c}


def _table4(row: dict[str, str], _: str, c: int) -> tuple[str, dict[str, object]]:
    label = f"ReLU {row['relu']}, shortcut {row['shortcut']}"
    return label, {"relu": row["relu"] == "yes", "shortcut": row["shortcut"] == "yes", "c": c}


_TABLES = {1: ("shufflenetv2_table1_g1.csv", "g1_pointwise", _table1),
           2: ("shufflenetv2_table2_g2.csv", "g2_groupconv", _table2),
           3: ("shufflenetv2_table3_g3.csv", "g3_fragments", _table3),
           4: ("shufflenetv2_table4_g4.csv", "g4_bottleneck", _table4)}


def guideline_settings(table: int) -> list[dict[str, object]]:
    """Every cell of ShuffleNet V2 Table `table` (1-4) with the micro-network that reproduces it.

    Each dict: table, row, column (as in the CSV), device ("gpu": GTX 1080Ti, batches/s; "arm": Snapdragon
    810, one thread, images/s - the paper's "CPU" columns), arch and kwargs for `build`, speed, unit.
    The x2 and x4 columns have 2x and 4x the channels of x1 (so 4x and 16x its FLOPs); the paper prints x1's
    only. Why channels: Table 2's g=1 network is Table 3's 1-fragment network, whose columns are labelled
    c = 128/256/512 (GPU) and 64/128/256 (ARM), and the two tables' speeds agree within 1.5% in all six
    columns; and one ARM core, bound by arithmetic, slows ~4x per column. Table 1's pairs follow `g1_pair`.
    Table 2's ARM g=8 width, 180, is not a multiple of 8: it becomes 184.
    """
    if table not in _TABLES:
        raise CostModelError(f"ShuffleNet V2 has no guideline Table {table}", "use table 1, 2, 3 or 4")
    csv_name, arch, cell = _TABLES[table]
    settings = []
    for row in reference_csv(csv_name):
        for column, speed in row.items():
            match = _SPEED_COLUMN.fullmatch(column)
            if match is None:
                continue
            label, kwargs = cell(row, match[1], int(match[3]))
            device = "gpu" if match[1] == "gpu" else "arm"
            settings.append({"table": table, "row": label, "column": column, "device": device, "arch": arch,
                             "kwargs": kwargs, "speed": float(speed),
                             "unit": "batches/s" if device == "gpu" else "images/s"})
    return settings


def tables_batch() -> int:
    """The batch Tables 1-4 were measured at (data/reference/shufflenetv2_tables_setup.csv says why)."""
    return int(next(r["value"] for r in reference_csv("shufflenetv2_tables_setup.csv") if r["setting"] == "batch"))


def _micro_input(channels: Callable[..., int]) -> Callable[..., tuple[int, int]]:
    return lambda **kwargs: (channels(**kwargs), RESOLUTION)


def _spec(name: str, summary: str, params: tuple[Param, ...], builder: Callable[..., nn.Module],
          channels: Callable[..., int]) -> ArchSpec:
    return ArchSpec(name=name, family="ShuffleNet V2 guideline", summary=summary, params=params, published=(),
                    builder=builder, input_shape=_micro_input(channels), min_resolution=1)


SPECS = (
    _spec("g1_pointwise", "G1 (Table 1): 10 blocks of 1x1 convs c1 -> c2 -> c1 at 56x56", G1_PARAMS, g1_pointwise,
          lambda c1, c2: c1),
    _spec("g2_groupconv", "G2 (Table 2): 10 stacked 1x1 group convs c -> c at 56x56", G2_PARAMS, g2_groupconv,
          lambda g, c: c),
    _spec("g3_fragments", "G3 (Table 3): 10 blocks of 1-4 1x1 convs in series or parallel at 56x56", G3_PARAMS,
          g3_fragments, g3_width),
    _spec("g4_bottleneck", "G4 (Table 4): 10 ResNet bottlenecks c -> c/4 -> c at 56x56, ReLU/shortcut optional",
          G4_PARAMS, g4_bottleneck, lambda relu, shortcut, c: c),
)
