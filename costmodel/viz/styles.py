"""Venue presets: one figure drawn for the page it goes on (docs/readme/figures.md lists them).

A preset fixes the printed width, aspect, font family and sizes (points at print size), line widths and marker
sizes; `apply(fig, preset)` returns a copy laid out for it: titles and panel titles wrapped to fit, margins and
panel gaps sized from the estimated text boxes (so nothing is clipped or collides), legend below the plot, and
marker labels that would overlap left to the legend. Sizes are in CSS pixels at 96 px/in, as kaleido renders
them: a PDF page is width/96 in, a PNG is width x dpi/96 pixels.
"""
from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from costmodel.errors import CostModelError

PX_PER_IN = 96
PX_PER_PT = PX_PER_IN / 72
CHAR_WIDTH = 0.6  # estimated advance of one character, in font sizes (wide enough for Liberation Sans/Serif)
LINE_HEIGHT = 1.3  # one line of text, in font sizes
SERIF = "Liberation Serif, Times New Roman, Times, serif"  # Times metrics (fonts-liberation)
SANS = "Liberation Sans, Helvetica, Arial, sans-serif"  # Helvetica/Arial metrics (fonts-liberation)


@dataclass(frozen=True)
class Preset:
    """A figure size and type for one venue; points are at print size."""
    name: str
    label: str
    width_in: float
    aspect: float  # height / width of a one-row figure
    font: str
    font_pt: float  # axis titles, legend, panel titles
    tick_pt: float
    title_pt: float
    line_pt: float  # data lines
    marker_pt: float  # a default marker's diameter
    dpi: int = 300
    max_columns: int = 3  # panels per row before a figure wraps to the next row

    @property
    def width(self) -> int:
        return round(self.width_in * PX_PER_IN)

    def height(self, rows: int = 1, aspect: float | None = None) -> int:
        """Height in px of a figure with `rows` rows of panels (extra rows a little flatter than the first) or
        with its own `aspect` (a tall op graph)."""
        ratio = aspect if aspect is not None else self.aspect * (1 + 0.75 * (rows - 1))
        return round(self.width * ratio)

    def px(self, points: float) -> float:
        return points * PX_PER_PT

    @property
    def scale(self) -> float:
        """Marker and line scale relative to the screen look (13 px type)."""
        return self.px(self.font_pt) / 13


def _paper(name: str, label: str, width_in: float, font: str, *, double: bool) -> Preset:
    return Preset(name, label, width_in, 0.62 if double else 0.78, font, 8, 7, 9, 1.0, 4.5,
                  max_columns=3 if double else 2 if width_in >= 3 else 1)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    _paper("cvpr-single", "CVPR / ICCV single column (3.25 in, Times)", 3.25, SERIF, double=False),
    _paper("cvpr-double", "CVPR / ICCV double column (6.875 in, Times)", 6.875, SERIF, double=True),
    _paper("eccv-single", "ECCV (LNCS) half text width (2.35 in, serif)", 2.35, SERIF, double=False),
    _paper("eccv-double", "ECCV (LNCS) full text width (4.8 in, serif)", 4.8, SERIF, double=True),
    _paper("neurips-single", "NeurIPS / ICLR half text width (2.65 in, Times)", 2.65, SERIF, double=False),
    _paper("neurips-double", "NeurIPS / ICLR full text width (5.5 in, Times)", 5.5, SERIF, double=True),
    _paper("icml-single", "ICML single column (3.25 in, Times)", 3.25, SERIF, double=False),
    _paper("icml-double", "ICML double column (6.75 in, Times)", 6.75, SERIF, double=True),
    _paper("ieee-single", "IEEE single column (3.5 in, Times)", 3.5, SERIF, double=False),
    _paper("ieee-double", "IEEE double column (7.16 in, Times)", 7.16, SERIF, double=True),
    Preset("poster", "Poster (12 in wide, 24 pt sans)", 12.0, 0.6, SANS, 24, 20, 28, 3.0, 12, dpi=150),
    Preset("slides", "Slides 16:9 (10 in wide, 16 pt sans)", 10.0, 0.5625, SANS, 16, 14, 20, 2.0, 8, dpi=150),
)}
DEFAULT = "cvpr-double"


def preset(name: str) -> Preset:
    """The preset called `name`, or a one-line error listing them."""
    if name not in PRESETS:
        raise CostModelError(f"no figure style named '{name}'", f"use one of {', '.join(PRESETS)}")
    return PRESETS[name]


