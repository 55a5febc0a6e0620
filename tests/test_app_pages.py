"""Every app page in AppTest: it loads without an exception; moving its main controls changes the displayed
numbers to what the engine and latency API give for that setting (computed here independently of the pages'
helpers); impossible settings show st.error, never a traceback."""
from __future__ import annotations

import functools
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from costmodel import CostModelError, analyze
from costmodel.studies import published, validated
from costmodel.latency.model import predict
from costmodel.studies.lint import DEFAULT_DEVICE, GUIDELINES, lint
from costmodel.app.lint_view import SHOWN
from costmodel.studies.profile_views import profile_machine
from costmodel.latency.profiles import PROFILE_DIR, list_profiles, load_profile, profile_names
from costmodel.sources.names import load_model
from costmodel.units import ms as ms_text, si
from costmodel.viz.labels import chip_label, device_label
from costmodel.zoo.layers import round_to_multiple
from costmodel.zoo.shufflenet_v1 import ShuffleV1Unit
from costmodel.zoo.spec import reference_csv

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"home": "home.py", "blocks": "pages/1_ShuffleNet_blocks.py", "guidelines": "pages/2_Guidelines.py",
         "scaling": "pages/3_EfficientNet_scaling.py", "zoo": "pages/4_Model_zoo.py",
         "profiles": "pages/5_Device_profiles.py"}
PROFILES = list_profiles()
CHIP_CHARACTERS = 18  # what a sidebar chip shows before it cuts ('AMD EPYC, 1 thread ...' in a 1400 px screenshot)
DISPLAYED = 5e-3  # tables show 3 significant digits (costmodel/units.py): within half a unit of the third


def guideline_batch(device) -> int:
    """The batch a device's Guidelines speeds are shown at: the paper's Tables 1-4 were measured at batch 1
    (data/reference/shufflenetv2_tables_setup.csv), which the profiles calibrated to them keep; others, their own."""
    return 1 if device.source.method == "calibrated" else device.batch


def page(name: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / PAGES[name]), default_timeout=240)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def engine(arch: str, batch: int = 1, dtype: str = "float32", **params: object):
    model, shape, label = load_model(arch, params=params, batch=batch)
    return analyze(model, shape, dtype=dtype, arch=label)


@functools.cache
def published_points() -> list[dict]:
    """Every zoo model with a published top-1 on every shipped device: FLOPs per image and predicted ms at the
    device's own batch, from the engine and the latency model directly (not the pages' study helpers)."""
    points = []
    for model, (_, top1, _) in published.accuracies().items():
        flops = analyze(*model.build(1)).summary["flops"]
        for device in PROFILES:
            ms = predict(analyze(*model.build(device.batch)), device).ms
            points.append({"model": model.label, "device": device.name, "batch": device.batch, "flops": flops,
                           "ms": ms, "top1": top1})
    return points


def metrics(where) -> dict[str, str]:
    """Metric label -> value of an app or a block of it (a tab: guideline pages repeat labels per tab)."""
    return {m.label: m.value for m in where.metric}


def column_config(app: AppTest, first_column: str) -> dict:
    """The column settings (width, pinned, number format) of the first displayed table starting with that column."""
    return next(json.loads(d.proto.columns) for d in app.dataframe if d.value.columns[0] == first_column)


def table(app: AppTest, first_column: str, second: str | None = None):
    """The first displayed table whose columns start like that."""
    for frame in (d.value for d in app.dataframe):
        if frame.columns[0] == first_column and (second is None or frame.columns[1] == second):
            return frame
    raise AssertionError(f"no table starting with {first_column}, {second}")


def cell(frame, metric: str, column: str) -> float:
    return float(frame.loc[frame["metric"] == metric, column].iloc[0])


def errors(app: AppTest) -> list[str]:
    assert not app.exception, [e.value for e in app.exception]
    return [e.value for e in app.error]


