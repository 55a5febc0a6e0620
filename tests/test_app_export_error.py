"""A figure export that cannot work on this server (no Chromium: export's own CostModelError) is one st.error
line where the SVG/PDF/PNG buttons would be, never a traceback or a button that fails when clicked; tables keep
their CSV/LaTeX buttons, which need no browser."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from costmodel.viz import export

ROOT = Path(__file__).resolve().parents[1]


def download_labels(app: AppTest) -> list[str]:
    return [element.proto.label for element in app.get("download_button")]


@pytest.fixture()
def no_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    """This server has no browser for kaleido (as on a machine without `apt-get install chromium`)."""
    monkeypatch.setattr(export, "browser_path", lambda: None)
    monkeypatch.setattr(export, "_server_started", False)


def test_without_chromium_each_chart_shows_one_error_line(no_chromium: None) -> None:
    app = AppTest.from_file(str(ROOT / "pages" / "6_Your_model.py"), default_timeout=240)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    charts = app.get("plotly_chart")
    assert charts, "the A/B comparison draws a chart"
    errors = [e.value for e in app.error]
    assert len(errors) == len(charts)
    for message in errors:
        assert message.startswith("figure export needs Chromium, which was not found - ")
        assert "\n" not in message
    labels = download_labels(app)
    assert not {"SVG", "PDF", "PNG"} & set(labels)
    assert {"CSV", "LaTeX"} <= set(labels)


def test_with_chromium_every_chart_has_its_buttons() -> None:
    if export.browser_path() is None:
        pytest.skip("needs Chromium: apt-get install -y chromium")
    app = AppTest.from_file(str(ROOT / "pages" / "6_Your_model.py"), default_timeout=240)
    app.run()
    assert not app.exception and not app.error
    labels = download_labels(app)
    assert labels.count("SVG") == labels.count("PDF") == labels.count("PNG") == len(app.get("plotly_chart"))
