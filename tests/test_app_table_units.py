"""Tables the app shows carry a unit in every number's header (costmodel.viz.tables.COLUMNS) and name what their
numbers are: a design-space sweep's tables (its own columns, the Pareto fronts, the scaling budget table, the fitted
bases), the A/B latency table, EfficientNet's stage table and a profile's parameters and measurements. An uploaded
sweep's errors name the user's file, never a server path; the page's counts say '1 point'. Frames are written here
with known values, so each header is checked against the number under it."""
from __future__ import annotations

import io
import itertools
import math
import re
import tempfile

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from costmodel.errors import CostModelError
from costmodel.latency.profiles import load_profile
from costmodel.studies import compare
from costmodel.studies import optimal_scaling as opt
from costmodel.studies import profile_views, scaling, sweep
from costmodel.studies.evaluate import Settings
from costmodel.viz import design_space, figures, tables
from costmodel.viz.labels import device_label
from costmodel.zoo.efficientnet import efficientnet_scaling

GTX, SNAP = "gtx1080ti", "snapdragon810"
COUNTS = {"elementwise ops", "data-movement ops", "kernels", "stage", "batch", "output channels", "layers"}  # counts
RAW = re.compile(r"_|^[a-z]+:\S")  # mac_bytes, ms:gtx1080ti, param:c1
TEXT = {"point", "arch", "status", "error", "device", "method", "kernel class", "fitted", "measurement",
        "main op kind", "source", "category", "operator"}


def assert_units(frame: pd.DataFrame) -> None:
    """No raw column name is left (snake_case, or kind:name), and every numeric column's header has its unit in
    brackets unless it counts what it names."""
    raw = [h for h in map(str, frame.columns) if RAW.search(h)]
    assert raw == [], f"raw column names shown: {raw}"
    for header in map(str, frame.columns):
        if header in TEXT:
            continue
        numeric = pd.api.types.is_numeric_dtype(frame[header]) and not pd.api.types.is_bool_dtype(frame[header])
        if numeric:
            assert "(" in header or header in COUNTS, f"no unit in '{header}'"


def sweep_results(batch: int = 4) -> pd.DataFrame:
    """Two G1 points with the columns of a real sweep of gtx1080ti and snapdragon810 at `batch` (sweep.columns),
    filled with round numbers: FLOPs 146 M and 292 M, MAC 2 and 4 MiB, latencies 2 and 3 ms (GPU) and 40 and
    80 ms (ARM, whose throughput is in images/s)."""
    plan = sweep.make_plan("g1_pointwise", {"c1": ["16", "32"], "c2": ["8"]}, batch=batch,
                           devices=[load_profile(GTX), load_profile(SNAP)])
    columns = [f.name for f in sweep.columns(plan)]
    values = {"point_index": [0, 1], "point": ["g1(c1=16)", "g1(c1=32)"], "arch": ["g1_pointwise"] * 2,
              "param:c1": [16, 32], "param:c2": [8, 8], "input_resolution": [56, 56],
              "flops": [146_000_000, 292_000_000],
              "params": [3_000_000, 6_000_000], "mac_elements": [1_000_000, 2_000_000], "mac_bytes": [2 ** 21, 2 ** 22],
              "elementwise_ops": [10, 10], "elementwise_mac_share": [0.25, 0.5], "data_movement_ops": [0, 0],
              "data_movement_mac_share": [0.0, 0.125], "kernels": [20, 20], "kernels_per_block": [2.0, 2.0],
              "parallel_width": [1.0, 1.0], "status": ["complete"] * 2, "error": [None, None]}
    for device, ms, per_image in ((GTX, [2.0, 3.0], False), (SNAP, [40.0, 80.0], True)):
        values.update({f"batch:{device}": [batch] * 2, f"ms:{device}": ms, f"bound:{device}": ["device"] * 2,
                       f"throughput:{device}": [1e3 * (batch if per_image else 1) / m for m in ms]})
        for column in columns:
            if column.startswith(f"ms:{device}:"):
                values[column] = [m / 5 for m in ms]
    assert set(values) == set(columns)
    return pd.DataFrame(values)[columns]