def assert_lint_panel(where, arch: str, device_name: str = DEFAULT_DEVICE, **params: object) -> None:
    """The guideline panel in `where` (a page, or a tab of it) shows what `lint` finds for that model on that
    device at the device's batch: per-guideline counts and costs, then the costliest findings."""
    device = load_profile(device_name)
    expected = lint(engine(arch, device.batch, **params), device)
    shown = {m.label: m for m in where.metric if m.label in GUIDELINES}
    for row in expected.by_guideline().itertuples():
        assert int(shown[row.guideline].value.split()[0]) == row.findings
        assert float(shown[row.guideline].delta.split()[0]) == pytest.approx(row.cost_ms, rel=5e-3, abs=5e-4)
    findings = next(d.value for d in where.dataframe if d.value.columns[0] == "guideline")
    top = expected.table().head(SHOWN)
    assert list(findings["module"]) == list(top["module"])
    assert list(findings["cost_ms"]) == pytest.approx(list(top["cost_ms"]))
    if len(top):  # every table of the app can be downloaded: the findings too
        keys = {b.key for b in where.get("download_button")}
        assert any(k.endswith("_findings.CSV") for k in keys) and any(k.endswith("_findings.LaTeX") for k in keys)


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads(name: str) -> None:
    page(name)


# ---------------------------------------------------------------- home and the shared sidebar
def test_home_headline_and_sidebar() -> None:
    app = page("home")
    for device in PROFILES:  # the headline: the two models within 10% FLOPs whose speeds differ most
        mine = [p for p in published_points() if p["device"] == device.name]
        ratio = max(b["ms"] / a["ms"] for a in mine for b in mine
                    if abs(a["flops"] - b["flops"]) <= 0.1 * min(a["flops"], b["flops"]) and a["ms"] < b["ms"])
        assert metrics(app)[f"{device_label(device)}, batch {device.batch}"] == f"{ratio:.2f}x slower"  # no keys
    chips = app.sidebar.multiselect(key="_settings.devices")
    assert chips.options == [chip_label(device) for device in PROFILES]  # the sidebar names hardware too
    assert len({option[:CHIP_CHARACTERS] for option in chips.options}) == len(PROFILES)  # told apart while cut
    app.sidebar.selectbox(key="_settings.batch").set_value(1).run()
    assert all(label.endswith(", batch 1") for label in metrics(app))
    pages = [path.stem.split("_", 1)[1].replace("_", " ") for path in sorted((ROOT / "pages").glob("[0-9]_*.py"))]
    text = " ".join(m.value for m in app.markdown)
    assert [name for name in pages if f"*{name}*" not in text] == []  # every page is introduced by name
    app.sidebar.multiselect(key="_settings.devices").set_value([]).run()
    assert errors(app) == ["No device profile selected: pick at least one in the sidebar."]


# ---------------------------------------------------------------- ShuffleNet blocks
def test_blocks_follow_the_controls() -> None:
    app = page("blocks")
    app.button_group(key="groups").set_value(8)
    app.number_input(key="channels").set_value(384)
    app.sidebar.selectbox(key="_settings.dtype").set_value("float16")
    app.run()
    assert not errors(app)
    with torch.device("meta"):
        unit = nn.Sequential(ShuffleV1Unit(384, 384, 1, 8, 8))
    label = "V1 unit (g=8, c=384, s=1)"
    for batch, device in [(1, None), *((p.batch, p) for p in PROFILES)]:
        rep = analyze(unit, (batch, 384, 28, 28), dtype="float16")
        shown = table(app, "metric")
        if device is None:
            assert cell(shown, "FLOPs (M multiply-adds)", label) == pytest.approx(rep.summary["flops"] / 1e6, DISPLAYED)
            assert cell(shown, "MAC (MiB)", label) == pytest.approx(rep.summary["mac_bytes"] / 2 ** 20, DISPLAYED)
        else:
            row = f"{device_label(device)} latency (ms, batch {device.batch})"
            assert cell(shown, row, label) == pytest.approx(predict(rep, device).ms, DISPLAYED)


def test_blocks_impossible_channels_show_an_error() -> None:
    app = page("blocks")
    app.number_input(key="channels").set_value(250).run()
    assert any("multiple of 12" in e for e in errors(app))


