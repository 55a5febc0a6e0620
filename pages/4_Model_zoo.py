"""Model zoo: any zoo architecture with any parameters, with its guideline findings; the published models'
costs, latency and accuracy per device; MnasNet's reward ranking."""
from __future__ import annotations

import streamlit as st

from costmodel.app.header import header, metric_grid

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header("Model zoo", "Every architecture of the zoo, built from its paper's tables. FLOPs are "
            "multiply-adds per image; latency is predicted per device at the batch in the sidebar."):
    from costmodel.viz import catalog, figures, tables
    from costmodel.viz.labels import device_label, display_name
    from costmodel.studies import evaluate, ranking
    from costmodel.app import pickers, ui
    from costmodel.studies.evaluate import ZooModel
    from costmodel.app.lint_view import source_lint_panel
    from costmodel.sources.names import RESOLUTION_RANGE

settings = ui.sidebar()

st.subheader("Any zoo model")
left, right = st.columns([1, 3])
with left:
    arch, params = pickers.any_model("zoo")
    resolution = st.number_input("Resolution (px)", *RESOLUTION_RANGE, None, key="resolution", placeholder="(default)",
                                 help="Input height = width; empty: the architecture's own.")
model = ZooModel.of(arch, resolution=resolution, **params)
with right:
    ui.table(tables.transposed(tables.readable(ui.compute(evaluate.rows, [model], settings, spinner="Analysing..."),
                                               settings)), "zoo_model",
             caption=f"{model.label}: costs (FLOPs = multiply-adds) and predicted latency.")
    ui.chart(figures.breakdown_bars(evaluate.breakdown([model], settings), title=f"{model.label}: where the time "
                                    "goes"), "zoo_model_breakdown")
    if note := evaluate.host_bound(model, settings, device_label):
        st.info(note)
    st.caption(evaluate.trust(settings, device_label))
with st.expander("Per block"):
    ui.table(tables.readable(evaluate.block_table(model, settings), settings), "zoo_model_blocks",
             caption=f"{model.label}: per-block kernels, width, costs and predicted ms.")
if st.toggle("Draw the op graph", False, key="draw_graph"):
    ui.chart(figures.op_graphs({model.label: evaluate.per_image(model, settings).graph}, title=model.label),
             "zoo_model_graph")
with st.expander("Guideline findings (ShuffleNet V2 G1-G4)", expanded=True):
    source_lint_panel(model, settings, key="zoo_lint")

st.subheader("Published models")
with ui.guard():  # a bad operator setting is one line, as on every page
    ui.warm_up(settings)  # fills the cache for the other slow pages in the background
zoo = ui.compute(catalog.zoo_panel, settings, spinner="Analysing the zoo on every device (first run only)...")
ui.chart(zoo.flops_latency, "zoo_flops_vs_latency")
ui.chart(zoo.accuracy_latency, "zoo_accuracy_vs_latency")
ui.table(tables.readable(zoo.wide.drop(columns=["arch"]), settings), "zoo_published",
         caption="Zoo models at their published settings: costs, predicted latency, published top-1 (source).",
         pinned=("model",))

st.subheader("MnasNet reward: ACC x (LAT / T)^w")
a, b = st.columns(2)
target = a.slider("Target latency T (ms)", 1.0, 500.0, ranking.DEFAULT_TARGET_MS, 1.0, key="target_ms",
                  help="MnasNet used T = 75 ms on a Pixel 1 CPU core.")
w = b.slider("w", -0.5, 0.0, ranking.DEFAULT_W, 0.01, key="w", help="MnasNet: -0.07 (2x latency costs ~5% "
             "relative accuracy); 0 ranks by accuracy alone.")
with ui.guard():
    ranked = ranking.rank(zoo.long, target, w)
best = ranked[ranked["rank"] == 1].drop_duplicates("device")
labels = [f"Best on {display_name(device)}" for device in best["device"]]
for column, label, top in zip(metric_grid(labels, list(best["model"])), labels, best.itertuples()):
    column.metric(label, top.model, f"reward {top.reward:.4f}", delta_color="off", delta_arrow="off")
ui.chart(catalog.ranking_figure(ranked, target, w), "zoo_ranking")
ui.table(tables.readable(ranked[["device", "rank", "model", "top1", "ms", "reward"]], settings), "zoo_ranking",
         caption=f"Zoo models ranked per device by MnasNet's reward (T = {target:g} ms, w = {w:g}).")
