"""`sweep`'s inputs are checked before any point is evaluated: a grid value its Parquet column cannot hold, an
unknown model, --budget, --out, --scheduler and a --resume file that is not Parquet are each one line and exit 2,
and a sweep that fails before its first row leaves no file behind (a user's existing file stays as it was).
Ground truth: the types the zoo declares (shufflenet_v2's width is a float, se a bool; resolution a whole number
stored as int64, whose largest value is 2^63 - 1) and G1's rule that c1 is a positive channel count."""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from costmodel.cli import main
from costmodel.errors import CostModelError
from costmodel.studies import sweep

def g1(c1: str) -> list[str]:
    """G1 over the c1 values `c1` at c2 = 8 on one device: a point costs a fraction of a second."""
    return ["g1_pointwise", "--grid", f"c1={c1}", "--grid", "c2=8", "--device", "gtx1080ti"]


def sweep_cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `python -m costmodel sweep ARGV`."""
    code = main(["sweep", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    """The error a failed command printed, checked to be its only line on stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def no_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any check that reaches the sweep itself comes too late: fail the test instead of running it."""
    def swept(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sweep started before its inputs were checked")

    monkeypatch.setattr(sweep, "run", swept)


def test_a_grid_value_of_the_wrong_type_is_one_line_and_the_fixed_rerun_works(tmp_path: Path,
                                                                               capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "s2.parquet"
    argv = ["shufflenet_v2", "--out", str(out), "--serial", "--device", "gtx1080ti"]
    code, _, err = sweep_cli(capsys, *argv, "--grid", "width=abc")
    assert code == 2 and "width=abc is not a number" in error_line(err)
    assert files(tmp_path) == []
    code, _, _ = sweep_cli(capsys, *argv, "--grid", "width=1.0")
    assert code == 0 and pq.read_table(out).column("param:width").to_pylist() == [1.0]


@pytest.mark.parametrize("arch, item, problem", [
    ("shufflenet_v2", "width=abc", "width=abc is not a number"),
    ("shufflenet_v2", "se=maybe", "se=maybe is not true or false"),
    ("mobilenet_v2", "resolution=64.5", "resolution=64.5 is not a whole number"),
    ("mobilenet_v2", "resolution=inf", "resolution=inf is not a whole number"),
    ("mobilenet_v2", f"resolution={2**63}", f"resolution={2**63} is not a whole number (64-bit)"),
])
def test_values_their_column_cannot_hold_fail_the_plan(arch: str, item: str, problem: str) -> None:
    with pytest.raises(CostModelError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        sweep.make_plan(arch, sweep.parse_grid([item]))


def test_values_of_the_declared_type_are_read_exactly() -> None:
    plan = sweep.make_plan("shufflenet_v2", sweep.parse_grid(["se=no,on", f"resolution={2**63 - 1},2.0"]))
    assert [dict(p.values) for p in plan.points] == [
        {"se": False, "resolution": 2**63 - 1}, {"se": False, "resolution": 2},
        {"se": True, "resolution": 2**63 - 1}, {"se": True, "resolution": 2}]


@pytest.mark.parametrize("arch, grid, problem", [
    ("nope", "width=1,2", "error: unknown architecture 'nope'"),
    ("torchvision:resnet1", "resolution=64", "error: unknown torchvision model 'resnet1' - did you mean resnet18"),
])
def test_an_unknown_model_is_one_line_before_the_sweep(arch: str, grid: str, problem: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    code, _, err = sweep_cli(capsys, arch, "--grid", grid, "--out", str(tmp_path / "x.parquet"), "--serial",
                             "--device", "gtx1080ti")
    assert code == 2 and error_line(err).startswith(problem)
    assert files(tmp_path) == []


def test_error_rows_print_the_first_failed_points_message(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = sweep_cli(capsys, *g1("16,0,-1"), "--serial", "--out", str(tmp_path / "e.parquet"))
    assert code == 0 and "(2 errors)" in out
    first = [line for line in out.splitlines() if line.startswith("first error")]
    assert len(first) == 1 and first[0].startswith("first error, at g1_pointwise(c1=0, c2=8): ")
    assert "c1=0 is not valid" in first[0]


def test_the_first_error_is_the_lowest_failed_point_whatever_order_chunks_finish_in() -> None:
    outcome = sweep.Outcome(Path("x.parquet"), total=6)
    outcome.add([{"point_index": 5, "point": "p5", "status": "error", "error": "five"}])
    outcome.add([{"point_index": 1, "point": "p1", "status": "complete", "error": None},
                 {"point_index": 2, "point": "p2", "status": "error", "error": "two"}])
    outcome.add([{"point_index": 4, "point": "p4", "status": "error", "error": "four"}])
    assert (outcome.written, outcome.errors, outcome.first_error) == (4, 3, (2, "p2", "two"))


@pytest.mark.parametrize("budget, problem", [
    ("abc", "--budget abc is not a number of ms or a factor"), ("nan", "--budget nan is not a finite number"),
    ("inf", "--budget inf is not a finite number"), ("nanx", "--budget nanx is not a finite number"),
    ("0", "--budget 0 is not positive"), ("-5", "--budget -5 is not positive"), ("0x", "--budget 0x is not positive"),
])
def test_every_budget_is_checked_before_the_sweep(budget: str, problem: str, no_sweep: None, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    code, _, err = sweep_cli(capsys, "efficientnet", "--scaling", "--budget", "20", "--budget", budget, "--out",
                             str(tmp_path / "sc.parquet"), "--serial", "--device", "gtx1080ti")
    assert code == 2 and error_line(err).startswith(f"error: {problem} - ")


@pytest.mark.parametrize("name, problem", [
    ("s4.csv", "is not a .parquet file"), ("missing/s.parquet", "the folder"), ("", "--out is empty")])
def test_out_is_checked_before_the_sweep(name: str, problem: str, no_sweep: None, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    out = str(tmp_path / name) if name else ""
    code, _, err = sweep_cli(capsys, *g1("16"), "--serial", "--out", out)
    line = error_line(err)
    assert code == 2 and line.startswith("error: --out") and problem in line
    assert files(tmp_path) == []


def test_a_bad_scheduler_address_is_one_line_and_leaves_no_files(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    code, _, err = sweep_cli(capsys, *g1("16"), "--scheduler", "notaurl", "--out",
                             str(tmp_path / "s3.parquet"))
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("error: --scheduler notaurl is not a Dask scheduler address")
    assert files(tmp_path) == []


def test_a_failed_resume_keeps_the_users_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "done.parquet"
    assert sweep_cli(capsys, *g1("16"), "--serial", "--out", str(out))[0] == 0
    before = out.read_bytes()
    code, _, err = sweep_cli(capsys, *g1("16,32"), "--scheduler", "tcp://x", "--resume", "--out",
                             str(out))
    assert code == 2 and "Traceback" not in err
    assert out.read_bytes() == before and files(tmp_path) == ["done.parquet"]


def test_resume_of_a_file_that_is_not_parquet_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "notes.parquet"
    out.write_text("hello\n")
    code, _, err = sweep_cli(capsys, *g1("16"), "--serial", "--resume", "--out", str(out))
    assert code == 2 and error_line(err).startswith(f"error: cannot read sweep results {out} (")
    assert out.read_text() == "hello\n" and files(tmp_path) == ["notes.parquet"]


def test_a_run_stopped_before_its_first_row_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "stopped.parquet"
    plan = sweep.make_plan("g1_pointwise", sweep.parse_grid(["c1=16", "c2=8"]))

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run(plan, out, serial=True, progress=interrupt)
    assert files(tmp_path) == []
