"""Plotly figure builders shared by the app and `python -m costmodel export`: data in, `go.Figure` out.

Every builder is pure (no analysis, no I/O) so a page and the CLI draw the same figure from the same table, and
tests can check a figure's data. Axis titles always carry units: FLOPs are multiply-adds (MAdds), MAC is in
bytes at the report's dtype, latency is ms at the stated batch.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import networkx as nx
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from costmodel.engine.kinds import CATEGORIES
from costmodel.units import HOVER, bytes_, ms as ms_text, si
from costmodel.viz.labels import at_batch
from costmodel.viz.screen import MAIN_COLUMN_PX
from costmodel.viz.styles import text_width, wrap

# Okabe-Ito based: distinguishable with colour-blindness and in greyscale print.
KIND_COLORS = {
    "conv": "#0072B2", "group_conv": "#56B4E9", "depthwise_conv": "#009E73", "linear": "#332288",
    "pooling": "#CC79A7", "reduction": "#882255", "elementwise": "#E69F00", "data_movement": "#D55E00",
    "shuffle": "#F0E442", "view": "#BBBBBB", "other": "#777777", "unknown": "#FF0000",
}
CATEGORY_COLORS = {"Conv": "#0072B2", "Elemwise": "#E69F00", "Data": "#D55E00", "Shuffle": "#CC79A7",
                   "Other": "#999999"}
SERIES_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255")
# A second channel for every series, so grayscale prints and colour-blind readers still tell them apart.
SERIES_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "triangle-down", "cross", "star")
SERIES_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
CATEGORY_PATTERNS = {"Conv": "", "Elemwise": "/", "Data": "x", "Shuffle": ".", "Other": "\\"}
METHOD_COLORS = {"compound": "#000000", "width": "#0072B2", "depth": "#D55E00", "resolution": "#009E73"}
METHOD_DASHES = {"compound": "solid", "width": "dash", "depth": "dot", "resolution": "dashdot"}
FONT = dict(family="Helvetica, Arial, sans-serif", size=13)
_AXIS = dict(showline=True, linecolor="black", ticks="outside", mirror=False, gridcolor="#E5E5E5", zeroline=False,
             exponentformat="SI")  # 10G, as costmodel.units.si writes it (not plotly's 10B)
# On screen a figure is as wide as the page's main column (costmodel.viz.screen).
# Panels (one per device) wrap into rows of at most PANELS_PER_ROW, with gaps sized from text estimates (widths:
# costmodel.viz.styles.text_width; heights below), so each panel keeps room for its title, tick labels and axis
# titles (the venue presets re-lay figures for export).
PANELS_PER_ROW = 4
LINE_PX = 18  # one line of 13 px text
TITLE_PX = 1.4 * FONT["size"]  # plotly's title font: 1.4 times the layout font
PLOTLY_HEIGHT = 450  # px, a figure's height where it sets none
SLANT = 35  # degrees, category tick labels that do not fit upright


def color_of(index: int) -> str:
    return SERIES_COLORS[index % len(SERIES_COLORS)]


def symbol_of(index: int) -> str:
    return SERIES_SYMBOLS[index % len(SERIES_SYMBOLS)]


def dash_of(index: int) -> str:
    return SERIES_DASHES[index % len(SERIES_DASHES)]


def caption(fig: go.Figure) -> str:
    """What the figure's unlabelled marks mean (lines without a legend entry, outlines): its caption text."""
    meta = fig.layout.meta
    return meta.get("caption", "") if isinstance(meta, dict) else ""


