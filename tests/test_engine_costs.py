"""Each op's FLOPs and MAC against closed-form formulas written here (ShuffleNet V2 Sec. 2 definitions)."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import costmodel
from costmodel.errors import CostModelError


def one_op(report, kind: str):
    rows = report.ops[report.ops["kind"] == kind]
    assert len(rows) == 1, report.ops[["name", "kind"]]
    return rows.iloc[0]


@pytest.mark.parametrize("c1,c2,h,w", [(16, 16, 8, 8), (32, 64, 7, 5), (3, 24, 16, 16)])
def test_pointwise_conv_mac_is_hw_c1_plus_c2_plus_c1c2(c1, c2, h, w):
    report = costmodel.analyze(nn.Conv2d(c1, c2, 1, bias=False), (1, c1, h, w))
    op = one_op(report, "conv")
    assert op.flops == h * w * c1 * c2
    assert op.mac_elements == h * w * (c1 + c2) + c1 * c2
    assert op.mac_bytes == 4 * op.mac_elements


@pytest.mark.parametrize("g", [2, 4, 8])
def test_group_conv_mac_is_hw_c1_plus_c2_plus_c1c2_over_g(g):
    c1, c2, h, w = 64, 128, 14, 14
    report = costmodel.analyze(nn.Conv2d(c1, c2, 1, groups=g, bias=False), (1, c1, h, w))
    op = one_op(report, "group_conv")
    assert op.flops == h * w * c1 * c2 // g
    assert op.mac_elements == h * w * (c1 + c2) + c1 * c2 // g


@pytest.mark.parametrize("k,stride,padding,dilation", [(3, 1, 1, 1), (5, 2, 2, 1), (3, 2, 2, 2)])
def test_depthwise_conv_counts_k2_per_output_element(k, stride, padding, dilation):
    c, h, w = 32, 28, 28
    conv = nn.Conv2d(c, c, k, stride=stride, padding=padding, dilation=dilation, groups=c, bias=False)
    report = costmodel.analyze(conv, (2, c, h, w))
    out = (h + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    op = one_op(report, "depthwise_conv")
    assert op.output_shapes == [(2, c, out, out)]
    assert op.flops == 2 * c * out * out * k * k
    assert op.mac_elements == 2 * c * h * w + 2 * c * out * out + c * k * k


def test_dense_conv_with_bias_reads_the_bias():
    c1, c2, h = 8, 16, 10
    report = costmodel.analyze(nn.Conv2d(c1, c2, 3, stride=2, padding=1), (1, c1, h, h))
    op = one_op(report, "conv")
    out = 5
    assert op.flops == c2 * out * out * c1 * 9
    assert op.mac_elements == c1 * h * h + c2 * out * out + c2 * c1 * 9 + c2
    assert op.params == c2 * c1 * 9 + c2


def test_linear_flops_and_mac():
    n, fin, fout = 4, 128, 10
    report = costmodel.analyze(nn.Linear(fin, fout), (n, fin))
    op = one_op(report, "linear")
    assert op.flops == n * fin * fout
    assert op.mac_elements == n * fin + n * fout + fin * fout + fout


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 1, bias=False)

    def forward(self, x):
        return F.relu(self.conv(x) + x)


def test_add_and_relu_are_elementwise_with_their_own_mac():
    c, h = 16, 8
    report = costmodel.analyze(Residual(c), (1, c, h, h))
    numel = c * h * h
    ops = report.ops.set_index("op")
    assert ops.loc["add", "mac_elements"] == 3 * numel and ops.loc["add", "flops"] == 0
    assert ops.loc["relu", "mac_elements"] == 2 * numel
    assert report.summary["elementwise"]["ops"] == 2
    assert report.summary["elementwise"]["elements"] == 2 * numel
    assert report.summary["flops"] == numel * c  # elementwise work never enters FLOPs


class SplitShuffleConcat(nn.Module):
    """ShuffleNet V2 unit skeleton: split, branch, concat, channel shuffle (reshape + transpose + reshape)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.branch = nn.Conv2d(c // 2, c // 2, 1, bias=False)

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        y = torch.cat([a, self.branch(b)], dim=1)
        n, c, h, w = y.shape
        return y.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


def test_data_movement_ops_have_mac_and_no_flops():
    c, h = 16, 6
    numel = c * h * h
    report = costmodel.analyze(SplitShuffleConcat(c), (1, c, h, h))
    ops = report.ops.set_index("op")
    assert ops.loc["split", "kind"] == "data_movement" and ops.loc["split", "mac_elements"] == 2 * numel
    assert ops.loc["cat", "kind"] == "data_movement" and ops.loc["cat", "mac_elements"] == 2 * numel
    shuffle = one_op(report, "shuffle")
    assert shuffle.mac_elements == 2 * numel and shuffle.flops == 0
    views = report.ops[report.ops["kind"] == "view"]
    assert len(views) == 2 and views["mac_elements"].sum() == 0 and not views["launches_kernel"].any()
    assert report.summary["data_movement"] == {
        "ops": 3, "shuffle_ops": 1, "mac_elements": 6 * numel, "mac_bytes": 24 * numel,
        "mac_share": pytest.approx(6 * numel / report.summary["mac_elements"]),
    }


def conv_bn_relu(c1: int, c2: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU())


def test_batchnorm_folds_into_the_conv_by_default():
    c1, c2, h = 3, 8, 8
    folded = costmodel.analyze(conv_bn_relu(c1, c2), (1, c1, h, h))
    assert list(folded.ops["kind"]) == ["conv", "elementwise"]
    conv = one_op(folded, "conv")
    assert conv.params == c2 * c1 * 9 + 2 * c2  # the model's parameters, BN's included
    assert conv.mac_elements == c1 * h * h + c2 * h * h + c2 * c1 * 9 + c2  # deployed: weight + bias
    kept = costmodel.analyze(conv_bn_relu(c1, c2), (1, c1, h, h), fold_bn=False)
    assert list(kept.ops["kind"]) == ["conv", "elementwise", "elementwise"]
    bn = kept.ops.iloc[1]
    assert bn.mac_elements == 2 * c2 * h * h + 2 * c2
    assert (kept.summary["params"] == folded.summary["params"]
            == sum(p.numel() for p in conv_bn_relu(c1, c2).parameters()))


def test_dropout_is_identity_and_flatten_moves_no_memory():
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.5), nn.Linear(8, 2))
    report = costmodel.analyze(model, (1, 8, 4, 4))
    assert list(report.ops["kind"]) == ["pooling", "view", "view", "linear"]
    assert report.summary["fragmentation"]["kernels"] == 2


