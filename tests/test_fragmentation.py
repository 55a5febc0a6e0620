"""Fragmentation: compute operators per block and width (maximum antichain), on structures whose answer is
known by construction, and the module-hierarchy rule that defines blocks."""
import pytest
import torch
from torch import nn

import costmodel


class Branches(nn.Module):
    """`branches` parallel paths of `depth` 1x1 convs each, concatenated: compute ops = b*d, width = b."""

    def __init__(self, c: int, branches: int, depth: int) -> None:
        super().__init__()
        self.paths = nn.ModuleList(
            nn.Sequential(*[nn.Conv2d(c, c, 1, bias=False) for _ in range(depth)]) for _ in range(branches)
        )

    def forward(self, x):
        return torch.cat([path(x) for path in self.paths], dim=1)[:, : x.shape[1]]


class Stack(nn.Module):
    def __init__(self, blocks: int, **kwargs) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU())
        self.blocks = nn.Sequential(*[Branches(8, **kwargs) for _ in range(blocks)])

    def forward(self, x):
        return self.blocks(self.stem(x))


@pytest.mark.parametrize("branches,depth", [(1, 1), (1, 2), (1, 4), (2, 1), (4, 1), (2, 2), (3, 2)])
def test_compute_ops_and_width_per_block(branches, depth):
    report = costmodel.analyze(Stack(3, branches=branches, depth=depth), (1, 3, 8, 8))
    units = report.blocks[report.blocks["is_unit"]]
    assert list(units["block"]) == ["blocks.0", "blocks.1", "blocks.2"]
    assert set(units["compute_ops"]) == {branches * depth}
    assert set(units["width"]) == {branches}
    frag = report.summary["fragmentation"]
    assert frag["blocks"] == 3 and frag["width_max"] == branches
    assert frag["kernels_per_block_max"] == branches * depth + 2  # + the concat and the slice


def test_stem_is_its_own_non_unit_block():
    report = costmodel.analyze(Stack(2, branches=1, depth=1), (1, 3, 8, 8))
    stem = report.blocks.set_index("block").loc["stem"]
    assert not stem["is_unit"] and stem["compute_ops"] == 1 and stem["kernels"] == 2


def test_width_of_a_diamond_counts_only_unordered_compute_ops():
    """conv -> (conv_a | conv_b) -> add -> conv: the middle pair is the largest antichain."""

    class Diamond(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first, self.a, self.b, self.last = (nn.Conv2d(4, 4, 1) for _ in range(4))

        def forward(self, x):
            y = self.first(x)
            return self.last(self.a(y) + self.b(y))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.units = nn.Sequential(Diamond())

        def forward(self, x):
            return self.units(x)

    block = costmodel.analyze(Net(), (1, 4, 4, 4)).blocks.iloc[0]
    assert (block["compute_ops"], block["width"]) == (4, 2)