def test_blocks_unmatched_v2_uses_its_own_channels() -> None:
    app = page("blocks")
    app.toggle(key="matched").set_value(False).run()
    app.number_input(key="v2_channels").set_value(200).run()
    shown = table(app, "metric")
    assert "V2 unit (c=200, split=0.5, s=1)" in shown.columns


def test_blocks_guideline_findings_follow_the_networks() -> None:
    app = page("blocks")
    app.button_group(key="net_groups").set_value(8).run()
    v1, v2 = app.tabs
    assert_lint_panel(v1, "shufflenet_v1", groups=8, width=1.0)
    assert_lint_panel(v2, "shufflenet_v2", width=1.0)
    cpu = next(p.name for p in PROFILES if p.kind != "gpu")
    v2.selectbox(key="networks_lint_shufflenet_v2_device").set_value(cpu).run()
    assert_lint_panel(app.tabs[1], "shufflenet_v2", cpu, width=1.0)


# ---------------------------------------------------------------- guidelines
def test_g1_ratio_and_column_change_your_setting() -> None:
    app = page("guidelines")
    app.select_slider(key="ratio").set_value(12)
    app.radio(key="level1").set_value(1)
    app.run()
    assert not errors(app)
    # Table 1's 1:1 widths at x1, doubled for the x2 column (the calibrated profiles' reading, calibrate.py),
    # then the paper's rule for 1:r pairs at equal FLOPs: c1 = floor(c / sqrt(r)), c2 = r c1.
    row = next(r for r in reference_csv("shufflenetv2_table1_g1.csv") if r["c1:c2"] == "1:1")
    for device in PROFILES:
        column = "gpu_c1c2_at_x1" if device.kind == "gpu" else "arm_c1c2_at_x1"
        c = 2 * int(row[column].strip("()").split(",")[0])
        c1 = math.floor(c / math.sqrt(12) + 1e-9)
        batch = guideline_batch(device)
        rep = engine("g1_pointwise", batch, c1=c1, c2=12 * c1)
        g1 = metrics(app.tabs[0])
        assert g1[f"{device_label(device)}, {device.unit}, batch {batch}"] == f"{predict(rep, device).throughput:.4g}"
        # each device's network has its own "Your setting" FLOPs per image (the GPU and CPU/ARM widths differ)
        assert si(rep.summary["flops"] / batch, "MAdds") in [m.value for m in app.tabs[0].metric
                                                            if m.label == "Your setting: 1:12 (yours)"]


def test_g2_g3_g4_controls() -> None:
    app = page("guidelines")
    app.select_slider(key="g").set_value(4)
    app.selectbox(key="structure").set_value("4-fragment-parallel")
    app.toggle(key="relu").set_value(False)
    app.run()
    labels = [label for label in metrics(app) if label.startswith("Your setting")]
    assert labels == ["Your setting: 1:3 (yours)", "Your setting: g=4 (yours)", "Your setting: 4-fragment-parallel",
                      "Your setting: ReLU no, shortcut yes"]
    for device in PROFILES:  # Table 4's first columns: c = 32
        batch = guideline_batch(device)
        rep = engine("g4_bottleneck", batch, relu=False, shortcut=True, c=32)
        assert (metrics(app.tabs[3])[f"{device_label(device)}, {device.unit}, batch {batch}"]
                == f"{predict(rep, device).throughput:.4g}")