def test_fp16_halves_mac_bytes():
    model = nn.Conv2d(8, 8, 1, bias=False)
    fp32 = costmodel.analyze(model, (1, 8, 4, 4)).summary
    fp16 = costmodel.analyze(model, (1, 8, 4, 4), dtype="float16").summary
    assert fp16["mac_bytes"] * 2 == fp32["mac_bytes"] == 4 * fp32["mac_elements"]


@settings(max_examples=40, deadline=None)
@given(c1=st.integers(1, 256), c2=st.integers(1, 256), hw_side=st.integers(1, 32))
def test_g1_bound_holds_for_every_pointwise_conv(c1, c2, hw_side):
    """G1: MAC >= 2*sqrt(hw*B) + B/hw with B = hw*c1*c2, equality iff c1 == c2."""
    hw = hw_side * hw_side
    op = one_op(costmodel.analyze(nn.Conv2d(c1, c2, 1, bias=False), (1, c1, hw_side, hw_side)), "conv")
    bound = 2 * math.sqrt(hw * op.flops) + op.flops / hw
    assert op.mac_elements >= bound - 1e-6 * bound
    if c1 == c2:
        assert op.mac_elements == pytest.approx(bound)


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        if x.sum() > 0:  # depends on values: neither tracer can follow it
            return self.conv(x)
        return x


class ShapeDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.small = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.large = nn.Conv2d(3, 4, 1, bias=False)

    def forward(self, x):
        return self.large(x) if x.shape[-1] > 16 else self.small(x)


def test_shape_dependent_control_flow_falls_back_to_torch_export():
    report = costmodel.analyze(ShapeDependent(), (1, 3, 32, 32))
    assert report.summary["tracer"] == "export"
    assert report.summary["flops"] == 32 * 32 * 3 * 4
    small = costmodel.analyze(ShapeDependent(), (1, 3, 8, 8))
    assert small.summary["flops"] == 8 * 8 * 3 * 4 * 9


def test_untraceable_model_is_one_clear_error():
    with pytest.raises(CostModelError, match="could not be traced") as error:
        costmodel.analyze(DataDependent(), (1, 3, 8, 8))
    assert "\n" not in str(error.value)


class WithUnknownOps(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1, bias=False)
        self.pair = nn.Bilinear(4, 4, 4)

    def forward(self, x):
        y = torch.cumsum(self.conv(x), dim=1).flatten(2).permute(0, 2, 1)
        return self.pair(y, y)


def test_unknown_ops_are_listed_and_mark_totals_partial():
    report = costmodel.analyze(WithUnknownOps(), (1, 3, 4, 4))
    assert report.summary["status"] == "partial"
    assert report.summary["unknown_ops"] == ["cumsum", "nn.Bilinear"]
    assert report.summary["flops"] == 16 * 3 * 4  # the known conv is still counted
    assert set(report.ops.loc[report.ops["status"] == "unknown", "kind"]) == {"unknown"}
    assert report.summary["params"] == sum(p.numel() for p in WithUnknownOps().parameters())


