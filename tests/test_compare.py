"""A/B comparison: per-category deltas sum to the total delta, totals are the reports' own, and the CLI
`compare` and `lint` commands print the same numbers as the API."""
from __future__ import annotations

import functools
import json

import pytest
import torch

from costmodel import analyze
from costmodel.cli import main
from costmodel.studies.compare import TOTAL, compare
from costmodel.engine.kinds import CATEGORIES
from costmodel.studies.lint import MAC_EXCESS_LIMIT, lint
from costmodel.latency.model import predict
from costmodel.latency.profiles import list_profiles, load_profile
from costmodel.engine.report import Report
from costmodel.sources.names import load_model

PROFILES = list_profiles()


@functools.cache
def report_of(arch: str, batch: int = 1, **params: object) -> Report:
    model, shape, label = load_model(arch, params=params, batch=batch)
    return analyze(model, shape, arch=label)


def compared(a: Report, b: Report, profiles=PROFILES):
    return compare(a, b, [predict(a, p) for p in profiles], [predict(b, p) for p in profiles])


@pytest.fixture(scope="module")
def result():
    return compared(report_of("shufflenet_v1", groups=8), report_of("shufflenet_v2"))


def test_category_deltas_sum_to_the_total_delta(result):
    for _, rows in [*result.costs.groupby("quantity"), *result.latency.groupby("device")]:
        parts, total = rows[rows["category"] != TOTAL], rows[rows["category"] == TOTAL].iloc[0]
        assert list(parts["category"]) == list(CATEGORIES)
        for column in ("a", "b", "delta"):
            assert parts[column].sum() == pytest.approx(total[column], rel=1e-9, abs=1e-12)
        assert (rows["delta"] == rows["b"] - rows["a"]).all()


def test_totals_are_the_reports_and_the_latency_models(result):
    a, b = report_of("shufflenet_v1", groups=8), report_of("shufflenet_v2")
    totals = result.costs[result.costs["category"] == TOTAL].set_index("quantity")
    assert totals.at["FLOPs", "a"] == a.summary["flops"] and totals.at["FLOPs", "b"] == b.summary["flops"]
    assert totals.at["MAC", "delta"] == b.summary["mac_bytes"] - a.summary["mac_bytes"]
    assert totals.at["Kernels", "a"] == a.summary["fragmentation"]["kernels"]
    for profile in PROFILES:
        row = result.latency[(result.latency["device"] == profile.name) & (result.latency["category"] == TOTAL)]
        assert row["a"].iloc[0] == pytest.approx(predict(a, profile).device_ms)  # categories: device time
        assert row["b"].iloc[0] == pytest.approx(predict(b, profile).device_ms)


def test_metrics_side_by_side(result):
    flops = result.metrics[result.metrics["metric"] == "FLOPs"]
    assert flops["unit"].tolist() == ["multiply-adds"]
    assert flops["ratio"].iloc[0] == pytest.approx(
        report_of("shufflenet_v2").summary["flops"] / report_of("shufflenet_v1", groups=8).summary["flops"])
    latency = result.metrics[result.metrics["metric"] == "Latency"]
    assert latency["device"].tolist() == [p.name for p in PROFILES]
    assert latency["a"].tolist() == pytest.approx([predict(report_of("shufflenet_v1", groups=8), p).ms
                                                   for p in PROFILES])
    assert result.metrics.loc[result.metrics["metric"] == "FLOPs", "device"].isna().all()
    assert result.a == "shufflenet_v1(groups=8)" and result.b == "shufflenet_v2"


def test_latencies_must_pair_up_by_device():
    report = report_of("g4_bottleneck")
    with pytest.raises(ValueError, match="pair up"):
        compare(report, report, [predict(report, PROFILES[0])], [predict(report, PROFILES[1])])


def test_a_model_against_itself_has_no_delta():
    report = report_of("g4_bottleneck")
    same = compared(report, report, PROFILES[:1])
    assert same.a.endswith("(A)") and same.b.endswith("(B)")
    for table in (same.metrics, same.costs, same.latency):
        assert (table["delta"] == 0).all()