# ---------------------------------------------------------------- design-space sweeps
def test_a_sweeps_columns_get_unit_headers_at_the_batch_the_file_records():
    results = sweep_results(batch=4)
    shown = design_space.readable(results, Settings(devices=(GTX,)))  # the sidebar: gtx1080ti at its own batch 8
    assert_units(shown)
    assert shown["FLOPs (M multiply-adds)"].tolist() == [146, 292]
    assert shown["MAC (MiB)"].tolist() == [2, 4]
    assert shown["elementwise share of MAC (%)"].tolist() == [25, 50]
    assert shown["data-movement share of MAC (%)"].tolist() == [0, 12.5]
    assert shown["input resolution (px)"].tolist() == [56, 56]
    assert shown["c1 (swept)"].tolist() == [16, 32]
    gtx, snap = device_label(load_profile(GTX)), device_label(load_profile(SNAP))
    assert shown[f"{gtx} latency (ms, batch 4)"].tolist() == [2.0, 3.0]  # the file's batch, not the sidebar's 8
    assert shown[f"{snap} latency (ms, batch 4)"].tolist() == [40.0, 80.0]  # a device the sidebar does not show
    assert f"{gtx} (batches/s, batch 4)" in shown and f"{snap} (images/s, batch 4)" in shown
    assert shown[f"{gtx} Conv device time (ms, batch 4)"].tolist() == [0.4, 0.6]
    assert shown[f"{gtx} batch (images)"].tolist() == [4, 4]
    formats = tables.display_formats(shown)  # each number printed by its quantity's rule
    assert {f"{gtx} latency (ms, batch 4)", "FLOPs (M multiply-adds)", "MAC (MiB)"} <= set(formats)


def test_a_device_without_a_profile_here_is_named_and_its_unit_read_off_the_numbers():
    results = sweep_results(batch=4).rename(columns=lambda c: c.replace(SNAP, "my_board"))
    headers = design_space.headers(results, Settings(devices=(GTX,)))
    assert headers["ms:my_board"] == "my_board latency (ms, batch 4)"
    assert headers["throughput:my_board"] == "my_board (images/s, batch 4)"  # throughput x ms = 1000 x batch


def test_the_pareto_table_names_device_batch_and_units():
    results = sweep_results(batch=4)
    settings = Settings(devices=(GTX,))
    shown = design_space.readable(design_space.pareto_fronts(results, [GTX]), settings)
    assert shown.columns.tolist() == ["device", "batch", "point", "latency (ms)", "FLOPs (M multiply-adds)",
                                      "c1 (swept)", "c2 (swept)"]
    assert shown["device"].tolist() == [device_label(load_profile(GTX))] * 2
    assert shown["batch"].tolist() == [4, 4] and shown["latency (ms)"].tolist() == [2.0, 3.0]


def synthetic_scaling() -> pd.DataFrame:
    """A device with latency d + w^2 + r^2 ms and FLOPs d w^2 r^2: within 12 ms the most is d = 4, w = r = 2."""
    values = (1, 1.5, 2, 3, 4)
    return pd.DataFrame([{"point": f"{d},{w},{r}", "depth": d, "width": w, "resolution_mult": r, "path": "grid",
                          "input_resolution": round(224 * r), "flops": d * w * w * r * r,
                          f"ms:{GTX}": d + w * w + r * r}
                         for d, w, r in itertools.product(values, repeat=3)])


def test_the_scaling_and_bases_tables_get_unit_headers():
    settings = Settings(devices=(GTX,))
    table = opt.budget_table(synthetic_scaling(), {GTX: 12.0}, lambda d, w, r: 80.0)
    shown = design_space.readable(table, settings)
    assert_units(shown)
    best = shown[shown["method"] == "device-optimal"].iloc[0]
    assert best["latency budget (ms)"] == 12.0 and best["latency (ms)"] == 12.0
    assert (best["depth multiplier (x)"], best["width multiplier (x)"], best["resolution (px)"]) == (4, 2, 448)
    assert best["FLOPs (M multiply-adds)"] == pytest.approx(64 / 1e6)
    assert best["FLOPs vs device-optimal (%)"] == pytest.approx(100)
    assert best["surrogate top-1 (%, fitted, not measured)"] == 80.0
    fits = pd.DataFrame([opt.BasesFit(GTX, 1.0, 1.2, 1.1, math.log(1.1), math.log(1.5)).to_dict()])
    shown = design_space.readable(fits, settings)
    assert_units(shown)
    assert shown["fitted bases: FLOPs gap below the frontier (%)"].iloc[0] == pytest.approx(10)
    assert shown["EfficientNet's bases: FLOPs gap below the frontier (%)"].iloc[0] == pytest.approx(50)
    assert shown["beta (width factor per unit of phi)"].iloc[0] == 1.2


