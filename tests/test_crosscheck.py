"""fvcore agreement on every zoo family (conv/linear multiply-adds, module by module), and properties that
must hold for any architecture: FLOPs and MAC never decrease as width or resolution grows."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import analyze, zoo
from costmodel.engine.crosscheck import fvcore_crosscheck

# Small inputs: fvcore runs the model for real on the CPU.
FAMILIES = [
    ("shufflenet_v1", {"groups": 3}, 64),
    ("shufflenet_v1", {"groups": 8, "width": 0.5}, 64),
    ("shufflenet_v2", {"width": 1.0}, 64),
    ("shufflenet_v2", {"width": 0.5, "se": True}, 64),
    ("mobilenet_v1", {"width": 0.5}, 64),
    ("mobilenet_v2", {}, 64),
    ("efficientnet", {"variant": "b0"}, 64),
    ("mnasnet_a1", {}, 64),
    ("resnet50", {}, 64),
    ("g1_pointwise", {"c1": 32, "c2": 64}, None),
    ("g2_groupconv", {"g": 4, "c": 64}, None),
    ("g3_fragments", {"structure": "4-fragment-parallel", "c": 64}, None),
    ("g4_bottleneck", {"relu": True, "shortcut": True, "c": 32}, None),
]


@pytest.mark.parametrize("arch,params,resolution", FAMILIES, ids=lambda v: str(v))
def test_conv_and_linear_flops_agree_with_fvcore(arch, params, resolution):
    torch.manual_seed(0)
    model, shape = zoo.build(arch, resolution=resolution, **params)
    table = fvcore_crosscheck(model, shape)
    assert len(table) > 0
    assert table["agree"].all(), table[~table["agree"]]


def total(arch: str, **kwargs) -> dict:
    with torch.device("meta"):
        model, shape = zoo.build(arch, **kwargs)
    return analyze(model, shape).summary


@settings(max_examples=8, deadline=None)
@given(w1=st.floats(0.25, 2.0), w2=st.floats(0.25, 2.0), r1=st.integers(4, 10), r2=st.integers(4, 10))
def test_mobilenet_v2_costs_never_decrease_with_width_or_resolution(w1, w2, r1, r2):
    (w_small, w_big), (r_small, r_big) = sorted((w1, w2)), sorted((32 * r1, 32 * r2))
    small = total("mobilenet_v2", width=w_small, resolution=r_small)
    for bigger in (total("mobilenet_v2", width=w_big, resolution=r_small),
                   total("mobilenet_v2", width=w_small, resolution=r_big)):
        assert bigger["flops"] >= small["flops"] and bigger["mac_elements"] >= small["mac_elements"]


@settings(max_examples=6, deadline=None)
@given(w1=st.floats(0.3, 2.0), w2=st.floats(0.3, 2.0))
def test_shufflenet_v2_costs_never_decrease_with_width(w1, w2):
    small, big = (total("shufflenet_v2", width=w) for w in sorted((w1, w2)))
    assert big["flops"] >= small["flops"] and big["mac_elements"] >= small["mac_elements"]


@settings(max_examples=6, deadline=None)
@given(p1=st.floats(0.0, 3.0), p2=st.floats(0.0, 3.0))
def test_efficientnet_costs_never_decrease_with_phi(p1, p2):
    small, big = (total("efficientnet", phi=p) for p in sorted((p1, p2)))
    assert big["flops"] >= small["flops"] and big["mac_elements"] >= small["mac_elements"]
