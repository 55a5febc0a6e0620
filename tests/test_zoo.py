"""The architecture zoo against the papers' published numbers (data/reference) and closed-form counts.

FLOPs are multiply-adds, counted by `costmodel.analyze`; models are built on the meta device.
"""
from __future__ import annotations

import ast
import inspect
import math
import re

import pytest
import torch
import torch.fx

from costmodel import analyze, zoo
from costmodel.errors import CostModelError
from costmodel.zoo import ARCHS, build, efficientnet_scaling, efficientnet_stages, guideline_settings
from costmodel.zoo.efficientnet import BLOCKS, VARIANTS
from costmodel.zoo.guidelines import STRUCTURES
from costmodel.zoo.shufflenet_v2 import stage_channels
from costmodel.zoo.spec import REFERENCE_DIR, reference_csv

HW = 56 * 56
DEPTH = 10
PUBLISHED = [(name, p) for name, spec in ARCHS.items() for p in spec.published]


def _build(arch: str, **params: object) -> tuple[torch.nn.Module, tuple[int, ...]]:
    with torch.device("meta"):
        return build(arch, **params)


def _flops(arch: str, **params: object) -> int:
    return analyze(*_build(arch, **params)).summary["flops"]


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _id(case: tuple[str, object]) -> str:
    return f"{case[0]}-{case[1].setting}"


# Every architecture -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_builds_with_defaults_on_meta_and_traces_with_fx(arch: str) -> None:
    model, shape = _build(arch)
    assert not model.training
    assert all(p.device.type == "meta" for p in model.parameters())
    assert len(shape) == 4 and shape[0] == 1 and shape[2] == shape[3]
    graph = torch.fx.symbolic_trace(model).graph
    assert any(node.op == "call_module" for node in graph.nodes)


@pytest.mark.parametrize("arch", ARCHS)
def test_param_defaults_are_the_builders_defaults(arch: str) -> None:
    spec = ARCHS[arch]
    signature = inspect.signature(spec.builder).parameters
    assert {p.name: p.default for p in spec.params} == {n: s.default for n, s in signature.items()}
    assert all(s.kind is inspect.Parameter.KEYWORD_ONLY for s in signature.values())


# Published numbers ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", [c for c in PUBLISHED if c[1].exact_params is not None], ids=_id)
def test_params_match_published_exactly(case: tuple) -> None:
    arch, published = case
    setting = {k: v for k, v in published.setting.items() if k != "resolution"}
    assert _params(_build(arch, **setting)[0]) == published.exact_params


@pytest.mark.parametrize("case", [c for c in PUBLISHED if c[1].mparams is not None], ids=_id)
def test_params_match_published_millions(case: tuple) -> None:
    arch, published = case
    setting = {k: v for k, v in published.setting.items() if k != "resolution"}
    count = _params(_build(arch, **setting)[0])
    assert count / 1e6 == pytest.approx(published.mparams, rel=published.tolerance)


@pytest.mark.parametrize("case", [c for c in PUBLISHED if c[1].mflops is not None], ids=_id)
def test_flops_match_published(case: tuple) -> None:
    arch, published = case
    assert _flops(arch, **published.setting) / 1e6 == pytest.approx(published.mflops, rel=published.tolerance)


@pytest.mark.parametrize("case", PUBLISHED, ids=_id)
def test_published_numbers_are_in_the_cited_reference_files(case: tuple) -> None:
    published = case[1]
    files = re.findall(r"[\w.]+\.csv", published.source)
    assert files, "a published number must cite its data/reference CSV"
    numbers = {float(n) for f in files for n in re.findall(r"\d+(?:\.\d+)?", (REFERENCE_DIR / f).read_text())}

    def cited(value: float, scales: tuple[float, ...]) -> bool:
        return any(math.isclose(value / s, n, rel_tol=1e-9) for s in scales for n in numbers)

    if published.mflops is not None:
        assert cited(published.mflops, (1, 1000)), published.mflops  # MFLOPs or GFLOPs ("0.39B")
    if published.mparams is not None:
        assert cited(published.mparams, (1,)), published.mparams
    if published.exact_params is not None:
        assert cited(published.exact_params, (1,)), published.exact_params


# Architecture tables against the papers' tables -------------------------------------------------------------------

