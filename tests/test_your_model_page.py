"""The Your model page (AppTest): a valid upload gives the report with the engine's numbers and its guideline
findings; a syntax error, an endless loop, an exception at import and a file without a module each give one
clear st.error, and the same session then analyses a valid file again (the app keeps serving)."""
from __future__ import annotations

from pathlib import Path

import base64
import json
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from costmodel import analyze
from costmodel.latency.model import predict
from costmodel.viz import tables
from costmodel.studies.evaluate import Settings, device_batch, profiles
from costmodel.units import si
from costmodel.viz.labels import device_label
from costmodel.sources.names import load_model
from costmodel.sources.userfile import load_user_model


ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "fixtures" / "user_models"
PAGE = str(ROOT / "pages" / "6_Your_model.py")
SAMPLE = (3, 64, 64)
TIME_LIMIT_S = 3
UPLOAD, MODULE = "Upload a .py file", "Module importable from the working directory"  # the page's choices


def upload(app: AppTest, filename: str, shape: tuple[int, ...] = SAMPLE) -> AppTest:
    app.file_uploader(key="upload").set_value((filename, (MODELS / filename).read_bytes(), "text/x-python"))
    app.text_input(key="shape").set_value(",".join(map(str, shape)))
    app.number_input(key="seconds").set_value(TIME_LIMIT_S)
    return app.run()


def metrics(app: AppTest) -> dict[str, object]:
    """The report's headline row (readable headers -> values), found by its first column."""
    table = next(d.value for d in app.dataframe if d.value.columns[0] == "model")
    return table.iloc[0].to_dict()


@pytest.fixture(scope="module")
def app() -> AppTest:
    page = AppTest.from_file(PAGE, default_timeout=90)
    page.run()
    assert not page.exception and not page.error
    return page


def test_the_page_says_uploaded_code_is_executed(app):
    assert any("Uploaded Python is executed" in w.value and "time limit" in w.value for w in app.warning)


