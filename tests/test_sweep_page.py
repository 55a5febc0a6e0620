"""The Design space page in AppTest: a small sweep runs with a progress bar and its numbers are the engine's
(G1's closed-form FLOPs), the Pareto front is shown, an oversized grid is one st.error, and the scaling panel
reads a scaling sweep. Every table has unit-bearing headers; an uploaded file's errors name the file, not a server
path; a file whose devices the sidebar lacks says which it has; one point is '1 point'."""
from __future__ import annotations

import itertools
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from costmodel.latency.profiles import load_profile
from costmodel.studies import sweep
from costmodel.studies.evaluate import Settings
from costmodel.viz.labels import device_label
from test_app_pages import unformatted_numbers

ROOT = Path(__file__).resolve().parents[1]
LOAD = "Load a sweep's Parquet"
RAW = re.compile(r"_|^[a-z]+:\S")  # a raw column name: mac_bytes, ms:gtx1080ti, param:c1


def raw_headers(app: AppTest) -> list[str]:
    return [str(c) for d in app.dataframe for c in d.value.columns if RAW.search(str(c))]


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    app.radio(key="ds.source").set_value(LOAD).run()
    return app.file_uploader(key="ds.upload").set_value((name, data, "application/octet-stream")).run()


@pytest.fixture(scope="module")
def snapdragon_sweep(tmp_path_factory) -> Path:
    """A two-point G1 sweep predicted on snapdragon810 only (not in the test's sidebar)."""
    out = tmp_path_factory.mktemp("sweeps") / "snap.parquet"
    plan = sweep.make_plan("g1_pointwise", {"c1": ["16", "32"], "c2": ["8"]}, devices=[load_profile("snapdragon810")])
    sweep.run(plan, out, serial=True)
    return out


@pytest.fixture(scope="module")
def h200_sweeps(tmp_path_factory) -> dict[str, Path]:
    """A two-point G1 sweep on the H200 (batch 1) and one CPU, in each GPU mode."""
    out = {}
    for mode in ("eager", "graph"):
        out[mode] = tmp_path_factory.mktemp("sweeps") / f"h200_{mode}.parquet"
        plan = sweep.make_plan("g1_pointwise", {"c1": ["16", "32"], "c2": ["8"]}, mode=mode,
                               devices=[load_profile("h200_b1"), load_profile("amd_epyc_1t")])
        sweep.run(plan, out[mode], serial=True)
    return out


def g1_flops(c1: int, c2: int) -> int:
    return 2 * 10 * 56 * 56 * c1 * c2  # 10 blocks of two 1x1 convs at 56x56


@pytest.fixture
def app() -> AppTest:
    app = AppTest.from_file(str(ROOT / "pages" / "7_Design_space.py"), default_timeout=300)
    app.session_state["settings.devices"] = ["gtx1080ti"]
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_small_sweep_shows_engine_numbers_and_pareto_front(app: AppTest) -> None:
    app.selectbox(key="ds.arch").set_value("g1_pointwise").run()
    app.text_area(key="ds.grid.g1_pointwise").set_value("c1=16,32,0\nc2=8").run()
    app.toggle(key="ds.parallel").set_value(False).run()
    next(b for b in app.button if b.label.startswith("Run the sweep (3 points")).click().run()
    assert not app.exception and not app.error, [e.value for e in (*app.exception, *app.error)]
    frames = [d.value for d in app.dataframe]
    table = next(f for f in frames if "c1 (swept)" in f and "FLOPs (M multiply-adds)" in f and "status" in f)
    ok = table[table["status"] == "complete"].sort_values("c1 (swept)")
    assert ok["FLOPs (M multiply-adds)"].tolist() == [g1_flops(16, 8) / 1e6, g1_flops(32, 8) / 1e6]
    assert table.loc[table["c1 (swept)"] == 0, "status"].tolist() == ["error"]
    gtx = load_profile("gtx1080ti")
    assert f"{device_label(gtx)} latency (ms, batch {gtx.batch})" in table
    front = next(f for f in frames if list(f.columns[:4]) == ["device", "batch", "point", "latency (ms)"])
    assert set(front["device"]) == {device_label(gtx)} and set(front["batch"]) == {gtx.batch} and len(front) >= 1
    assert "FLOPs (M multiply-adds)" in front  # the capacity the front is drawn for, FLOPs by default
    assert raw_headers(app) == [] and unformatted_numbers(app) == []
    assert any(c.value.startswith("3 points, 1 invalid") for c in app.caption)
    assert len(app.get("plotly_chart")) >= 2


def test_a_grid_of_one_point_says_so(app: AppTest) -> None:
    app.selectbox(key="ds.arch").set_value("g1_pointwise").run()
    app.text_area(key="ds.grid.g1_pointwise").set_value("").run()
    assert not app.exception and not app.error
    assert any(b.label == "Run the sweep (1 point on 1 device)" for b in app.button)
    assert any("one point, g1_pointwise with its default parameters" in c.value for c in app.caption)


