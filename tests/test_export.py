"""Publication export: figures render to valid SVG/PDF/PNG at a venue preset's size through kaleido + Chromium,
tables to CSV (full precision) and booktabs LaTeX (numbers by costmodel/units.py), and `python -m costmodel
export` writes every named figure with clean exit codes. Layout at every preset: tests/test_figures_layout.py."""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from costmodel import CostModelError
from costmodel.viz import export, styles
from costmodel.viz.catalog import RECIPES, guideline_choice
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
def test_figures_render_at_the_default_preset_size(fmt: str) -> None:
    data = export.figure_bytes(small_figure(), fmt)
    check_format(data, fmt)
    preset = styles.PRESETS[styles.DEFAULT]
    width, height = 6.875 * 96, round(6.875 * 96 * preset.aspect)  # CVPR double column: 6.875 in of text width
    if fmt == "png":
        assert png_size(data) == pytest.approx((width * 300 / 96, height * 300 / 96), abs=1)
    if fmt == "svg":
        assert f'width="{width:g}"'.encode() in data[:300] and f'height="{height}"'.encode() in data[:300]


def test_preset_fixes_size_and_print_fonts_without_touching_the_original() -> None:
    fig = small_figure()
    paper = styles.apply(fig, "ieee-single")
    assert paper.layout.width == round(3.5 * 96)  # IEEE column: 3.5 in
    assert paper.layout.font.size == pytest.approx(8 * 96 / 72)  # 8 pt at print size
    assert "Serif" in paper.layout.font.family and paper.layout.paper_bgcolor == "white"
    assert styles.apply(fig, "slides").layout.font.family.startswith("Liberation Sans")
    assert fig.layout.width is None and fig.layout.font.size is None


def test_unknown_style_is_a_user_error() -> None:
    with pytest.raises(CostModelError, match="cvpr-single"):
        styles.preset("cvpr-triple")


def test_unknown_format_is_a_user_error() -> None:
    with pytest.raises(CostModelError):
        export.figure_bytes(small_figure(), "eps")
    with pytest.raises(CostModelError):
        export.format_of("figure.doc")
    assert export.format_of("a.PDF") == "pdf" and export.format_of("a.bin", "png") == "png"


def test_latex_is_booktabs_with_escaped_text_and_aligned_numbers() -> None:
    frame = pd.DataFrame({"model": ["a_b & c", "50%"], "FLOPs (M multiply-adds)": [146.0392, 1027.6045],
                          "latency (ms)": [0.01086, 0.0234], "kernels": [12, 1500]})
    latex = export.table_latex(frame, caption="Costs_1", label="tab:costs")
    lines = latex.splitlines()
    assert lines.index(r"\toprule") < lines.index(r"\midrule") < lines.index(r"\bottomrule")
    assert r"\begin{tabular}{lrrr}" in lines and r"\caption{Costs\_1}" in lines and r"\label{tab:costs}" in lines
    assert r"model & FLOPs (M multiply-adds) & latency (ms) & kernels \\" in lines  # units in the header
    # FLOPs: 3 significant digits of the median (the upper of two: 1028 M) -> no decimals; ms: 0.0234 -> 4
    assert r"a\_b \& c & 146 & 0.0109 & 12 \\" in lines
    assert r"50\% & 1{,}028 & 0.0234 & 1{,}500 \\" in lines  # thousands grouped in every number column
    assert latex.count(r" \\") == 1 + len(frame)


def test_latex_writes_a_missing_whole_number_as_a_dash() -> None:
    """Counts that some rows lack (a profile's thread count, its unseen networks) are nullable integers."""
    frame = pd.DataFrame({"profile": ["cpu", "gpu"], "threads": pd.array([2, None], dtype="Int64")})
    lines = export.table_latex(frame, caption="Profiles", label="tab:p").splitlines()
    assert r"cpu & 2 \\" in lines and r"gpu & -- \\" in lines


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (texlive-latex-base + "
                                                                "texlive-latex-recommended for booktabs)")
