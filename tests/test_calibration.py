"""Profiles calibrated to ShuffleNet V2 Tables 1-4 against the published speeds and the paper's conclusions."""
from __future__ import annotations

import csv
import json

import pytest
import torch

from costmodel import analyze, zoo
from costmodel.latency.calibrate import DEVICES, calibrate, calibration_table, paper_cells, paper_measurements
from costmodel.latency.kernels import kernel_class
from costmodel.latency.model import measurement_ms
from costmodel.latency.profiles import PROFILE_DIR, SCHEMA_VERSION, Measurement, load_profile
from costmodel.zoo.guidelines import g1_pair
from costmodel.zoo.spec import REFERENCE_DIR

GTX1080TI_PEAK_FLOPS = 11.3e12  # fp32, 2 flops per multiply-add


@pytest.fixture(scope="module", params=list(DEVICES))
def table(request):
    return calibration_table(load_profile(request.param))


def _rows(path: str) -> list[dict[str, str]]:
    with open(REFERENCE_DIR / path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_floor_rule_gives_every_printed_table1_pair():
    for row in _rows("shufflenetv2_table1_g1.csv"):
        ratio = int(row["c1:c2"].split(":")[1])
        for device, width in (("gpu", 128), ("arm", 32)):
            printed = tuple(int(v) for v in row[f"{device}_c1c2_at_x1"].strip("()").split(","))
            assert g1_pair(width, ratio) == printed


def test_table2_g1_and_table3_1_fragment_are_one_network_with_one_speed_per_column():
    """Why x2/x4 mean 2x/4x channels: the same network must be at the same channels in both tables."""
    cells = paper_cells("gpu") + paper_cells("arm")
    t2 = {c["column"]: c for c in cells if c["table"] == 2 and c["row"] == "g=1"}
    t3 = {c["column"]: c for c in cells if c["table"] == 3 and c["row"] == "1-fragment"}
    pairs = [("gpu_x1", "gpu_c128"), ("gpu_x2", "gpu_c256"), ("gpu_x4", "gpu_c512"), ("cpu_x1", "cpu_c64"),
             ("cpu_x2", "cpu_c128"), ("cpu_x4", "cpu_c256")]
    for x, c in pairs:
        assert t2[x]["kwargs"]["c"] == t3[c]["kwargs"]["c"]
        assert t2[x]["speed"] == pytest.approx(t3[c]["speed"], rel=0.015)


def test_calibration_batch_1_is_the_only_batch_under_the_gtx1080ti_peak():
    """Table 1, x4 column, 1:1 (c = 512): the fastest arithmetic rate of the GPU tables."""
    cell = next(c for c in paper_cells("gpu") if c["table"] == 1 and c["column"] == "gpu_x4" and c["row"] == "1:1")
    with torch.device("meta"):
        model, shape = zoo.build(cell["arch"], **cell["kwargs"])
    madds = analyze(model, shape).summary["flops"]
    assert madds == 10 * 2 * 56 * 56 * 512 * 512
    per_batch = 2 * madds * cell["speed"]
    assert per_batch < GTX1080TI_PEAK_FLOPS < 2 * per_batch


def test_calibrated_models_are_close_to_the_published_speeds(table):
    errors = table["error_pct"].abs()
    assert errors.groupby(table["table"]).median().max() < 10
    assert errors.max() < 40


def _speeds(table, number: int, device: str | None = None):
    rows = table[table["table"] == number]
    if device:
        rows = rows[rows["column"].str.startswith(device)]
    return rows.pivot(index="row", columns="column", values="predicted")


def test_table1_equal_widths_are_fastest_in_every_column(table):
    speeds = _speeds(table, 1)
    assert (speeds.idxmax() == "1:1").all()


def test_table2_g1_fastest_and_g8_slowest_on_gpu():
    table = calibration_table(load_profile("gtx1080ti"))
    speeds = _speeds(table, 2, "gpu")
    assert (speeds.idxmax() == "g=1").all() and (speeds.idxmin() == "g=8").all()


def test_table3_one_fragment_fastest_on_gpu():
    speeds = _speeds(calibration_table(load_profile("gtx1080ti")), 3, "gpu")
    assert (speeds.idxmax() == "1-fragment").all()


def test_table4_no_relu_and_no_shortcut_fastest(table):
    speeds = _speeds(table, 4)
    assert (speeds.idxmax() == "ReLU no, shortcut no").all()


@pytest.fixture(scope="module")
def held_out():
    """For each device and table: the published-vs-predicted table of that table's cells, predicted by a
    model fitted to the other three tables only (the fit never sees the held-out cells or any order)."""
    out = {}
    for name in DEVICES:
        measurements = paper_measurements(name)
        everything = calibrate(name, measurements=measurements)
        for table in (1, 2, 3, 4):
            others = tuple(t for t in (1, 2, 3, 4) if t != table)
            model = calibrate(name, others, measurements=measurements).latency_model
            full = calibration_table(everything.model_copy(update={"latency_model": model}))
            out[name, table] = full[full["table"] == table]
    return out


def test_calibration_fit_is_told_no_orderings():
    """A measurement has no field through which a fit could be told which of two cells is faster."""
    assert set(Measurement.model_fields) == {"label", "ms", "predicted_ms", "reference", "host_ms", "ops"}


def test_held_out_table1_equal_widths_fastest(held_out):
    """G1 on tables the fit never saw. Exception: ARM's x4 column, where the paper's speeds differ by 2%
    (4.9 vs 5.0 images/s) and the held-out model puts 1:12 marginally ahead."""
    assert (_speeds(held_out["gtx1080ti", 1], 1).idxmax() == "1:1").all()
    arm = _speeds(held_out["snapdragon810", 1], 1)
    assert (arm[["arm_x1", "arm_x2"]].idxmax() == "1:1").all()


def test_held_out_table2_g1_fastest_and_g8_slowest_on_gpu(held_out):
    speeds = _speeds(held_out["gtx1080ti", 2], 2, "gpu")
    assert (speeds.idxmax() == "g=1").all() and (speeds.idxmin() == "g=8").all()


def test_held_out_table3_one_fragment_fastest_on_gpu(held_out):
    speeds = _speeds(held_out["gtx1080ti", 3], 3, "gpu")
    assert (speeds.idxmax() == "1-fragment").all()


@pytest.mark.parametrize("name", list(DEVICES))
def test_held_out_table4_no_relu_and_no_shortcut_fastest(held_out, name):
    speeds = _speeds(held_out[name, 4], 4)
    assert (speeds.idxmax() == "ReLU no, shortcut no").all()


@pytest.mark.parametrize("name", list(DEVICES))
def test_shipped_calibrated_profiles_are_up_to_date(name):
    fresh, shipped = calibrate(name), load_profile(name)
    assert [m.label for m in fresh.measurements] == [m.label for m in shipped.measurements]
    assert [m.ms for m in fresh.measurements] == pytest.approx([m.ms for m in shipped.measurements])
    assert fresh.fit.median_ape == pytest.approx(shipped.fit.median_ape, rel=1e-3)
    stored = json.loads((PROFILE_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert stored["schema_version"] == SCHEMA_VERSION  # `python -m costmodel.latency.calibrate` rewrites them
    assert fresh.latency_model.fitted == shipped.latency_model.fitted
    # What the profile predicts must be the fit's to 0.1%. Its parameters only to 1%: the optimum is flat along
    # the split of a cell's time into host and device parts, and on another CPU (its BLAS) the solver stops
    # 0.3% along it with the same predictions to 1e-4 (seen on two AMD EPYC machines, 2026-12-02).
    assert [m.predicted_ms for m in fresh.measurements] == pytest.approx(
        [m.predicted_ms for m in shipped.measurements], rel=1e-3)
    for kernel, params in fresh.latency_model.kernels.items():
        assert params.overhead_us == pytest.approx(shipped.latency_model.kernels[kernel].overhead_us, rel=1e-2)
    assert (fresh.host is None) == (shipped.host is None)
    if fresh.host is not None:
        assert fresh.host.kernels == pytest.approx(shipped.host.kernels, rel=1e-2)


def test_gtx1080ti_cells_are_eager_runs_of_host_and_device_ops_in_issue_order():
    """The paper timed framework runs: the GPU profile has a host model (the ARM core runs what it issues),
    and a Table 4 cell with ReLU and shortcut is 10 bottlenecks issued as conv1x1, ReLU, 3x3 conv, ReLU,
    conv1x1, add, ReLU (ResNet's order), each cell's run between the slower resource and their sum."""
    profile = load_profile("gtx1080ti")
    assert profile.host is not None and load_profile("snapdragon810").host is None
    cell = next(m for m in profile.measurements if m.label.startswith("Table 4 gpu_c64 ReLU yes, shortcut yes"))
    issued = [kernel_class(op.kind, op.op, op.reduction, op.in_channels, op.stride, op.groups)
              for op in cell.ops for _ in range(op.count)]
    assert issued == ["conv1x1", "elementwise", "conv", "elementwise", "conv1x1", "elementwise", "elementwise"] * 10
    for m in profile.measurements:
        classes = [kernel_class(op.kind, op.op, op.reduction, op.in_channels, op.stride, op.groups) for op in m.ops]
        host = sum(profile.host.kernels[c] * op.count for c, op in zip(classes, m.ops)) * 1e-3
        device = measurement_ms(m.ops, profile.latency_model)
        assert max(host, device) * (1 - 1e-9) <= m.predicted_ms <= (host + device) * (1 + 1e-9), m.label
