"""Single ShuffleNet V1 and V2 units, built from the zoo's unit classes, for side-by-side block analysis.

A unit stands alone the way it sits in its network: stride 1 keeps `channels` in and out; stride 2 (the first
unit of a stage) takes `channels / 2` in and doubles them, halving the resolution. The unit is wrapped in an
`nn.Sequential` so the engine reports it as one block.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from costmodel.errors import CostModelError
from costmodel.studies.evaluate import report
from costmodel.zoo.shufflenet_v1 import BOTTLENECK_RATIO, STAGE_WIDTHS, ShuffleV1Unit
from costmodel.zoo.shufflenet_v2 import ShuffleV2Unit

V1_GROUPS = tuple(STAGE_WIDTHS)
MAX_CHANNELS = 4096


@dataclass(frozen=True)
class UnitSpec:
    """One unit: `version` 1 or 2, output `channels`, `stride`, input `size` (square); V1 `groups`, V2
    `split_ratio` (share of channels through the conv branch) and `se`. Hashable: a cache key."""

    version: int
    channels: int
    stride: int = 1
    size: int = 28
    groups: int = 3
    split_ratio: float = 0.5
    se: bool = False

    @property
    def in_channels(self) -> int:
        return self.channels if self.stride == 1 else self.channels // 2

    def input_shape(self, batch: int = 1) -> tuple[int, int, int, int]:
        return batch, self.in_channels, self.size, self.size

    def build(self, batch: int) -> tuple[nn.Module, tuple[int, ...]]:
        """(module, input shape): what `costmodel.studies.evaluate` analyses."""
        return build_unit(self), self.input_shape(batch)

    @property
    def label(self) -> str:
        if self.version == 1:
            return f"V1 unit (g={self.groups}, c={self.channels}, s={self.stride})"
        return f"V2 unit (c={self.channels}, split={self.split_ratio:g}, s={self.stride})"


def _check(spec: UnitSpec) -> None:
    if spec.version not in (1, 2):
        raise CostModelError(f"ShuffleNet V{spec.version} has no unit here", "use version 1 or 2")
    if spec.stride not in (1, 2):
        raise CostModelError(f"stride {spec.stride} is not a ShuffleNet unit's", "use stride 1 or 2")
    if spec.size < spec.stride:
        raise CostModelError(f"input {spec.size}x{spec.size} is too small for stride {spec.stride}",
                             f"use a spatial size of at least {spec.stride}")
    if not 1 <= spec.channels <= MAX_CHANNELS:
        raise CostModelError(f"{spec.channels} channels is out of range", f"use 1 to {MAX_CHANNELS}")
    if spec.version == 1:
        if spec.groups not in V1_GROUPS:
            raise CostModelError(f"g={spec.groups} is not a ShuffleNet V1 group count",
                                 f"use g in {', '.join(map(str, V1_GROUPS))}")
        multiple = BOTTLENECK_RATIO * spec.groups
        if spec.channels % multiple:
            raise CostModelError(
                f"a V1 unit with g={spec.groups}, stride {spec.stride} cannot have {spec.channels} channels: its "
                f"bottleneck (channels/{BOTTLENECK_RATIO}) and its input must split into {spec.groups} groups",
                f"use a multiple of {multiple}")
    else:
        _check_v2_channels(spec)


def min_v2_channels(split_ratio: float) -> int | None:
    """The fewest channels a V2 unit at `split_ratio` can have: an even count (the channel shuffle interleaves two
    halves) of which round(channels x split_ratio) go through the conv branch and at least one elsewhere (the
    identity at stride 1, the other conv branch at stride 2). None if no count up to MAX_CHANNELS works."""
    return next((c for c in range(2, MAX_CHANNELS + 1, 2) if 0 < round(c * split_ratio) < c), None)


def _check_v2_channels(spec: UnitSpec) -> None:
    c, ratio = spec.channels, spec.split_ratio
    fewest = min_v2_channels(ratio)
    if fewest is None:
        raise CostModelError(f"split ratio {ratio:g} leaves a branch of every V2 unit without channels",
                             "use a split ratio between 0 and 1, such as 0.5")
    if c % 2:
        raise CostModelError(f"a V2 unit cannot have {c} channels: its channel shuffle interleaves two halves, so "
                             "the count must be even", f"use {max(fewest, c + 1)} channels" if c < fewest
                             else f"use {c - 1} or {c + 1} channels")
    right = round(c * ratio)
    if not 0 < right < c:
        other = "identity branch" if spec.stride == 1 else "other branch"
        empty = "its conv branch gets 0" if right == 0 else f"its {other} gets 0 (all {c} go through the conv branch)"
        raise CostModelError(f"a V2 unit of {c} channels at split ratio {ratio:g} has an empty branch: {empty}",
                             f"use at least {fewest} channels at this split ratio, or a split ratio nearer 0.5")


def build_unit(spec: UnitSpec) -> nn.Module:
    """The unit on the meta device (no memory, instant), wrapped as one block."""
    _check(spec)
    with torch.device("meta"):
        if spec.version == 1:
            unit = ShuffleV1Unit(spec.in_channels, spec.channels, spec.stride, spec.groups, spec.groups)
        else:
            unit = ShuffleV2Unit(spec.in_channels, spec.channels, spec.stride, spec.split_ratio, spec.se)
    return nn.Sequential(unit)


def unit_flops(spec: UnitSpec) -> int:
    """FLOPs (multiply-adds) of a unit at batch 1 (memoised with every other analysis)."""
    return report(spec).summary["flops"]


def matched_v2(v1: UnitSpec, *, split_ratio: float = 0.5, se: bool = False) -> UnitSpec:
    """The V2 unit (same stride and size) whose FLOPs (multiply-adds) come closest to `v1`'s.

    FLOPs grow monotonically with channels, so a bisection over even channel counts, from the fewest the split
    ratio allows (`min_v2_channels`), finds it in ~12 analyses of a tiny unit."""
    fewest = min_v2_channels(split_ratio)
    if fewest is None:
        raise CostModelError(f"no V2 unit at split ratio {split_ratio:g} matches {v1.label}: every unit would have "
                             "an empty branch", "use a split ratio between 0 and 1, such as 0.5")
    target = unit_flops(v1)

    def unit(half: int) -> UnitSpec:
        return UnitSpec(2, 2 * half, v1.stride, v1.size, split_ratio=split_ratio, se=se)

    def flops(half: int) -> int:
        return unit_flops(unit(half))

    low, high = fewest // 2, MAX_CHANNELS // 2
    if flops(low) >= target:  # the smallest unit the split ratio allows is already as costly: it is the closest
        return unit(low)
    while high - low > 1:
        mid = (low + high) // 2
        if flops(mid) < target:
            low = mid
        else:
            high = mid
    candidates = [h for h in (low, high) if _valid(unit(h))]
    if not candidates:
        raise CostModelError(f"no V2 unit at split ratio {split_ratio:g} matches {v1.label}",
                             "use a split ratio nearer 0.5")
    return unit(min(candidates, key=lambda h: abs(flops(h) - target)))


def _valid(spec: UnitSpec) -> bool:
    try:
        _check(spec)
    except CostModelError:
        return False
    return True
