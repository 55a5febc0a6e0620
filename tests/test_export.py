"""Publication export: figures render to valid SVG/PDF/PNG at the paper size through kaleido + Chromium, tables to
CSV and booktabs LaTeX, and `python -m costmodel export` writes every named figure with clean exit codes."""
from __future__ import annotations

import io
import struct
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from costmodel import CostModelError
from costmodel.viz import export
from costmodel.viz.catalog import RECIPES
from costmodel.cli import main
from costmodel.latency.profiles import profile_names

needs_chromium = pytest.mark.skipif(export.browser_path() is None, reason="Chromium not installed (kaleido needs it)")
DEVICE = profile_names()[0]


def small_figure() -> go.Figure:
    return go.Figure(go.Scatter(x=[1, 2, 3], y=[2, 1, 3], name="a"), layout=dict(title="t"))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def check_format(data: bytes, fmt: str) -> None:
    if fmt == "svg":
        assert data.lstrip()[:4] == b"<svg" and b"</svg>" in data[-200:]
    elif fmt == "pdf":
        assert data[:5] == b"%PDF-" and b"%%EOF" in data[-64:]
    else:
        png_size(data)


@needs_chromium
@pytest.mark.parametrize("fmt", export.FIGURE_FORMATS)
def test_figures_render_at_paper_size(fmt: str) -> None:
    data = export.figure_bytes(small_figure(), fmt)
    check_format(data, fmt)
    width, height = export.PAPER_SIZE
    if fmt == "png":
        assert png_size(data) == (width * export.PNG_SCALE, height * export.PNG_SCALE)
    if fmt == "svg":
        assert f'width="{width}"'.encode() in data[:300] and f'height="{height}"'.encode() in data[:300]


def test_paper_figure_fixes_size_and_fonts_without_touching_the_original() -> None:
    fig = small_figure()
    paper = export.paper_figure(fig)
    assert (paper.layout.width, paper.layout.height) == export.PAPER_SIZE
    assert paper.layout.font.size == export.PAPER_FONT["size"] and paper.layout.paper_bgcolor == "white"
    assert fig.layout.width is None


def test_unknown_format_is_a_user_error() -> None:
    with pytest.raises(CostModelError):
        export.figure_bytes(small_figure(), "eps")
    with pytest.raises(CostModelError):
        export.format_of("figure.doc")
    assert export.format_of("a.PDF") == "pdf" and export.format_of("a.bin", "png") == "png"


def test_latex_is_booktabs_with_escaped_text_and_aligned_numbers() -> None:
    frame = pd.DataFrame({"model": ["a_b & c", "50%"], "FLOPs (M)": [146.0, 1234.5678], "kernels": [12, 1500]})
    latex = export.table_latex(frame, caption="Costs_1", label="tab:costs")
    lines = latex.splitlines()
    assert lines.index(r"\toprule") < lines.index(r"\midrule") < lines.index(r"\bottomrule")
    assert r"\begin{tabular}{lrr}" in lines and r"\caption{Costs\_1}" in lines and r"\label{tab:costs}" in lines
    assert r"a\_b \& c & 146 & 12 \\" in lines
    assert r"50\% & 1235 & 1{,}500 \\" in lines
    assert latex.count(r" \\") == 1 + len(frame)


def test_csv_round_trips() -> None:
    frame = pd.DataFrame({"model": ["x", "y"], "ms": [1.25, 2.5]})
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(export.table_csv(frame))), frame)


@needs_chromium
@pytest.mark.parametrize("figure,params", [
    ("g1", ["ratio=6"]), ("g2", ["g=4", "level=1"]), ("g3", ["structure=2-fragment-parallel"]),
    ("g4", ["relu=false"]), ("blocks", ["groups=8", "channels=384"]), ("breakdown", ["stride=2"]),
    ("zoo", []), ("scaling", ["phi=2"]),
])
def test_cli_exports_every_named_figure(tmp_path: Path, figure: str, params: list[str]) -> None:
    fmt = {"g1": "pdf", "g2": "png"}.get(figure, "svg")
    out = tmp_path / f"{figure}.{fmt}"
    argv = ["export", figure, "--out", str(out), "--device", DEVICE]
    assert main([*argv, *(a for p in params for a in ("-p", p))]) == 0
    check_format(out.read_bytes(), fmt)


@pytest.mark.parametrize("argv", [
    ["export", "g1", "--out", "x.svg", "-p", "ratio=0.1"],  # out of range
    ["export", "g1", "--out", "x.svg", "-p", "colour=red"],  # unknown parameter
    ["export", "g1", "--out", "x.docx"],  # unknown format
    ["export", "g1"],  # no --out
    ["export", "g1", "--out", "x.svg", "--device", "no_such_device"],
    ["export", "blocks", "--out", "x.svg", "-p", "channels=250"],  # not a multiple of 4g
])
def test_cli_bad_input_exits_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_cli_unknown_figure_is_an_argparse_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "nope", "--out", "x.svg"])
    assert exit_info.value.code == 2


def test_cli_lists_figures(capsys: pytest.CaptureFixture) -> None:
    assert main(["export", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(f"{name}  - " in out for name in RECIPES) and "-p ratio=VALUE" in out
