"""Design-space figures from a results table written here: Pareto fronts are the non-dominated points, the scatter's
axes carry units, and the scaling panel marks the closed-form optimum of a synthetic device (latency d + w^2 + r^2
ms, FLOPs d w^2 r^2: within 12 ms the most FLOPs is d = 4, w = r = 2, 64)."""
from __future__ import annotations

import itertools

import pandas as pd

from costmodel.latency.profiles import profile_names
from costmodel.studies import optimal_scaling as opt
from costmodel.viz import design_space
from costmodel.viz.labels import device_label


def results() -> pd.DataFrame:
    # (ms, flops): B dominates A (faster and bigger), C is bigger but slower, D failed
    return pd.DataFrame({"point": ["A", "B", "C", "D"], "status": ["complete"] * 3 + ["error"],
                         "param:width": [0.5, 1.0, 2.0, 3.0], "flops": [10, 20, 40, None],
                         "ms:dev": [3.0, 2.0, 5.0, None], "batch:dev": [8, 8, 8, None]})


def test_pareto_front_keeps_only_non_dominated_points() -> None:
    front = design_space.pareto_fronts(results(), ["dev"])
    assert front["point"].tolist() == ["B", "C"]
    assert front.columns.tolist() == ["device", "batch", "point", "ms", "flops", "param:width"]
    assert front["batch"].tolist() == [8, 8]  # the batch its ms is per, from the results' batch:dev
    bare = design_space.pareto_fronts(results().drop(columns="batch:dev"), ["dev"])
    assert bare.columns.tolist() == ["device", "point", "ms", "flops", "param:width"]  # no batch recorded, none shown


def test_scatter_axes_carry_units_and_skip_error_rows() -> None:
    fig = design_space.metric_scatter(results(), "flops", "ms:dev", "param:width")
    assert fig.layout.xaxis.title.text == "FLOPs (multiply-adds)"
    assert fig.layout.yaxis.title.text == "predicted latency on dev (ms, batch 8)"
    assert list(fig.data[0].text) == ["A", "B", "C"]
    assert design_space.metric_columns(results()) == ["flops", "ms:dev"]


def test_scaling_panel_marks_the_closed_form_optimum() -> None:
    values = (1, 1.5, 2, 3, 4, 5, 6)
    frame = pd.DataFrame([{"point": f"{d},{w},{r}", "depth": d, "width": w, "resolution_mult": r, "path": "grid",
                           "input_resolution": round(224 * r), "flops": d * w * w * r * r,
                           "ms:syn": d + w * w + r * r} for d, w, r in itertools.product(values, repeat=3)])
    table = opt.budget_table(frame, {"syn": 12.0})
    fig = design_space.scaling_panel(frame, table, {"syn": 12.0})
    star = next(t for t in fig.data if t.name == "budget pick" and t.legendgroup == "pick device-optimal")
    assert (star.x[0], star.y[0]) == (12.0, 64)
    assert fig.layout.shapes[0].x0 == 12.0  # the budget line


def test_seven_shipped_devices_wrap_into_rows_with_hardware_names_and_alike_axes() -> None:
    shipped = profile_names()
    assert len(shipped) > 4  # otherwise one row holds them all and this test shows nothing
    frame = pd.DataFrame([{"point": str(w), "status": "complete", "param:width": w, "flops": 1e8 * w * w,
                           **{f"ms:{k}": w * (j + 1) for j, k in enumerate(shipped)}} for w in (0.5, 1, 2)])
    fig = design_space.pareto_figure(frame, shipped)
    titles = [a.text.replace("<br>", " ") for a in fig.layout.annotations]  # long titles wrap onto two lines
    assert sorted(titles) == sorted(device_label(k) for k in shipped)  # hardware names, never profile keys
    assert fig.layout.meta["rows"] == -(-len(shipped) // 4)  # at most four panels a row
    y_types = {fig.layout[name].type for name in fig.layout if name.startswith("yaxis")}
    assert y_types == {"log"}  # FLOPs on a log axis in every panel, not only the first


def test_log_axes_label_only_1_2_and_5_of_a_decade_once_the_data_span_one() -> None:
    # FLOPs and wide's latencies span two decades, narrow's 4%
    frame = pd.DataFrame([{"point": str(w), "status": "complete", "flops": 1e7 * w, "ms:wide": w,
                           "ms:narrow": 2 + w / 100} for w in (1, 3, 30, 90)])
    fig = design_space.pareto_figure(frame, ["wide", "narrow"])
    assert (fig.layout.xaxis.dtick, fig.layout.yaxis.dtick, fig.layout.yaxis2.dtick) == ("D2", "D2", "D2")
    assert fig.layout.xaxis2.dtick is None  # labels 1, 2 and 5 would leave a 4% span with no tick at all
