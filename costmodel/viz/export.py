"""Publication export: figures as SVG/PDF/PNG through kaleido + Chromium, tables as CSV and LaTeX (booktabs).

Why one long-lived kaleido server: each one-shot export starts a browser (~2 s); the server keeps one running
(~0.1 s per image). Its queue is not safe for concurrent callers (Streamlit runs sessions in threads), so
every call holds a lock.
"""
from __future__ import annotations

import threading
from pathlib import Path

import kaleido
import pandas as pd
import plotly.graph_objects as go
from choreographer.browsers.chromium import Chromium

from costmodel.errors import CostModelError

MIME = {"svg": "image/svg+xml", "pdf": "application/pdf", "png": "image/png"}
FIGURE_FORMATS = tuple(MIME)
# One double-column paper figure: 720 x 432 px = 7.5 x 4.5 in at 96 px/in; PNG at 3x is ~290 dpi at that size.
PAPER_SIZE = (720, 432)
PNG_SCALE = 3
PAPER_FONT = dict(family="Helvetica, Arial, sans-serif", size=13, color="black")

_LOCK = threading.Lock()
_server_started = False
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def paper_figure(fig: go.Figure, size: tuple[int, int] = PAPER_SIZE) -> go.Figure:
    """A copy at a fixed size with print fonts on white: what goes into a paper, independent of the screen."""
    out = go.Figure(fig)
    width, height = fig.layout.width or size[0], fig.layout.height or size[1]
    out.update_layout(width=width, height=height, font=PAPER_FONT, paper_bgcolor="white",
                      plot_bgcolor="white", title_font_size=PAPER_FONT["size"] + 2)
    return out


def figure_bytes(fig: go.Figure, fmt: str, *, size: tuple[int, int] = PAPER_SIZE) -> bytes:
    """Render `fig` as `fmt` (svg, pdf or png) for publication."""
    if fmt not in MIME:
        raise CostModelError(f"unknown figure format '{fmt}'", f"use one of {', '.join(FIGURE_FORMATS)}")
    paper = paper_figure(fig, size)
    opts = dict(format=fmt, width=paper.layout.width, height=paper.layout.height,
                scale=PNG_SCALE if fmt == "png" else 1)
    with _LOCK:
        _start_server()
        return kaleido.calc_fig_sync(paper.to_dict(), opts=opts)


def browser_path() -> str | None:
    """The Chromium kaleido would use (BROWSER_PATH, PATH, usual places), or None."""
    return Chromium.find_browser(skip_local=False)


def _start_server() -> None:
    # Checked first: a server whose browser fails to start leaves its callers waiting forever.
    global _server_started
    if not _server_started:
        if browser_path() is None:
            raise CostModelError("figure export needs Chromium, which was not found",
                                 "apt-get install -y chromium, or set BROWSER_PATH to a Chrome binary")
        kaleido.start_sync_server(silence_warnings=True)
        _server_started = True


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The export format: given explicitly, else the file's suffix."""
    chosen = (fmt or Path(path).suffix.lstrip(".")).lower()
    if chosen not in MIME:
        raise CostModelError(f"cannot tell the figure format of '{path}'",
                             f"use --format {'|'.join(FIGURE_FORMATS)} or a file ending in one of them")
    return chosen


def write_figure(fig: go.Figure, path: str | Path, fmt: str | None = None) -> Path:
    path = Path(path)
    path.write_bytes(figure_bytes(fig, format_of(path, fmt)))
    return path


def table_csv(table: pd.DataFrame) -> str:
    """Full precision, header with units, no index: what a script reads back."""
    return table.to_csv(index=False)


def latex_escape(text: object) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def _latex_cell(value: object, digits: int) -> str:
    if isinstance(value, bool) or value is None:
        return latex_escape("" if value is None else value)
    if isinstance(value, int):
        return f"{value:,}".replace(",", "{,}")
    if isinstance(value, float):
        return "--" if pd.isna(value) else f"{value:.{digits}g}"
    return latex_escape(value)


def table_latex(table: pd.DataFrame, *, caption: str | None = None, label: str | None = None,
                digits: int = 4) -> str:
    """A booktabs table (\\toprule, \\midrule, \\bottomrule; needs \\usepackage{booktabs}); numbers right-aligned,
    floats to `digits` significant digits, text escaped."""
    align = "".join("r" if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) else "l"
                    for dtype in table.dtypes)
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(map(latex_escape, table.columns)) + r" \\",
              r"\midrule"]
    for row in table.itertuples(index=False):
        lines.append(" & ".join(_latex_cell(_python(v), digits) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def _python(value: object) -> object:
    """numpy scalars -> Python scalars, so int and float cells format as numbers."""
    return value.item() if hasattr(value, "item") else value
