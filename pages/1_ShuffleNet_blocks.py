"""ShuffleNet V1 vs V2: single units side by side (metrics, op graphs, time breakdown, per-op table), and the
whole networks with their guideline findings."""
from __future__ import annotations

import streamlit as st

from costmodel.app.header import header

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header(
    "ShuffleNet V1 vs V2 blocks",
    "A ShuffleNet V1 unit (1x1 group conv, channel shuffle, 3x3 depthwise, 1x1 group conv, add or concat) next "
    "to a ShuffleNet V2 unit (channel split, 1x1 conv, 3x3 depthwise, 1x1 conv, concat, shuffle). Stride 2 is "
    "a stage's first unit: half the channels in, resolution halved. FLOPs are multiply-adds per image."):
    from costmodel.viz import catalog, figures, tables
    from costmodel.studies import evaluate
    from costmodel.app import ui
    from costmodel.studies.evaluate import ZooModel
    from costmodel.app.lint_view import source_lint_panel
    from costmodel.studies.shufflenet_units import V1_GROUPS, min_v2_channels

settings = ui.sidebar()

left, right = st.columns(2)
with left:
    st.markdown("**ShuffleNet V1 unit**")
    groups = st.pills("Groups g", V1_GROUPS, default=3, key="groups", required=True)
    channels = st.number_input("Output channels", 4, 4096, 240, step=12, key="channels",
                               help="Must split into g groups after the 1/4 bottleneck: a multiple of 4g.")
with right:
    st.markdown("**ShuffleNet V2 unit**")
    split_ratio = st.slider("Split ratio (channels through the conv branch)", 0.1, 0.9, 0.5, 0.05, key="split")
    matched = st.toggle("Match V1's FLOPs", True, key="matched",
                        help="Choose V2's channels so its FLOPs come closest to V1's.")
    v2_channels = st.number_input("Output channels", 2, 4096, 232, step=2, key="v2_channels", disabled=matched,
                                  help=f"Even: the channel shuffle interleaves two halves. At split ratio "
                                       f"{split_ratio:g}, at least {min_v2_channels(split_ratio)}, so that "
                                       "neither branch is empty.")
stride = st.segmented_control("Stride (both units)", (1, 2), default=1, key="stride", required=True)
size = st.select_slider("Input size (height = width)", (7, 14, 28, 56, 112), 28, key="size")

params = {"groups": groups, "channels": channels, "stride": stride, "size": size, "split_ratio": split_ratio,
          "matched": matched, "v2_channels": v2_channels}
with ui.guard():
    units = catalog.block_units(params)
compared = ui.compute(evaluate.rows, list(units), settings)

st.subheader("Side by side")
ui.table(tables.transposed(tables.readable(compared, settings)), "blocks_metrics",
         caption="ShuffleNet V1 vs V2 unit: FLOPs (multiply-adds), MAC, fragmentation and predicted latency.")

graphs = {u.label: evaluate.per_image(u, settings).graph for u in units}
st.subheader("Op graphs")
size_by = st.radio("Node size", ("MAC bytes", "predicted time"), horizontal=True, key="size_by")
timed = st.selectbox("Device for time", settings.devices, format_func=lambda d: evaluate.profile(d).name,
                     key="time_device") if size_by == "predicted time" else None
times = {u.label: evaluate.op_times(u, timed, settings) for u in units} if timed else None
ui.chart(figures.op_graphs(graphs, times_ms=times, size_by="time" if timed else "mac",
                           title=f"Op graphs (node size = {size_by}; hover for shapes and costs)"), "blocks_op_graphs")

st.subheader("Where the time goes")
ui.chart(figures.breakdown_bars(evaluate.breakdown(list(units), settings),
                                title="Predicted time by ShuffleNet V2 Figure 2 category"), "blocks_breakdown")

st.subheader("Per op")
chosen = st.radio("Unit", [u.label for u in units], horizontal=True, key="ops_unit")
unit = next(u for u in units if u.label == chosen)
ui.table(tables.readable(evaluate.op_table(unit, settings), settings), "blocks_ops",
         caption=f"Per-op costs of the {chosen}.")

st.subheader("Whole networks")
a, b = st.columns(2)
net_groups = a.pills("V1 groups g", V1_GROUPS, default=3, key="net_groups", required=True)
v1_width = a.select_slider("V1 width", (0.25, 0.5, 1.0, 1.5, 2.0), 1.0, key="v1_width")
v2_width = b.select_slider("V2 width", (0.5, 1.0, 1.5, 2.0), 1.0, key="v2_width")
networks = [ZooModel.of("shufflenet_v1", groups=net_groups, width=v1_width),
            ZooModel.of("shufflenet_v2", width=v2_width)]
ui.table(tables.transposed(tables.readable(ui.compute(evaluate.rows, networks, settings, spinner="Analysing the "
                                                     "networks..."), settings)), "networks_metrics",
         caption="ShuffleNet V1 vs V2 networks at 224x224.")
ui.chart(figures.breakdown_bars(evaluate.breakdown(networks, settings), title="Networks: where the time goes"),
         "networks_breakdown")

st.subheader("Guideline findings")
for tab, network in zip(st.tabs([n.label for n in networks]), networks):
    with tab:
        source_lint_panel(network, settings, key=f"networks_lint_{network.arch}")