def test_cli_compare_json_matches_the_api(capsys):
    """The latency table's rows are, per Figure-2 category and in total, A's and B's predicted ms at the
    device's batch and their difference - written out from that definition, not by calling compare()."""
    device = PROFILES[0]
    assert main(["compare", "g2_groupconv(g=8, c=360)", "g2_groupconv(g=1)", "--device", device.name,
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["a"], data["b"]) == ("g2_groupconv(g=8, c=360)", "g2_groupconv(g=1)")
    latency_a = predict(report_of("g2_groupconv", device.batch, g="8", c="360"), device)
    latency_b = predict(report_of("g2_groupconv", device.batch, g="1"), device)
    expected = [(c, latency_a.breakdown[c], latency_b.breakdown[c]) for c in CATEGORIES]
    expected.append((TOTAL, latency_a.ms, latency_b.ms))
    rows = [(r["category"], r["a"], r["b"], r["delta"]) for r in data["latency"] if r["device"] == device.name]
    assert [r[0] for r in rows] == [e[0] for e in expected]
    for (_, a, b, delta), (_, want_a, want_b) in zip(rows, expected):
        assert a == pytest.approx(want_a) and b == pytest.approx(want_b)
        assert delta == pytest.approx(want_b - want_a, abs=1e-12)


def test_cli_compare_prints_tables(capsys):
    assert main(["compare", "g3_fragments(structure=1-fragment)", "g3_fragments(structure=4-fragment-parallel)",
                 "--device", PROFILES[0].name]) == 0
    out = capsys.readouterr().out
    assert "A: g3_fragments(structure=1-fragment)" in out and "Predicted time by category, ms" in out


def test_cli_lint_json_flags_every_unbalanced_pointwise_conv(capsys):
    """g1_pointwise(c1=36, c2=432) is 10 blocks of 1x1 convs 36 -> 432 -> 36 at 56x56. Each conv's MAC,
    hw(c1 + c2) + c1*c2, exceeds ShuffleNet V2's G1 bound 2*sqrt(hw*B) + B/hw (B = hw*c1*c2) by far more than
    the linter's one-third limit, so each of the 20 convs is a G1 finding; no conv is grouped (no G2)."""
    device = PROFILES[0]
    assert main(["lint", "g1_pointwise", "-p", "c1=36", "-p", "c2=432", "--device", device.name, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    hw, c1, c2 = 56 * 56 * device.batch, 36, 432
    flops = hw * c1 * c2
    excess = (hw * (c1 + c2) + c1 * c2) / (2 * (hw * flops) ** 0.5 + flops / hw) - 1
    assert excess > MAC_EXCESS_LIMIT
    assert data["batch"] == device.batch
    assert data["counts"]["G1"] == 20 and data["counts"]["G2"] == 0
    costs = [f["cost_ms"] for f in data["findings"]]
    assert all(c >= 0 for c in costs) and costs == sorted(costs, reverse=True)


def test_cli_lint_text_and_a_bad_device(capsys):
    assert main(["lint", "g4_bottleneck", "--device", PROFILES[0].name]) == 0
    assert "G4" in capsys.readouterr().out
    assert main(["lint", "g4_bottleneck", "--device", "no_such_device"]) == 2
    assert "no device profile named 'no_such_device'" in capsys.readouterr().err


class _Unknown(torch.nn.Module):
    """A conv then an op the engine's table does not have (scaled complementary error function)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.erfcx(self.conv(x))


def test_a_model_with_unknown_ops_is_partial_in_compare_and_lint():
    """Totals that leave out an unknown op say so (never a silently low number), in the API and its JSON."""
    profile = load_profile("gtx1080ti")
    known = analyze(torch.nn.Conv2d(3, 8, 1), (1, 3, 8, 8))
    unknown = analyze(_Unknown(), (1, 3, 8, 8))
    result = compare(known, unknown, [predict(known, profile)], [predict(unknown, profile)]).to_dict()
    assert result["status"] == {"a": "complete", "b": "partial"}
    assert result["unknown_ops"] == {"a": [], "b": ["special_erfcx"]}
    linted = lint(unknown, profile).to_dict()
    assert linted["status"] == "partial" and linted["unknown_ops"] == ["special_erfcx"]
    assert lint(known, profile).to_dict()["status"] == "complete"


def test_compare_json_is_strict_json_when_a_ratio_has_no_denominator(capsys):
    """g1_pointwise has no elementwise ops, so B / A of that row divides by zero: null, not NaN."""
    assert main(["compare", "g1_pointwise", "g2_groupconv", "--device", "gtx1080ti", "--json"]) == 0
    result = json.loads(capsys.readouterr().out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    zero = [row for row in result["metrics"] if row["a"] == 0]
    assert zero and all(row["ratio"] is None for row in zero)
    assert {row["device"] for row in result["metrics"]} == {None, "gtx1080ti"}  # costs name no device
