"""Every figure at every venue preset: nothing clipped, nothing colliding, every mark explained, sizes exact.

What is rendered (kaleido + Chromium, one persistent server, about 0.2 s an image): every figure builder x every
preset as SVG, once per test session (module-scoped fixture), for the text-geometry checks; PNG and PDF for a
representative subset (each preset once, each figure at least once) for the pixel-edge, size and font checks.
The figures are drawn from small hand-written tables (no analysis), with names as long as the catalog's.
"""
from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import warnings
import xml.etree.ElementTree as ET

import networkx as nx
import pandas as pd
import plotly.graph_objects as go
import pytest

from costmodel.viz import design_space, export, figures, styles
from costmodel.viz.labels import device_label

pytestmark = pytest.mark.skipif(export.browser_path() is None, reason="Chromium not installed (kaleido needs it)")
DEVICES = ["AMD EPYC, 1 thread (measured)", "GTX 1080 Ti (paper)", "Snapdragon 810 (paper)"]
GLYPH = 0.55  # estimated advance of one character in font sizes (Liberation fonts average about 0.5)
SVG = "{http://www.w3.org/2000/svg}"


def _guideline() -> go.Figure:
    settings = ["ReLU yes, shortcut yes", "ReLU yes, shortcut no", "ReLU no, shortcut yes", "ReLU no, shortcut no"]
    mac = pd.DataFrame({"setting": settings * 2,
                        "config": ["c = 32 (GPU columns)"] * 4 + ["c = 64 (CPU columns)"] * 4,
                        "mac_bytes": [3.6e7, 2.4e7, 2.4e7, 1.2e7, 7e7, 5e7, 5e7, 3e7],
                        "lower_bound_bytes": [3e7, 2e7, 2e7, 1e7, 6e7, 4e7, 4e7, 2e7]})
    speed = pd.DataFrame([{"setting": s, "device": d, "unit": "batches/s" if "GTX" in d else "images/s",
                           "batch": 1, "predicted": 100 + 10 * i,
                           "published": 110 + 9 * i if "paper" in d else math.nan}
                          for d in DEVICES for i, s in enumerate(settings)])
    return figures.guideline_chart(mac, speed, title="G4: Element-wise operations are non-negligible",
                                   highlight=settings[1], published="published (Table 4)")


def _scaling(keys: tuple[str, ...] = ("amd_epyc_1t", "gtx1080ti", "snapdragon810")) -> go.Figure:
    rows = [{"method": m, "phi": phi / 2, "flops": 4e8 * 2 ** (phi / 2), "params": 5e6 * 1.4 ** (phi / 2),
             "mac_bytes": 1e8 * 1.5 ** (phi / 2),
             **{f"ms:{k}": (j + 1) * 3 * 1.6 ** (phi / 2) for j, k in enumerate(keys)}}
            for m in ("compound", "width", "depth", "resolution") for phi in range(15)]
    sweep = pd.DataFrame(rows)
    marks = sweep[(sweep["method"] == "compound") & (sweep["phi"] % 1 == 0)].assign(
        name=[f"B{k}" for k in range(8)])
    fig = figures.scaling_curves(sweep, keys, marks=marks, device_names={k: device_label(k) for k in keys},
                                 title="EfficientNet scaling: compound (alpha = 1.2, beta = 1.1, gamma = 1.15) vs one "
                                       "dimension at equal FLOPs")
    return figures.mark_x(fig, 3.0)


def _breakdown() -> go.Figure:
    models = ("V1 unit (g=3, c=240, s=1)", "V2 unit (c=138, split=0.5, s=1)")
    frame = pd.DataFrame([{"model": m, "device": d, "batch": 1, "ms": 1.0, "bound": "device", "Conv": 0.7,
                           "Elemwise": 0.1, "Data": 0.1, "Shuffle": 0.05, "Other": 0.05}
                          for m in models for d in DEVICES])
    return figures.breakdown_bars(frame, title="Where the time goes (ShuffleNet V2 Figure 2 categories)")


