"""The computations behind the app pages, against closed forms, the reference tables and the engine's API:
single ShuffleNet units, guideline sweeps, compound scaling, published accuracy, MnasNet's reward, tables and
the pure figure builders."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

from costmodel import CostModelError, analyze
from costmodel.viz import figures, tables
from costmodel.studies import guideline_sweeps, ranking, scaling, yourmodel, zoo_table
from costmodel.studies.evaluate import (Settings, ZooModel, breakdown, device_batch, latency, op_table, per_image,
                                        profile)
from costmodel.latency.model import predict
from costmodel.latency.profiles import profile_names
from costmodel.studies.published import accuracies, top1
from costmodel.studies.shufflenet_units import UnitSpec, matched_v2, min_v2_channels, unit_flops
from costmodel.sources.names import load_model
from costmodel.sources.userfile import load_user_model
from costmodel.zoo.layers import round_to_multiple
from costmodel.zoo.spec import REFERENCE_DIR, reference_csv
from test_app_pages import guideline_batch

SETTINGS = Settings(devices=tuple(profile_names()))
USER_MODELS = Path(__file__).parent / "fixtures" / "user_models"


def reference(name: str) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def engine(arch: str, batch: int = 1, **params: object):
    model, shape, label = load_model(arch, params=params, batch=batch)
    return analyze(model, shape, arch=label)


# ---------------------------------------------------------------- ShuffleNet units
@pytest.mark.parametrize("groups", [1, 3, 8])
def test_v1_unit_flops_closed_form(groups: int) -> None:
    c, hw = 96 * groups, 28 * 28
    m = c // 4
    expected = 2 * hw * c * m // groups + hw * m * 9  # two 1x1 group convs + 3x3 depthwise
    assert unit_flops(UnitSpec(1, c, 1, 28, groups=groups)) == expected


def test_v2_unit_stride2_doubles_channels_and_halves_resolution() -> None:
    rep = per_image(UnitSpec(2, 116, 2, 28), SETTINGS)
    assert rep.summary["input_shape"] == [1, 58, 28, 28]
    assert rep.ops["output_shapes"].iloc[-1][0] == (1, 116, 14, 14)


@pytest.mark.parametrize("spec", [UnitSpec(1, 250, groups=3), UnitSpec(1, 240, groups=5), UnitSpec(2, 117),
                                  UnitSpec(1, 240, stride=3), UnitSpec(2, 116, split_ratio=0.001)])
def test_impossible_units_are_user_errors(spec: UnitSpec) -> None:
    with pytest.raises(CostModelError):
        per_image(spec, SETTINGS)


def test_matched_v2_is_the_closest_even_width() -> None:
    v1 = UnitSpec(1, 480, 1, 28, groups=3)
    v2 = matched_v2(v1)
    target = unit_flops(v1)
    gap = abs(unit_flops(v2) - target)
    for other in (v2.channels - 2, v2.channels + 2):
        assert gap <= abs(unit_flops(UnitSpec(2, other, 1, 28)) - target)
    assert gap / target < 0.02


def test_an_empty_v2_branch_is_named_with_the_fewest_channels_that_work() -> None:
    """At split ratio 0.9 round(0.9 c) channels go through the conv branch: c = 2 -> 2 and c = 4 -> 4 leave the
    other branch empty, c = 6 -> 5 does not. The count is even, so the fix is never 'an even count'."""
    for stride in (1, 2):
        with pytest.raises(CostModelError) as error:
            per_image(UnitSpec(2, 4, stride, split_ratio=0.9), SETTINGS)
        assert "empty branch" in error.value.problem and "even" not in str(error.value)
        assert error.value.fix.startswith("use at least 6 channels")
    assert [min_v2_channels(r) for r in (0.9, 0.5, 0.1)] == [6, 2, 6]  # 0.1 x 4 = 0.4 rounds to 0; 0.1 x 6 to 1
    with pytest.raises(CostModelError) as error:  # an odd count: the shuffle is what needs an even one
        per_image(UnitSpec(2, 117), SETTINGS)
    assert "even" in error.value.problem and error.value.fix == "use 116 or 118 channels"


def test_matched_v2_at_an_extreme_split_ratio_starts_at_the_fewest_channels_it_allows() -> None:
    """A tiny V1 unit (g = 3, c = 12, 7x7): 49 (2 x 12 x 3 / 3 + 3 x 9) = 49 x 51 MAdds. The smallest V2 unit at
    split 0.9 has 6 channels, 5 through the conv branch: 49 (5 x 5 + 9 x 5 + 5 x 5) = 49 x 95, already more, so
    it is the closest one (before, the search tried 4 channels and failed on them)."""
    v1 = UnitSpec(1, 12, 1, 7, groups=3)
    v2 = matched_v2(v1, split_ratio=0.9)
    assert unit_flops(v1) == 49 * 51 and v2.channels == 6 and unit_flops(v2) == 49 * 95


# ---------------------------------------------------------------- guidelines
def test_g1_lower_bound_is_tight_at_equal_widths_only() -> None:
    c, hw = 64, 56 * 56
    equal = engine("g1_pointwise", c1=c, c2=c)
    assert guideline_sweeps.g1_lower_bound_total(equal) == 20 * (2 * hw * c + c * c) == equal.summary["mac_elements"]
    skewed = engine("g1_pointwise", c1=32, c2=128)
    assert guideline_sweeps.g1_lower_bound_total(skewed) < skewed.summary["mac_elements"]


def test_g1_user_ratio_keeps_the_flops_of_the_first_row() -> None:
    base = guideline_sweeps.cells(1, "gpu", 0)[0]["kwargs"]
    cell = guideline_sweeps.user_cell(1, "gpu", 0, 4.0)
    assert cell["kwargs"] == {"c1": base["c1"] // 2, "c2": 4 * (base["c1"] // 2)}
    with pytest.raises(CostModelError):
        guideline_sweeps.user_cell(1, "gpu", 0, 0.5)


def test_g2_user_groups_scale_channels_by_sqrt_g() -> None:
    base = guideline_sweeps.cells(2, "arm", 0)[0]["kwargs"]["c"]
    assert guideline_sweeps.user_cell(2, "arm", 0, 16)["kwargs"] == {"g": 16, "c": round_to_multiple(base * 4, 16)}


def test_guideline_sweep_matches_the_engine_and_the_paper() -> None:
    frame = guideline_sweeps.sweep(2, 0, SETTINGS, 16)
    for name in SETTINGS.devices:
        device = profile(name)
        rows = frame[frame["device"] == device.name]
        published = [c["speed"] for c in guideline_sweeps.cells(2, guideline_sweeps.paper_device(device), 0)]
        assert list(rows["published"].dropna()) == (published if guideline_sweeps.publishes(device) else [])
        mine = rows[rows["yours"]].iloc[0]
        g, c = (int(v.split("=")[1]) for v in mine["config"].split(", "))
        batch = guideline_batch(device)
        assert set(rows["batch"]) == {batch}
        expected = predict(engine("g2_groupconv", batch=batch, g=g, c=c), device)
        assert mine["predicted"] == pytest.approx(expected.throughput)
        assert mine["flops"] == engine("g2_groupconv", g=g, c=c).summary["flops"]


def test_your_setting_is_shown_per_network_with_its_own_flops_and_mac() -> None:
    """G1 at 1:16: a GPU profile builds Table 1's GPU widths (c = 128 at x1), a CPU/ARM profile the ARM ones
    (c = 32), so the two networks differ 16x in FLOPs. c1 = floor(c / sqrt(16)) = c / 4, c2 = 16 c1; 10 blocks
    of two 1x1 convs on 56x56: FLOPs 10 x 2 hw c1 c2, MAC 10 x 2 (hw (c1 + c2) + c1 c2) elements of 4 bytes."""
    row = next(r for r in reference_csv("shufflenetv2_table1_g1.csv") if r["c1:c2"] == "1:1")
    hw, shown = 56 * 56, []
    for net in guideline_sweeps.your_networks(guideline_sweeps.sweep(1, 0, SETTINGS, 16)):
        for name in net.devices["device"]:
            device = next(profile(d) for d in SETTINGS.devices if profile(d).name == name)
            column = "gpu_c1c2_at_x1" if device.kind == "gpu" else "arm_c1c2_at_x1"
            c = int(row[column].strip("()").split(",")[0])
            c1, c2 = c // 4, 16 * (c // 4)
            assert (net.flops, net.mac_bytes) == (10 * 2 * hw * c1 * c2, 4 * 10 * 2 * (hw * (c1 + c2) + c1 * c2)), \
                f"{name} is shown next to the FLOPs and MAC of another network"
            assert net.config == f"c1={c1}, c2={c2}" and net.setting == "1:16 (yours)"
            shown.append(name)
    assert sorted(shown) == sorted(profile(d).name for d in SETTINGS.devices)  # every device, once


def test_unknown_level_is_a_user_error() -> None:
    with pytest.raises(CostModelError):
        guideline_sweeps.sweep(1, 3, SETTINGS, 2.0)


# ---------------------------------------------------------------- scaling
def test_compound_point_follows_the_bases() -> None:
    bases = scaling.Bases(1.3, 1.2, 1.1)
    model = scaling.scaled_model("compound", 2.5, bases)
    coefficients = scaling.coefficients(model)
    assert coefficients["width_coefficient"] == pytest.approx(1.2 ** 2.5)
    assert coefficients["depth_coefficient"] == pytest.approx(1.3 ** 2.5)
    assert coefficients["resolution"] == round_to_multiple(224 * 1.1 ** 2.5, 4)
    assert bases.constraint == pytest.approx(1.3 * 1.2 ** 2 * 1.1 ** 2)
    assert scaling.far_from_target(bases) and not scaling.far_from_target(scaling.Bases())


def test_single_dimension_methods_reach_the_same_nominal_flops() -> None:
    bases = scaling.Bases()
    factor = bases.constraint ** 2
    width = scaling.coefficients(scaling.scaled_model("width", 2.0, bases))
    depth = scaling.coefficients(scaling.scaled_model("depth", 2.0, bases))
    assert width["width_coefficient"] == pytest.approx(math.sqrt(factor), rel=1e-4)
    assert depth["depth_coefficient"] == pytest.approx(factor, rel=1e-4)
    assert scaling.scaled_model("depth", 7.0, bases) is None  # d = 96 is outside the zoo's range


def test_resolution_only_scaling_stops_at_the_largest_input_every_command_takes() -> None:
    """Bases 2, 2, 2 multiply the nominal FLOPs by 32 per unit of phi, so resolution-only scaling reaches
    224 sqrt(32^phi) px, which passes 2^20 px at phi = log_32((2^20 / 224)^2) = 4.88: beyond it there is no
    model (as width and depth beyond the zoo's range), not an error when the curve is analysed."""
    bases = scaling.Bases(2.0, 2.0, 2.0)
    last = math.log((2**20 / 224) ** 2, 32)  # phi at which 224 sqrt(32^phi) reaches 2^20
    assert scaling.scaled_model("resolution", round(last - 0.1, 2), bases) is not None
    assert scaling.scaled_model("resolution", round(last + 0.1, 2), bases) is None


def test_sweep_starts_at_b0_and_grows() -> None:
    sweep = scaling.sweep(scaling.Bases(), SETTINGS, phis=(0.0, 1.0, 2.0))
    b0 = engine("efficientnet").summary["flops"]
    assert set(sweep.loc[sweep["phi"] == 0, "flops"]) == {b0}
    for _, curve in sweep.groupby("method"):
        assert curve["flops"].is_monotonic_increasing
        for name in SETTINGS.devices:
            assert curve[f"ms:{profile(name).name}"].is_monotonic_increasing


def test_stages_at_phi_zero_are_table_1_of_the_paper() -> None:
    stages = scaling.stages(0.0, scaling.Bases())
    table1 = reference("efficientnet_table1_b0.csv")
    assert list(stages["channels"]) == [int(r["channels"]) for r in table1]
    assert list(stages["repeats"]) == [int(r["layers"]) for r in table1]
    assert [f"{r}x{r}" for r in stages["input_resolution"]] == [r["input_resolution"] for r in table1]


def test_out_of_range_phi_is_a_user_error() -> None:
    with pytest.raises(CostModelError):
        scaling.point(7.5, scaling.Bases(), SETTINGS)


# ---------------------------------------------------------------- published accuracy and reward
def test_published_accuracy_is_read_from_the_reference_tables() -> None:
    table8 = {r["model"]: float(r["top1_err_pct"]) for r in reference("shufflenetv2_table8_accuracy.csv")}
    assert top1(ZooModel.of("shufflenet_v2", width=1.0)) == pytest.approx(100 - table8["ShuffleNet v2 1x (ours)"])
    table2 = {r["model"]: r["top1"] for r in reference("efficientnet_table2_latest.csv")}
    assert top1(ZooModel.of("efficientnet", variant="b3")) == float(table2["EfficientNet-B3"].rstrip("%"))
    assert top1(ZooModel.of("shufflenet_v2", width=0.7)) is None
    assert len(accuracies()) >= 20


def test_reward_closed_form_and_ranking() -> None:
    assert ranking.reward(75.0, 150.0, 75.0, -0.07) == pytest.approx(0.75 * 2 ** -0.07)
    points = pd.DataFrame({"device": ["d"] * 3, "model": ["fast", "slow", "best"], "top1": [70.0, 76.0, 76.0],
                           "ms": [10.0, 100.0, 50.0]})
    ranked = ranking.rank(points, 75.0, -0.07)
    closed = {m: a / 100 * (t / 75.0) ** -0.07 for m, a, t in zip(points["model"], points["top1"], points["ms"])}
    assert list(ranked["model"]) == sorted(closed, key=closed.get, reverse=True)
    assert list(ranked["reward"]) == pytest.approx(sorted(closed.values(), reverse=True))
    assert list(ranking.rank(points, 75.0, 0.0)["rank"]) == [1, 1, 3]  # w = 0: accuracy alone, ties share
    with pytest.raises(CostModelError):
        ranking.reward(70.0, 10.0, 0.0)


def test_same_flops_pairs_pick_the_largest_gap() -> None:
    long = pd.DataFrame({"device": "d", "batch": 1, "model": ["a", "b", "c", "d"],
                         "flops": [100, 105, 300, 104], "ms": [1.0, 3.0, 0.5, 2.0]})
    pair = zoo_table.same_flops_pairs(long, tolerance=0.1).iloc[0]
    assert (pair["fast"], pair["slow"], pair["ratio"]) == ("a", "b", 3.0)


# ---------------------------------------------------------------- evaluate and tables
def test_latency_batch_override_and_breakdown_sum() -> None:
    model = ZooModel.of("shufflenet_v2", width=0.5)
    name = SETTINGS.devices[0]
    fixed = Settings(devices=(name,), batch=4)
    assert latency(model, name, fixed).ms == pytest.approx(predict(engine("shufflenet_v2", 4, width=0.5),
                                                                   profile(name)).ms)
    frame = breakdown([model], fixed)
    assert frame[["Conv", "Elemwise", "Data", "Shuffle", "Other"]].sum(axis=1).iloc[0] == pytest.approx(
        frame["ms"].iloc[0])


def test_readable_tables_carry_units() -> None:
    name = SETTINGS.devices[0]
    device = profile(name)
    raw = pd.DataFrame({"model": ["m"], "flops": [2_000_000], "mac_bytes": [2 ** 21], f"ms:{device.name}": [1.5]})
    shown = tables.readable(raw, Settings(devices=(name,)))
    assert shown.iloc[0].tolist() == ["m", 2.0, 2.0, 1.5]
    assert list(shown.columns[1:3]) == ["FLOPs (M multiply-adds)", "MAC (MiB)"]
    assert f"batch {device.batch}" in shown.columns[3]
    assert tables.transposed(shown).columns.tolist() == ["metric", "m"]


# ---------------------------------------------------------------- figure builders
def test_pareto_front() -> None:
    points = pd.DataFrame({"ms": [1, 2, 3, 4], "top1": [70, 69, 75, 74]})
    assert figures.pareto_front(points, "ms", "top1")["ms"].tolist() == [1, 3]


def test_layered_positions_keep_branches_side_by_side() -> None:
    g = nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    pos = figures.layered_positions(g)
    assert pos["a"][1] == 0 and pos["b"][1] == pos["c"][1] == -1 and pos["d"][1] == -2
    assert pos["b"][0] != pos["c"][0] and pos["d"][0] == pytest.approx((pos["b"][0] + pos["c"][0]) / 2)


def test_views_are_bypassed_in_drawings() -> None:
    g = nx.DiGraph([("conv", "view"), ("view", "relu")])
    nx.set_node_attributes(g, {"conv": "conv", "view": "view", "relu": "elementwise"}, "kind")
    assert list(figures.without_views(g).edges) == [("conv", "relu")]


def test_op_graph_draws_every_kernel_with_its_kind() -> None:
    rep = per_image(UnitSpec(1, 240, 1, 28, groups=3), SETTINGS)
    fig = figures.op_graphs({"v1": rep.graph})
    drawn = sum(len(t.x) for t in fig.data if t.mode == "markers+text")
    assert drawn == int((rep.ops["kind"] != "view").sum())
    labels = {label for t in fig.data if t.mode == "markers+text" for label in t.text}
    assert {"gconv 1x1", "dwconv 3x3", "channel_shuffle", "add"} <= labels


def test_guideline_chart_has_a_panel_per_device() -> None:
    frame = guideline_sweeps.sweep(1, 0, SETTINGS, 2.0)
    mac, speed = guideline_sweeps.chart_data(frame)
    fig = figures.guideline_chart(mac, speed, highlight="1:2 (yours)")
    titles = [a.text.split("<br>")[0] for a in fig.layout.annotations]
    assert titles == ["MAC (bytes)", *[profile(d).name for d in SETTINGS.devices]]
    bars = [t for t in fig.data if t.type == "bar"]
    assert [list(b.y) for b in bars] == [list(frame.loc[frame["device"] == profile(d).name, "predicted"])
                                         for d in SETTINGS.devices]


# ---------------------------------------------------------------- a user's model as a source
def test_a_user_model_gets_the_zoo_tables_from_one_sandbox_run(monkeypatch) -> None:
    runs: list[list[tuple[int, ...]]] = []
    sandboxed = yourmodel.run_sandboxed
    monkeypatch.setattr(yourmodel, "run_sandboxed", lambda spec, shapes, **options: runs.append(shapes) or
                        sandboxed(spec, shapes, **options))
    spec, sample = f"{USER_MODELS / 'tiny_net.py'}:TinyNet", (3, 40, 40)
    model = yourmodel.UserModel(spec, sample, batches=yourmodel.batches_for(SETTINGS))
    table = op_table(model, SETTINGS)
    inside = load_user_model(spec)
    pd.testing.assert_frame_equal(per_image(model, SETTINGS).ops, analyze(inside, (1, *sample), arch=spec).ops)
    for device in map(profile, SETTINGS.devices):
        expected = predict(analyze(inside, (device_batch(device, SETTINGS), *sample)), device)
        assert latency(model, device.name, SETTINGS).ms == pytest.approx(expected.ms)
        assert table[f"ms:{device.name}"].sum() == pytest.approx(expected.device_ms)  # per op: device time
    assert runs == [[(batch, *sample) for batch in model.batches]]  # every batch in one child process
