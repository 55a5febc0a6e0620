"""Defects an audit found in the CLI's inputs, each one line before any work: a sweep grid that repeats a value,
nan and inf as grid values or model parameters, an output path only writing reveals as unwritable (root passes
every permission check), a bare `file.py` (its only nn.Module class, as in the app), EfficientNet compound
scaling beyond the zoo's depth range (minutes of analysis), and NaN as JSON null in one place.

Ground truth: the zoo's declarations (g1_pointwise's c1 is a whole number, so 16 and 16.0 are one value;
efficientnet's depth_coefficient is at most 8, so alpha = 2 reaches it at phi = 3 exactly), JSON's grammar (no
NaN token) and what the operating system does with /proc and /sys (no file can be created there, even by root).
"""
from __future__ import annotations

import json
import math
import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costmodel.cli import main
from costmodel.cli.paths import output_path
from costmodel.errors import CostModelError
from costmodel.sources.names import load_model, parse_params, split_inline
from costmodel.sources.userfile import resolve_spec
from costmodel.studies import scaling, sweep
from costmodel.studies.evaluate import Settings
from costmodel.units import json_records

MODELS = Path(__file__).resolve().parent / "fixtures" / "user_models"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The only line a failed command printed (stdout empty, exit code 2)."""
    code, out, err = run_cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ---------------------------------------------------------------- 1. a grid value given twice
@pytest.mark.parametrize("item, message", [
    ("c1=0,16,0", "grid c1 has 0 twice - give each value once, e.g. c1=0,16"),
    ("c1=16,32,16.0", "grid c1 has 16 twice (as 16.0) - give each value once, e.g. c1=16,32"),
])
def test_a_grid_value_given_twice_is_refused(item: str, message: str) -> None:
    with pytest.raises(CostModelError) as error:
        sweep.make_plan("g1_pointwise", sweep.parse_grid([item, "c2=8"]))
    assert str(error.value) == message


def test_a_bool_given_twice_in_other_words_is_refused_too() -> None:
    with pytest.raises(CostModelError, match="grid se has true twice \\(as yes\\)"):
        sweep.make_plan("shufflenet_v2", sweep.parse_grid(["se=true,yes"]))


def test_a_range_whose_step_rounds_away_is_refused() -> None:
    """Values keep 10 decimals: 0:1e-10:1e-11 would be 11 points of which most are the same network."""
    with pytest.raises(CostModelError, match="repeats values"):
        sweep.parse_grid(["width=0:1e-10:1e-11"])


def test_the_sweep_cli_refuses_repeats_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error(capsys, "sweep", "g1_pointwise", "--grid", "c1=0,16,0", "--grid", "c2=8", "--device",
                     "gtx1080ti", "--serial", "--out", str(tmp_path / "d.parquet"))
    assert line == "error: grid c1 has 0 twice - give each value once, e.g. c1=0,16"
    assert list(tmp_path.iterdir()) == []


def test_distinct_values_keep_every_point() -> None:
    plan = sweep.make_plan("g1_pointwise", sweep.parse_grid(["c1=16,32,64", "c2=8"]))
    assert [dict(p.values)["c1"] for p in plan.points] == [16, 32, 64]


# ---------------------------------------------------------------- 2. nan and inf
@pytest.mark.parametrize("arch, item, start", [
    ("mobilenet_v2", "width=nan", "grid value width=nan is not a finite number - write width as finite numbers"),
    ("mobilenet_v2", "width=0.5,inf", "grid value width=inf is not a finite number"),
    ("mobilenet_v2", "width=-Infinity", "grid value width=-Infinity is not a finite number"),
    ("mobilenet_v2", "width=0.5,1e999", "grid value width=1e999 is not a finite number"),
    ("torchvision:mobilenet_v2", "width_mult=nan", "grid value width_mult=nan is not a finite number"),
    ("mobilenet_v2", "width=nan:1:0.5", "'nan' in the range of width is not a finite number"),
    ("mobilenet_v2", "width=0.5:inf:0.5", "'inf' in the range of width is not a finite number"),
    ("mobilenet_v2", "width=0.5:1:nan", "'nan' in the range of width is not a finite number"),
])
def test_nan_and_inf_grid_values_are_refused(arch: str, item: str, start: str) -> None:
    with pytest.raises(CostModelError) as error:
        sweep.make_plan(arch, sweep.parse_grid([item]))
    assert str(error.value).startswith(start)


@pytest.mark.parametrize("item", ["width=0.5:inf:0.5", "width=nan:1:0.5"])
def test_a_range_with_inf_or_nan_is_one_line_not_a_traceback(item: str, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    line = one_error(capsys, "sweep", "mobilenet_v2", "--grid", item, "--device", "gtx1080ti", "--serial", "--out",
                     str(tmp_path / "n.parquet"))
    assert "is not a finite number" in line and "width" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "Infinity", "1e999", " NaN "])
def test_nan_and_inf_model_parameters_are_refused_where_they_are_parsed(value: str) -> None:
    with pytest.raises(CostModelError, match=r"parameter drop_rate=.* is not a finite number - give drop_rate a "
                                             r"finite number"):
        parse_params([f"drop_rate={value}"])
    with pytest.raises(CostModelError, match="is not a finite number"):
        split_inline(f"resnet18(drop_rate={value})")


def test_a_non_finite_parameter_that_did_not_come_as_text_is_refused_too() -> None:
    with pytest.raises(CostModelError, match="parameter width_mult=nan is not a finite number"):
        load_model("torchvision:mobilenet_v2", params={"width_mult": float("nan")})


def test_words_and_finite_numbers_still_pass() -> None:
    assert parse_params(["variant=b0", "width=0.5", "se=no"]) == {"variant": "b0", "width": "0.5", "se": "no"}


@pytest.mark.parametrize("argv, start", [
    (["analyze", "timm:resnet18", "-p", "drop_rate=nan"], "error: parameter drop_rate=nan is not a finite number"),
    (["analyze", "torchvision:mobilenet_v2(width_mult=inf)"], "error: parameter width_mult=inf is not a finite"),
])
def test_the_cli_refuses_non_finite_library_parameters(capsys: pytest.CaptureFixture[str], argv: list[str],
                                                       start: str) -> None:
    """A torchvision/timm builder got the word 'nan' as a string: resnet18 was built and analysed with it."""
    assert one_error(capsys, *argv).startswith(start)


# ---------------------------------------------------------------- 3. an output path only writing reveals
@pytest.mark.parametrize("path", ["/proc/costmodel-test.csv", "/sys/costmodel-test.csv"])
def test_a_folder_nobody_can_write_is_refused_by_trying(path: str) -> None:
    """As root os.access says every folder is writable; creating a file in /proc or /sys fails even for root."""
    with pytest.raises(CostModelError) as error:
        output_path(path, "--csv", (".csv",))
    assert str(error.value).startswith(f"--csv {path} cannot be written (creating a file in {Path(path).parent} "
                                       "fails: ")
    assert str(error.value).endswith(" - choose a folder you can write to")


def test_analyze_fails_before_the_work(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from costmodel.cli import analyze_cmd

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before --csv was checked")

    monkeypatch.setattr(analyze_cmd, "load_model", no_work)
    line = one_error(capsys, "analyze", "g1_pointwise", "--csv", "/proc/costmodel-test.csv")
    assert line.startswith("error: --csv /proc/costmodel-test.csv cannot be written")


def test_the_check_leaves_nothing_behind_and_an_existing_file_as_it_was(tmp_path: Path) -> None:
    assert output_path(str(tmp_path / "new.csv"), "--csv", (".csv",)) == tmp_path / "new.csv"
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.csv"
    old.write_text("a,b\n1,2\n")
    os.utime(old, (1_000_000, 1_000_000))
    assert output_path(str(old), "--csv", (".csv",)) == old
    assert old.read_text() == "a,b\n1,2\n" and old.stat().st_mtime == 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["old.csv"]


# ---------------------------------------------------------------- 4. a bare file.py
def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


ONE = """
    from torch import nn


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, bias=False)

        def forward(self, x):
            return self.conv(x)


    def make_wide():
        return nn.Conv2d(3, 16, 3, bias=False)