def _meta(fig: go.Figure, **values: object) -> go.Figure:
    """Layout facts the venue presets (costmodel.viz.styles) and captions read: rows, aspect, caption."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, dict) else {}
    return fig.update_layout(meta={**meta, **values})


def within(fig: go.Figure, width: float) -> go.Figure:
    """A copy of `fig` for a chart `width` px wide on screen (one of two side by side): its title wraps to that
    width, the top margin and height grown by the extra lines, instead of running off the chart."""
    title = fig.layout.title.text
    wrapped = wrap(title, width - 30, TITLE_PX) if title else title
    extra = wrapped.count("<br>") - title.count("<br>") if title else 0  # lines it did not have
    return _grown(fig, wrapped, extra) if extra else fig


def beside(figs: Sequence[go.Figure], width: float) -> list[go.Figure]:
    """`figs` shown in a row, each `width` px wide: titles wrapped as `within` does, then every figure grown to
    the tallest title block and the tallest height, so that the plots start level and the charts end level
    (a title that wraps to two lines would otherwise push its plot below its neighbour's)."""
    wrapped = [within(fig, width) for fig in figs]
    top = max(fig.layout.margin.t for fig in wrapped)
    heights = [(fig.layout.height or PLOTLY_HEIGHT) + top - fig.layout.margin.t for fig in wrapped]
    return [_grown(fig, fig.layout.title.text, 0, top - fig.layout.margin.t, max(heights) - height)
            for fig, height in zip(wrapped, heights)]


def _grown(fig: go.Figure, title: str | None, extra_lines: int, top_px: float = 0, bottom_px: float = 0
           ) -> go.Figure:
    """A copy of `fig` with `title` (as wrapped), its top margin grown by `extra_lines` title lines plus `top_px`,
    its bottom margin by `bottom_px`, and its height by both."""
    grow = (round(1.3 * TITLE_PX * extra_lines) + 8 if extra_lines else 0) + top_px
    height = (fig.layout.height or PLOTLY_HEIGHT) + grow + bottom_px
    layout = dict(margin_t=fig.layout.margin.t + grow, margin_b=fig.layout.margin.b + bottom_px, height=height)
    if title and "<br>" in title:  # a multi-line title's lines carry absolute y (its 0.7em drop is lost)
        layout["title"] = dict(text=title, y=1 - (4 + TITLE_PX) / height)  # anchored one ascent lower
    return go.Figure(fig).update_layout(**layout)


def captioned(fig: go.Figure, text: str) -> go.Figure:
    """`fig` with `text` as its caption: what its marks without a legend entry mean (shown under the chart)."""
    return _meta(fig, caption=text)


def style(fig: go.Figure, title: str | None = None, *, height: int | None = None, legend: bool = True) -> go.Figure:
    """The lab's look: white, thin black axes, light grid, title top left, legend along the bottom; the same
    on screen and on paper."""
    panel_lines = max((a.text.count("<br>") + 1 for a in fig.layout.annotations if a.yanchor == "bottom"), default=0)
    fig.update_layout(
        template="simple_white", font=FONT,
        title=dict(text=title, x=0.01, xanchor="left", yref="container", y=0.99, yanchor="top") if title else None,
        margin=dict(l=60, r=20, t=(36 if title else 12) + 18 * panel_lines, b=40), showlegend=legend,
        height=height,
        legend=dict(orientation="h", yref="container", y=0.0, yanchor="bottom", xref="container", xanchor="left",
                    x=0.01, title_text="", traceorder="normal"),
        hoverlabel=dict(font_size=12),
    )
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS)
    fig.update_annotations(font_size=FONT["size"])  # subplot titles: no larger than the axis labels
    return fig


def _panel_grid(titles: Sequence[str], *, per_row: int = PANELS_PER_ROW, row_px: float, below_px: float,
                beside_px: float) -> tuple[go.Figure, int, float]:
    """Subplots for one panel per title (wrapped to the panel's width), in rows of at most `per_row` (empty cells
    left out), plus the number of columns and the height of the plot area in px. Between rows: `below_px` for
    the row above's tick labels and axis title, then the lines of the titles of the row below; between columns
    `beside_px` for a panel's y tick labels and axis title (at MAIN_COLUMN_PX)."""
    count = max(1, len(titles))
    cols = max(1, min(count, per_row))
    rows = math.ceil(count / cols)
    # a title may reach 20 px past its panel on either side: into the gap, or the figure's right margin
    titles = [wrap(str(t), _panel_width(cols, beside_px) + 40, FONT["size"]) for t in titles]
    title_px = LINE_PX * max((str(t).count("<br>") + 1 for t in titles), default=1)
    gap = below_px + title_px + 8
    plot_h = rows * row_px + (rows - 1) * gap
    specs = [[{} if r * cols + c < count else None for c in range(cols)] for r in range(rows)]
    fig = make_subplots(rows=rows, cols=cols, specs=specs, subplot_titles=list(titles),
                        horizontal_spacing=min(beside_px / (MAIN_COLUMN_PX - 80), 0.9 / max(1, cols - 1)),
                        vertical_spacing=gap / plot_h if rows > 1 else 0.1)
    return _meta(fig, rows=rows), cols, plot_h


