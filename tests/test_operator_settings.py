"""Operator settings: safe defaults, every COSTMODEL_* variable parsed with one-line errors, and the sandbox
slots make a visitor wait (with a message) when all are busy."""
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from costmodel.app.settings import OperatorSettings, from_env, sandbox_slot
from costmodel.errors import CostModelError


def test_defaults_keep_module_mode_and_the_unsafe_sandbox_off():
    settings = from_env({})
    assert settings == OperatorSettings()
    assert not settings.module_mode and not settings.unsafe_sandbox and settings.uploads


def test_every_variable_is_read():
    settings = from_env({"COSTMODEL_UPLOADS": "off", "COSTMODEL_MODULE_MODE": "yes", "COSTMODEL_MAX_SECONDS": "7.5",
                         "COSTMODEL_MAX_MEMORY_GIB": "3", "COSTMODEL_SANDBOX_RUNS": "4",
                         "COSTMODEL_MAX_UPLOAD_KIB": "64", "COSTMODEL_CACHE_DIR": "/srv/cache",
                         "COSTMODEL_CACHE_MAX_MIB": "100", "COSTMODEL_UNSAFE_SANDBOX": "1", "COSTMODEL_WARM_UP": "0"})
    assert settings == OperatorSettings(uploads=False, module_mode=True, unsafe_sandbox=True, max_seconds=7.5,
                                        max_memory_gib=3, sandbox_runs=4, max_upload_kib=64, cache_dir="/srv/cache",
                                        cache_max_mib=100, warm_up=False)
    assert settings.max_upload_bytes == 64 * 1024


@pytest.mark.parametrize(("name", "value", "words"), [
    ("SANDBOX_RUNS", "2.5", "not a whole number"), ("MAX_SECONDS", "1e9", "out of range"),
    ("MAX_MEMORY_GIB", "nan", "out of range"), ("UPLOADS", "maybe", "yes/no"), ("CACHE_DIR", " ", "empty"),
])
def test_a_bad_value_is_one_line_naming_the_variable(name, value, words):
    with pytest.raises(CostModelError) as caught:
        from_env({f"COSTMODEL_{name}": value})
    assert f"COSTMODEL_{name}" in str(caught.value) and words in str(caught.value) and "\n" not in str(caught.value)


def test_a_visitor_waits_with_a_message_while_every_slot_is_busy():
    settings = OperatorSettings(sandbox_runs=1)
    told, order = [], []

    def second() -> None:
        with sandbox_slot(settings, lambda: told.append("wait")):
            order.append("second")

    with sandbox_slot(settings, lambda: told.append("never")):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.3)
        order.append("first done")
    waiter.join(5)
    assert told == ["wait"] and order == ["first done", "second"]


@pytest.mark.parametrize("page", ["home.py", "pages/3_EfficientNet_scaling.py", "pages/4_Model_zoo.py"])
def test_a_bad_variable_is_one_line_on_the_pages_that_warm_the_cache(page, monkeypatch):
    """The background warm-up reads the settings too: its error is the page's one line, not a traceback."""
    monkeypatch.setenv("COSTMODEL_CACHE_MAX_MIB", "abc")
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / page), default_timeout=240)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("COSTMODEL_CACHE_MAX_MIB" in e.value for e in app.error)
