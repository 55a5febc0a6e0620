"""ShuffleNet V2's four guidelines (Sec. 2, Tables 1-4): MAC and predicted speed of the paper's micro-networks on
each device, next to the published measurements; each guideline with its own control."""
from __future__ import annotations

import streamlit as st

from costmodel.app.header import header, metric_grid

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header(
    "The four guidelines",
    "ShuffleNet V2 benchmarks 10 stacked blocks at 56x56 per guideline. A GPU profile uses the paper's GTX "
    "1080Ti channel counts, a CPU profile the Snapdragon 810 ones; published speeds are shown for the profiles "
    "calibrated to them, which predict at the tables' batch (1) so the two compare; every other profile predicts "
    "at its own batch. Your setting (outlined) is computed at the FLOPs of the table's first row."):
    from costmodel.viz import catalog, tables
    from costmodel.studies import evaluate, guideline_sweeps
    from costmodel.app import ui
    from costmodel.units import bytes_, si
    from costmodel.viz.labels import at_batch, display_name
    from costmodel.zoo.guidelines import STRUCTURES

settings = ui.sidebar()

FORMULAS = {
    1: r"For a 1x1 conv with $B = hwc_1c_2$ multiply-adds: $\mathrm{MAC} = hw(c_1+c_2) + c_1c_2 \ge "
       r"2\sqrt{hwB} + B/hw$, with equality iff $c_1 = c_2$ (dashed: the bound).",
    2: r"A 1x1 group conv: $\mathrm{MAC} = hw(c_1+c_2) + c_1c_2/g$. At fixed FLOPs $B = hwc_1c_2/g$, more groups "
       r"mean more channels and more MAC.",
    3: "Fragments in series or in parallel at equal FLOPs: more, smaller kernels use the device less well, and "
       "each costs a launch (kernels and width are in the table).",
    4: "Elementwise ops (ReLU, the shortcut's add) have no FLOPs but MAC and a kernel each: removing them speeds "
       "the ResNet bottleneck up.",
}


def controls(table: int) -> dict:
    """The guideline's own control plus the table column (level)."""
    levels = guideline_sweeps.level_names(table)
    left, right = st.columns([2, 1])
    params = {"level": right.radio("Table column", range(3), format_func=levels.__getitem__, key=f"level{table}",
                                   help="The paper's columns; x2/x4 are read as 2x/4x the channels of x1, as the "
                                        "calibrated profiles read them (costmodel/calibrate.py).")}
    if table == 1:
        params["ratio"] = left.select_slider("c1:c2 = 1 : r", (1, 1.5, 2, 3, 4, 6, 8, 12, 16), 3, key="ratio")
    elif table == 2:
        params["g"] = left.select_slider("Groups g", (1, 2, 4, 8, 16, 32), 16, key="g")
    elif table == 3:
        params["structure"] = left.selectbox("Structure", tuple(STRUCTURES), key="structure")
    else:
        params["relu"] = left.toggle("ReLU", True, key="relu")
        params["shortcut"] = left.toggle("Shortcut", True, key="shortcut")
    return params


tabs = st.tabs([f"{g.key}: {g.control}" for g in guideline_sweeps.GUIDELINES.values()])
for table, tab in zip(guideline_sweeps.GUIDELINES, tabs):
    with tab:
        g = guideline_sweeps.GUIDELINES[table]
        st.markdown(f"**{g.key}: {g.title}.** {FORMULAS[table]}")
        params = controls(table)
        frame, fig = ui.compute(catalog.guideline_panel, table, params["level"], settings,
                                catalog.guideline_choice(table, params), spinner="Analysing the micro-networks...")
        # A GPU and a CPU/ARM profile run networks of different channel counts: each with its own FLOPs and MAC
        for net in guideline_sweeps.your_networks(frame):
            st.caption(f"{net.title}:")
            labels = [f"Your setting: {net.setting}"] + [at_batch(d.device, d.batch, d.unit)
                                                         for d in net.devices.itertuples()]
            values = [si(net.flops, "MAdds")] + [f"{d.predicted:.4g}" for d in net.devices.itertuples()]
            columns = metric_grid(labels, values)
            columns[0].metric(labels[0], values[0], f"MAC {bytes_(net.mac_bytes)}", delta_color="off",
                              delta_arrow="off", help=f"{net.config}; FLOPs in multiply-adds, MAC at {settings.dtype}.")
            for column, label, value, mine in zip(columns[1:], labels[1:], values[1:], net.devices.itertuples()):
                column.metric(label, value, help=f"predicted speed of your setting ({mine.config})")
        ui.chart(fig, f"{g.key.lower()}_table{g.table}")
        if bound := guideline_sweeps.host_bound_devices(frame):
            st.info(evaluate.host_bound_note([display_name(device) for device in bound], "these bars follow the "
                                             "number of launches, not the guideline's effect on the GPU"))
        ui.table(tables.readable(frame.drop(columns=["yours", "arch"]), settings), f"{g.key.lower()}_table{g.table}",
                 caption=f"{g.key}: ShuffleNet V2 Table {g.table} settings, MAC and predicted vs published speed.",
                 pinned=("setting", "device"))
