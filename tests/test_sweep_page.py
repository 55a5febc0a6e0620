"""The Design space page in AppTest: a small sweep runs with a progress bar and its numbers are the engine's
(G1's closed-form FLOPs), the Pareto front is shown, an oversized grid is one st.error, and the scaling panel
reads a scaling sweep."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


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
    table = next(f for f in frames if "param:c1" in f and "flops" in f and "status" in f)
    ok = table[table["status"] == "complete"].sort_values("param:c1")
    assert ok["flops"].tolist() == [g1_flops(16, 8), g1_flops(32, 8)]
    assert table.loc[table["param:c1"] == 0, "status"].tolist() == ["error"]
    front = next(f for f in frames if list(f.columns[:3]) == ["device", "point", "ms"])
    assert set(front["device"]) == {"gtx1080ti"} and len(front) >= 1
    assert len(app.get("plotly_chart")) >= 2


def test_oversized_grid_is_one_error(app: AppTest) -> None:
    app.selectbox(key="ds.arch").set_value("g1_pointwise").run()
    app.text_area(key="ds.grid.g1_pointwise").set_value("c1=1:1000:1\nc2=8").run()
    assert not app.exception
    assert any("more than 200" in e.value for e in app.error)