def test_counts_read_right():
    assert [design_space.count(n, "point") for n in (0, 1, 2)] == ["no points", "1 point", "2 points"]
    assert design_space.count(1, "device") == "1 device"


def test_a_bad_upload_is_named_by_the_users_file_name_never_a_server_path(tmp_path):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1]}), buffer)  # Parquet, but not a sweep's
    for data in (b"not parquet", buffer.getvalue()):
        with pytest.raises(CostModelError) as caught:
            design_space.read_upload(data, "my_sweep.parquet")
        message = str(caught.value)
        assert "'my_sweep.parquet'" in message
        assert tempfile.gettempdir() not in message and "BytesIO" not in message


def test_an_uploaded_sweep_reads_back_its_rows(tmp_path):
    results = sweep_results()
    buffer = io.BytesIO()
    results.to_parquet(buffer)
    assert design_space.read_upload(buffer.getvalue(), "x.parquet")["flops"].tolist() == [146_000_000, 292_000_000]


def test_no_shared_device_names_the_files_devices_and_the_sidebars():
    line = design_space.no_shared_device(sweep_results(), ["amd_epyc_1t"])
    assert f"{GTX}, {SNAP}" in line and "(amd_epyc_1t)" in line and "sidebar" in line
    bare = sweep_results().drop(columns=[c for c in sweep_results().columns if c.startswith("ms:")])
    assert "no latency predictions" in design_space.no_shared_device(bare, ["amd_epyc_1t"])


# ---------------------------------------------------------------- the A/B latency table
@pytest.mark.parametrize("batch", [None, 2])
def test_the_ab_latency_table_keeps_numbers_under_headers_with_units(batch):
    latency = pd.DataFrame({"device": [GTX] * 2, "category": ["Conv", "Total"], "a": [1.0, 2.0],
                            "b": [1.5, 2.25], "delta": [0.5, 0.25]})
    shown = tables.ab_latency(latency, Settings(devices=(GTX,), batch=batch))
    assert_units(shown)
    assert shown["batch"].tolist() == [batch or load_profile(GTX).batch] * 2
    assert shown["device"].tolist() == [device_label(load_profile(GTX))] * 2
    assert shown["B - A device time (ms per batch)"].tolist() == [0.5, 0.25]
    times = [c for c in shown.columns if "device time" in c]
    assert len(times) == 3 and all(tables.quantity_of(c) == "ms" for c in times)


def test_the_ab_metrics_table_names_devices_by_their_hardware():
    metrics = pd.DataFrame({"metric": ["Elementwise ops", "Latency", "Throughput"], "device": [None, GTX, SNAP],
                            "unit": ["ops", "ms (batch 8)", "images/s"], "a": [2.0, 1.0, 10.0],
                            "b": [3.0, 1.5, 8.0], "delta": [1.0, 0.5, -2.0], "ratio": [1.5, 1.5, 0.8]})
    shown = tables.ab_metrics(metrics, Settings(devices=(GTX, SNAP)))
    assert shown["device"].tolist() == ["", device_label(load_profile(GTX)), device_label(load_profile(SNAP))]
    assert shown["metric"].tolist() == ["Elementwise ops", "Latency", "Throughput"]
    assert shown["B - A"].tolist() == ["+1", "+0.5", "-2"]  # compare.readable's signed deltas, kept


def test_text_columns_are_wide_enough_for_their_longest_value_even_when_it_comes_last():
    """st.dataframe sizes a column by its first rows: the A/B table's device column is empty for ten rows of
    costs, then holds 'H200 (measured at batch 32)' - cut to 'H200 (measured a' until given a width."""
    devices = [None] * 10 + ["H200 (measured at batch 32)"]
    frame = compare.readable(pd.DataFrame({"metric": ["FLOPs"] * 11, "device": devices, "unit": ["ms"] * 11,
                                           "a": [1.0] * 11, "b": [2.0] * 11, "delta": [1.0] * 11}))
    widths = tables.text_widths(frame)
    assert widths["device"] >= len("H200 (measured at batch 32)") * 6.2  # px per letter, as in docs/screenshots
    assert widths["device"] > widths["metric"]  # each column by its own text
    long = pd.DataFrame({"how": ["measured " * 80]})
    assert tables.text_widths(long)["how"] == tables.TEXT_COLUMN_MAX_PX  # cut, not pushing numbers off screen


