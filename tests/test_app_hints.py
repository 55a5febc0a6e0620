"""What the pages tell a user next to a number or an error: the Guidelines page's FLOPs and MAC beside the speeds
of the network they belong to, the ShuffleNet blocks page's hint for a split ratio that empties a branch, and
(in a real Chromium at 1500 x 1000 with all seven device profiles) metrics that are not cut off."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from costmodel.latency.profiles import list_profiles
from costmodel.units import si
from costmodel.viz.labels import device_label
from costmodel.zoo.spec import reference_csv
from test_app_pages import guideline_batch

ROOT = Path(__file__).resolve().parents[1]
PROFILES = list_profiles()


def run(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / page), default_timeout=300)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_guidelines_your_setting_flops_sit_beside_the_devices_that_run_that_network() -> None:
    """G1 at 1:16: GPU profiles run Table 1's GPU widths (c = 128 at x1), CPU/ARM profiles the ARM ones (c = 32).
    Each "Your setting" metric is followed by the speeds of the devices of its network, and its FLOPs are that
    network's: 10 blocks of two 1x1 convs c1 -> c2 -> c1 on 56x56, c1 = c / 4 and c2 = 16 c1."""
    app = run("pages/2_Guidelines.py")
    app.select_slider(key="ratio").set_value(16).run()
    assert not app.error, [e.value for e in app.error]
    row = next(r for r in reference_csv("shufflenetv2_table1_g1.csv") if r["c1:c2"] == "1:1")
    by_label = {f"{device_label(p)}, {p.unit}, batch {guideline_batch(p)}": p for p in PROFILES}  # hardware names
    flops, seen = None, []
    for metric in app.tabs[0].metric:
        if metric.label.startswith("Your setting"):
            flops = metric.value
            continue
        device = by_label[metric.label]
        c = int(row["gpu_c1c2_at_x1" if device.kind == "gpu" else "arm_c1c2_at_x1"].strip("()").split(",")[0])
        c1, c2 = c // 4, 16 * (c // 4)
        assert flops == si(10 * 2 * 56 * 56 * c1 * c2, "MAdds"), f"{device.name} shown beside another network"
        seen.append(device.name)
    assert sorted(seen) == sorted(p.name for p in PROFILES)


def test_blocks_split_ratio_that_empties_a_branch_names_the_fewest_channels() -> None:
    """At split ratio 0.9 a 4-channel V2 unit sends round(3.6) = 4 channels through its conv branch, none through
    the identity: 4 is even, so the hint must not ask for an even count; 6 (round(5.4) = 5) is the fewest that
    work. With V2 matched to a tiny V1 unit the search starts there instead of failing."""
    app = run("pages/1_ShuffleNet_blocks.py")
    app.slider(key="split").set_value(0.9)
    app.toggle(key="matched").set_value(False).run()
    app.number_input(key="v2_channels").set_value(4).run()
    shown = [e.value for e in app.error]
    assert len(shown) == 1 and "empty branch" in shown[0] and "at least 6 channels" in shown[0], shown
    assert "even" not in shown[0]
    app.toggle(key="matched").set_value(True)
    app.number_input(key="channels").set_value(12)
    app.select_slider(key="size").set_value(7)
    app.run()
    assert not app.error, [e.value for e in app.error]
    assert any("V2 unit (c=6, split=0.9, s=1)" in frame.value.columns for frame in app.dataframe)


# ---------------------------------------------------------------- a real browser at 1500 x 1000
CUT = """() => [...document.querySelectorAll('[data-testid=stMetric] *')]
    .filter(e => e.offsetParent && e.textContent.trim() && getComputedStyle(e).overflow != 'visible'
                 && e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent.trim())"""


@pytest.mark.browser
def test_metrics_are_not_cut_off_at_1500_px_with_every_device() -> None:
    """Home's headline, each Guidelines tab's "Your setting" row, EfficientNet's latencies and the Model zoo's best
    models: st.metric cuts a text that does not fit with an ellipsis, which shows as an element wider inside than
    its box."""
    e2e = pytest.importorskip("test_browser_e2e")
    if not e2e.CHROMIUM.exists():
        pytest.skip("needs Debian's chromium: apt-get install -y chromium")
    with e2e.serving() as (url, _), e2e.sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(e2e.CHROMIUM), args=e2e.ARGS)
        tab = browser.new_page(viewport={"width": 1500, "height": 1000})
        cut = {}
        for path in ("", "Guidelines", "EfficientNet_scaling", "Model_zoo"):
            e2e.open_page(tab, url, path)
            tabs = tab.locator("[role=tab]") if path == "Guidelines" else None
            for index in range(tabs.count() if tabs is not None else 1):
                if tabs is not None:
                    tabs.nth(index).click()
                    e2e.settle(tab)
                time.sleep(1)  # layout after the last render
                assert tab.locator("[data-testid=stMetric]:visible").count() > 0
                cut[f"{path or 'home'} {index}"] = tab.evaluate(CUT)
        browser.close()
    assert not any(cut.values()), {page: texts for page, texts in cut.items() if texts}