# ---------------------------------------------------------------- text estimates
def lines_of(text: str | None) -> list[str]:
    """The visible lines of a plotly text (split at <br>, tags removed)."""
    return [re.sub(r"<[^>]+>", "", line) for line in re.split(r"<br\s*/?>", text or "")] if text else []


def text_width(text: str | None, size: float) -> float:
    return max((len(line) for line in lines_of(text)), default=0) * CHAR_WIDTH * size


def text_height(text: str | None, size: float) -> float:
    return len(lines_of(text)) * LINE_HEIGHT * size


def wrap(text: str | None, width: float, size: float) -> str | None:
    """`text` with <br> inserted between words so no line is wider than `width` px at font `size`."""
    if not text:
        return text
    limit = max(1, int(width / (CHAR_WIDTH * size)))
    out = []
    for line in lines_of(text):
        current = ""
        for word in re.sub(r"(?<=\w)\(", " (", line).split(" ") if len(line) > limit else line.split(" "):
            if current and len(current) + 1 + len(word) > limit:
                out.append(current)
                current = word
            else:
                current = f"{current} {word}" if current else word
        out.append(current)
    return "<br>".join(out)


# ---------------------------------------------------------------- layout
@dataclass
class _Axis:
    name: str  # "xaxis", "yaxis2", ...
    domain: tuple[float, float]
    visible: bool
    title: str | None
    tick_chars: int
    tick_lines: int
    angle: float


def _axes(fig: go.Figure, letter: str) -> list[_Axis]:
    layout = fig.layout.to_plotly_json()
    out = []
    for key in sorted((k for k in layout if re.fullmatch(f"{letter}axis\\d*", k)), key=lambda k: int(k[5:] or 1)):
        axis = layout[key]
        ref = letter + key[5:]
        labels = [str(v) for t in fig.data if (getattr(t, f"{letter}axis", None) or letter) == ref
                  for v in _values(t, letter) if isinstance(v, str)]
        labels += [str(v) for v in axis.get("ticktext") or ()]
        tick_lines = [lines_of(v) for v in labels] or [["10M"]]
        title = (axis.get("title") or {}).get("text")
        out.append(_Axis(key, tuple(axis.get("domain", (0, 1))), axis.get("visible", True) is not False, title,
                         max(max(len(s) for s in ls) for ls in tick_lines) if labels else 5,
                         max(len(ls) for ls in tick_lines), abs(axis.get("tickangle") or 0)))
    return out


def _values(trace: object, letter: str) -> list:
    """A trace's x or y values as a list (also when stored as a plotly typed array: {dtype, bdata})."""
    values = getattr(trace, letter, None)
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return [] if values is None else list(values)


def _panels(fig: go.Figure, xs: list[_Axis], ys: list[_Axis]) -> list[tuple[_Axis, _Axis]]:
    """(x axis, y axis) per panel in reading order (rows top to bottom, then left to right)."""
    by_name = {a.name: a for a in ys}
    pairs = []
    for x in xs:
        anchor = fig.layout[x.name].anchor or "y"
        y = by_name.get("yaxis" + anchor[1:]) if anchor.startswith("y") else None
        if y is not None:
            pairs.append((x, y))
    return sorted(pairs, key=lambda pair: (-pair[1].domain[1], pair[0].domain[0]))


def _tick_depth(axis: _Axis, tick: float, letter: str) -> float:
    """How far tick labels reach from the axis line, in px."""
    if not axis.visible:
        return 0.0
    width, height = axis.tick_chars * CHAR_WIDTH * tick, axis.tick_lines * LINE_HEIGHT * tick
    if letter == "y":
        return width + 6
    angle = math.radians(axis.angle)
    return width * math.sin(angle) + height * math.cos(angle) + 6


def _need(axes: Iterable[_Axis], letter: str, p: Preset) -> float:
    """Space a column (y) or row (x) of panels needs beside its plot area for tick labels and axis title."""
    axes = list(axes)
    tick, font = p.px(p.tick_pt), p.px(p.font_pt)
    depth = max((_tick_depth(a, tick, letter) for a in axes), default=0.0)
    titled = any(a.title and a.visible for a in axes)
    title = max((a.title or "" for a in axes), key=len, default="")
    # plotly sets an axis title a little more than a line below the tick labels (measured on kaleido output)
    return depth + (text_height(title, font) + 0.6 * font + 4 if titled else 0)


