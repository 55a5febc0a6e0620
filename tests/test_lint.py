"""The guideline linter: closed-form evidence, costs consistent with the latency model, and the zoo verdicts of
issue 5 (ShuffleNet V1 g=8 -> G2; MobileNet V2 -> G1 and G4; ShuffleNet V2 -> no G1/G2, few G3; each
guideline micro-network -> exactly its guideline) on every shipped device profile, at its own batch (GPU 8,
ARM 1) as the app and the CLI lint by default."""
from __future__ import annotations

import functools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costmodel import analyze
from costmodel.studies.lint import MAC_EXCESS_LIMIT, lint
from costmodel.engine.opcosts import g1_lower_bound
from costmodel.latency.kernels import kernel_class
from costmodel.latency.model import op_features, predict
from costmodel.latency.profiles import list_profiles
from costmodel.engine.report import Report
from costmodel.sources.names import load_model

PROFILES = list_profiles()
SIDE = 56  # the micro-networks' resolution


@functools.cache
def report_of(arch: str, batch: int = 1, **params: object) -> Report:
    model, shape, label = load_model(arch, params=params, batch=batch)
    return analyze(model, shape, arch=label)


def linted(arch: str, profile, **params: object):
    return lint(report_of(arch, profile.batch, **params), profile)


def guidelines(arch: str, profile, **params: object) -> set[str]:
    return {f.guideline for f in linted(arch, profile, **params).findings}


@given(st.integers(1, 4096), st.integers(1, 4096), st.integers(1, 200))
def test_g1_bound_is_a_lower_bound_reached_at_equal_channels(c1, c2, side):
    hw = side * side
    flops = hw * c1 * c2
    assert hw * (c1 + c2) + c1 * c2 >= g1_lower_bound(hw, flops) * (1 - 1e-12)
    assert g1_lower_bound(hw, hw * c1 * c1) == pytest.approx(2 * hw * c1 + c1 * c1)


@pytest.fixture(params=PROFILES, ids=lambda p: p.name)
def profile(request):
    return request.param


def test_profiles_are_shipped():
    assert {"gtx1080ti", "snapdragon810"} <= {p.name for p in PROFILES}


def test_g1_evidence_is_the_closed_form(profile):
    c1, c2 = 52, 312  # Table 1, 1:6
    result = linted("g1_pointwise", profile, c1=c1, c2=c2)
    hw = profile.batch * SIDE * SIDE  # the batch's positions: weights are read once per batch
    mac, bound = hw * (c1 + c2) + c1 * c2, 2 * math.sqrt(hw * hw * c1 * c2) + c1 * c2
    assert len(result.findings) == 2 * 10  # both 1x1 convs of all 10 blocks
    for finding in result.findings:
        assert {finding.details["c_in"], finding.details["c_out"]} == {c1, c2}
        assert finding.details["mac_elements"] == mac
        assert finding.details["excess"] == pytest.approx(mac / bound - 1)
        assert f"{100 * (mac / bound - 1):.1f}%" in finding.evidence


def test_g2_evidence_is_the_closed_form(profile):
    g, c = 8, 360  # Table 2, g = 8
    result = linted("g2_groupconv", profile, g=g, c=c)
    hw = profile.batch * SIDE * SIDE
    mac, dense = 2 * hw * c + c * c // g, 2 * hw * c / math.sqrt(g) + c * c // g
    assert len(result.findings) == 10
    for finding in result.findings:
        assert finding.details["groups"] == g
        assert finding.details["excess"] == pytest.approx(mac / dense - 1)


def op_times(report: Report, profile) -> dict[str, float]:
    """What each op costs the run: its predicted device time, or, on a host-bound GPU run, the profile's host
    issue time of its kernel class (views: nothing) - the device waits for launches there."""
    latency = predict(report, profile)
    if latency.bound != "host":
        return dict(zip(latency.per_op["name"], latency.per_op["ms"]))
    features = op_features(report.ops)
    columns = ("kind", "op", "reduction", "in_channels", "stride", "groups")
    classes = [kernel_class(*row) for row in zip(*(features[c] for c in columns))]
    return {name: profile.host.kernels[c] * 1e-3 if launches else 0.0
            for name, c, launches in zip(report.ops["name"], classes, features["launches"])}


