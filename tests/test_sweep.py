"""Design-space sweeps: a real Dask LocalCluster gives exactly the serial rows, resume after a killed run, Ctrl-C,
error rows, the documented Parquet schema, grid parsing and the CLI. Ground truth: G1's closed-form FLOPs
(10 blocks of two 1x1 convs at 56x56: 2 * 10 * 56^2 * c1 * c2 multiply-adds) and the grids written here."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from costmodel import analyze
from costmodel.cli import main
from costmodel.errors import CostModelError
from costmodel.latency.profiles import load_profile
from costmodel.sources.names import load_model
from costmodel.studies import optimal_scaling, sweep

ROOT = Path(__file__).resolve().parents[1]
DEVICES = ("gtx1080ti", "snapdragon810")
CATEGORIES = ("Conv", "Elemwise", "Data", "Shuffle", "Other")
# The documented columns (docs/readme/sweeps.md), in order, for a sweep of g1_pointwise over c1 and c2.
DOCUMENTED = ["point_index", "point", "arch", "param:c1", "param:c2", "input_resolution", "flops", "params",
              "mac_elements", "mac_bytes", "elementwise_ops", "elementwise_mac_share", "data_movement_ops",
              "data_movement_mac_share", "kernels", "kernels_per_block", "parallel_width", "status", "error",
              *[c for d in DEVICES for c in (f"batch:{d}", f"ms:{d}", f"throughput:{d}", f"bound:{d}",
                                             *(f"ms:{d}:{k}" for k in CATEGORIES))]]


def g1_flops(c1: int, c2: int) -> int:
    return 2 * 10 * 56 * 56 * c1 * c2


def plan(c1: str = "16,32,0", c2: str = "8:24:8") -> sweep.Plan:
    grid = sweep.parse_grid([f"c1={c1}", f"c2={c2}"])
    return sweep.make_plan("g1_pointwise", grid, devices=[load_profile(d) for d in DEVICES])


def rows(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("point_index").reset_index(drop=True)


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("serial") / "serial.parquet"
    sweep.run(plan(), out, serial=True)
    return rows(out)


def test_dask_cluster_of_two_processes_gives_exactly_the_serial_rows(serial: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "dask.parquet"
    outcome = sweep.run(plan(), out, workers=2, chunk=2)
    pd.testing.assert_frame_equal(rows(out), serial)
    assert outcome.written == outcome.rows == len(serial) == 9
    assert not sweep.parts_dir(out).exists()


def test_costs_follow_the_closed_form_and_devices_predict(serial: pd.DataFrame) -> None:
    ok = serial[serial["status"] == "complete"]
    assert len(ok) == 6
    assert (ok["flops"] == [g1_flops(c1, c2) for c1, c2 in zip(ok["param:c1"], ok["param:c2"])]).all()
    assert (ok["params"] == 2 * 10 * ok["param:c1"] * ok["param:c2"]).all()
    for device in DEVICES:
        profile = load_profile(device)
        parts, run = ok[[f"ms:{device}:{c}" for c in CATEGORIES]].sum(axis=1).to_numpy(), ok[f"ms:{device}"].to_numpy()
        if profile.host is None:  # one resource: the categories sum to the run
            assert parts == pytest.approx(run, rel=1e-9)
        else:  # the categories sum to device time, which an eager run (host issuing too) cannot beat
            assert (parts <= run * (1 + 1e-9)).all() and (parts > 0).all()
        assert (ok[f"batch:{device}"] == profile.batch).all()


def test_invalid_points_become_error_rows(serial: pd.DataFrame) -> None:
    bad = serial[serial["param:c1"] == 0]
    assert len(bad) == 3 and (bad["status"] == "error").all()
    assert bad["error"].str.contains("c1=0 is not valid").all()
    assert bad[["flops", "ms:gtx1080ti"]].isna().all().all()
    assert serial.loc[serial["status"] != "error", "error"].isna().all()


def test_parquet_schema_is_the_documented_one(serial: pd.DataFrame, tmp_path: Path) -> None:
    assert list(serial.columns) == DOCUMENTED
    schema = sweep.columns(plan())
    assert schema.names == DOCUMENTED
    assert str(schema.field("flops").type) == "int64" and str(schema.field("ms:gtx1080ti").type) == "double"
    only_errors = tmp_path / "errors.parquet"
    sweep.run(plan(c1="0"), only_errors, serial=True)  # every point fails: the columns do not change
    assert pq.read_schema(only_errors).names[:3] == DOCUMENTED[:3]
    assert pq.read_schema(only_errors).remove_metadata() == schema.remove_metadata()


def test_resume_after_a_killed_run_completes_the_file_without_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "killed.parquet"
    c1 = "8:400:8"  # 50 points: seconds of work, so the run is killed mid-way
    command = [sys.executable, "-m", "costmodel", "sweep", "g1_pointwise", "--grid", f"c1={c1}", "--grid", "c2=8",
               "--device", "gtx1080ti", "--serial", "--out", str(out)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(sweep.parts_dir(out).glob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists(), "the run finished before it was killed"
    written = sum(len(pq.read_table(p)) for p in sweep.parts_dir(out).glob("*.parquet"))
    assert 0 < written < 50
    killed_plan = sweep.make_plan("g1_pointwise", sweep.parse_grid([f"c1={c1}", "c2=8"]),
                                  devices=[load_profile("gtx1080ti")])
    outcome = sweep.run(killed_plan, out, resume=True, serial=True)
    assert outcome.skipped == written and outcome.written == 50 - written
    resumed = rows(out)
    assert resumed["point"].is_unique and resumed["point_index"].tolist() == list(range(50))
    assert resumed["flops"].tolist() == [g1_flops(c, 8) for c in range(8, 401, 8)]


def test_ctrl_c_leaves_a_valid_file_that_resume_completes(serial: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "interrupted.parquet"
    calls = []

    def interrupt(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:  # after the first chunk
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep.run(plan(), out, serial=True, progress=interrupt)
    first = rows(out)
    assert 0 < len(first) < len(serial) and not sweep.parts_dir(out).exists()
    sweep.run(plan(), out, resume=True, serial=True)
    pd.testing.assert_frame_equal(rows(out), serial)


def test_merge_keeps_each_point_once(serial: pd.DataFrame, tmp_path: Path) -> None:
    """A run stopped between writing the merged file and deleting its parts leaves points twice on disk."""
    out = tmp_path / "twice.parquet"
    schema = sweep.columns(plan())
    table = pq.read_table(sweep.run(plan(), out, serial=True).out, schema=schema)
    sweep.parts_dir(out).mkdir()
    pq.write_table(table.slice(0, 4), sweep.parts_dir(out) / "000000000000-4.parquet")
    assert sweep.merge(out, schema) == len(serial)
    pd.testing.assert_frame_equal(rows(out), serial)


def test_resume_refuses_another_sweeps_file(tmp_path: Path) -> None:
    out = tmp_path / "one.parquet"
    sweep.run(plan(c1="16", c2="8"), out, serial=True)
    other = sweep.make_plan("g1_pointwise", sweep.parse_grid(["c1=16", "c2=8"]), devices=[load_profile("gtx1080ti")])
    with pytest.raises(CostModelError, match="holds another sweep"):
        sweep.run(other, out, resume=True, serial=True)
    with pytest.raises(CostModelError, match="already exists"):
        sweep.run(plan(c1="16", c2="8"), out, serial=True)


def test_grid_ranges_and_samples() -> None:
    assert sweep.expand_values("phi", "0:1:0.25") == ["0.0", "0.25", "0.5", "0.75", "1.0"]
    assert sweep.expand_values("c", "8:24:8") == ["8", "16", "24"]
    assert sweep.expand_values("w", "0.5, 1.0") == ["0.5", "1.0"]
    full = sweep.make_plan("shufflenet_v2", sweep.parse_grid(["width=0.5:2:0.5", "se=false,true"]))
    assert [dict(p.values) for p in full.points][:3] == [{"width": 0.5, "se": False}, {"width": 0.5, "se": True},
                                                         {"width": 1.0, "se": False}]
    drawn = sweep.make_plan("shufflenet_v2", sweep.parse_grid(["width=0.5:2:0.5", "se=false,true"]), sample=5, seed=3)
    again = sweep.make_plan("shufflenet_v2", sweep.parse_grid(["width=0.5:2:0.5", "se=false,true"]), sample=5, seed=3)
    assert drawn.points == again.points and len({p.index for p in drawn.points}) == 5
    assert set(drawn.points) <= set(full.points)


@pytest.mark.parametrize("arch, items, message", [
    ("g1_pointwise", ["c1"], "is not key=values"),
    ("g1_pointwise", ["c1=1:2"], "is not lo:hi:step"),
    ("g1_pointwise", ["c1=4:2:1"], "is empty"),
    ("g1_pointwise", ["depth=1,2"], "has no parameter 'depth'"),
    ("mnasnet_space", ["s3_kernel=3", "k9=1"], "has no parameter 'k9'"),
])
def test_bad_grids_are_one_line_errors(arch: str, items: list[str], message: str) -> None:
    with pytest.raises(CostModelError, match=message):
        sweep.make_plan(arch, sweep.parse_grid(items))


def test_search_space_without_a_sample_is_too_large_to_enumerate() -> None:
    with pytest.raises(CostModelError, match="sample at most 10,000,000 of them"):
        sweep.make_plan("mnasnet_space", {})


def test_cli_sweep_writes_parquet_and_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "cli.parquet"
    argv = ["sweep", "g1_pointwise", "--grid", "c1=16,32", "--grid", "c2=8", "--device", "gtx1080ti", "--serial",
            "--out", str(out)]
    assert main(argv) == 0
    written = rows(out)
    assert written["flops"].tolist() == [g1_flops(16, 8), g1_flops(32, 8)]
    assert main(argv) == 2  # exists, no --resume
    assert "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    assert len(rows(out)) == 2
    capsys.readouterr()
    for bad in (["--grid", "c1=x:2:1"], ["--budget", "5"], ["--sample", "0", "--grid", "c1=8"]):
        assert main(["sweep", "g1_pointwise", "--grid", "c2=8", "--serial", "--out", str(tmp_path / "b.parquet"),
                     *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_mode_reaches_the_latency_model(mode: str, tmp_path: Path) -> None:
    from costmodel.engine.analysis import analyze
    from costmodel.latency.model import predict
    from costmodel.sources.names import load_model

    gpu = load_profile("h200_b8")
    one = sweep.make_plan("g1_pointwise", sweep.parse_grid(["c1=64", "c2=32"]), devices=[gpu], mode=mode)
    out = tmp_path / f"{mode}.parquet"
    sweep.run(one, out, serial=True)
    model, shape, _ = load_model("g1_pointwise", params={"c1": 64, "c2": 32}, batch=gpu.batch)
    expected = predict(analyze(model, shape), gpu, mode=mode)
    row = rows(out).iloc[0]
    assert row["ms:h200_b8"] == pytest.approx(expected.ms) and row["bound:h200_b8"] == expected.bound
    other = sweep.make_plan("g1_pointwise", sweep.parse_grid(["c1=64", "c2=32"]), devices=[gpu],
                            mode="graph" if mode == "eager" else "eager")
    with pytest.raises(CostModelError, match="mode"):
        sweep.run(other, out, resume=True, serial=True)


@pytest.mark.parametrize("arch, grid", [
    ("mobilenet_v2", ["width=0.5,1.0", "resolution=128,160"]),
    ("shufflenet_v1(groups=8)", ["width=0.5,1.0"]),
    ("torchvision:mobilenet_v3_small", ["resolution=96"])])
def test_every_point_label_names_its_model_again(arch: str, grid: list[str]) -> None:
    """docs/readme/sweeps.md: a row's `point` is a name every command accepts - loading it builds the point's own
    model at the point's own input shape (a zoo arch's parameters, an arch given with parameters, resolution)."""
    points = sweep.make_plan(arch, sweep.parse_grid(grid)).points
    for point in points:
        model, shape = sweep.build(arch, dict(point.values), batch=2)
        again, shape_again, name = load_model(point.label(arch), batch=2)
        assert name == point.label(arch) and shape_again == shape
        assert analyze(again, shape_again).summary["flops"] == analyze(model, shape).summary["flops"]
    assert len({p.label(arch) for p in points}) == len(points)


def test_a_range_is_counted_before_its_values_are_built() -> None:
    """0.5:1e9:0.001 would be 1e12 values (the app's server ran out of memory building them): one line instead."""
    with pytest.raises(CostModelError, match=r"range 'width=0.5:1e9:0.001' has 1e\+12 values, more than 100,000"):
        sweep.parse_grid(["width=0.5:1e9:0.001"])
    assert len(sweep.parse_grid(["c1=1:100000:1"])["c1"]) == 100_000


@pytest.mark.parametrize("fold_bn", [True, False])
def test_bn_folding_reaches_the_costs(fold_bn: bool) -> None:
    """A point's MAC is the one `analyze` gives with the same folding (the app's sidebar setting)."""
    plan = sweep.make_plan("mobilenet_v2", sweep.parse_grid(["width=0.5"]), fold_bn=fold_bn)
    row = sweep.evaluate_point(plan, plan.points[0])
    model, shape, _ = load_model("mobilenet_v2(width=0.5)")
    assert row["mac_bytes"] == analyze(model, shape, fold_bn=fold_bn).summary["mac_bytes"]
    assert sweep.columns(plan).metadata[b"costmodel.sweep"].decode().endswith(f'"fold_bn": {str(fold_bn).lower()}}}')


def test_the_scaling_plan_carries_the_settings() -> None:
    scaled = optimal_scaling.plan("mobilenet_v1", [load_profile("h200_b1")], dtype="float16", mode="graph",
                                  fold_bn=False, **optimal_scaling.APP_GRID)
    assert (scaled.dtype, scaled.mode, scaled.fold_bn) == ("float16", "graph", False)