def test_edges_carry_the_tensor_that_flows():
    report = costmodel.analyze(Residual(4), (2, 4, 3, 3))
    conv, add = report.ops.loc[report.ops["op"].isin(["conv", "add"]), "name"]
    edge = report.graph.edges[conv, add]
    assert edge["shape"] == (2, 4, 3, 3) and edge["elements"] == 72 and edge["bytes"] == 288


def test_bad_shapes_and_dtypes_are_clear_errors():
    with pytest.raises(CostModelError, match="non-positive"):
        costmodel.analyze(nn.Conv2d(3, 4, 1), (1, 3, 0, 8))
    with pytest.raises(CostModelError, match="unknown dtype"):
        costmodel.analyze(nn.Conv2d(3, 4, 1), (1, 3, 8, 8), dtype="float64")
    with pytest.raises(CostModelError, match="could not be traced"):
        costmodel.analyze(nn.Conv2d(3, 4, 1), (1, 5, 8, 8))  # wrong channel count


class EveryListedOp(nn.Module):
    """One of each op family the engine must know (issue 2's list), functional and module forms."""

    def __init__(self) -> None:
        super().__init__()
        self.acts = nn.Sequential(nn.ReLU6(), nn.SiLU(), nn.Hardswish(), nn.Sigmoid(), nn.GELU())
        self.pool = nn.MaxPool2d(2)
        self.avg = nn.AvgPool2d(2)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.acts(self.bn(x))  # BN not after a conv: stays elementwise even when folding is on
        y = (y - x) / (x * x + 1.0)
        y = F.pad(y, (1, 1, 1, 1))
        y = F.interpolate(self.pool(y), scale_factor=2.0, mode="nearest") + self.avg(y).cumsum(1).sum() * 0
        parts = torch.split(y, 2, dim=1)
        z = torch.cat(parts[::-1], dim=1).permute(0, 2, 3, 1).contiguous()
        return F.adaptive_avg_pool2d(z.permute(0, 3, 1, 2), 1).mean(dim=(2, 3))


def test_every_listed_op_family_is_known_except_the_ones_we_do_not_list():
    report = costmodel.analyze(EveryListedOp(), (1, 4, 6, 6))
    unknown = set(report.ops.loc[report.ops["status"] == "unknown", "op"])
    assert unknown == {"Tensor.cumsum"}  # not on the list: reported, never silently zero
    ops = report.ops
    numel = 4 * 6 * 6
    pad = ops[ops["op"] == "pad"].iloc[0]
    assert pad.kind == "data_movement" and pad.mac_elements == numel + 4 * 8 * 8
    interp = ops[ops["op"] == "interpolate"].iloc[0]
    assert interp.mac_elements == 4 * 4 * 4 + 4 * 8 * 8
    assert set(ops.loc[ops["op"].isin(["relu6", "silu", "hardswish", "sigmoid", "gelu", "sub", "div", "mul"]),
                       "kind"]) == {"elementwise"}
    assert ops[ops["op"] == "batch_norm"].iloc[0].mac_elements == 2 * numel + 2 * 4
    max_pool = ops[ops["op"] == "max_pool"].iloc[0]
    assert max_pool.kind == "pooling" and max_pool.mac_elements == 4 * 8 * 8 + 4 * 4 * 4
    copy = ops[ops["op"] == "copy"].iloc[0]  # contiguous() after a 4-D permute: a real copy, not a shuffle
    assert copy.kind == "data_movement" and copy.mac_elements == 2 * 4 * 8 * 8
    mean = ops[ops["op"] == "mean"].iloc[0]
    assert mean.kind == "reduction" and mean.mac_elements == 4 + 4


def test_a_batchnorm_of_the_wrong_width_is_still_caught():
    """Shape propagation skips running shape-preserving layers; a BN that cannot take its input must still fail."""
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(16))
    with pytest.raises(CostModelError, match="could not be traced"):
        costmodel.analyze(model, (1, 3, 8, 8))


def test_totals_beyond_64_bits_are_refused_not_wrapped():
    """A 1x1 conv 1024 -> 1024 at batch 1024 has 2^30 * H * W multiply-adds: 2^60 at 2^15 x 2^15 is counted
    exactly; at 2^16 x 2^16 (2^62) the int64 tables could wrap, so the input is a one-line error."""
    with torch.device("meta"):
        conv = nn.Conv2d(1024, 1024, 1, bias=False)
    assert costmodel.analyze(conv, (1024, 1024, 2**15, 2**15)).summary["flops"] == 2**60
    with pytest.raises(CostModelError, match=r"input \(1024, 1024, 65536, 65536\) needs 4.61e\+18 multiply-adds"):
        costmodel.analyze(conv, (1024, 1024, 2**16, 2**16))