def test_shufflenet_v1_stage_widths_are_table1() -> None:
    rows = {r["layer"]: r for r in reference_csv("shufflenetv1_table1_arch.csv")}
    for g in (1, 2, 3, 4, 8):
        stages = [getattr(_build("shufflenet_v1", groups=g)[0], f"stage{s}") for s in (2, 3, 4)]
        widths = [stage[-1].expand[0].out_channels for stage in stages]
        assert widths == [int(rows[f"Stage{s}"][f"g{g}"]) for s in (2, 3, 4)]


def test_shufflenet_v2_channels_are_table5_at_its_widths_and_monotonic_between() -> None:
    rows = {r["layer"]: r for r in reference_csv("shufflenetv2_table5_arch.csv")}
    for width in ("0.5", "1", "1.5", "2"):
        expected = tuple(int(rows[layer][f"ch_{width}x"]) for layer in ("Stage2", "Stage3", "Stage4", "Conv5"))
        assert stage_channels(float(width)) == expected
    widths = [w / 20 for w in range(1, 61)]
    stage2 = [stage_channels(w)[0] for w in widths]
    assert stage2 == sorted(stage2) and all(c % 4 == 0 for c in stage2)


def test_shufflenet_v2_se_adds_one_se_per_unit() -> None:
    # Closed form: SE on each unit's conv branch of r channels, squeeze r // 4, both 1x1 convs with bias.
    branches = [58] * 4 + [116] * 8 + [232] * 4
    extra = sum(2 * r * (r // 4) + r // 4 + r for r in branches)
    assert _params(_build("shufflenet_v2", se=True)[0]) - _params(_build("shufflenet_v2")[0]) == extra


def test_shufflenet_v2_split_ratio_moves_channels_into_the_conv_branch() -> None:
    assert _flops("shufflenet_v2", split_ratio=0.25) < _flops("shufflenet_v2") < _flops("shufflenet_v2",
                                                                                         split_ratio=0.75)


def test_efficientnet_blocks_and_coefficients_are_the_official_ones() -> None:
    assert BLOCKS == tuple(r["block_string"] for r in reference_csv("efficientnet_official_blocks_args.csv"))
    for row in reference_csv("efficientnet_official_params.csv"):
        variant = VARIANTS[row["model"].removeprefix("efficientnet-")]
        assert (variant.width, variant.depth, variant.resolution, variant.dropout) == (
            float(row["width_coefficient"]), float(row["depth_coefficient"]), int(row["resolution"]),
            float(row["dropout_rate"]))


def test_efficientnet_b0_stages_are_table1() -> None:
    rows = efficientnet_stages(variant="b0")
    table = reference_csv("efficientnet_table1_b0.csv")
    assert [(r["stage"], r["operator"], r["input_resolution"], r["channels"], r["repeats"]) for r in rows] == [
        (int(t["stage"]), t["operator"], int(t["input_resolution"].split("x")[0]), int(t["channels"]),
         int(t["layers"])) for t in table]


@pytest.mark.parametrize("phi", [0.0, 1.0, 2.5, 7.0])
def test_efficientnet_compound_scaling_follows_alpha_beta_gamma(phi: float) -> None:
    scaling = efficientnet_scaling(phi=phi)
    assert scaling.depth == pytest.approx(1.2 ** phi) and scaling.width == pytest.approx(1.1 ** phi)
    assert abs(scaling.resolution - 224 * 1.15 ** phi) <= 2 and scaling.resolution % 4 == 0
    assert _build("efficientnet", phi=phi)[1][2] == scaling.resolution


def test_efficientnet_phi_zero_is_b0_and_flops_grow_with_phi() -> None:
    assert _flops("efficientnet", phi=0.0) == _flops("efficientnet", variant="b0")
    flops = [_flops("efficientnet", phi=phi) for phi in (0.0, 1.0, 2.0, 3.0)]
    assert flops == sorted(flops)


def test_efficientnet_width_and_depth_coefficients_override() -> None:
    wide, deep = efficientnet_scaling(width_coefficient=2.0), efficientnet_scaling(variant="b3", depth_coefficient=1.0)
    assert (wide.width, wide.depth, wide.resolution) == (2.0, 1.0, 224)
    assert (deep.width, deep.depth, deep.resolution) == (1.2, 1.0, 300)


# Guideline micro-networks (ShuffleNet V2 Tables 1-4) --------------------------------------------------------------

def _closed_form_flops(arch: str, kwargs: dict) -> int:
    """Multiply-adds of the 10-block micro-network, from the paper's description."""
    if arch == "g1_pointwise":
        per_pixel = 2 * kwargs["c1"] * kwargs["c2"]
    elif arch == "g2_groupconv":
        per_pixel = kwargs["c"] ** 2 // kwargs["g"]
    elif arch == "g3_fragments":
        fragments, parallel = STRUCTURES[kwargs["structure"]]
        c = kwargs["c"]
        per_pixel = c * c if parallel else fragments * round(c / math.sqrt(fragments)) ** 2
    else:
        c, mid = kwargs["c"], kwargs["c"] // 4
        per_pixel = c * mid + 9 * mid * mid + mid * c
    return DEPTH * HW * per_pixel


@pytest.mark.parametrize("table", [1, 2, 3, 4])
def test_guideline_settings_cover_each_table_cell_with_its_speed(table: int) -> None:
    settings = guideline_settings(table)
    rows = reference_csv(f"shufflenetv2_table{table}_g{table}.csv")
    speed_columns = [c for c in rows[0] if re.fullmatch(r"(gpu|arm|cpu)_[xc]\d+", c)]
    assert len(settings) == len(rows) * len(speed_columns)
    assert [s["speed"] for s in settings] == [float(r[c]) for r in rows for c in speed_columns]
    assert {s["unit"] for s in settings if s["device"] == "gpu"} == {"batches/s"}
    assert {s["unit"] for s in settings if s["device"] == "arm"} == {"images/s"}


@pytest.mark.parametrize("table", [1, 2, 3, 4])
def test_guideline_rows_have_equal_flops_per_column(table: int) -> None:
    columns: dict[str, list[int]] = {}
    for s in guideline_settings(table):
        columns.setdefault(s["column"], []).append(_closed_form_flops(s["arch"], s["kwargs"]))
    for column, flops in columns.items():
        assert max(flops) / min(flops) < 1.06, column  # the paper's own channel pairs differ by up to 5%


@pytest.mark.parametrize("table", [1, 2])
def test_guideline_x2_x4_columns_multiply_the_papers_x1_channels(table: int) -> None:
    """x<k> columns have k times x1's channels, so k**2 times its FLOPs (see guideline_settings)."""
    rows = reference_csv(f"shufflenetv2_table{table}_g{table}.csv")
    for s in guideline_settings(table):
        device, multiple = re.fullmatch(r"(\w+)_x(\d)", s["column"]).groups()
        if table == 1:
            c1, c2 = ast.literal_eval(next(r for r in rows if r["c1:c2"] == s["row"])[f"{device}_c1c2_at_x1"])
            x1 = _closed_form_flops("g1_pointwise", {"c1": c1, "c2": c2})
        else:
            g = s["kwargs"]["g"]
            c = int(next(r for r in rows if int(r["g"]) == g)[f"{device}_c_at_x1"])
            x1 = DEPTH * HW * c * c / g
        # 5%: integer channels; the paper's g=8 ARM width, 180, is not a multiple of 8 (built as 184).
        assert _closed_form_flops(s["arch"], s["kwargs"]) / x1 == pytest.approx(int(multiple) ** 2, rel=0.05)


@pytest.mark.parametrize("table", [1, 2, 3, 4])
def test_guideline_networks_count_their_closed_form_flops(table: int) -> None:
    seen = set()
    for s in guideline_settings(table):
        key = (s["arch"], tuple(sorted(s["kwargs"].items())))
        if key not in seen:
            seen.add(key)
            model, shape = _build(s["arch"], **s["kwargs"])
            assert shape[2:] == (56, 56)
            assert analyze(model, shape).summary["flops"] == _closed_form_flops(s["arch"], s["kwargs"])


@pytest.mark.parametrize("structure, ops, width", [
    ("1-fragment", 1, 1), ("2-fragment-series", 2, 1), ("4-fragment-series", 4, 1),
    ("2-fragment-parallel", 2, 2), ("4-fragment-parallel", 4, 4)])
def test_g3_blocks_have_the_structures_fragments_and_parallelism(structure: str, ops: int, width: int) -> None:
    blocks = analyze(*_build("g3_fragments", structure=structure)).blocks
    assert len(blocks) == DEPTH
    assert set(blocks["compute_ops"]) == {ops} and set(blocks["width"]) == {width}


def test_g4_switches_change_only_elementwise_work() -> None:
    flops = {(relu, shortcut): _flops("g4_bottleneck", relu=relu, shortcut=shortcut)
             for relu in (True, False) for shortcut in (True, False)}
    assert len(set(flops.values())) == 1
    plain, full = _build("g4_bottleneck", relu=False, shortcut=False)[0], _build("g4_bottleneck")[0]
    assert not any(isinstance(m, torch.nn.ReLU) for m in plain.modules())
    assert sum(isinstance(m, torch.nn.ReLU) for m in full.modules()) == 3 * DEPTH


# Parameters from the CLI and bad input ----------------------------------------------------------------------------

def test_cli_strings_are_coerced() -> None:
    model, shape = _build("shufflenet_v2", width="1.0", se="true", resolution="160", batch="8")
    assert shape == (8, 3, 160, 160) and _params(model) > 2278604
    assert _build("efficientnet", variant="b3")[1] == (1, 3, 300, 300)
    assert _build("g3_fragments", structure="2-fragment-series", c="128")[1] == (1, 91, 56, 56)


@pytest.mark.parametrize("arch, params, words", [
    ("resnet18", {}, "shufflenet_v1"),
    ("shufflenet_v2", {"depth": 2}, "width"),
    ("shufflenet_v2", {"width": 0}, "[0.05, 4]"),
    ("shufflenet_v2", {"width": "wide"}, "a number"),
    ("shufflenet_v2", {"width": float("nan")}, "a number"),
    ("shufflenet_v2", {"se": "maybe"}, "true or false"),
    ("shufflenet_v2", {"se": 1}, "true or false"),
    ("shufflenet_v2", {"width": 0.05, "split_ratio": 0.95}, "nearer 0.5"),
    ("shufflenet_v1", {"groups": 5}, "1, 2, 3, 4, 8"),
    ("shufflenet_v1", {"groups": "3.5"}, "1, 2, 3, 4, 8"),
    ("shufflenet_v1", {"groups": True}, "1, 2, 3, 4, 8"),
    ("mobilenet_v2", {"resolution": 16}, "[32, inf]"),
    ("mobilenet_v2", {"resolution": "big"}, "an integer"),
    ("mobilenet_v2", {"batch": 0}, "[1, inf]"),
    ("efficientnet", {"variant": "b9"}, "b0, b1"),
    ("efficientnet", {"variant": "b1", "phi": 1.0}, "either variant or phi"),
    ("efficientnet", {"phi": 9}, "[0, 8]"),
    ("g2_groupconv", {"g": 3, "c": 128}, "multiple of 3"),
    ("g3_fragments", {"structure": "3-fragment-series"}, "4-fragment-parallel"),
    ("g3_fragments", {"structure": "4-fragment-parallel", "c": 130}, "multiple of 4"),
    ("g4_bottleneck", {"c": 30}, "multiple of 4"),
])
def test_bad_input_raises_one_line_cost_model_error(arch: str, params: dict, words: str) -> None:
    with pytest.raises(CostModelError) as error:
        _build(arch, **params)
    message = str(error.value)
    assert "\n" not in message and words in message and " - use " in message


@pytest.mark.parametrize("function, kwargs, words", [
    (zoo.shufflenet_v1, {"groups": 5}, "use one of 1, 2, 3, 4, 8"),
    (zoo.shufflenet_v2, {"width": -1}, "use a number in [0.05, 4]"),
    (zoo.efficientnet, {"variant": "b9"}, "use one of b0, b1"),
    (zoo.efficientnet_stages, {"phi": 9}, "use a number in [0, 8]"),
    (zoo.g2_groupconv, {"g": 3, "c": 128}, "use c a multiple of 3"),
    (zoo.guideline_settings, {"table": 5}, "use table 1, 2, 3 or 4"),
])
def test_public_functions_called_directly_check_their_arguments(function, kwargs: dict, words: str) -> None:
    with pytest.raises(CostModelError, match=re.escape(words)):
        function(**kwargs)