@pytest.mark.parametrize("kind", ["not parquet", "parquet, not a sweep"])
def test_a_bad_upload_names_the_uploaded_file_never_a_server_path(app: AppTest, tmp_path: Path, kind: str) -> None:
    data = b"not a parquet file"
    if kind != "not parquet":
        pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "other.parquet")
        data = (tmp_path / "other.parquet").read_bytes()
    upload(app, "my_sweep.parquet", data)
    assert not app.exception and len(app.error) == 1
    assert "'my_sweep.parquet'" in app.error[0].value
    assert tempfile.gettempdir() not in app.error[0].value and "costmodel_sweeps" not in app.error[0].value


def test_a_sweep_of_other_devices_says_which_it_has(app: AppTest, snapdragon_sweep: Path) -> None:
    upload(app, "snap.parquet", snapdragon_sweep.read_bytes())
    assert not app.exception and not app.error
    info = [i.value for i in app.info if "Pareto" in i.value]
    assert len(info) == 1 and "snapdragon810" in info[0] and "(gtx1080ti)" in info[0] and "sidebar" in info[0]
    snap = load_profile("snapdragon810")
    points = next(d.value for d in app.dataframe if "c1 (swept)" in d.value)
    assert f"{device_label(snap)} latency (ms, batch {snap.batch})" in points  # named, though not in the sidebar
    assert raw_headers(app) == []
    app.sidebar.multiselect(key="_settings.devices").set_value(["gtx1080ti", "snapdragon810"]).run()
    assert not app.exception and not app.error and not [i for i in app.info if "Pareto" in i.value]
    front = next(d.value for d in app.dataframe if list(d.value.columns[:2]) == ["device", "batch"])
    assert set(front["device"]) == {device_label(snap)}


def test_a_sweep_without_points_says_so(app: AppTest, snapdragon_sweep: Path, tmp_path: Path) -> None:
    pq.write_table(pq.read_table(snapdragon_sweep).slice(0, 0), tmp_path / "empty.parquet")
    upload(app, "empty.parquet", (tmp_path / "empty.parquet").read_bytes())
    assert not app.exception and not app.error
    assert any("no points" in i.value for i in app.info)


def test_the_scaling_tables_have_unit_headers(app: AppTest) -> None:
    """The scaling panel on a synthetic EfficientNet scaling sweep (latency d + w^2 + r^2 ms, FLOPs d w^2 r^2),
    put where the page keeps a finished one: the method table and the fitted bases have readable headers."""
    values = (1.0, 1.5, 2.0)
    rows = [{"point": f"{d},{w},{r}", "status": "complete", "param:depth_coefficient": d,
             "param:width_coefficient": w, "input_resolution": round(224 * r), "flops": d * w * w * r * r * 1e9,
             "ms:gtx1080ti": d + w * w + r * r} for d, w, r in itertools.product(values, repeat=3)]
    app.session_state[f"ds.scaling.efficientnet.{Settings(devices=('gtx1080ti',))}"] = pd.DataFrame(rows)
    app.run()
    assert not app.exception and not app.error, [e.value for e in (*app.exception, *app.error)]
    frames = [d.value for d in app.dataframe]
    methods = next(f for f in frames if "method" in f)
    assert {"latency budget (ms)", "depth multiplier (x)", "width multiplier (x)", "resolution (px)",
            "FLOPs (M multiply-adds)", "FLOPs vs device-optimal (%)"} <= set(methods.columns)
    best = methods[methods["method"] == "device-optimal"].iloc[0]
    assert best["latency budget (ms)"] == 2 * 3.0  # the slider's default: twice the unscaled network's 3 ms
    assert best["FLOPs vs device-optimal (%)"] == pytest.approx(100)
    bases = next(f for f in frames if "alpha (depth factor per unit of phi)" in f)
    assert "fitted bases: FLOPs gap below the frontier (%)" in bases
    assert raw_headers(app) == []


def test_oversized_grid_is_one_error(app: AppTest) -> None:
    app.selectbox(key="ds.arch").set_value("g1_pointwise").run()
    app.text_area(key="ds.grid.g1_pointwise").set_value("c1=1:1000:1\nc2=8").run()
    assert not app.exception
    assert any("more than 200" in e.value for e in app.error)


def test_fronts_of_a_gpu_on_which_every_point_is_host_bound_say_so(h200_sweeps) -> None:
    """Eager on the H200 each micro-network takes longer to issue than to run, so its front ranks op counts, and
    the page says so (naming that GPU, not the CPU); a sweep of CUDA-graph runs is device-bound and has no note."""
    for mode, noted in (("eager", True), ("graph", False)):
        results = pq.read_table(h200_sweeps[mode]).to_pandas()
        assert set(results["bound:h200_b1"]) == ({"host"} if noted else {"device"})
        app = AppTest.from_file(str(ROOT / "pages" / "7_Design_space.py"), default_timeout=300)
        app.session_state["settings.devices"] = ["h200_b1", "amd_epyc_1t"]
        app.run()
        upload(app, f"h200_{mode}.parquet", h200_sweeps[mode].read_bytes())
        assert not app.exception and not app.error, [e.value for e in (*app.exception, *app.error)]
        notes = [info.value for info in app.info if info.value.startswith("Host-bound")]
        if noted:
            assert len(notes) == 1 and notes[0].startswith(f"Host-bound ({device_label('h200_b1')})")
            assert "EPYC" not in notes[0]
        else:
            assert notes == []