"""


def test_a_bare_file_with_one_class_is_that_class_as_in_the_app(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "one.py", ONE)
    code, out, err = run_cli(capsys, "analyze", str(path), "--input", "1,3,10,10", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["arch"] == f"{path}:Net"
    assert report["flops"] == 8 * 8 * 8 * 3 * 3 * 3  # 8 output channels of 8x8, each 3x3x3 multiply-adds


def test_a_bare_file_with_several_classes_lists_them_and_the_form_to_type(capsys: pytest.CaptureFixture[str]) -> None:
    path = MODELS / "two_models.py"
    line = one_error(capsys, "analyze", str(path))
    assert line == (f"error: 'two_models.py' defines several nn.Module classes: Base, Wider - name the one to "
                    f"analyse after a colon, e.g. {path}:Wider")


def test_a_bare_file_without_a_class_names_the_function_form(capsys: pytest.CaptureFixture[str]) -> None:
    path = MODELS / "no_module.py"
    line = one_error(capsys, "analyze", str(path))
    assert line.startswith("error: no nn.Module class is defined in 'no_module.py'")
    assert line.endswith(f"after a colon: {path}:Name")


def test_the_apps_hint_names_the_class_field_not_a_file_spec() -> None:
    path = MODELS / "two_models.py"
    with pytest.raises(CostModelError) as error:
        resolve_spec(str(path), class_field=True)
    message = str(error.value)
    assert message.endswith("Base, Wider - type the one to analyse (e.g. Wider) into the class field")
    assert ":Wider" not in message
    with pytest.raises(CostModelError, match="type the name of a function that returns one into the class field"):
        resolve_spec(str(MODELS / "no_module.py"), class_field=True)


def test_resolving_runs_none_of_the_files_code(tmp_path: Path) -> None:
    path = write(tmp_path, "loud.py", "from torch import nn\nclass Net(nn.Module): pass\nraise SystemExit('ran')\n")
    assert resolve_spec(str(path)) == f"{path}:Net"


# ---------------------------------------------------------------- 5. compound scaling inside the zoo's range
def test_compound_points_beyond_the_zoos_depth_are_left_out_like_the_single_dimension_ones() -> None:
    depth_max = 8.0  # efficientnet's depth_coefficient maximum (costmodel zoo)
    bases = scaling.Bases(2.0, 1.1, 1.15)
    assert 2.0 ** 3 == depth_max
    assert scaling.scaled_model("compound", 3.0, bases) is not None
    assert scaling.scaled_model("compound", 3.5, bases) is None  # depth 11.3
    assert scaling.scaled_model("compound", 7.0, bases) is None  # depth 128: minutes of analysis
    assert scaling.compound_phi_max(bases) == 3.0
    assert scaling.compound_phi_max(scaling.Bases()) == scaling.PHI_MAX  # 1.2^7 = 3.6: the paper's curve is whole
    assert scaling.scaled_model("compound", 7.0, scaling.Bases()) is not None


def test_the_compound_network_beyond_the_range_is_one_line_naming_the_largest_phi() -> None:
    bases = scaling.Bases(2.0, 1.1, 1.15)
    for call in (lambda: scaling.stages(7.0, bases), lambda: scaling.point(7.0, bases, Settings())):
        with pytest.raises(CostModelError) as error:
            call()
        assert str(error.value).endswith("beyond the zoo's 8x - use phi <= 3 with these bases, or smaller bases")


def test_the_curves_at_alpha_2_stop_where_the_zoo_does() -> None:
    frame = scaling.sweep(scaling.Bases(2.0, 1.1, 1.15), Settings(devices=("gtx1080ti",)), phis=(0.0, 3.0, 4.0))
    compound = frame[frame["method"] == "compound"]
    assert compound["phi"].tolist() == [0.0, 3.0]
    assert compound["depth_coefficient"].max() == pytest.approx(8.0)


# ---------------------------------------------------------------- 6. NaN as JSON null, one home
def test_json_records_write_every_missing_value_as_null() -> None:
    frame = pd.DataFrame({"n": [1, 2], "x": [0.5, np.nan], "s": ["a", None],
                          "t": [pd.Timestamp("2026-01-01"), pd.NaT]})
    records = json_records(frame)
    assert [r["x"] for r in records] == [0.5, None] and [r["s"] for r in records] == ["a", None]
    assert records[1]["t"] is None and [r["n"] for r in records] == [1, 2]
    json.dumps([{k: v for k, v in r.items() if k != "t"} for r in records], allow_nan=False)  # no NaN token


def test_a_comparison_with_a_zero_denominator_is_valid_json() -> None:
    from costmodel.studies.compare import Comparison

    metrics = pd.DataFrame({"metric": ["x"], "unit": ["u"], "a": [0.0], "b": [1.0], "delta": [1.0],
                            "ratio": [math.nan]})
    empty = pd.DataFrame()
    text = json.dumps(Comparison("A", "B", metrics, empty, empty).to_dict(), allow_nan=False)
    assert json.loads(text)["metrics"][0]["ratio"] is None