def test_latex_table_compiles(tmp_path: Path) -> None:
    frame = pd.DataFrame({"model": ["ShuffleNet V2 1.0x", "x_y & z"], "FLOPs (M multiply-adds)": [146.0, 300.5],
                          "published top-1 (%)": [69.4, 72.0]})
    body = export.table_latex(frame, caption="Costs", label="tab:costs")
    (tmp_path / "t.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + body +
                                    "\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:]


def test_guideline_figures_mark_yours_only_when_set() -> None:
    defaults = RECIPES["g2"].resolve({})
    assert guideline_choice(2, defaults) is None and guideline_choice(4, RECIPES["g4"].resolve({})) is None
    assert guideline_choice(2, RECIPES["g2"].resolve({"g": "16"})) == 16
    assert guideline_choice(4, RECIPES["g4"].resolve({"relu": "false"})) == (False, True)


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
    argv = ["export", figure, "--out", str(out), "--device", DEVICE, "--style", "ieee-single"]
    assert main([*argv, *(a for p in params for a in ("-p", p))]) == 0
    check_format(out.read_bytes(), fmt)


@pytest.mark.parametrize("argv", [
    ["export", "g1", "--out", "x.svg", "-p", "ratio=0.1"],  # out of range
    ["export", "g1", "--out", "x.svg", "-p", "colour=red"],  # unknown parameter
    ["export", "g1", "--out", "x.docx"],  # unknown format
    ["export", "g1"],  # no --out
    ["export", "g1", "--out", "x.svg", "--device", "no_such_device"],
    ["export", "blocks", "--out", "x.svg", "-p", "channels=250"],  # not a multiple of 4g
    ["export", "g1", "--out", "x.svg", "--style", "a4"],  # unknown style
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
    assert all(f"{name}  - " in out for name in styles.PRESETS)


def test_guideline_figure_uses_human_names_and_explains_the_diamonds() -> None:
    """The issue's `export g2`: MAC lines by channels (not 'gpu_x1'), devices by hardware, published speeds in the
    legend, no 'yours' when nothing was set."""
    from costmodel.viz.catalog import guideline_figure
    rows = [{"setting": f"g={g}", "yours": False, "column": column, "config": f"g={g}, c={c}", "mac_bytes": 1e7 * g,
             "lower_bound_bytes": float("nan"), "device": device, "unit": "images/s", "batch": 1,
             "predicted": 100.0 / g, "published": 90.0 / g}
            for column, c, device in (("gpu_x1", 128, "gtx1080ti"), ("cpu_x1", 64, "snapdragon810")) for g in (1, 2)]
    fig = guideline_figure(2, pd.DataFrame(rows), {"gtx1080ti": "GTX 1080 Ti (paper)",
                                                   "snapdragon810": "Snapdragon 810 (paper)"})
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend == ["MAC, c = 128 (GPU columns)", "MAC, c = 64 (CPU columns)", "predicted (model)",
                      "published (Table 2)"]
    assert [a.text.split("<br>")[0] for a in fig.layout.annotations] == ["MAC (bytes)", "GTX 1080 Ti (paper)",
                                                                          "Snapdragon 810 (paper)"]
    assert not any("yours" in str(v) for t in fig.data for v in (t.x if t.x is not None else ()))


def test_device_names_are_the_hardware_and_where_the_numbers_come_from() -> None:
    from costmodel.viz.labels import at_batch, channels_label, chip_label, display_name
    assert display_name("gtx1080ti") == "GTX 1080 Ti (paper)"  # the example
    assert display_name("snapdragon810") == "Snapdragon 810 (paper)"
    assert display_name("my_uploaded_cpu") == "my_uploaded_cpu"  # not a shipped profile: the user's own name
    assert chip_label("h200_b8") == "H200, batch 8" and chip_label("amd_epyc_2t") == "AMD EPYC, 2 threads"
    assert at_batch("gtx1080ti", 32, "batches/s") == "GTX 1080 Ti (paper), batches/s, batch 32"
    assert at_batch("my_uploaded_cpu", 1) == "my_uploaded_cpu, batch 1"
    assert channels_label("c1=128, c2=128") == "c = 128" and channels_label("g=8, c=360") == "c = 360"
