"""The CLI's status line (costmodel/cli/status.py): on a terminal a slow step shows what it does and the seconds
elapsed, then erases itself; pipes and logs get nothing, so an error stays one line."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from costmodel.cli import main
from costmodel.cli.status import ERASE_LINE, status
from costmodel.viz import export


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_step_and_its_seconds_then_nothing():
    screen = Terminal()
    with status("computing figure zoo...", screen, every_s=0.2):
        time.sleep(1.3)
    written = screen.getvalue()
    assert written.startswith(f"{ERASE_LINE}computing figure zoo... 0 s")
    assert "computing figure zoo... 1 s" in written
    assert written.endswith(ERASE_LINE)


def test_a_pipe_gets_nothing():
    pipe = io.StringIO()
    with status("computing figure zoo...", pipe, every_s=0.01):
        time.sleep(0.1)
    assert pipe.getvalue() == ""


def test_an_error_inside_the_step_erases_the_line():
    screen = Terminal()
    with pytest.raises(ValueError), status("computing...", screen, every_s=0.01):
        raise ValueError("bad")
    assert screen.getvalue().endswith(ERASE_LINE)


@pytest.mark.skipif(export.browser_path() is None, reason="Chromium not installed (kaleido needs it)")
def test_export_on_a_terminal_says_what_it_computes_and_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    assert main(["export", "g1", "--out", str(tmp_path / "g1.pdf"), "--device", "gtx1080ti"]) == 0
    assert "computing figure g1 on 1 device(s)... 0 s" in screen.getvalue()
    assert "rendering PDF with Chromium... 0 s" in screen.getvalue()


def test_analyze_on_a_terminal_says_it_starts_then_what_it_traces(monkeypatch: pytest.MonkeyPatch, capsys):
    """The seconds before a report (importing PyTorch, then building and tracing the model) show on a terminal;
    the report itself goes to stdout as before."""
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    assert main(["analyze", "shufflenet_v2(width=0.5)"]) == 0
    assert "starting (loading PyTorch)... 0 s" in screen.getvalue()
    assert "building and tracing shufflenet_v2(width=0.5)... 0 s" in screen.getvalue()
    assert screen.getvalue().endswith(ERASE_LINE) and "FLOPs" in capsys.readouterr().out