def _legend_items(fig: go.Figure) -> list[str]:
    """Names of the legend's entries (one per legend group)."""
    names, groups = [], set()
    for trace in fig.data:
        if trace.showlegend is False or not trace.name or (trace.legendgroup and trace.legendgroup in groups):
            continue
        groups.add(trace.legendgroup)
        names.append(trace.name)
    return names


def legend_height(names: Iterable[str], width: float, p: Preset) -> float:
    """Height of a horizontal legend that wraps its entries into rows of `width` px."""
    font = p.px(p.font_pt)
    height, used, row = 0.0, math.inf, 0.0
    for name in names:
        item = 50 * max(1.0, p.scale) + text_width(name, font)
        if used + item > width:
            height, used, row = height + row, 0.0, 0.0
        used += item
        row = max(row, text_height(name, font) + 10, 20.0)
    return height + row + (12 if row else 0)


def _panel_titles(fig: go.Figure) -> list:
    return [a for a in fig.layout.annotations if a.xref == "paper" and a.yref == "paper" and a.yanchor == "bottom"]


def _spread(count: int, length: float, gaps: list[float]) -> list[tuple[float, float]]:
    """`count` equal panels along `length` px with `gaps` between them, as (start, end) px."""
    size = (length - sum(gaps)) / count
    out, at = [], 0.0
    for i in range(count):
        out.append((at, at + size))
        at += size + (gaps[i] if i < len(gaps) else 0)
    return out


