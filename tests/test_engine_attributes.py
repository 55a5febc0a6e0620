"""Op attributes come from the call (module or arguments), exactly; FLOPs and MAC of the convs that the
old engine had to guess about, against closed forms written here (ShuffleNet V2 Sec. 2 MAC definition)."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import costmodel
from costmodel.engine.opcosts import OpCost


def only(report, op="conv"):
    rows = report.ops[report.ops["op"] == op]
    assert len(rows) == 1, report.ops[["name", "op"]]
    return rows.iloc[0]


def conv_out(size, k, stride, padding, dilation):
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


class ShapeBranch(nn.Module):
    """Shape-dependent Python control flow: torch.fx cannot trace it, so the ATen (torch.export) path runs."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 16, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=4, bias=False)

    def forward(self, x):
        return self.conv(x) if x.shape[-1] > 4 else x


# name, module, input (N, C, H, W), attributes expected
CASES = [
    ("5x5 group conv", nn.Conv2d(32, 64, 5, stride=2, padding=2, groups=4, bias=False), (1, 32, 16, 16),
     dict(kernel_size=(5, 5), stride=(2, 2), padding=(2, 2), dilation=(1, 1), groups=4, transposed=False)),
    ("non-square kernel", nn.Conv2d(16, 24, (1, 7), padding=(0, 3), bias=False), (2, 16, 9, 11),
     dict(kernel_size=(1, 7), stride=(1, 1), padding=(0, 3), dilation=(1, 1), groups=1, transposed=False)),
    ("dilated conv", nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False), (1, 8, 12, 12),
     dict(kernel_size=(3, 3), stride=(1, 1), padding=(2, 2), dilation=(2, 2), groups=1, transposed=False)),
    ("ResNeXt grouped 3x3", nn.Conv2d(128, 128, 3, padding=1, groups=32, bias=False), (1, 128, 14, 14),
     dict(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=32, transposed=False)),
]