# ---------------------------------------------------------------- EfficientNet scaling
def test_phi_and_bases_change_the_point() -> None:
    app = page("scaling")
    app.slider(key="phi").set_value(2.5).run()
    assert not errors(app)
    rep = engine("efficientnet", phi=2.5)
    shown = metrics(app)
    assert shown["FLOPs (multiply-adds)"] == si(rep.summary["flops"], "MAdds")
    assert shown["Resolution"] == f"{round_to_multiple(224 * 1.15 ** 2.5, 4)} px"
    for device in PROFILES:
        timed = predict(engine("efficientnet", device.batch, phi=2.5), device)
        assert shown[f"{device_label(device)} (ms, batch {device.batch})"] == ms_text(timed.ms)  # units.py's rule
    assert not app.warning
    one = next(p for p in PROFILES if p.batch == 1)  # new bases mean new curves: keep them to one batch size
    app.sidebar.multiselect(key="_settings.devices").set_value([one.name])
    app.slider(key="alpha").set_value(1.5).run()
    assert metrics(app)["alpha x beta^2 x gamma^2"] == f"{1.5 * 1.1 ** 2 * 1.15 ** 2:.3f}"
    assert metrics(app)["FLOPs (multiply-adds)"] == si(engine("efficientnet", phi=2.5, alpha=1.5).summary["flops"],
                                                       "MAdds")
    assert any("far from 2" in w.value for w in app.warning)
    trust = next(c.value for c in app.caption if c.value.startswith("How far to trust these times"))
    assert [p.name for p in PROFILES if f"**{device_label(p)}**" in trust] == [one.name]  # the devices shown only


def test_a_phi_beyond_the_zoo_shows_the_largest_the_bases_allow() -> None:
    """alpha = 2 multiplies depth by 2^phi and the zoo builds at most 8x B0's depth, so phi = 5 (fine at alpha 1.2)
    becomes log2(8) = 3, with a warning, instead of an error or minutes of analysis."""
    app = page("scaling")
    app.sidebar.multiselect(key="_settings.devices").set_value([next(p for p in PROFILES if p.batch == 1).name])
    app.slider(key="phi").set_value(5.0).run()
    assert not errors(app) and not app.warning
    app.slider(key="alpha").set_value(2.0).run()
    assert not errors(app)
    assert any("showing phi = 3," in w.value for w in app.warning)
    assert metrics(app)["FLOPs (multiply-adds)"] == si(engine("efficientnet", phi=3, alpha=2.0).summary["flops"],
                                                       "MAdds")