def apply(fig: go.Figure, p: Preset | str) -> go.Figure:
    """A copy of `fig` laid out for preset `p` (or its name): size, fonts, lines, markers, and margins and
    panel gaps that hold every text. Works on any figure (the app's own and other modules')."""
    p = preset(p) if isinstance(p, str) else p
    out = go.Figure(fig)
    meta = out.layout.meta if isinstance(out.layout.meta, dict) else {}
    width, height = p.width, p.height(meta.get("rows", 1), meta.get("aspect"))
    font, tick, title_size = p.px(p.font_pt), p.px(p.tick_pt), p.px(p.title_pt)
    pad = max(4.0, 0.4 * font)
    _restyle_traces(out, p)
    xs, ys = _axes(out, "x"), _axes(out, "y")
    # panels reflow into at most `max_columns` per row (reading order kept)
    n_columns = max(1, min(p.max_columns, len({x.domain for x, _ in _panels(out, xs, ys)}) or 1))
    _wrap_categories(out, 0.4 * width / n_columns, tick)
    xs, ys = _axes(out, "x"), _axes(out, "y")
    panel_w = (width - 2 * pad) / n_columns - _need(ys, "y", p)  # a panel's plot width, about
    for axis in xs:
        out.layout[axis.name].title.text = wrap(axis.title, panel_w, font)
    for axis in ys:
        out.layout[axis.name].title.text = wrap(axis.title, 0.5 * p.height(), font)
    for trace in out.data:  # a legend entry never wider than the figure
        trace.name = wrap(trace.name, width - 2 * pad - 50 * max(1.0, p.scale), font)
    xs, ys = _axes(out, "x"), _axes(out, "y")
    pairs = _panels(out, xs, ys)
    for x in xs:  # category labels upright if they fit side by side, slanted if slanted lines clear, else vertical
        count = len({v for t in out.data if (t.xaxis or "x") == "x" + x.name[5:] for v in _values(t, "x")})
        spacing = panel_w / max(1, count)
        label = (x.tick_chars + 1) * CHAR_WIDTH * tick
        if x.angle and count:
            if label < spacing:
                x.angle = 0
            elif spacing * math.sin(math.radians(x.angle)) < 1.2 * LINE_HEIGHT * tick * x.tick_lines or \
                    label * math.cos(math.radians(x.angle)) > 0.25 * width / n_columns:
                x.angle = 90
            out.layout[x.name].tickangle = -x.angle
    grid = [pairs[i:i + n_columns] for i in range(0, len(pairs), n_columns)] or [[]]
    old_rows = len({y.domain for _, y in pairs}) or 1
    height = p.height(len(grid), meta.get("aspect")) if len(grid) > old_rows or "aspect" in meta else \
        p.height(meta.get("rows", len(grid)))

    title = wrap(out.layout.title.text, width - 2 * pad, title_size)
    titles = _panel_titles(out)
    for annotation in titles:
        annotation.text = wrap(annotation.text, panel_w, font)
    panel_h = max((text_height(a.text, font) for a in titles), default=0.0) + (4 if titles else 0)

    column_need = [_need((row[j][1] for row in grid if j < len(row)), "y", p) for j in range(n_columns)]
    row_need = [_need((x for x, _ in row), "x", p) for row in grid]
    last_x = [x for row in grid for x, _ in row[-1:] if x.visible]
    lean = [max((math.cos(math.radians(row[j][0].angle)) * row[j][0].tick_chars * CHAR_WIDTH * tick + 6
                 for row in grid if j < len(row) and row[j][0].angle), default=0.0) for j in range(n_columns)]
    column_need = [max(need, slant) for need, slant in zip(column_need, lean)]
    left = pad + column_need[0]
    # a number label centred on the last tick pokes out by half its width (categories sit inside the panel)
    right = pad + max((0.5 * 6 * CHAR_WIDTH * tick for x in last_x if not x.angle), default=0.0)
    top = pad + (text_height(title, title_size) + title_size + pad if title else 0) + panel_h + \
        0.5 * LINE_HEIGHT * tick
    show_legend = out.layout.showlegend is not False  # plotly wraps a horizontal legend at the plot's width
    legend_h = legend_height(_legend_items(out), width - left - right, p) if show_legend else 0.0
    bottom = pad + legend_h + row_need[-1]
    x_gaps = [need + 2 * pad for need in column_need[1:]]
    y_gaps = [need + panel_h + 2 * pad for need in row_need[:-1]]
    # taller than the preset's aspect only when the panels would otherwise be squeezed below a third of it
    # and tall enough that stacked category labels (horizontal bars) never overlap
    stacked = max((len({v for t in out.data if (t.yaxis or "y") == "y" + y.name[5:] for v in _values(t, "y")
                        if isinstance(v, str)}) * y.tick_lines * LINE_HEIGHT * tick * 1.1 for y in ys), default=0.0)
    height = max(height, round(top + bottom + sum(y_gaps) + len(grid) * max(p.height() / 3, stacked)))
    plot_w, plot_h = width - left - right, height - top - bottom
    if plot_w - sum(x_gaps) < 30 * n_columns:
        raise CostModelError(f"this figure does not fit style '{p.name}' ({width} x {height} px)",
                             "use a wider style (a double-column, poster or slides preset)")
    spans_x = _spread(n_columns, plot_w, x_gaps)
    spans_y = _spread(len(grid), plot_h, y_gaps)
    old_tops = {}
    for r, row in enumerate(grid):
        for c, (x, y) in enumerate(row):
            new_x = (_unit(spans_x[c][0] / plot_w), _unit(spans_x[c][1] / plot_w))
            new_y = (_unit(1 - spans_y[r][1] / plot_h), _unit(1 - spans_y[r][0] / plot_h))
            old_tops[(round((x.domain[0] + x.domain[1]) / 2, 6), round(y.domain[1], 6))] = new_x, new_y
            out.layout[x.name].domain, out.layout[y.name].domain = new_x, new_y
    for annotation in titles:  # back on top of their (moved) panels
        key = min(old_tops, key=lambda k: abs(k[0] - annotation.x) + abs(k[1] - annotation.y))
        new_x, new_y = old_tops[key]
        annotation.update(x=sum(new_x) / 2, y=new_y[1], yshift=0.5 * LINE_HEIGHT * tick, font_size=font)
    line = 0.75 * p.px(p.line_pt)
    out.update_layout(
        width=width, height=height, font=dict(family=p.font, size=font, color="black"),
        paper_bgcolor="white", plot_bgcolor="white",
        margin=dict(l=left, r=right, t=top, b=bottom, pad=0, autoexpand=False),
        # a multi-line title's lines carry absolute y (its 0.7em drop is lost): anchor one ascent lower
        title=dict(text=title, x=pad / width, xanchor="left", xref="container", y=1 - (pad + title_size) / height,
                   yanchor="top",
                   yref="container", font=dict(size=title_size, family=p.font), automargin=False),
        showlegend=show_legend,
        legend=dict(orientation="h", xref="container", x=pad / width, xanchor="left", yref="container",
                    y=pad / height, yanchor="bottom", font=dict(size=font), title_text=""),
        hoverlabel=dict(font_size=font))
    axis_style = dict(tickfont_size=tick, title_font_size=font, linewidth=line, tickwidth=line, ticklen=0.4 * tick,
                      automargin=False, title_standoff=0.4 * font)
    out.update_xaxes(**axis_style)
    out.update_yaxes(**axis_style)
    _leave_colliding_labels_to_legend(out, (plot_w, plot_h), p)
    _drop_bar_texts_that_do_not_fit(out, plot_h, tick)
    return out


