"""Ops of attention models and modern efficient nets against closed forms written here. FLOPs are multiply-adds
(QK^T: L*S*E per batch-head, AV: L*S*E_v); MAC is elements read + written (ShuffleNet V2's definition)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

import costmodel


def ops_of(model, shape, **kwargs):
    report = costmodel.analyze(model, shape, **kwargs)
    assert report.summary["status"] == "complete", report.summary["unknown_ops"]
    return report


def only(report, op):
    rows = report.ops[report.ops["op"] == op]
    assert len(rows) == 1, report.ops[["name", "op", "target"]]
    return rows.iloc[0]


class Lambda(nn.Module):
    def __init__(self, fn, *params: torch.Tensor) -> None:
        super().__init__()
        self.fn = fn
        self.weights = nn.ParameterList(params)

    def forward(self, x):
        return self.fn(x, *self.weights)


def test_stochastic_depth_and_dropouts_are_free_at_inference():
    model = nn.Sequential(nn.Conv2d(4, 4, 1), StochasticDepth(0.2, "row"), nn.Dropout1d(0.1), nn.AlphaDropout(0.1))
    report = ops_of(model, (1, 4, 5, 5))
    assert report.summary["mac_elements"] == only(report, "conv").mac_elements


def test_scaled_dot_product_attention_fused_and_unfused_mac():
    b, h, lq, s, e, ev = 2, 4, 10, 12, 8, 6
    model = Lambda(lambda x: F.scaled_dot_product_attention(x[:, :, :lq], x[:, :, lq:], x[:, :, lq:, :ev]))
    report = ops_of(model, (b, h, lq + s, e))
    op = only(report, "scaled_dot_product_attention")
    assert op.input_shapes == [(b, h, lq, e), (b, h, s, e), (b, h, s, ev)]
    assert op.flops == b * h * lq * s * (e + ev)
    fused = b * h * (lq * e + s * e + s * ev + lq * ev)
    assert op.mac_elements == fused
    assert op.mac_unfused_elements == fused + 4 * b * h * lq * s
    assert op.kernel_hint == "attention"


@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_module_runs_as_projection_head_split_attention_head_merge_and_projection(batch_first):
    n, length, e, heads = 2, 7, 16, 4
    mha = nn.MultiheadAttention(e, heads, batch_first=batch_first)
    model = Lambda(lambda x: mha(x, x, x, need_weights=False)[0])
    model.mha = mha
    shape = (n, length, e) if batch_first else (length, n, e)
    report = ops_of(model, shape)
    tokens = n * length
    assert list(report.ops["op"]) == ["linear", "copy", "scaled_dot_product_attention", "copy", "linear"]
    assert list(report.ops["flops"]) == [3 * tokens * e * e, 0, 2 * n * length * length * e, 0, tokens * e * e]
    assert list(report.ops["params"]) == [3 * e * e + 3 * e, 0, 0, 0, e * e + e]
    # the head split reads and writes Q, K and V; the head merge reads and writes the attention's output
    assert list(report.ops["mac_elements"])[1::2] == [2 * 3 * tokens * e, 2 * tokens * e]
    assert report.blocks["kernels"].sum() == 5


def test_cross_attention_module_is_one_op_with_every_part_counted():
    n, lq, s, e, heads = 2, 5, 9, 8, 2
    mha = nn.MultiheadAttention(e, heads)
    model = Lambda(lambda x: mha(x[:lq], x[lq:], x[lq:], need_weights=False)[0])
    model.mha = mha
    op = only(ops_of(model, (lq + s, n, e)), "multihead_attention")
    assert op.flops == n * lq * e * e + 2 * n * s * e * e + 2 * n * lq * s * e + n * lq * e * e


@pytest.mark.parametrize("fn,shapes,flops", [
    (torch.matmul, [(3, 5, 7), (3, 7, 2)], 3 * 5 * 2 * 7),
    (torch.bmm, [(4, 2, 9), (4, 9, 3)], 4 * 2 * 3 * 9),
    (lambda a, b: torch.einsum("bhqd,bhkd->bhqk", a, b), [(2, 3, 5, 8), (2, 3, 6, 8)], 2 * 3 * 5 * 6 * 8),
    (lambda a, b: torch.einsum("nc,kc", a, b), [(5, 4), (3, 4)], 5 * 3 * 4),
    (lambda a, b: torch.einsum("...ij,...jk->...ik", a, b), [(2, 3, 4), (2, 4, 5)], 2 * 3 * 5 * 4),
    (lambda a, b: torch.einsum("ij,jk,kl->il", a, b, b[:, :3]), [(2, 3), (3, 3)], 2 * 3 * 3 + 2 * 3 * 3),
])
def test_matrix_products_count_the_contraction(fn, shapes, flops):
    """The first operand is the input, the second a parameter; a 3-operand einsum contracts left to right."""
    model = Lambda(fn, nn.Parameter(torch.zeros(shapes[1])))
    report = ops_of(model, shapes[0])
    assert report.ops.loc[report.ops["kind"] == "linear", "flops"].tolist() == [flops]


@pytest.mark.parametrize("norm,params", [(nn.LayerNorm(8), 16), (nn.GroupNorm(2, 4), 8), (nn.RMSNorm(8), 8)])
def test_norms_are_one_pass_elementwise(norm, params):
    shape = (2, 4, 3, 8)
    op = ops_of(nn.Sequential(norm), shape).ops.iloc[0]
    numel = 2 * 4 * 3 * 8
    assert (op.kind, op.mac_elements, op.elementwise_elements) == ("elementwise", 2 * numel + params, numel)


def test_data_movement_ops_read_and_write_what_they_touch():
    def forward(x):
        rolled = torch.roll(x, shifts=(1, 2), dims=(2, 3))  # read all, write all
        stacked = torch.stack([rolled, x], dim=1)  # read both, write both
        picked = torch.index_select(x, 1, torch.tensor([0, 2]))  # reads only the picked channels (+ the index)
        patches = F.unfold(x, kernel_size=2, stride=2)  # im2col
        return stacked.sum() + picked.sum() + patches.sum()

    report = ops_of(Lambda(forward), (1, 4, 6, 6))
    numel = 4 * 6 * 6
    assert only(report, "roll").mac_elements == 2 * numel
    assert only(report, "stack").mac_elements == 2 * numel + 2 * numel
    assert only(report, "index").mac_elements == 2 * (2 * 6 * 6) + 2
    assert only(report, "unfold").mac_elements == numel + 4 * 4 * 9


def test_addcmul_normalize_and_softmax_are_elementwise_with_dims():
    def forward(x):
        y = torch.addcmul(x, x, x, value=0.5)
        return F.softmax(F.normalize(y, dim=1), dim=-1)

    report = ops_of(Lambda(forward), (2, 3, 5))
    numel = 2 * 3 * 5
    assert only(report, "addcmul").mac_elements == 4 * numel
    assert only(report, "normalize").dims == (1,)
    assert only(report, "softmax").dims == (2,)


def test_a_dtype_cast_is_a_copy_and_a_same_dtype_to_is_free():
    report = ops_of(Lambda(lambda x: x.to(torch.float16).float() + x.to(torch.float32).reshape_as(x)), (2, 8))
    casts = report.ops[report.ops["op"] == "cast"]
    assert sorted(casts["mac_elements"]) == [0, 32, 32]  # f32 -> f16 -> f32: 16 read + 16 written each
    assert only(report, "view").mac_elements == 0  # reshape_as


def test_constants_that_do_not_depend_on_the_input_are_folded_and_not_charged():
    def forward(x):
        position = torch.arange(x.shape[-1], dtype=torch.float32)
        table = torch.sin(position) + torch.cos(position) * 2 + torch.zeros_like(x)
        return x + table

    report = ops_of(Lambda(forward), (2, 5))
    assert list(report.ops["op"]) == ["add"]  # arange, sin, cos, zeros_like: folded
    assert only(report, "add").mac_elements == 3 * 2 * 5


@pytest.mark.parametrize("cell,gates", [(nn.LSTM, 4), (nn.GRU, 3), (nn.RNN, 1)])
def test_recurrent_layers_count_their_gate_products(cell, gates):
    n, length, d, hidden = 2, 5, 6, 8
    rnn = cell(d, hidden, num_layers=2, bidirectional=True, batch_first=True)
    model = Lambda(lambda x: rnn(x)[0])
    model.rnn = rnn
    op = only(ops_of(model, (n, length, d)), "recurrent")
    tokens = n * length
    assert op.flops == tokens * 2 * gates * hidden * ((d + hidden) + (2 * hidden + hidden))


def test_indexing_with_a_tensor_is_a_gather_and_basic_slicing_a_copy():
    class Picker(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("idx", torch.tensor([3, 0, 1]))

        def forward(self, x):
            return x[:, self.idx] + x[:, 1:4]

    report = ops_of(Picker(), (2, 5, 4))
    gathered, sliced = report.ops[report.ops["op"] == "slice"].itertuples()
    assert gathered.mac_elements == 2 * (2 * 3 * 4) + 3  # the 3 picked rows, read and written, and the index
    assert sliced.mac_elements == 2 * 5 * 4 + 2 * 3 * 4  # today's rule for a slice: input + output