def _op_graphs() -> go.Figure:
    def unit(branches: int) -> nx.DiGraph:
        graph = nx.DiGraph()
        graph.add_node("x", kind="view", op="input", order=0)
        graph.add_node("cat", kind="data_movement", op="cat", mac_bytes=4e5, order=99)
        for b in range(branches):
            previous = "x"
            for step, kind in enumerate(("conv", "depthwise_conv", "conv")):
                name = f"b{b}s{step}"
                graph.add_node(name, kind=kind, op="conv2d", mac_bytes=1e5 * (step + 1), flops=1e6,
                               input_shapes=[(1, 32, 28, 28)], output_shapes=[(1, 32, 28, 28)], order=10 * b + step)
                graph.add_edge(previous, name)
                previous = name
            graph.add_edge(previous, "cat")
        return graph
    return figures.op_graphs({"V1 unit (g=3, c=240, s=1)": unit(1), "V2 unit (c=138, split=0.5, s=1)": unit(2)},
                             title="ShuffleNet V1 vs V2 unit: op graphs (node size = MAC bytes)")


def _points() -> pd.DataFrame:
    families = ["ShuffleNet V1", "ShuffleNet V2", "MobileNet V1", "MobileNet V2", "MnasNet", "EfficientNet", "ResNet"]
    return pd.DataFrame([{"model": f"{f} {i}", "family": f, "device": d, "batch": 1, "ms": (j + 1) * (i + 1) * (k + 1),
                          "top1": 60 + 2 * i + k, "flops": 1e8 * (i + 1) * (k + 1)}
                         for j, d in enumerate(DEVICES) for k, f in enumerate(families) for i in range(3)])


def _ranking() -> go.Figure:
    frame = pd.DataFrame([{"device": d, "model": f"mobilenet_v2(width={w})", "reward": 0.5 + w / 10}
                          for d in DEVICES for w in (0.5, 0.75, 1.0, 1.4)])
    return figures.ranking_bars(frame, title="MnasNet reward ACC x (LAT / 80 ms)^-0.07")


def _roofline() -> go.Figure:
    ceilings = pd.DataFrame({"label": ["conv", "depthwise conv"], "peak": [1e11, 2e10], "bandwidth": [1e10, 1e10]})
    ops = pd.DataFrame({"name": ["a", "b", "c"], "kind": ["conv", "depthwise_conv", "elementwise"],
                        "intensity": [10.0, 1.0, 0.1], "achieved": [5e10, 5e9, 5e8]})
    return figures.roofline(ceilings, ops, title="GTX 1080 Ti (paper): roofline with the predicted ops")


def _fit_quality() -> go.Figure:
    points = pd.DataFrame({"name": list("abcd"), "kind": ["conv", "conv", "elementwise", "pooling"],
                           "measured_ms": [0.1, 1.0, 0.05, 0.2], "fitted_ms": [0.12, 0.9, 0.06, 0.25]})
    return figures.fit_quality(points, title="AMD EPYC, 1 thread (measured): measured vs fitted (4.2% median error)")


SHIPPED = ["amd_epyc_1t", "amd_epyc_2t", "gtx1080ti", "h200_b1", "h200_b32", "h200_b8", "snapdragon810"]


def _sweep(keys: list[str]) -> pd.DataFrame:
    """A design-space sweep's results (costmodel/studies/sweep.py columns) with latencies on `keys`."""
    return pd.DataFrame([{"point": f"shufflenet_v2(width={w}, split_ratio={r})", "status": "complete",
                          "param:width": w, "param:split_ratio": r, "flops": 4e7 * w * w * (1 + r),
                          **{f"ms:{k}": (j + 1) * (2 + w * w * (1 + 2 * r) + r) for j, k in enumerate(keys)},
                          **{f"batch:{k}": 8 for k in keys}}
                         for w in (0.5, 0.75, 1, 1.5, 2) for r in (0.25, 0.5, 0.75)])