def test_a_valid_file_gives_the_engines_numbers_and_findings(app):
    upload(app, "tiny_net.py")
    assert not app.exception and not app.error
    model = load_user_model(f"{MODELS / 'tiny_net.py'}:TinyNet")
    settings = Settings()  # the sidebar's defaults: every shipped profile at its own batch
    row, headers = metrics(app), tables.device_headers(settings)
    assert row[tables.COLUMNS["flops"][0]] == pytest.approx(analyze(model, (1, *SAMPLE)).summary["flops"] / 1e6)
    for device in profiles(settings):
        expected = predict(analyze(model, (device_batch(device, settings), *SAMPLE)), device).ms
        assert row[headers[f"ms:{device.name}"]] == pytest.approx(expected)
    g1 = next(m for m in app.metric if m.label.startswith("G1"))
    assert g1.value == "1 finding"  # the 1x1 expansion 16 -> 96
    ab = next(d.value for d in app.dataframe if d.value.columns[0] == "metric")
    ab = ab.set_index(["metric", "device", "unit"])
    assert ab.at[("FLOPs", "", "multiply-adds"), "A"] == si(analyze(model, (1, *SAMPLE)).summary["flops"])
    for device in profiles(settings):  # devices by their hardware, in the A/B table and the trust caption
        assert ab.at[("Latency", device_label(device), f"ms (batch {device.batch})"), "A"] == si(
            predict(analyze(model, (device.batch, *SAMPLE)), device).ms)
        assert f"**{device_label(device)}**: " in next(c.value for c in app.caption if c.value.startswith("How far"))
    graph = [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")]
    first = profiles(settings)[0]
    assert any(title.endswith(f"(node size = predicted time on {device_label(first)})") for title in graph)


@pytest.mark.parametrize(("filename", "words"), [
    ("syntax_error.py", ("syntax error", "line 6")),
    ("endless_loop.py", ("did not finish within 3 s", "time limit")),
    ("raises.py", ("raised KeyError", "'depth'")),
    ("no_module.py", ("no nn.Module class", "no_module.py")),
])
def test_a_broken_file_gives_one_clear_error_and_the_app_keeps_serving(app, filename, words):
    upload(app, filename)
    assert not app.exception
    assert len(app.error) == 1 and all(word in app.error[0].value for word in words)
    upload(app, "tiny_net.py", shape=(3, 32, 32))  # same session, next upload: analysed as usual
    assert not app.exception and not app.error
    assert metrics(app)["status"] == "complete"


def test_the_lint_panel_drops_into_any_page():
    def page():
        from costmodel.studies.evaluate import Settings, ZooModel
        from costmodel.app.lint_view import source_lint_panel

        source_lint_panel(ZooModel.of("g2_groupconv", g=8, c=360), Settings(), key="zoo")

    app = AppTest.from_function(page, default_timeout=60).run()
    assert not app.exception
    assert app.selectbox(key="zoo_device").value == "gtx1080ti"  # the paper's GPU, at its batch
    assert any(m.value.startswith("**Guideline findings on GTX 1080 Ti (paper)**") for m in app.markdown)  # no key
    counts = {m.label: m.value for m in app.metric}
    assert counts == {"G1": "0 findings", "G2": "10 findings", "G3": "0 findings", "G4": "0 findings"}


def fresh(monkeypatch, **env: str) -> AppTest:
    """The page in a new session under operator settings `env` (COSTMODEL_<NAME>=value)."""
    for name, value in env.items():
        monkeypatch.setenv(f"COSTMODEL_{name.upper()}", value)
    return AppTest.from_file(PAGE, default_timeout=90).run()


def test_the_page_shows_the_operators_limits_and_caps_the_visitors_choices(monkeypatch):
    page = fresh(monkeypatch, max_seconds="10", max_memory_gib="2", sandbox_runs="3")
    assert any("10 s and 2 GiB at most per run, 3 runs at once" in c.value for c in page.caption)
    assert page.number_input(key="seconds").proto.max == 10
    assert page.number_input(key="memory").proto.max == 2
    assert page.radio(key="source").options == [UPLOAD]  # module mode is off unless the operator turns it on


def test_module_mode_and_uploads_follow_the_operator(monkeypatch):
    assert fresh(monkeypatch, module_mode="1").radio(key="source").options == [UPLOAD, MODULE]
    page = fresh(monkeypatch, uploads="0", module_mode="0")
    assert not [r for r in page.radio if r.key == "source"] and not page.exception
    assert any("turned uploads off" in i.value for i in page.info)


def test_an_upload_over_the_operators_size_limit_is_refused_in_one_line(monkeypatch):
    page = fresh(monkeypatch, max_upload_kib="1")
    big = b"# padding\n" * 200 + (MODELS / "tiny_net.py").read_bytes()  # about 2.7 KiB
    page.file_uploader(key="upload").set_value(("big.py", big, "text/x-python"))
    page.run()
    assert not page.exception and len(page.error) == 1
    assert "more than this server's 1 KiB upload limit" in page.error[0].value


def test_a_bad_operator_setting_is_one_error_naming_the_variable(monkeypatch):
    page = fresh(monkeypatch, sandbox_runs="lots")
    assert not page.exception and len(page.error) == 1 and "COSTMODEL_SANDBOX_RUNS" in page.error[0].value


def test_ab_comparison_takes_a_torchvision_model_by_name():
    """Without an upload, A/B compares any two models; B picked from torchvision by name shows its engine
    FLOPs (multiply-adds per image) in the metrics table."""
    from costmodel.sources.names import load_model

    page = AppTest.from_file(PAGE, default_timeout=240).run()
    page.button_group(key="ab_B.library").set_value("torchvision").run()
    page.selectbox(key="ab_B.torchvision").set_value("mobilenet_v3_small").run()
    assert not page.exception and not page.error
    metrics = next(d.value for d in page.dataframe if d.value.columns[0] == "metric")
    flops = metrics.loc[metrics["metric"] == "FLOPs", "B"].iloc[0]
    model, shape, _ = load_model("torchvision:mobilenet_v3_small")
    assert flops == si(analyze(model, shape).summary["flops"])


def test_ab_latency_table_has_units_and_the_latency_models_times():
    """The A/B latency table: device time per category in ms per batch (units in the headers), at the device's
    batch; its Total rows are what `predict` gives each model on that device, and B - A their difference."""
    page = AppTest.from_file(PAGE, default_timeout=240)
    page.session_state["settings.devices"] = ["gtx1080ti"]
    page.run()
    page.selectbox(key="ab_B.arch").set_value("mobilenet_v2").run()
    assert not page.exception and not page.error
    shown = next(d.value for d in page.dataframe if d.value.columns[0] == "device" and "category" in d.value)
    a, b, delta = "A device time (ms per batch)", "B device time (ms per batch)", "B - A device time (ms per batch)"
    assert list(shown.columns) == ["device", "batch", "category", a, b, delta]
    device = profiles(Settings(devices=("gtx1080ti",)))[0]
    total = shown[shown["category"] == "Total"].iloc[0]
    assert total["batch"] == device.batch
    expected = {}
    for side, arch in (("A", "shufflenet_v2"), ("B", "mobilenet_v2")):
        model, shape, label = load_model(arch, batch=device.batch)
        expected[side] = predict(analyze(model, shape, arch=label), device).device_ms
    assert total[a] == pytest.approx(expected["A"]) and total[b] == pytest.approx(expected["B"])
    assert total[delta] == pytest.approx(expected["B"] - expected["A"])


@pytest.mark.parametrize("text, message", [("", "the input shape is empty - write it like 3,224,224"),
                                           ("abc", "input shape 'abc' is not a list of integers - write it like "
                                                   "3,224,224")])
def test_a_bad_shape_is_named_in_the_fields_own_form(app, text, message):
    """The field is per sample (C,H,W): its error must not ask for the batch the sidebar sets."""
    app.file_uploader(key="upload").set_value(("tiny_net.py", (MODELS / "tiny_net.py").read_bytes(), "text/x-python"))
    app.text_input(key="shape").set_value(text).run()
    assert [e.value for e in app.error] == [message]
    app.text_input(key="shape").set_value(",".join(map(str, SAMPLE))).run()
    assert not app.error


def test_ab_breakdown_draws_one_bar_per_side_when_a_and_b_are_the_same_model():
    """A and B start as the same model: their bars must not share a label, or plotly stacks both on one bar (each
    category twice, past 100%, cut at the axis)."""
    page = AppTest.from_file(PAGE, default_timeout=240)
    page.session_state["settings.devices"] = ["gtx1080ti"]
    page.run()
    assert not page.exception and not page.error
    charts = [json.loads(chart.proto.spec) for chart in page.get("plotly_chart")]
    bars = next(c for c in charts if c["layout"]["title"]["text"] == "A vs B: where the time goes")
    labels = [tuple(trace["y"]) for trace in bars["data"]]
    assert len(set(labels)) == 1 and len(set(labels[0])) == len(labels[0]) == 2
    shares = [_values(trace["x"]) for trace in bars["data"]]
    for row in range(2):  # each bar's category shares add up to the whole
        assert sum(share[row] for share in shares) == pytest.approx(100)


def _values(array: list | dict) -> list[float]:
    """A plotly JSON array: a list, or plotly's typed array (base64 bytes of a numpy dtype)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return array