def test_the_stage_table_shows_resolution_in_pixels() -> None:
    """EfficientNet's per-stage table (Table 1 layout) names its columns with units: the input resolution of
    each stage in px, B0's 224 scaled by gamma^phi, then divided by each stage's stride ('same' padding)."""
    app = AppTest.from_file(str(ROOT / PAGES["scaling"]), default_timeout=240)
    app.session_state["settings.devices"] = ["amd_epyc_1t"]
    app.run()
    assert not errors(app)
    stages = table(app, "stage")
    assert "input_resolution" not in stages
    sizes, strides = stages["input resolution (px)"].tolist(), stages["stride (px)"].tolist()
    assert sizes[0] == round_to_multiple(224 * 1.15, 4)  # phi = 1
    assert sizes[1:] == [(size - 1) // stride + 1 for size, stride in zip(sizes, strides)][:-1]


# ---------------------------------------------------------------- model zoo
def test_any_zoo_model_and_the_reward_ranking() -> None:
    app = page("zoo")
    app.selectbox(key="zoo.arch").set_value("mobilenet_v2").run()
    app.number_input(key="zoo.mobilenet_v2.width").set_value(0.75).run()
    assert not errors(app)
    shown = table(app, "metric", "mobilenet_v2(width=0.75)")
    assert cell(shown, "FLOPs (M multiply-adds)", "mobilenet_v2(width=0.75)") == pytest.approx(
        engine("mobilenet_v2", width=0.75).summary["flops"] / 1e6, DISPLAYED)
    trust = next(c.value for c in app.caption if c.value.startswith("How far to trust these times"))
    for device in PROFILES:  # each device's whole-network error at its own batch (the sidebar's default)
        assert f"**{device_label(device)}**: {validated.trust(device, device.batch, 'eager', True)}" in trust

    app.slider(key="target_ms").set_value(20.0)
    app.slider(key="w").set_value(-0.3)
    app.run()
    for device in PROFILES:  # MnasNet's reward ACC x (LAT / T)^w, T = 20 ms, w = -0.3: the best per device
        mine = [p for p in published_points() if p["device"] == device.name]
        best = max(mine, key=lambda p: p["top1"] / 100 * (p["ms"] / 20.0) ** -0.3)
        assert metrics(app)[f"Best on {device_label(device)}"] == best["model"]


def test_impossible_zoo_parameters_show_an_error() -> None:
    app = page("zoo")
    app.number_input(key="zoo.shufflenet_v2.width").set_value(0.05)
    app.number_input(key="zoo.shufflenet_v2.split_ratio").set_value(0.05)
    app.run()
    assert any("split_ratio" in e for e in errors(app))


def test_zoo_guideline_findings_follow_the_chosen_model() -> None:
    app = page("zoo")
    assert_lint_panel(app, "shufflenet_v2")
    app.selectbox(key="zoo.arch").set_value("shufflenet_v1").run()
    app.selectbox(key="zoo.shufflenet_v1.groups").set_value(8).run()
    assert not errors(app)
    assert_lint_panel(app, "shufflenet_v1", groups=8)


# ---------------------------------------------------------------- device profiles
def test_profile_upload_valid_and_invalid(tmp_path: Path) -> None:
    app = page("profiles")
    shipped = json.loads((PROFILE_DIR / f"{profile_names()[0]}.json").read_text())
    mine = json.dumps({**shipped, "name": "my_device"}).encode()
    app.file_uploader(key="upload").set_value(("my_device.json", mine, "application/json")).run()
    assert not errors(app)
    chosen = app.sidebar.multiselect(key="_settings.devices").value
    assert any(Path(d).stem.startswith("my_device") for d in chosen)
    assert "my_device" in list(table(app, "profile")["profile"])
    shown = table(app, "profile").set_index("profile")
    original = load_profile(profile_names()[0])
    unseen = validated.accuracy(original, original.batch, "eager", True)
    assert float(shown.loc[original.name, "unseen median error (%)"]) == pytest.approx(unseen.median_pct)
    renamed = float(shown.loc["my_device", "unseen median error (%)"])
    assert math.isnan(renamed)  # a renamed copy is not vouched for by the original's validation

    broken = json.dumps({**shipped, "kind": "tpu"}).encode()
    app.file_uploader(key="upload").set_value(("broken.json", broken, "application/json")).run()
    assert any("field 'kind'" in e for e in errors(app))
    app.file_uploader(key="upload").set_value(("notjson.json", b"{nope", "application/json")).run()
    assert any("is not JSON" in e for e in errors(app))
    # tables name devices by profile name: another profile under a name in use would replace that device's column
    app.file_uploader(key="upload").set_value(("same.json", json.dumps(shipped).encode(), "application/json")).run()
    assert any(f"a profile named '{shipped['name']}' is already in use" in e for e in errors(app))
    slower = json.dumps({**shipped, "name": "my_device", "device": "another"}).encode()
    app.file_uploader(key="upload").set_value(("other.json", slower, "application/json")).run()
    assert any("a profile named 'my_device' is already in use" in e for e in errors(app))


@pytest.mark.parametrize(("name", "against"), [("amd_epyc_1t", "measured"), ("gtx1080ti", "published")])
def test_profile_parameters_and_measurements_name_their_units(name: str, against: str) -> None:
    """A micro-benchmark's error is against its measured time, a calibrated profile's against the paper's
    published one; the latency-model parameters (half_* included) show with units."""
    app = AppTest.from_file(str(ROOT / PAGES["profiles"]), default_timeout=240)
    app.session_state["settings.devices"] = ["amd_epyc_1t", "gtx1080ti"]
    app.run()
    app.selectbox(key="profile").set_value(name).run()
    assert not errors(app)
    device = load_profile(name)
    profiles = table(app, "profile")  # the numbers first: the long provenance last, where cutting it hides nothing
    assert list(profiles.columns)[-1] == "how" and profiles.set_index("profile").at[name, "how"] == \
        device.source.description
    config = column_config(app, "profile")  # the profile stays on screen when the wide table scrolls; no number
    assert config["profile"]["pinned"] and not config["device"]["pinned"]  # is printed with all its digits
    numbers = [c for c in profiles.columns if pd.api.types.is_float_dtype(profiles[c])]
    assert "fit median error (%)" in numbers and [c for c in numbers if "format" not in
                                                  config.get(c, {}).get("type_config", {})] == []
    shown = table(app, "measurement")
    other = {"measured": "published", "published": "measured"}[against]
    assert not [c for c in shown.columns if other in c]
    assert list(shown[f"fitted model's error vs {against} (%)"]) == pytest.approx(
        [100 * (m.predicted_ms / m.ms - 1) for m in device.measurements])
    assert list(shown[f"{against} (ms per batch)"]) == [m.ms for m in device.measurements]
    parameters = table(app, "kernel class").set_index("kernel class")
    assert not [c for c in parameters.columns if "_" in c]
    assert parameters["efficiency halves at (output positions)"].to_dict() == {
        k: p.half_pixels for k, p in device.latency_model.kernels.items()}


FAKE_PROFILER = """
import shutil, sys, time
out = sys.argv[sys.argv.index("--out") + 1]
for i in range(1, 5):
    sys.stderr.write(f"\\rtiming: {i}/4 [00:00<00:00]"); sys.stderr.flush()
if "--fail" in sys.argv:
    sys.stderr.write("\\nerror: no CUDA device\\n"); sys.exit(2)
shutil.copy(sys.argv[1], out)
"""


def test_profile_machine_reports_progress_and_errors(tmp_path: Path) -> None:
    script = tmp_path / "fake_profiler.py"
    script.write_text(FAKE_PROFILER)
    source = PROFILE_DIR / f"{profile_names()[0]}.json"
    seen: list[float] = []
    made = profile_machine("x", on_progress=seen.append, command=[sys.executable, str(script), str(source)])
    assert seen == [0.25, 0.5, 0.75, 1.0]
    assert made == load_profile(source)
    with pytest.raises(CostModelError, match="no CUDA device"):
        profile_machine("x", command=[sys.executable, str(script), str(source), "--fail"])


def test_profile_machine_rejects_a_bad_name() -> None:
    with pytest.raises(CostModelError, match="characters"):
        profile_machine("my machine/1", command=[sys.executable, "-c", "raise SystemExit(1)"])


def test_zoo_page_analyses_a_library_model_by_name() -> None:
    """A timm model picked by name on the Model zoo page shows the engine's FLOPs for it at timm's own input
    size (torchvision's meta for the ground truth lives in tests of the engine; here: the page's wiring)."""
    app = page("zoo")
    app.button_group(key="zoo.library").set_value("timm").run()
    app.selectbox(key="zoo.timm").set_value("mobilenetv3_small_050").run()
    assert not errors(app)
    label = "timm:mobilenetv3_small_050"
    shown = table(app, "metric", label)
    expected = engine(label).summary["flops"] / 1e6
    assert cell(shown, "FLOPs (M multiply-adds)", label) == pytest.approx(expected, DISPLAYED)
    app.text_input(key="zoo.args.timm").input("no_such_argument=1").run()
    assert any("could not be built" in e for e in errors(app))


def unformatted_numbers(app: AppTest) -> list[str]:
    """'table: column' for each float column a table prints with all its digits (no quantity's rule applies)."""
    out = []
    for shown in app.dataframe:
        config = json.loads(shown.proto.columns or "{}")
        out += [f"{shown.value.columns[0]}...: {c}" for c in shown.value.columns
                if pd.api.types.is_float_dtype(shown.value[c])
                and "format" not in config.get(str(c), {}).get("type_config", {})]
    return out


@pytest.mark.parametrize("path", ["home.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))])
def test_every_table_prints_its_numbers_by_a_rule(path: str) -> None:
    """No table shows a float with all its digits ('13.3195' for a percentage): each numeric column's header
    names a quantity (costmodel/units.py decides its digits) or holds whole numbers. Design space shows its
    tables once a sweep ran (tests/test_sweep_page.py checks them)."""
    app = AppTest.from_file(str(ROOT / path), default_timeout=240).run()
    assert not app.exception, [e.value for e in app.exception]
    assert unformatted_numbers(app) == []
    assert app.dataframe or path in ("home.py", "pages/7_Design_space.py"), "the page shows its tables"