@pytest.mark.parametrize("name,conv,shape,expected", CASES, ids=[c[0] for c in CASES])
def test_conv_attributes_flops_and_mac_are_exact(name, conv, shape, expected):
    op = only(costmodel.analyze(conv, shape))
    assert {k: op[k] for k in expected} == expected
    n, c1, h, w = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (expected[k] for k in ("kernel_size", "stride", "padding", "dilation"))
    g, c2 = expected["groups"], conv.out_channels
    ho, wo = conv_out(h, kh, sh, ph, dh), conv_out(w, kw, sw, pw, dw)
    assert (op.in_channels, op.out_channels) == (c1, c2)
    assert op.flops == n * c2 * ho * wo * (c1 // g) * kh * kw
    assert op.mac_elements == n * c1 * h * w + n * c2 * ho * wo + c2 * (c1 // g) * kh * kw


def test_transposed_conv_scatters_every_input_element():
    """ConvTranspose2d: FLOPs = input elements x C_out/g x k_h x k_w; output H = (H-1)s - 2p + k + output_padding."""
    n, c1, c2, h, w, g, (kh, kw), s = 2, 8, 16, 10, 7, 2, (3, 5), 2
    conv = nn.ConvTranspose2d(c1, c2, (kh, kw), stride=s, padding=1, output_padding=1, groups=g)
    op = only(costmodel.analyze(conv, (n, c1, h, w), fold_bn=False))
    ho, wo = (h - 1) * s - 2 + kh + 1, (w - 1) * s - 2 + kw + 1
    assert op.output_shapes == [(n, c2, ho, wo)]
    assert (op.kernel_size, op.stride, op.padding, op.groups, op.transposed) == ((3, 5), (2, 2), (1, 1), 2, True)
    assert op.kind == "group_conv"
    assert op.flops == n * c1 * h * w * (c2 // g) * kh * kw
    assert op.mac_elements == n * c1 * h * w + n * c2 * ho * wo + c1 * (c2 // g) * kh * kw + c2


def test_functional_conv_attributes_come_from_its_arguments():
    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(nn.init.zeros_(nn.Conv2d(6, 12, 3, groups=3).weight))

        def forward(self, x):
            return F.conv2d(x, self.weight, None, 2, 1, 1, 3)

    op = only(costmodel.analyze(Functional(), (1, 6, 8, 8)))
    assert (op.kernel_size, op.stride, op.padding, op.dilation, op.groups) == ((3, 3), (2, 2), (1, 1), (1, 1), 3)


def test_export_path_reads_attributes_from_aten_arguments():
    report = costmodel.analyze(ShapeBranch(), (1, 8, 9, 10))
    assert report.summary["tracer"] == "export"
    op = only(report)
    assert (op.kernel_size, op.stride, op.padding, op.dilation, op.groups) == ((3, 5), (2, 1), (1, 2), (1, 2), 4)
    assert op.output_shapes == [(1, 16, conv_out(9, 3, 2, 1, 1), conv_out(10, 5, 1, 2, 2))]


def test_linear_pool_and_softmax_attributes():
    model = nn.Sequential(nn.MaxPool2d(3, 2, 1), nn.Flatten(), nn.Linear(4 * 4 * 4, 10), nn.Softmax(dim=-1))
    report = costmodel.analyze(model, (2, 4, 8, 8))
    pool, linear, softmax = only(report, "max_pool"), only(report, "linear"), only(report, "softmax")
    assert (pool.kernel_size, pool.stride, pool.padding) == ((3, 3), (2, 2), (1, 1))
    assert (linear.in_features, linear.out_features) == (64, 10)
    assert softmax.dims == (1,)


def test_kernel_hint_separates_pointwise_from_spatial_convs():
    model = nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.SiLU(),
                          nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 8, 1, groups=2),
                          nn.Conv2d(8, 8, 3, padding=1, groups=2))
    hints = list(costmodel.analyze(model, (1, 8, 6, 6), fold_bn=False).ops["kernel_hint"])
    assert hints == ["conv1x1", "elementwise", "conv", "activation", "depthwise_conv", "group_conv1x1", "group_conv"]


def test_op_handles_override_or_ignore_an_op_for_one_analysis_only():
    model = nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), nn.ReLU())
    shape = (1, 4, 5, 5)
    custom = costmodel.analyze(model, shape, op_handles={"relu": lambda op: OpCost(mac=7)})
    assert only(custom, "relu").mac_elements == 7
    ignored = costmodel.analyze(model, shape, op_handles={"relu": None})
    relu = only(ignored, "relu")
    assert (relu.status, relu.mac_elements) == ("ignored", 0)
    assert ignored.summary["ignored_ops"] == ["relu"] and ignored.summary["status"] == "complete"
    assert only(costmodel.analyze(model, shape), "relu").mac_elements == 2 * 4 * 5 * 5  # global table untouched


class _Cumsums(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, 1) + x.cumsum(2)


def test_an_op_handles_key_names_a_function_and_its_tensor_method_alike():
    """README's example: 'cumsum' ignores torch.cumsum and Tensor.cumsum; 'Tensor.cumsum' only the method."""
    both = costmodel.analyze(_Cumsums(), (1, 3, 4, 4), op_handles={"cumsum": None})
    assert sorted(both.summary["ignored_ops"]) == ["Tensor.cumsum", "cumsum"] and both.summary["status"] == "complete"
    method = costmodel.analyze(_Cumsums(), (1, 3, 4, 4), op_handles={"Tensor.cumsum": None})
    assert method.summary["ignored_ops"] == ["Tensor.cumsum"] and method.summary["status"] == "partial"


def test_an_op_handles_key_that_names_no_op_is_a_warning():
    model = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())
    with pytest.warns(UserWarning, match="'rleu' names no op of this model"):
        report = costmodel.analyze(model, (1, 4, 5, 5), op_handles={"rleu": None, "relu": None})
    assert report.summary["ignored_ops"] == ["relu"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        costmodel.analyze(model, (1, 4, 5, 5), op_handles={"relu": None})
