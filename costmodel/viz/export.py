"""Publication export: figures as SVG/PDF/PNG through kaleido + Chromium at a venue preset's size
(costmodel/viz/styles.py), tables as CSV (full precision) and LaTeX (booktabs, numbers by costmodel/units.py).

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

from costmodel import units
from costmodel.errors import CostModelError
from costmodel.viz import styles
from costmodel.viz.tables import quantity_of

MIME = {"svg": "image/svg+xml", "pdf": "application/pdf", "png": "image/png"}
FIGURE_FORMATS = tuple(MIME)

_LOCK = threading.Lock()
_server_started = False
_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def figure_bytes(fig: go.Figure, fmt: str, *, style: str = styles.DEFAULT) -> bytes:
    """Render `fig` as `fmt` (svg, pdf or png) laid out for venue preset `style`: a PDF page and an SVG are
    the preset's size (fonts embedded, SVG text kept as text), a PNG is that size at the preset's dpi."""
    if fmt not in MIME:
        raise CostModelError(f"unknown figure format '{fmt}'", f"use one of {', '.join(FIGURE_FORMATS)}")
    preset = styles.preset(style)
    paper = styles.apply(fig, preset)
    opts = dict(format=fmt, width=paper.layout.width, height=paper.layout.height,
                scale=preset.dpi / styles.PX_PER_IN if fmt == "png" else 1)
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


def write_figure(fig: go.Figure, path: str | Path, fmt: str | None = None, *, style: str = styles.DEFAULT) -> Path:
    path = Path(path)
    path.write_bytes(figure_bytes(fig, format_of(path, fmt), style=style))
    return path


def table_csv(table: pd.DataFrame) -> str:
    """Full precision (not rounded by the display rule), header with units, no index: what a script reads back."""
    return table.to_csv(index=False)


def latex_escape(text: object) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text))


def is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _latex_column(values: pd.Series, header: str) -> list[str]:
    """One column's cells: numbers by their quantity's rule (costmodel/units.py; 4 significant digits when the
    header names no known quantity), integers with thin-space thousands, missing as '--', text escaped."""
    if not is_numeric(values):
        return [latex_escape("" if v is None else v) for v in values]
    quantity = quantity_of(header)
    if quantity is None:
        quantity = "count" if pd.api.types.is_integer_dtype(values) else "ratio"
    return units.column(quantity, values.astype("float64").tolist(), thousands="{,}")  # a missing Int64: NaN


def table_latex(table: pd.DataFrame, *, caption: str | None = None, label: str | None = None) -> str:
    """A booktabs table (\\toprule, \\midrule, \\bottomrule; needs \\usepackage{booktabs}); units in the
    headers, numbers right-aligned with the same decimals per column (so decimal points align), text escaped."""
    align = "".join("r" if is_numeric(table[c]) else "l" for c in table.columns)
    cells = [_latex_column(table[c], str(c)) for c in table.columns]
    lines = [r"\begin{table}[t]", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{latex_escape(caption)}}}")
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(map(latex_escape, table.columns)) + r" \\",
              r"\midrule"]
    lines += [" & ".join(row) + r" \\" for row in zip(*cells)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)