def cell(index: int, cols: int) -> dict[str, int]:
    """row= and col= of the `index`-th panel of a grid `cols` wide."""
    return {"row": index // cols + 1, "col": index % cols + 1}


def _screen_height(fig: go.Figure, plot_h: float, bottom: float) -> go.Figure:
    """Height and bottom margin for a plot area `plot_h` px high (after `style`, whose top margin holds the title
    and the first row's panel titles); the title 6 px from the top however tall the figure (`style` puts it at 1%
    of the height, which in a tall figure is down among the panel titles)."""
    height = round(plot_h + fig.layout.margin.t + bottom)
    if fig.layout.title.text:
        fig.update_layout(title_y=1 - 6 / height)
    return fig.update_layout(margin_b=round(bottom), height=height)


def _legend_px(names: Sequence[str]) -> float:
    """Height of the horizontal legend along the bottom: rows of entries (a symbol and its name) at MAIN_COLUMN_PX."""
    widths = [44 + text_width(str(n), FONT["size"]) for n in names]
    rows, used = 1, 0.0
    for w in widths:
        if used and used + w > MAIN_COLUMN_PX - 20:
            rows, used = rows + 1, 0.0
        used += w
    return 22 * rows + 10 if widths else 0.0


def _category_angle(labels: Sequence[str], room: float = 55) -> tuple[int, float]:
    """(tick angle, px the labels reach below their axis) for category labels too long to stand upright side by
    side: slanted at SLANT degrees if a slanted label reaches at most `room` px left of its tick (the gap before a
    panel, the figure's left margin), else vertical, so no label runs under the neighbouring panel's."""
    longest = max((text_width(str(v), FONT["size"]) for v in labels), default=0)
    slant = math.radians(SLANT)
    if longest * math.cos(slant) <= room:
        return SLANT, longest * math.sin(slant) + LINE_PX * math.cos(slant) + 6
    return 90, longest + 6


def _panel_width(cols: int, beside_px: float) -> float:
    """The plot width of a panel of a `_panel_grid` with `cols` columns, px at MAIN_COLUMN_PX."""
    return (MAIN_COLUMN_PX - 80 - (cols - 1) * beside_px) / cols


# ---------------------------------------------------------------- op graph
def layered_positions(graph: nx.DiGraph) -> dict[str, tuple[float, float]]:
    """Nodes in rows by topological generation (inputs at top). A row is ordered by the mean x of each node's
    predecessors and centred on their mean, so chains stay straight and parallel branches side by side."""
    positions: dict[str, tuple[float, float]] = {}
    for depth, generation in enumerate(nx.topological_generations(graph)):
        centre = {}
        for node in generation:
            xs = [positions[p][0] for p in graph.predecessors(node)]
            centre[node] = sum(xs) / len(xs) if xs else 0.0
        row = sorted(generation, key=lambda n: (centre[n], graph.nodes[n].get("order", 0)))
        shift = sum(centre.values()) / len(row) if any(graph.in_degree(n) for n in row) else 0.0
        for i, node in enumerate(row):
            positions[node] = (shift + i - (len(row) - 1) / 2, -depth)
    return positions


_SHORT_KIND = {"conv": "conv", "group_conv": "gconv", "depthwise_conv": "dwconv", "linear": "fc"}


def node_label(attrs: Mapping) -> str:
    """Short label: the conv flavour with its kernel size (the op's own attribute) for convs, else the op."""
    kind = attrs.get("kind", "")
    if kind not in _SHORT_KIND:
        return str(attrs.get("op", "?"))
    kernel = attrs.get("kernel_size")
    return f"{_SHORT_KIND[kind]} {'x'.join(map(str, kernel))}" if kernel else _SHORT_KIND[kind]


def without_views(graph: nx.DiGraph) -> nx.DiGraph:
    """The graph with metadata-only views (no kernel, no memory moved) bypassed: what runs, edge for edge."""
    out = graph.copy()
    for node, attrs in graph.nodes(data=True):
        if attrs.get("kind") == "view":
            out.add_edges_from((p, s) for p in out.predecessors(node) for s in out.successors(node))
            out.remove_node(node)
    return out


def _node_hover(name: str, attrs: Mapping, ms: float | None) -> str:
    shapes_in = ", ".join("x".join(map(str, s)) for s in attrs.get("input_shapes", []))
    shapes_out = ", ".join("x".join(map(str, s)) for s in attrs.get("output_shapes", []))
    lines = [f"<b>{attrs.get('op', name)}</b> ({attrs.get('kind', '?')})", f"node: {name}",
             f"module: {attrs.get('module') or '-'}", f"in: {shapes_in or '-'}", f"out: {shapes_out or '-'}",
             f"FLOPs: {si(attrs.get('flops', 0), ' MAdds')}",
             f"MAC: {si(attrs.get('mac_elements', 0))} elements = {bytes_(attrs.get('mac_bytes', 0))}",
             f"params: {si(attrs.get('params', 0))}"]
    if ms is not None:
        lines.append(f"predicted: {ms_text(ms)}")
    return "<br>".join(lines)


def _marker_sizes(values: Sequence[float]) -> list[float]:
    """Marker area proportional to the value (sqrt on the diameter), 8-28 px."""
    top = max(values, default=0.0)
    return [8 + 20 * math.sqrt(v / top) if top > 0 else 12 for v in values]


def op_graphs(panels: Mapping[str, nx.DiGraph], *, times_ms: Mapping[str, Mapping[str, float]] | None = None,
              size_by: str = "mac", title: str | None = None) -> go.Figure:
    """Op graphs side by side (one panel per title): nodes coloured by op kind, sized by MAC bytes
    (`size_by="mac"`) or predicted ms (`size_by="time"`, needs `times_ms[title][node]`), hover with shapes and
    costs. Sizes share one scale across panels so the panels compare. Views (no kernel) are not drawn."""
    if size_by not in ("mac", "time"):
        raise ValueError(f"size_by must be 'mac' or 'time', not {size_by!r}")
    panels = {title: without_views(graph) for title, graph in panels.items()}
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=list(panels), horizontal_spacing=0.04)
    values = {t: {n: (times_ms or {}).get(t, {}).get(n, 0.0) if size_by == "time" else a["mac_bytes"]
                  for n, a in g.nodes(data=True)} for t, g in panels.items()}
    top = max((v for panel in values.values() for v in panel.values()), default=0.0)
    shown: set[str] = set()
    for col, (panel, graph) in enumerate(panels.items(), start=1):
        pos = layered_positions(graph)
        ex, ey = [], []
        for u, v in graph.edges:
            ex += [pos[u][0], pos[v][0], None]
            ey += [pos[u][1], pos[v][1], None]
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#AAAAAA", width=1), name="data edges",
                                 hoverinfo="skip", showlegend=False), row=1, col=col)
        by_kind: dict[str, list[str]] = {}
        for node, attrs in sorted(graph.nodes(data=True), key=lambda item: item[1].get("order", 0)):
            by_kind.setdefault(attrs.get("kind", "other"), []).append(node)
        for kind, nodes in by_kind.items():
            ms = (times_ms or {}).get(panel, {})
            sizes = _marker_sizes([values[panel][n] for n in nodes] + [top])[:-1]
            fig.add_trace(go.Scatter(
                x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text",
                text=[node_label(graph.nodes[n]) for n in nodes], textposition="middle right",
                textfont=dict(size=10), name=kind.replace("_", " "), legendgroup=kind, showlegend=kind not in shown,
                marker=dict(size=sizes, color=KIND_COLORS.get(kind, "#777777"), line=dict(color="black", width=0.7),
                            symbol=symbol_of(list(KIND_COLORS).index(kind) if kind in KIND_COLORS else 0)),
                hovertext=[_node_hover(n, graph.nodes[n], ms.get(n)) for n in nodes], hoverinfo="text",
            ), row=1, col=col)
            shown.add(kind)
    style(fig, title, height=max(400, 110 + 44 * max((len(nx.dag_longest_path(g)) for g in panels.values()),
                                                      default=1)))
    depth = 1
    for col, graph in enumerate(panels.values(), start=1):
        positions = layered_positions(graph).values()
        xs = [x for x, _ in positions] or [0.0]
        depth = max(depth, 1 - min((y for _, y in positions), default=0))
        fig.update_xaxes(range=[min(xs) - 0.5, max(xs) + 1.3], row=1, col=col)  # room for the labels
    fig.update_xaxes(visible=False, showgrid=False)
    fig.update_yaxes(visible=False, showgrid=False, range=[-depth + 0.5, 0.5])
    return _meta(fig, aspect=min(2.5, max(0.62, 0.15 * depth)),
                 caption="Grey lines are the data edges between ops; marker area is proportional to "
                         + ("predicted time" if size_by == "time" else "MAC bytes") + ".")