# ---------------------------------------------------------------- the guideline sweeps
def test_the_guideline_table_names_every_column_it_computes():
    """The Guidelines page's table (guideline_sweeps.sweep less its internal columns): the settings' text columns
    keep their names, every other column gets a header - the eager H200 run's `bound` included."""
    from costmodel.studies import guideline_sweeps

    settings = Settings(devices=(GTX, "h200_b1"))
    frame = guideline_sweeps.sweep(1, 0, settings).drop(columns=["yours", "arch"])
    shown = tables.readable(frame, settings)
    assert_units(shown)
    text = {"guideline", "setting", "device", "column", "config", "unit"}
    left_raw = {c for c in frame.columns if c in shown.columns and c not in tables.COLUMNS} - text
    assert left_raw == set(), f"columns shown by their internal names: {left_raw}"
    assert set(shown["bound by (host or device)"]) == {"host", "device"}  # the H200 eager, the 1080 Ti's paper fit


# ---------------------------------------------------------------- EfficientNet's stages
def test_the_stage_table_shows_input_resolution_in_pixels():
    stages = scaling.stages(1.0, scaling.Bases())
    shown = tables.readable(stages, Settings(devices=(GTX,)))
    assert_units(shown)
    assert shown["input resolution (px)"].iloc[0] == efficientnet_scaling(phi=1.0).resolution  # B1's 240 px
    assert shown["layers"].tolist() == stages["repeats"].tolist()


# ---------------------------------------------------------------- device profiles
@pytest.mark.parametrize(("name", "size"), [("amd_epyc_1t", "output positions"),
                                            ("h200_b8", "output elements: positions x channels")])
def test_profile_parameters_have_units(name, size):
    device = load_profile(name)
    shown = tables.readable(profile_views.parameters(device), Settings(devices=(name,)))
    assert_units(shown)
    by_class = shown.set_index("kernel class")
    kernels = device.latency_model.kernels
    assert by_class[f"efficiency halves at ({size})"].to_dict() == {k: p.half_pixels for k, p in kernels.items()}
    assert by_class["overhead per kernel (us)"].to_dict() == {k: p.overhead_us for k, p in kernels.items()}
    assert by_class["efficiency halves at (multiply-adds per output)"].to_dict() == {
        k: p.half_reduction for k, p in kernels.items()}


def expected_errors(device) -> list[float]:
    return [100 * (m.predicted_ms / m.ms - 1) for m in device.measurements]


@pytest.mark.parametrize(("name", "word"), [("amd_epyc_1t", "measured"), ("gtx1080ti", "published")])
def test_the_measurements_error_is_named_by_what_it_is_measured_against(name, word):
    device = load_profile(name)
    shown = tables.readable(profile_views.measurements(device), Settings(devices=(name,)))
    assert_units(shown)
    other = {"measured": "published", "published": "measured"}[word]
    assert not [h for h in shown.columns if other in h]
    assert shown[f"fitted model's error vs {word} (%)"].tolist() == pytest.approx(expected_errors(device))
    assert shown[f"{word} (ms per batch)"].tolist() == [m.ms for m in device.measurements]


def test_a_profile_mixing_measured_and_published_times_says_so_per_row():
    device = load_profile("gtx1080ti")  # every measurement is published: make the first a timed one
    first, *rest = device.measurements
    mixed = device.model_copy(update={"measurements": [first.model_copy(update={"reference": None}), *rest]})
    shown = tables.readable(profile_views.measurements(mixed), Settings(devices=("gtx1080ti",)))
    assert_units(shown)
    assert shown["source"].tolist() == ["measured"] + ["published"] * len(rest)
    assert shown["fitted model's error vs measured or published (%)"].tolist() == pytest.approx(
        expected_errors(device))


@pytest.mark.parametrize(("name", "word"), [("amd_epyc_1t", "measured"), ("gtx1080ti", "published")])
def test_the_fit_chart_names_its_times_as_the_table_does(name, word):
    """The calibrated profile's times are the paper's (each measurement names its reference), the CPU's timed."""
    device = load_profile(name)
    assert all((m.reference is not None) == (word == "published") for m in device.measurements)
    points = profile_views.fit_points(device)
    fig = figures.fit_quality(points, source=profile_views.time_source(points))
    assert fig.layout.xaxis.title.text == f"{word} (ms)"
    assert all(trace.hovertemplate.split("<br>")[1].startswith(word) for trace in fig.data if trace.hovertemplate)