def test_findings_are_ranked_and_costs_stay_within_the_predicted_time(profile):
    report = report_of("mobilenet_v2", profile.batch)
    result = lint(report, profile)
    latency = predict(report, profile)
    op_ms = op_times(report, profile)
    device_ms = dict(zip(latency.per_op["name"], latency.per_op["ms"]))
    module_ms = {}  # device time: G1 saves bytes, i.e. device time, even on a host-bound run
    for name, module in zip(report.ops["name"], report.ops["module"]):
        module_ms[module] = module_ms.get(module, 0.0) + device_ms[name]
    costs = [f.cost_ms for f in result.findings]
    assert costs == sorted(costs, reverse=True) and min(costs) >= 0
    assert result.total_ms == pytest.approx(latency.ms)
    for finding in result.findings:
        if finding.guideline == "G1":  # saving by balancing a conv: at most the conv's own time
            assert finding.cost_ms <= module_ms[finding.module]
        if finding.guideline == "G4":  # the whole time of that op type
            ops = report.ops["name"][report.ops["op"] == finding.details["op"]]
            assert finding.cost_ms == pytest.approx(sum(op_ms[n] for n in ops))
            assert finding.details["share"] == pytest.approx(finding.cost_ms / latency.ms)


def test_g3_cost_is_part_of_the_block_time(profile):
    report = report_of("shufflenet_v2", profile.batch)
    block_ms: dict[str, float] = {}
    for block, ms in zip(report.ops["block"], op_times(report, profile).values()):
        block_ms[block] = block_ms.get(block, 0.0) + ms
    for finding in lint(report, profile).findings:
        if finding.guideline == "G3":
            assert 0 < finding.cost_ms <= block_ms[finding.block]


def test_shufflenet_v1_with_eight_groups_raises_g2(profile):
    assert "G2" in guidelines("shufflenet_v1", profile, groups=8)


def test_mobilenet_v2_raises_g1_on_its_expansion_by_six_and_g4(profile):
    result = linted("mobilenet_v2", profile)
    g1 = [f for f in result.findings if f.guideline == "G1"]
    assert any(f.details["c_out"] == 6 * f.details["c_in"] for f in g1)
    assert all(f.details["excess"] >= MAC_EXCESS_LIMIT for f in g1)
    assert "G4" in {f.guideline for f in result.findings}


def test_shufflenet_v2_raises_no_g1_g2_and_few_g3(profile):
    report = report_of("shufflenet_v2", profile.batch)
    result = lint(report, profile)
    found = result.counts()
    assert found["G1"] == found["G2"] == 0
    units = int(report.blocks["is_unit"].sum())
    assert found["G3"] <= units // 4  # only the 3 downsampling units of its 16 (two branches each)
    assert all(f.block.endswith(".0") for f in result.findings if f.guideline == "G3")


MICRO = [
    ("G1", "g1_pointwise", {"c1": 52, "c2": 312}), ("G1", "g1_pointwise", {"c1": 36, "c2": 432}),
    ("G2", "g2_groupconv", {"g": 2, "c": 180}), ("G2", "g2_groupconv", {"g": 8, "c": 360}),
    ("G3", "g3_fragments", {"structure": "4-fragment-series"}),
    ("G3", "g3_fragments", {"structure": "2-fragment-parallel"}),
    ("G3", "g3_fragments", {"structure": "4-fragment-parallel"}),
    ("G4", "g4_bottleneck", {"relu": True, "shortcut": True}),
]
CLEAN = [("g1_pointwise", {"c1": 128, "c2": 128}), ("g2_groupconv", {"g": 1, "c": 128}),
         ("g3_fragments", {"structure": "1-fragment"}), ("g4_bottleneck", {"relu": False, "shortcut": False})]


@pytest.mark.parametrize(("expected", "arch", "params"), MICRO, ids=[f"{a}{p}" for _, a, p in MICRO])
def test_micro_networks_raise_exactly_their_guideline(expected, arch, params, profile):
    assert guidelines(arch, profile, **params) == {expected}


@pytest.mark.parametrize(("arch", "params"), CLEAN, ids=[f"{a}{p}" for a, p in CLEAN])
def test_the_fastest_setting_of_each_table_raises_nothing(arch, params, profile):
    assert guidelines(arch, profile, **params) == set()