def _multipliers(keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """The Design space page's scaling panel's inputs: a depth x width x resolution grid (optimal_scaling's
    columns), each device's budget and the methods' picks."""
    from costmodel.studies import optimal_scaling
    values = (1, 1.5, 2, 3)
    frame = pd.DataFrame([{"point": f"d={d}, w={w}, r={r}", "depth": d, "width": w, "resolution_mult": r,
                           "path": "grid", "input_resolution": round(224 * r), "flops": 4e8 * d * w * w * r * r,
                           **{f"ms:{k}": (j + 1) * (d + w * w + r * r) for j, k in enumerate(keys)}}
                          for d in values for w in values for r in values])
    budgets = {k: 12.0 * (j + 1) for j, k in enumerate(keys)}
    return frame, optimal_scaling.budget_table(frame, budgets), budgets


def _pareto(keys: list[str]) -> go.Figure:
    return design_space.pareto_figure(_sweep(keys), keys, title="Pareto front per device")


def _scaling_panel(keys: list[str]) -> go.Figure:
    return design_space.scaling_panel(*_multipliers(keys), title="Device-optimal scaling")


BUILDERS = {"guideline": _guideline, "scaling": _scaling, "breakdown": _breakdown, "op_graphs": _op_graphs,
            "accuracy_latency": lambda: figures.accuracy_latency(_points(),
                                                                 title="Published top-1 vs predicted latency"),
            "flops_latency": lambda: figures.flops_latency(_points(), title="Same FLOPs, different speed"),
            "ranking": _ranking, "roofline": _roofline, "fit_quality": _fit_quality,
            "pareto": lambda: _pareto(["amd_epyc_1t", "gtx1080ti", "snapdragon810"]),
            "scaling_panel": lambda: _scaling_panel(["amd_epyc_1t", "gtx1080ti", "snapdragon810"])}
CASES = [(f, p) for f in BUILDERS for p in styles.PRESETS]
# PNG/PDF subset: every preset once, every figure at least once
RASTER = [(list(BUILDERS)[i % len(BUILDERS)], p) for i, p in enumerate(styles.PRESETS)]


@pytest.fixture(scope="module")
def built() -> dict[str, go.Figure]:
    return {name: build() for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def svgs(built: dict[str, go.Figure]) -> dict[tuple[str, str], ET.Element]:
    return {(f, p): ET.fromstring(export.figure_bytes(built[f], "svg", style=p)) for f, p in CASES}


@pytest.fixture(scope="module")
def rasters(built: dict[str, go.Figure]) -> dict[tuple[str, str, str], bytes]:
    return {(f, p, fmt): export.figure_bytes(built[f], fmt, style=p) for f, p in RASTER for fmt in ("png", "pdf")}


# ---------------------------------------------------------------- SVG text geometry
def _translate(transform: str | None) -> tuple[float, float]:
    x = y = 0.0
    for a, b in re.findall(r"translate\(\s*([-\d.e]+)[,\s]*([-\d.e]*)\s*\)", transform or ""):
        x, y = x + float(a), y + float(b or 0)
    return x, y


def _em(value: str | None, size: float) -> float:
    if not value:
        return 0.0
    return float(value[:-2]) * size if value.endswith("em") else float(value)


def text_boxes(root: ET.Element) -> list[tuple[tuple[float, float, float, float], str, str]]:
    """(box x0, y0, x1, y1; class; text) of every visible text line, at its estimated size (characters x font
    size x GLYPH wide, one font size high); rotated text by its rotated corners' bounding box."""
    out = []

    def walk(node: ET.Element, dx: float, dy: float, group: str) -> None:
        tx, ty = _translate(node.get("transform"))
        dx, dy = dx + tx, dy + ty
        group = node.get("class") or group
        if node.tag == f"{SVG}text":
            size = float(re.search(r"font-size:\s*([\d.]+)px", node.get("style", "")).group(1))
            anchor = node.get("text-anchor", "start")
            rotate = re.search(r"rotate\(([-\d.]+),([-\d.]+),([-\d.]+)\)", node.get("transform") or "")
            lines = node.findall(f"{SVG}tspan[@class='line']") or [node]
            for line in lines:
                text = "".join(line.itertext()) if line is not node else "".join(node.itertext())
                if not text.strip():
                    continue
                x = float(line.get("x", node.get("x", 0)))
                shift = line.get("dy") if line is not node else node.get("dy")
                y = float(line.get("y", node.get("y", 0))) + _em(shift, size)
                width = len(text) * GLYPH * size
                x0 = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
                corners = [(x0, y - 0.8 * size), (x0 + width, y - 0.8 * size), (x0, y + 0.25 * size),
                           (x0 + width, y + 0.25 * size)]
                if rotate:
                    angle, cx, cy = (float(v) for v in rotate.groups())
                    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
                    corners = [(cx + (px - cx) * c - (py - cy) * s, cy + (px - cx) * s + (py - cy) * c)
                               for px, py in corners]
                xs, ys = [p[0] + dx for p in corners], [p[1] + dy for p in corners]
                out.append(((min(xs), min(ys), max(xs), max(ys)), node.get("class") or group, text))
            return
        for child in node:
            walk(child, dx, dy, group)

    walk(root, 0.0, 0.0, "")
    return out


def _overlap(a: tuple, b: tuple) -> float:
    """Overlap area as a share of the smaller box."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return max(0.0, w) * max(0.0, h) / smaller if smaller > 0 else 0.0


@pytest.mark.parametrize("figure,style", CASES)
def test_svg_is_the_preset_size_and_every_text_lies_inside(svgs: dict, figure: str, style: str) -> None:
    root = svgs[figure, style]
    width, height = float(root.get("width")), float(root.get("height"))
    assert width == styles.PRESETS[style].width and height >= 0.3 * width
    boxes = text_boxes(root)
    assert boxes, "the SVG keeps its text as text"
    for (x0, y0, x1, y1), cls, text in boxes:
        assert x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height, f"{cls} '{text}' leaves the canvas"


@pytest.mark.parametrize("figure,style", CASES)
def test_svg_texts_do_not_collide(svgs: dict, figure: str, style: str) -> None:
    """Titles, panel titles, axis titles, legend entries, marker labels and tick labels: no two estimated boxes
    overlap by more than 5% of the smaller (tick labels of one axis are plotly's to space)."""
    boxes = text_boxes(svgs[figure, style])
    for i, (a, cls_a, text_a) in enumerate(boxes):
        for b, cls_b, text_b in boxes[i + 1:]:
            if "tick" in cls_a and cls_a == cls_b:
                continue
            assert _overlap(a, b) <= 0.05, f"{cls_a} '{text_a}' collides with {cls_b} '{text_b}'"


@pytest.mark.parametrize("figure", BUILDERS)
def test_every_trace_shown_has_a_legend_entry_or_is_named_in_the_caption(built: dict, figure: str) -> None:
    fig = styles.apply(built[figure], "cvpr-single")
    legend = {t.legendgroup or t.name for t in fig.data if t.showlegend is not False and t.name}
    for trace in fig.data:
        if trace.visible is False:
            continue
        named = trace.showlegend is not False and trace.name or (trace.legendgroup in legend and trace.legendgroup)
        assert named or (trace.name and trace.name in figures.caption(fig)) or (
            fig.layout.showlegend is False and trace.name and trace.name in figures.caption(fig)), \
            f"{figure}: a {trace.type} trace is neither in the legend nor in the caption"


# ---------------------------------------------------------------- PNG and PDF
@pytest.mark.parametrize("figure,style", RASTER)
def test_png_has_the_preset_size_at_its_dpi_and_nothing_touches_the_edge(rasters: dict, built: dict, figure: str,
                                                                          style: str) -> None:
    from PIL import Image  # pillow comes with streamlit
    image = Image.open(io.BytesIO(rasters[figure, style, "png"])).convert("RGB")
    preset = styles.PRESETS[style]
    laid_out = styles.apply(built[figure], style).layout
    assert image.width == pytest.approx(preset.width * preset.dpi / 96, abs=1)
    assert image.height == pytest.approx(laid_out.height * preset.dpi / 96, abs=1)
    w, h = image.size
    edge = [image.getpixel((x, y)) for x in range(w) for y in (0, h - 1)]
    edge += [image.getpixel((x, y)) for y in range(h) for x in (0, w - 1)]
    assert all(pixel == (255, 255, 255) for pixel in edge), "something is drawn on the outermost pixels"


@pytest.mark.skipif(shutil.which("pdffonts") is None, reason="poppler-utils (pdffonts, pdfinfo) not installed")
@pytest.mark.parametrize("figure,style", RASTER)
def test_pdf_embeds_its_fonts_and_has_the_preset_page_size(rasters: dict, built: dict, figure: str, style: str,
                                                             tmp_path) -> None:
    path = tmp_path / "figure.pdf"
    path.write_bytes(rasters[figure, style, "pdf"])
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    page_w, page_h = (float(v) for v in re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info).groups())
    preset = styles.PRESETS[style]
    assert page_w == pytest.approx(preset.width_in * 72, abs=1)
    assert page_h == pytest.approx(styles.apply(built[figure], style).layout.height * 0.75, abs=1)


# ---------------------------------------------------------------- on screen, every device
# The app draws a figure as wide as its main column: 1040 px in a 1500 px window with the sidebar open (measured
# in Chromium). With all seven shipped profiles a figure has a panel per device; their titles, axis titles and
# tick labels must not run into each other (before, seven panels in one row overlapped them all).
SCREEN_WIDTH = 1040
SEVEN = [*DEVICES, "AMD EPYC, 2 threads (measured)", "H200 (measured at batch 1)", "H200 (measured at batch 32)",
         "H200 (measured at batch 8)"]


def _screen_guideline() -> go.Figure:
    settings = ["ReLU yes, shortcut yes", "ReLU yes, shortcut no", "ReLU no, shortcut yes", "ReLU no, shortcut no"]
    mac = pd.DataFrame({"setting": settings * 2, "config": ["c = 32 (GPU columns)"] * 4 + ["c = 64 (CPU columns)"] * 4,
                        "mac_bytes": [3.6e7, 2.4e7, 2.4e7, 1.2e7, 7e7, 5e7, 5e7, 3e7],
                        "lower_bound_bytes": [3e7, 2e7, 2e7, 1e7, 6e7, 4e7, 4e7, 2e7]})
    speed = pd.DataFrame([{"setting": s, "device": d, "batch": 1, "predicted": 100 + 10 * i,
                           "unit": "images/s" if "EPYC" in d or "810" in d else "batches/s",
                           "published": 110 + 9 * i if "paper" in d else math.nan}
                          for d in SEVEN for i, s in enumerate(settings)])
    return figures.guideline_chart(mac, speed, title="G4: Element-wise operations are non-negligible",
                                   highlight=settings[1], published="published (Table 4)")


def _seven_points() -> pd.DataFrame:
    families = ["ShuffleNet V1", "ShuffleNet V2", "MobileNet V1", "MobileNet V2", "MnasNet", "EfficientNet", "ResNet"]
    return pd.DataFrame([{"model": f"{f} {i}", "family": f, "device": d, "batch": 32 if "32" in d else 1,
                          "ms": 10 * (j + 1) * (i + 1) * (k + 1), "top1": 60 + 2 * i + k,
                          "flops": 1e9 * (i + 1) * (k + 1)}
                         for j, d in enumerate(SEVEN) for k, f in enumerate(families) for i in range(3)])


SCREEN = {"pareto": lambda: _pareto(SHIPPED), "scaling_panel": lambda: _scaling_panel(SHIPPED),
          "scaling": lambda: _scaling(tuple(SHIPPED)),
          "metric_scatter": lambda: design_space.metric_scatter(_sweep(SHIPPED), "flops", "ms:amd_epyc_1t",
                                                                "param:width"),
          "guideline": _screen_guideline,
          "breakdown": lambda: figures.breakdown_bars(pd.DataFrame(  # the H200s host-bound: their labels are longest
              [{"model": f"{side}: shufflenet_v2(width=1.5)", "device": d, "batch": 32 if "32" in d else 1,
                "ms": 2.72 if "H200" in d else 11.6, "bound": "host" if "H200" in d else "device", "Conv": 0.3,
                "Elemwise": 0.05, "Data": 0.03, "Shuffle": 0.01, "Other": 0.01} for side in "AB" for d in SEVEN]),
              title="A vs B: where the time goes"),
          "flops_latency": lambda: figures.flops_latency(_seven_points(), title="Same FLOPs, different speed"),
          "accuracy_latency": lambda: figures.accuracy_latency(_seven_points(),
                                                               title="Published top-1 vs predicted latency"),
          "ranking": lambda: figures.ranking_bars(pd.DataFrame(  # as many models as the zoo's published ones
              [{"device": d, "model": m, "reward": 0.5 + i / 60} for d in SEVEN for i, m in enumerate(
                  [f"efficientnet(variant=b{k})" for k in range(8)] + [f"mobilenet_v2(width={w})" for w in range(8)]
                  + [f"shufflenet_v2(se=True, width={w})" for w in range(8)])]),
              title="MnasNet reward ACC x (LAT / 80 ms)^-0.07")}


@pytest.mark.parametrize("figure", SCREEN)
def test_on_screen_with_seven_devices_no_text_collides_or_leaves_the_figure(figure: str) -> None:
    fig = SCREEN[figure]()
    assert fig.layout.height, "the figure sets its height for its rows of panels"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plotly: "the kopts argument is ignored if using a server"
        root = ET.fromstring(fig.to_image(format="svg", width=SCREEN_WIDTH, height=fig.layout.height))
    boxes = text_boxes(root)
    for i, (a, cls_a, text_a) in enumerate(boxes):
        assert a[0] >= 0 and a[1] >= 0 and a[2] <= SCREEN_WIDTH and a[3] <= fig.layout.height, \
            f"{cls_a} '{text_a}' leaves the figure"
        for b, cls_b, text_b in boxes[i + 1:]:
            if "tick" in cls_a and cls_a == cls_b:
                continue
            assert _overlap(a, b) <= 0.05, f"{cls_a} '{text_a}' collides with {cls_b} '{text_b}'"


def test_a_chart_beside_another_wraps_its_long_title_inside_its_half_of_the_page() -> None:
    half = (SCREEN_WIDTH - 16) / 2
    points = pd.DataFrame({"group": ["conv", "conv", "pooling"], "name": list("abc"), "error_pct": [1.0, -2.0, 3.0]})
    fig = figures.within(figures.residuals_by_group(points, title=f"{SEVEN[3]}: whole networks never fitted "
                                                                   "(D = development half, R = report half)"), half)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = ET.fromstring(fig.to_image(format="svg", width=round(half), height=fig.layout.height))
    boxes = text_boxes(root)
    assert any("gtitle" in cls for _, cls, _ in boxes)
    for (left, top, right, bottom), cls, text in boxes:
        assert left >= 0 and top >= 0 and right <= half and bottom <= fig.layout.height, f"{cls} '{text}' leaves it"


def test_two_charts_beside_each_other_start_and_end_level_when_one_title_wraps() -> None:
    """Device profiles draws two charts per row: one title wrapping to two lines must not push its plot below
    its neighbour's. Level means the same top margin and height; each title still fits its half."""
    half = (SCREEN_WIDTH - 16) / 2
    points = pd.DataFrame({"group": ["conv", "conv", "pooling"], "name": list("abc"), "error_pct": [1.0, -2.0, 3.0]})
    short = figures.residuals_by_group(points, title="errors")
    long = figures.residuals_by_group(points, title=f"{SEVEN[3]}: whole networks never fitted "
                                                    "(D = development half, R = report half)")
    assert figures.within(long, half).layout.margin.t > figures.within(short, half).layout.margin.t  # it wraps
    shown = figures.beside([short, long], half)
    assert len({fig.layout.margin.t for fig in shown}) == len({fig.layout.height for fig in shown}) == 1
    assert shown[0].layout.height - shown[0].layout.margin.t - shown[0].layout.margin.b == \
        (short.layout.height or figures.PLOTLY_HEIGHT) - short.layout.margin.t - short.layout.margin.b  # same plot
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for fig in shown:
            root = ET.fromstring(fig.to_image(format="svg", width=round(half), height=fig.layout.height))
            for (left, top, right, bottom), cls, text in text_boxes(root):
                assert left >= 0 and top >= 0 and right <= half and bottom <= fig.layout.height, f"{cls} '{text}'"


def test_scaling_curves_draw_no_empty_panels_with_seven_devices() -> None:
    fig = _scaling(tuple(SHIPPED))
    axes = [name for name in fig.layout.to_plotly_json() if name.startswith("xaxis")]
    assert len(axes) == len(figures.SCALING_METRICS) + len(SHIPPED)  # an empty cell drew bare axes (and phi's line)
    assert fig.layout.meta["rows"] == -(-len(axes) // figures.PANELS_PER_ROW)


def test_breakdown_refuses_two_bars_of_one_label() -> None:
    frame = pd.DataFrame([{"model": "shufflenet_v2", "device": DEVICES[0], "batch": 1, "ms": 1.0, "bound": "device",
                           "Conv": 0.7, "Elemwise": 0.1, "Data": 0.1, "Shuffle": 0.05, "Other": 0.05}] * 2)
    with pytest.raises(ValueError, match="name the models apart"):
        figures.breakdown_bars(frame)


def test_breakdown_names_the_model_once() -> None:
    """One model: the title names it, so the bar labels give only device, batch and time; several: each label
    names its model."""
    row = {"device": DEVICES[0], "batch": 1, "ms": 1.0, "bound": "device", "Conv": 0.7, "Elemwise": 0.1, "Data": 0.1,
           "Shuffle": 0.05, "Other": 0.05}
    one = pd.DataFrame([{"model": "mobilenet_v2", **row}, {"model": "mobilenet_v2", **row, "device": DEVICES[1]}])
    labels = figures.breakdown_bars(one, title="mobilenet_v2: where the time goes").data[0].y
    assert [label.split("<br>")[0] for label in labels] == [f"{d}, batch 1: 1 ms" for d in DEVICES[:2]]
    untitled = figures.breakdown_bars(one).data[0].y
    assert all(label.startswith("mobilenet_v2<br>") for label in untitled)
    two = pd.concat([one.iloc[:1], one.iloc[:1].assign(model="resnet50")])
    assert [label.split("<br>")[0] for label in figures.breakdown_bars(two, title="A vs B").data[0].y] == \
        ["mobilenet_v2", "resnet50"]
