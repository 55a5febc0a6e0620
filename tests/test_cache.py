"""The app's own cache: values come back equal (JSON, no pickle), a truncated entry is recomputed and rewritten,
the size cap prunes the least recently used entries, keys follow data and uploaded profiles, each thing is
computed once under concurrency, and a pickle planted in Streamlit's old disk cache is never executed."""
import json
import os
import pickle
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from costmodel.app import cache, codec
from costmodel.studies import evaluate, scaling
from costmodel.studies.evaluate import Settings, ZooModel
from costmodel.viz import figures


@pytest.fixture(scope="module")
def page_values() -> dict[str, object]:
    """Values of the kinds pages pass through ui.compute (a table, a dict, a dataclass with findings)."""
    micro = ZooModel.of("g2_groupconv", g=8, c=360)
    return {"rows": evaluate.rows([micro], Settings()), "stages": scaling.stages(1.0, scaling.Bases()),
            "point": scaling.point(0.5, scaling.Bases(), Settings(devices=("gtx1080ti",))),
            "findings": evaluate.findings(micro, "gtx1080ti", Settings())}


def test_page_values_round_trip_through_json(page_values):
    for name in ("rows", "stages"):
        pd.testing.assert_frame_equal(codec.loads(codec.dumps(page_values[name])), page_values[name])
    assert codec.loads(codec.dumps(page_values["point"])) == page_values["point"]
    assert codec.loads(codec.dumps(page_values["findings"])) == page_values["findings"]
    frame = pd.DataFrame({"shape": [(1, 3), (2, 4)], "name": ["a", None], "ms": [1.5, float("nan")]},
                         index=pd.Index(["x", "y"], name="op"))
    pd.testing.assert_frame_equal(codec.loads(codec.dumps(frame)), frame)


def test_a_figure_comes_back_as_a_fresh_copy_each_time(tmp_path):
    store = cache.ResultCache(tmp_path, 2**20)
    fig = figures.go.Figure(figures.go.Scatter(x=[1, 2], y=[3, 4]))
    store.put("k" * 64, fig)
    first, second = store.get("k" * 64)[1], store.get("k" * 64)[1]
    figures.mark_x(first, 1.5)  # pages mark the cached figure in place
    assert first is not second and len(second.layout.shapes) == 0
    assert second.to_plotly_json() == fig.to_plotly_json()


def test_a_class_outside_costmodel_is_never_built():
    planted = json.dumps({"__dataclass__": "subprocess:Popen", "fields": {"args": ["touch", "/tmp/x"]}})
    with pytest.raises(ValueError, match="outside costmodel"):
        codec.loads(planted)


def counting(value: object) -> tuple[list[int], object]:
    calls: list[int] = []
    return calls, lambda: calls.append(1) or value


def test_a_truncated_entry_is_recomputed_and_rewritten(tmp_path):
    frame = pd.DataFrame({"a": [1, 2, 3]})
    calls, compute = counting(frame)
    cache.ResultCache(tmp_path, 2**20).get_or_compute("e" * 64, compute)
    entry = next(tmp_path.glob("*/*.json"))
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    again = cache.ResultCache(tmp_path, 2**20)  # a restarted server: nothing in memory
    pd.testing.assert_frame_equal(again.get_or_compute("e" * 64, compute), frame)
    assert len(calls) == 2
    pd.testing.assert_frame_equal(codec.loads(entry.read_bytes()), frame)  # rewritten whole
    assert not list(tmp_path.glob("*/*.tmp"))


def test_entries_are_private_to_the_apps_user(tmp_path):
    cache.ResultCache(tmp_path / "c", 2**20).put("p" * 64, {"a": 1})
    entry = next((tmp_path / "c").glob("*/*.json"))
    assert (tmp_path / "c").stat().st_mode & 0o077 == 0 and entry.stat().st_mode & 0o077 == 0


def test_the_size_cap_prunes_the_least_recently_used(tmp_path):
    store = cache.ResultCache(tmp_path, 20_000)
    payload = "x" * 3000
    for i in range(5):
        store.put(f"{i:064d}", payload)
        time.sleep(0.02)
    store.get(f"{0:064d}")  # recently read: kept
    os.utime(tmp_path / "00" / f"{0:064d}.json")
    for i in range(5, 10):
        store.put(f"{i:064d}", payload)
        time.sleep(0.02)
    kept = {p.stem for p in tmp_path.glob("*/*.json")}
    assert sum(p.stat().st_size for p in tmp_path.glob("*/*.json")) <= 20_000
    assert f"{0:064d}" in kept and f"{1:064d}" not in kept and f"{9:064d}" in kept


def test_keys_follow_uploaded_profiles_and_library_versions(tmp_path):
    profile = tmp_path / "mine.json"
    profile.write_text('{"batch": 1}')
    before = cache.fingerprint([profile])
    profile.write_text('{"batch": 2}')
    assert cache.fingerprint([profile]) != before
    import torch
    assert f"torch={torch.__version__.split('+')[0]}" in cache.library_versions()
    assert cache.key("f", (Settings(),), {}, "s") == cache.key("f", (Settings(),), {}, "s")
    assert cache.key("f", (Settings(batch=4),), {}, "s") != cache.key("f", (Settings(),), {}, "s")
    assert cache.key("f", (object(),), {}, "s") is None  # no stable repr: never cached


def test_concurrent_sessions_compute_each_thing_once(tmp_path):
    store = cache.ResultCache(tmp_path, 2**20)
    calls: list[int] = []

    def slow() -> dict:
        calls.append(1)
        time.sleep(0.3)
        return {"v": 1}

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(store.get_or_compute("s" * 64, slow)))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert calls == [1] and results == [{"v": 1}] * 6


class _Planted:
    """Unpickling this writes a marker file: what a poisoned Streamlit disk cache would run in the app."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "executed"))


def test_a_pickle_planted_in_the_old_cache_location_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COSTMODEL_CACHE_DIR", str(tmp_path / "app-cache"))
    old = tmp_path / ".streamlit" / "cache"
    old.mkdir(parents=True)
    marker = tmp_path / "marker"
    for name in ("planted.memo", "0" * 32 + "-" + "0" * 32 + ".memo"):
        (old / name).write_bytes(pickle.dumps(_Planted(str(marker))))

    def page() -> None:
        import streamlit as st

        from costmodel.app import ui
        from costmodel.studies import scaling

        st.dataframe(ui.compute(scaling.stages, 1.0, scaling.Bases()))

    for _ in range(2):  # the second run is served from the cache
        app = AppTest.from_function(page, default_timeout=60).run()
        assert not app.exception and len(app.dataframe) == 1
    assert not marker.exists()
    assert sorted(p.name for p in old.iterdir()) == sorted(["planted.memo", "0" * 32 + "-" + "0" * 32 + ".memo"])
    entries = list((tmp_path / "app-cache").glob("*/*.json"))
    assert entries and all(json.loads(e.read_bytes()) for e in entries)  # plain JSON (one per code version)