def _wrap_categories(fig: go.Figure, width: float, size: float) -> None:
    """Text categories on y axes (horizontal bars) wrapped to `width` px, so long model names leave room for
    the bars."""
    for trace in fig.data:
        values = _values(trace, "y")
        if values and all(isinstance(v, str) for v in values):
            trace.y = [wrap(v, width, size) for v in values]


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def _restyle_traces(fig: go.Figure, p: Preset) -> None:
    """Line widths and marker sizes for the preset, keeping each trace's size relative to the screen look."""
    for trace in fig.data:
        if isinstance(trace, go.Scatter):
            trace.line.width = (trace.line.width or 2) * p.px(p.line_pt) / 2
            size = trace.marker.size
            if size is not None:
                trace.marker.size = [s * p.scale for s in size] if isinstance(size, (list, tuple)) else size * p.scale
            else:
                trace.marker.size = p.px(p.marker_pt)
            if trace.textfont.size:
                trace.textfont.size = p.px(p.tick_pt)
        if trace.marker.line.width:
            trace.marker.line.width = trace.marker.line.width * p.scale


def _leave_colliding_labels_to_legend(fig: go.Figure, plot: tuple[float, float], p: Preset) -> None:
    """Marker labels (mode 'text') are dropped when any two estimated boxes in a panel overlap or one leaves
    its panel (or the axes have no fixed range to tell): the legend and hover still name every mark."""
    labelled = [t for t in fig.data if isinstance(t, go.Scatter) and "text" in (t.mode or "") and t.text]
    panels: dict[tuple, list[tuple]] = {}
    fits = True
    for trace in labelled:
        x_axis = fig.layout["xaxis" + (trace.xaxis or "x")[1:]]
        y_axis = fig.layout["yaxis" + (trace.yaxis or "y")[1:]]
        if x_axis.range is None or y_axis.range is None:
            fits = False
            break
        width = plot[0] * (x_axis.domain[1] - x_axis.domain[0])
        boxes = _label_boxes(trace, x_axis, y_axis, plot, p)
        fits &= all(b[0] >= 0 and b[2] <= width for b in boxes)
        panels.setdefault((trace.xaxis, trace.yaxis), []).extend(boxes)
    fits = fits and not any(_overlap(a, b) > 0 for boxes in panels.values()
                            for i, a in enumerate(boxes) for b in boxes[i + 1:])
    if not fits:
        for trace in labelled:
            trace.mode = "+".join(m for m in trace.mode.split("+") if m != "text") or "markers"


def _drop_bar_texts_that_do_not_fit(fig: go.Figure, plot_h: float, size: float) -> None:
    """In-bar labels of horizontal bars thinner than a line of text are dropped (the hover keeps them)."""
    for trace in fig.data:
        if isinstance(trace, go.Bar) and trace.text is not None and trace.orientation == "h":
            domain = fig.layout["yaxis" + (trace.yaxis or "y")[1:]].domain
            bars = max(1, len(_values(trace, "y")))
            if plot_h * (domain[1] - domain[0]) / bars * 0.8 < LINE_HEIGHT * size:
                trace.text = None


def _label_boxes(trace: go.Scatter, x_axis, y_axis, plot: tuple[float, float], p: Preset) -> list[tuple]:
    """Boxes (x0, y0, x1, y1) in panel px of labels drawn 'middle right' of their markers."""
    w = plot[0] * (x_axis.domain[1] - x_axis.domain[0])
    h = plot[1] * (y_axis.domain[1] - y_axis.domain[0])
    (x0, x1), (y0, y1) = x_axis.range, y_axis.range
    size = trace.textfont.size or p.px(p.tick_pt)
    boxes = []
    for x, y, text in zip(_values(trace, "x"), _values(trace, "y"), trace.text):
        px, py = (x - x0) / (x1 - x0) * w, (y - y0) / (y1 - y0) * h
        boxes.append((px + 6, py - size * 0.65, px + 6 + text_width(text, size), py + size * 0.65))
    return boxes


def _overlap(a: tuple, b: tuple) -> float:
    """Overlap area of two boxes (x0, y0, x1, y1)."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