# ---------------------------------------------------------------- time breakdown (ShuffleNet V2 Figure 2)
def breakdown_bars(breakdown: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """`breakdown` (costmodel.studies.evaluate.breakdown): one row per model and device with columns model,
    device, batch, ms (the run's time), bound and device time per category (Conv, Elemwise, Data, Shuffle,
    Other). Bars show each category's share of the device time, as ShuffleNet V2 Figure 2; the labels give the
    run's time, and the GPU's work below it where the host bounds the run; hover gives each category's ms. A
    label names its model unless the title already names the only one."""
    totals = breakdown[list(CATEGORIES)].sum(axis=1)
    models = set(breakdown["model"])
    named = not (len(models) == 1 and title and str(next(iter(models))) in title)
    labels = [(f"{r.model}<br>" if named else "") + f"{at_batch(r.device, r.batch)}: {ms_text(r.ms)}"
              + (f"<br>host-bound; GPU work {ms_text(t)}" if r.bound == "host" else "")
              for r, t in zip(breakdown.itertuples(), totals)]
    if len(set(labels)) < len(labels):  # plotly would stack them on one bar, past 100%
        raise ValueError("breakdown rows repeat a model on a device: name the models apart "
                         "(costmodel.studies.evaluate.breakdown's names)")
    fig = go.Figure()
    for cat in CATEGORIES:
        share = 100 * breakdown[cat] / totals.where(totals > 0)
        fig.add_trace(go.Bar(
            y=labels, x=share, name=cat, orientation="h", marker_color=CATEGORY_COLORS[cat],
            marker_pattern=dict(shape=CATEGORY_PATTERNS[cat], fgcolor="black", fgopacity=0.5, size=6),
            text=[f"{s:.0f}%" if s >= 15 else "" for s in share.fillna(0)], textposition="inside",
            customdata=breakdown[cat],
            hovertemplate=f"{cat}: %{{x:{HOVER['percent']}}}% = %{{customdata:{HOVER['ms']}}} ms<extra></extra>"))
    fig.update_layout(barmode="stack")
    style(fig, title, height=max(280, 130 + 56 * len(labels)))
    widest = max((text_width(label, FONT["size"]) for label in labels), default=0)
    fig.update_layout(margin_l=max(60, round(widest + 12)))  # the labels' room, as ranking_bars
    fig.update_xaxes(title="share of predicted device time (%)", range=[0, 100])
    fig.update_yaxes(autorange="reversed")
    host = (" (and, where the host bounds the run, the GPU's work, which the bar splits)"
            if (breakdown["bound"] == "host").any() else "")
    return _meta(fig, aspect=min(1.2, 0.3 + 0.12 * len(labels)),
                 caption=f"Each bar is one model on one device; its label gives the predicted time per batch{host}.")


# ---------------------------------------------------------------- guidelines G1-G4
def guideline_chart(mac: pd.DataFrame, speed: pd.DataFrame, *, title: str | None = None,
                    highlight: str | None = None, published: str = "published (paper)") -> go.Figure:
    """Left: MAC per setting, one line per channel configuration, with G1's lower bound dashed where the
    `lower_bound_bytes` column has it. Then one panel per device: predicted speed (bars) next to the published
    measurement (black diamonds, legend entry `published`), in the device's unit.

    `mac`: setting, config (a human label such as 'c = 128'), mac_bytes[, lower_bound_bytes]; `speed`: setting,
    device (a human name), unit, batch, predicted, published (NaN where the paper has none). `highlight` names
    a setting the user chose, outlined; None outlines nothing."""
    devices = list(dict.fromkeys(speed["device"]))
    titles = ["MAC (bytes)"] + [f"{d}<br>{_unit_at(speed[speed['device'] == d])}" for d in devices]
    angle, below = _category_angle(list(mac["setting"]) + list(speed["setting"]))
    fig, cols, plot_h = _panel_grid(titles, row_px=260, below_px=below, beside_px=70)
    for i, (config, rows) in enumerate(mac.groupby("config", sort=False)):
        fig.add_trace(go.Scatter(x=rows["setting"], y=rows["mac_bytes"], name=f"MAC, {config}", mode="lines+markers",
                                 marker=dict(color=color_of(i), symbol=symbol_of(i),
                                             size=[12 if s == highlight else 7 for s in rows["setting"]],
                                             line=dict(color="black", width=1)),
                                 line=dict(color=color_of(i), dash=dash_of(i)),
                                 hovertemplate=f"%{{x}}: %{{y:{HOVER['mac']}}}B<extra>MAC, {config}</extra>"),
                      **cell(0, cols))
        if "lower_bound_bytes" in rows and rows["lower_bound_bytes"].notna().any():
            fig.add_trace(go.Scatter(x=rows["setting"], y=rows["lower_bound_bytes"], mode="lines",
                                     name=f"G1 lower bound, {config}",
                                     line=dict(color=color_of(i), dash="dot", width=1),
                                     hovertemplate=f"%{{x}}: bound %{{y:{HOVER['mac']}}}B<extra></extra>"),
                          **cell(0, cols))
    for col, device in enumerate(devices, start=2):
        rows = speed[speed["device"] == device]
        unit = rows["unit"].iloc[0]
        fig.add_trace(go.Bar(x=rows["setting"], y=rows["predicted"], name="predicted (model)",
                             legendgroup="predicted", showlegend=col == 2, marker_color="#8C8C8C",
                             marker_line=_outline(rows["setting"], highlight),
                             hovertemplate=f"%{{x}}: %{{y:{HOVER['throughput']}}} {unit}<extra>predicted</extra>"),
                      **cell(col - 1, cols))
        if rows["published"].notna().any():
            fig.add_trace(go.Scatter(x=rows["setting"], y=rows["published"], mode="markers", name=published,
                                     legendgroup="published", showlegend=True,
                                     marker=dict(symbol="diamond", size=10, color="black"),
                                     hovertemplate=f"%{{x}}: %{{y:{HOVER['throughput']}}} {unit}"
                                                   "<extra>published</extra>"),
                          **cell(col - 1, cols))
    for trace in fig.data:  # one legend entry per group, wherever the group first appears
        if trace.legendgroup == "published":
            trace.showlegend = trace is next(t for t in fig.data if t.legendgroup == "published")
    style(fig, title)
    fig.update_xaxes(type="category", tickangle=-angle)
    fig.update_yaxes(rangemode="tozero")
    _screen_height(fig, plot_h, below + _legend_px([t.name for t in fig.data if t.showlegend is not False]))
    note = " The outlined setting is yours." if highlight is not None else ""
    return _meta(fig, caption="Bars: predicted speed; black diamonds: the paper's published speed." + note)


def _unit_at(rows: pd.DataFrame) -> str:
    return f"{rows['unit'].iloc[0]}, batch {int(rows['batch'].iloc[0])}"


def _outline(settings: pd.Series, highlight: str | None) -> dict:
    return dict(color=["black" if s == highlight else "rgba(0,0,0,0)" for s in settings], width=2.5)


# ---------------------------------------------------------------- EfficientNet scaling
SCALING_METRICS = {"flops": "FLOPs (MAdds)", "params": "params", "mac_bytes": "MAC (bytes)"}


def scaling_curves(sweep: pd.DataFrame, devices: Sequence[str], *, marks: pd.DataFrame | None = None,
                   title: str | None = None, device_names: Mapping[str, str] | None = None) -> go.Figure:
    """Cost vs phi per scaling method (compound, width, depth, resolution), log y.

    `sweep`: method, phi, flops, params, mac_bytes and one `ms:<device>` column per device (ms at that
    device's batch); `device_names` gives a panel title per device key. `marks`: the official B0-B7 with the
    same columns, drawn at phi = k as open circles (they are close to, not on, the compound curve) and named
    in the legend and hover rather than by labels that would collide. `mark_x` adds the chosen phi."""
    names = device_names or {}
    metrics = [*SCALING_METRICS.items(), *((f"ms:{d}", f"{names.get(d, d)} latency (ms)") for d in devices)]
    fig, cols, plot_h = scatter_grid([m[1] for m in metrics])  # rows of at most four, no empty panels
    for i, (column, _) in enumerate(metrics):
        at = cell(i, cols)
        for j, (method, part) in enumerate(sweep.groupby("method", sort=False)):
            fig.add_trace(go.Scatter(
                x=part["phi"], y=part[column], mode="lines", name=f"{method} scaling", legendgroup=method,
                showlegend=i == 0, line=dict(color=METHOD_COLORS.get(method, color_of(j)),
                                             dash=METHOD_DASHES.get(method, dash_of(j))),
                hovertemplate="phi=%{x:.2f}: %{y:.3s}<extra>" + method + "</extra>"), **at)
        if marks is not None and len(marks):
            fig.add_trace(go.Scatter(x=marks["phi"], y=marks[column], mode="markers", text=marks["name"],
                                     showlegend=i == 0, legendgroup="official",
                                     name=f"official {marks['name'].iloc[0]}-{marks['name'].iloc[-1][-2:]} "
                                          f"(at phi = {marks['phi'].min():g}-{marks['phi'].max():g})",
                                     hovertemplate="%{text}: %{y:.3s}<extra></extra>",
                                     marker=dict(symbol="circle-open", size=9, color="black", line_width=1.5)), **at)
        fig.update_yaxes(type="log", dtick=1, **at)
        fig.update_xaxes(title_text="phi", **at)
    return _meta(scatter_layout(fig, title, plot_h), caption="Dashed vertical line: the chosen phi.")


def mark_x(fig: go.Figure, x: float) -> go.Figure:
    """Add a dashed vertical line at `x` to every panel of `fig`, in place (one layout update: cheap enough
    for a cached figure on every slider move)."""
    axes = sorted(k[len("xaxis"):] for k in fig.layout.to_plotly_json() if k.startswith("xaxis"))
    lines = [dict(type="line", xref=f"x{n}", yref=f"y{n} domain", x0=x, x1=x, y0=0, y1=1,
                  line=dict(color="#999999", dash="dash", width=1)) for n in axes]
    return fig.update_layout(shapes=[*fig.layout.shapes, *lines])


# ---------------------------------------------------------------- accuracy, latency, FLOPs scatters
def pareto_front(points: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Rows not dominated by a faster (lower x) and more accurate (higher y) row, sorted by x."""
    ordered = points.sort_values([x, y], ascending=[True, False])
    best, keep = -math.inf, []
    for index, value in zip(ordered.index, ordered[y]):
        if value > best:
            keep.append(index)
            best = value
    return ordered.loc[keep]


SCATTER_BELOW, SCATTER_BESIDE = 3 * LINE_PX + 12, 90  # px: tick labels and a two-line axis title; y ticks and title


def scatter_grid(titles: Sequence[str]) -> tuple[go.Figure, int, float]:
    """One scatter panel per title (a device), in rows of at most PANELS_PER_ROW with room for tick labels and
    two-line axis titles; also the grid's columns (for `cell`) and its plot height (for `scatter_layout`)."""
    return _panel_grid(titles, row_px=300, below_px=SCATTER_BELOW, beside_px=SCATTER_BESIDE)


def _device_scatter(points: pd.DataFrame, x: str, y: str, hover: str) -> tuple[go.Figure, list[str], int, float]:
    """One panel per device, one marker colour per family (shared legend): the base of the zoo scatters. Also
    the grid's columns and plot height (`scatter_layout`)."""
    devices = list(dict.fromkeys(points["device"]))
    fig, cols, plot_h = scatter_grid(devices)
    families = list(dict.fromkeys(points["family"]))
    for col, device in enumerate(devices, start=1):
        rows = points[points["device"] == device]
        for i, family in enumerate(families):
            part = rows[rows["family"] == family]
            fig.add_trace(go.Scatter(x=part[x], y=part[y], mode="markers", name=family, legendgroup=family,
                                     showlegend=col == 1, text=part["model"], hovertemplate=hover,
                                     marker=dict(size=9, color=color_of(i), symbol=symbol_of(i),
                                                 line=dict(color="black", width=0.5))),
                          **cell(col - 1, cols))
    return fig, devices, cols, plot_h


def scatter_layout(fig: go.Figure, title: str | None, plot_h: float) -> go.Figure:
    """`style`, then the height of a `scatter_grid` with its axis titles and legend below."""
    style(fig, title)
    return _screen_height(fig, plot_h, SCATTER_BELOW + _legend_px([t.name for t in fig.data
                                                                    if t.showlegend is not False]))


def x_title(text: str, cols: int) -> str:
    """An x axis title of a scatter grid, wrapped to its panel's width."""
    return wrap(text, _panel_width(cols, SCATTER_BESIDE), FONT["size"])


def log_ticks(values: Sequence[float] | pd.Series) -> dict[str, str]:
    """Tick settings of a log axis over `values`: labels at 1, 2 and 5 of each decade once they span one (in a
    narrow panel plotly labels every digit 1-9, which crowd); plotly's own ticks over a shorter span."""
    positive = pd.Series(values, dtype=float)
    positive = positive[positive > 0]
    return {"dtick": "D2"} if len(positive) and positive.max() >= 10 * positive.min() else {}


def y_title(text: str, height: float) -> str:
    """A single panel's y axis title, wrapped to the plot area of a figure `height` px high (long device names
    ran off its top and bottom)."""
    return wrap(text, 0.85 * (height - 90), FONT["size"])


def _batch(points: pd.DataFrame, device: str) -> int:
    return int(points.loc[points["device"] == device, "batch"].iloc[0])


def accuracy_latency(points: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Published top-1 vs predicted latency, one panel per device, Pareto front as a step line.

    `points`: model, family, device, batch, ms, top1 (%)."""
    hover = f"%{{text}}<br>%{{x:{HOVER['ms']}}} ms, top-1 %{{y:.1f}}%<extra></extra>"
    fig, devices, cols, plot_h = _device_scatter(points, "ms", "top1", hover)
    for col, device in enumerate(devices, start=1):
        front = pareto_front(points[points["device"] == device], "ms", "top1")
        fig.add_trace(go.Scatter(x=front["ms"], y=front["top1"], mode="lines", line=dict(shape="hv", color="black",
                                 width=1), name="Pareto front", legendgroup="front", showlegend=col == 1,
                                 hoverinfo="skip"), **cell(col - 1, cols))
        fig.update_xaxes(title_text=x_title(f"predicted latency (ms, batch {_batch(points, device)})", cols),
                         type="log", dtick=1, **cell(col - 1, cols))
        if (col - 1) % cols == 0:  # the first panel of each row
            fig.update_yaxes(title_text="published top-1 (%)", **cell(col - 1, cols))
    return scatter_layout(fig, title, plot_h)


def flops_latency(points: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """"Same FLOPs, different speed": FLOPs vs predicted latency, one panel per device, colour by family.

    `points`: model, family, device, batch, flops, ms."""
    hover = f"%{{text}}<br>%{{x:{HOVER['flops']}}} MAdds, %{{y:{HOVER['ms']}}} ms<extra></extra>"
    fig, devices, cols, plot_h = _device_scatter(points, "flops", "ms", hover)
    for col, device in enumerate(devices, start=1):
        fig.update_xaxes(title_text=x_title("FLOPs (multiply-adds)", cols), type="log", dtick=1,
                         **cell(col - 1, cols))
        fig.update_yaxes(title_text=f"predicted latency (ms, batch {_batch(points, device)})", type="log", dtick=1,
                         **cell(col - 1, cols))
    return scatter_layout(fig, title, plot_h)


def ranking_bars(ranking: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """MnasNet reward per model, one panel per device, best on top. `ranking`: device, model, reward."""
    devices = list(dict.fromkeys(ranking["device"]))
    labels = max((text_width(str(m), FONT["size"]) for m in ranking["model"]), default=0) + 12  # its model names
    per_row = max(1, min(PANELS_PER_ROW, int(MAIN_COLUMN_PX // (labels + 160))))  # and at least 160 px of bars
    fig, cols, plot_h = _panel_grid(devices, per_row=per_row, row_px=max(150, 22 * ranking["model"].nunique()),
                                    below_px=2 * LINE_PX + 12, beside_px=labels + 16)
    for col, device in enumerate(devices, start=1):
        rows = ranking[ranking["device"] == device].sort_values("reward")
        fig.add_trace(go.Bar(x=rows["reward"], y=rows["model"], orientation="h", marker_color=color_of(col - 1),
                             name="reward", showlegend=False, hovertemplate="%{y}: %{x:.3g}<extra></extra>"),
                      **cell(col - 1, cols))
        fig.update_xaxes(title_text="reward ACC x (LAT/T)^w", **cell(col - 1, cols))
    style(fig, title)
    fig.update_layout(margin_l=max(60, round(labels)))
    _screen_height(fig, plot_h, 2 * LINE_PX + 12)
    return _meta(fig, aspect=min(1.4, 0.3 + 0.035 * ranking["model"].nunique()),
                 caption="Bars: MnasNet reward per model (higher is better), one panel per device.")


# ---------------------------------------------------------------- device profiles
def roofline(ceilings: pd.DataFrame, ops: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Roofline: attainable MAdds/s vs arithmetic intensity (MAdds per byte), log-log.

    `ceilings`: label, peak (MAdds/s), bandwidth (bytes/s), one roof per row (e.g. per op kind);
    `ops`: name, kind, intensity, achieved (MAdds/s as predicted), one point per op."""
    fig = go.Figure()
    positive = ops[ops["intensity"] > 0]
    low = min([0.01, *positive["intensity"]]) / 2
    high = max([100.0, *positive["intensity"]]) * 2
    xs = [low * (high / low) ** (i / 60) for i in range(61)]
    for i, roof in enumerate(ceilings.itertuples()):
        fig.add_trace(go.Scatter(x=xs, y=[min(roof.peak, roof.bandwidth * x) for x in xs], mode="lines",
                                 name=f"roof: {roof.label}", line=dict(color=color_of(i), width=1.5, dash=dash_of(i)),
                                 hovertemplate="%{x:.3g} MAdds/B: %{y:.3s}MAdds/s<extra>" + roof.label + "</extra>"))
    for i, (kind, part) in enumerate(positive.groupby("kind", sort=False)):
        fig.add_trace(go.Scatter(x=part["intensity"], y=part["achieved"], mode="markers", name=kind.replace("_", " "),
                                 text=part["name"], marker=dict(size=7, color=KIND_COLORS.get(kind, "#777777"),
                                                                symbol=symbol_of(i),
                                                                line=dict(color="black", width=0.4)),
                                 hovertemplate="%{text}<br>%{x:.3g} MAdds/B, %{y:.3s}MAdds/s<extra></extra>"))
    style(fig, title, height=460)
    fig.update_xaxes(title_text="arithmetic intensity (MAdds per byte of MAC)", type="log", dtick=1)
    fig.update_yaxes(title_text="attained (MAdds/s)", type="log", dtick=1)
    return fig


def fit_quality(points: pd.DataFrame, *, title: str | None = None, source: str = "measured") -> go.Figure:
    """Measured (or, for `source` 'published', a paper's) vs fitted time per measurement, log-log, with y = x.
    `points`: name, kind, measured_ms, fitted_ms."""
    fig = go.Figure()
    for i, (kind, part) in enumerate(points.groupby("kind", sort=False)):
        fig.add_trace(go.Scatter(x=part["measured_ms"], y=part["fitted_ms"], mode="markers", name=str(kind),
                                 text=part["name"], marker=dict(size=7, color=KIND_COLORS.get(kind, color_of(i)),
                                                                symbol=symbol_of(i)),
                                 hovertemplate=f"%{{text}}<br>{source} %{{x:{HOVER['ms']}}} ms, "
                                               f"fitted %{{y:{HOVER['ms']}}} ms<extra></extra>"))
    values = pd.concat([points["measured_ms"], points["fitted_ms"]])
    values = values[values > 0]
    if len(values):
        span = [values.min() / 1.5, values.max() * 1.5]
        fig.add_trace(go.Scatter(x=span, y=span, mode="lines", name="y = x", line=dict(color="black", dash="dash",
                                                                                         width=1)))
    style(fig, title, height=460)
    fig.update_xaxes(title_text=f"{source} (ms)", type="log")
    fig.update_yaxes(title_text="fitted (ms)", type="log")
    return fig


def residuals_by_group(points: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Prediction error (%) per group (kernel class, or network family), every point over its box, so a user
    sees where the latency model is weak. `points`: group, name, error_pct."""
    fig = go.Figure()
    for i, (group, part) in enumerate(points.groupby("group", sort=False)):
        fig.add_trace(go.Box(y=part["error_pct"], name=str(group), text=part["name"], boxpoints="all", jitter=0.4,
                             pointpos=0, marker=dict(size=4, color=color_of(i)),
                             hovertemplate="%{text}<br>error %{y:+.1f}%<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="black", dash="dash", width=1))
    style(fig, title, height=420, legend=False)
    fig.update_yaxes(title_text="predicted / measured - 1 (%)")
    return fig
