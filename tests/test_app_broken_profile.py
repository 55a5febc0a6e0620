"""A profile file in data/profiles that does not load is one st.error line naming it, not a traceback (issue 9:
operators drop profiles there; a bad one must not take every page down with a stack trace)."""
from __future__ import annotations

import shutil
from pathlib import Path

from streamlit.testing.v1 import AppTest

from costmodel.latency import profiles

ROOT = Path(__file__).resolve().parents[1]


def test_a_broken_profile_file_is_one_error_line(tmp_path, monkeypatch):
    for shipped in profiles.PROFILE_DIR.glob("*.json"):
        shutil.copy(shipped, tmp_path / shipped.name)
    (tmp_path / "broken.json").write_text('{"schema_version": 2, "name": "broken"', encoding="utf-8")
    monkeypatch.setattr(profiles, "PROFILE_DIR", tmp_path)
    app = AppTest.from_file(str(ROOT / "pages/4_Model_zoo.py"), default_timeout=240)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.error) == 1 and "broken.json" in app.error[0].value and "\n" not in app.error[0].value
