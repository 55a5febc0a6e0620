"""A MnasNet-style block search space, as data: per stage of MnasNet-A1's MBConv stage table, the depthwise
kernel (3/5/7), the expansion (3/6), the number of layers (the stage's own -1/0/+1) and squeeze-excitation on/off.

The space is the factorised hierarchical space of MnasNet (Tan et al., CVPR 2019, Sec. 4.1) reduced to the four
choices the cost lab varies; stages keep MnasNet-A1's strides and channels (costmodel/zoo/mnasnet.py). Every
choice is a zoo `Param` with its choices, so a bad value is the same one-line error as anywhere in the zoo.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import torch
from torch import nn

from costmodel.errors import CostModelError
from costmodel.zoo.mbconv import BlockArgs, decode_blocks, mbconv_net
from costmodel.zoo.mnasnet import BLOCKS, HEAD
from costmodel.zoo.spec import RESOLUTION, Param

NAME = "mnasnet_space"
KERNELS = (3, 5, 7)
EXPANSIONS = (3, 6)
LAYER_DELTAS = (-1, 0, 1)
SE_RATIO = 0.25
FIRST_STAGE = 2  # the zoo names MBConv stages stage2 ... stage8 (stage1 is the stem), as EfficientNet Table 1
BASE = decode_blocks(BLOCKS)


def _stage_params(number: int, block: BlockArgs) -> tuple[Param, ...]:
    layers = tuple(sorted({max(1, block.repeats + d) for d in LAYER_DELTAS}))
    return (Param(f"s{number}_kernel", int, block.kernel, f"stage {number} depthwise kernel", choices=KERNELS),
            Param(f"s{number}_expand", int, max(block.expand, EXPANSIONS[0]), f"stage {number} expansion",
                  choices=EXPANSIONS),
            Param(f"s{number}_layers", int, block.repeats, f"stage {number} layers", choices=layers),
            Param(f"s{number}_se", bool, block.se_ratio > 0, f"stage {number} squeeze-excitation",
                  choices=(False, True)))


PARAMS: tuple[Param, ...] = tuple(p for n, b in enumerate(BASE, start=FIRST_STAGE) for p in _stage_params(n, b))
_BY_NAME = {p.name: p for p in PARAMS}


def choices() -> dict[str, tuple[object, ...]]:
    """Every key of the space with its choices, in stage order."""
    return {p.name: p.choices for p in PARAMS}


def size() -> int:
    """Number of networks in the space."""
    return math.prod(len(c) for c in choices().values())


def param(key: str) -> Param:
    """The `Param` of a key; an unknown key is a one-line error listing the keys."""
    if key not in _BY_NAME:
        raise CostModelError(f"{NAME} has no parameter {key!r}",
                             f"use s<stage>_kernel/_expand/_layers/_se for stages {FIRST_STAGE}-"
                             f"{FIRST_STAGE + len(BASE) - 1}, or resolution")
    return _BY_NAME[key]


def blocks(values: Mapping[str, object]) -> list[BlockArgs]:
    """MnasNet-A1's stage table with the chosen kernel, expansion, layers and SE per stage (defaults: A1's own,
    with its expansion-1 first stage lifted to the space's smallest expansion)."""
    unknown = set(values) - set(_BY_NAME)
    if unknown:
        param(sorted(unknown)[0])
    chosen = {p.name: p.coerce(values[p.name], NAME) if p.name in values else p.default for p in PARAMS}
    return [replace(block, kernel=chosen[f"s{n}_kernel"], expand=chosen[f"s{n}_expand"],
                    repeats=chosen[f"s{n}_layers"], se_ratio=SE_RATIO if chosen[f"s{n}_se"] else 0.0)
            for n, block in enumerate(BASE, start=FIRST_STAGE)]


def build(values: Mapping[str, object], *, resolution: int | None = None,
          batch: int = 1) -> tuple[nn.Module, tuple[int, ...]]:
    """The network of one point of the space on the meta device (no memory, no init), and its input shape."""
    size_px = replace(RESOLUTION, minimum=32).coerce(resolution, NAME) or 224
    with torch.device("meta"):
        model = mbconv_net(blocks(values), head_channels=HEAD, act=nn.ReLU, dropout=0.2).eval()
    return model, (batch, 3, size_px, size_px)
