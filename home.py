"""Home: what the cost lab answers, how to read it, and the headline picture (same FLOPs, different speed)."""
from __future__ import annotations

import streamlit as st

from costmodel.app.header import header, metric_grid

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header(
    "Lightweight-CNN cost lab",
    "**How fast will this CNN design be on that device, and why?** FLOPs is an indirect metric: two networks "
    "with the same FLOPs can differ 2-3x in speed (ShuffleNet V2, Ma et al. 2018), because speed also depends "
    "on memory access cost (MAC), on how fragmented the network is, on elementwise operators and on the "
    "platform. This lab traces a network into its op graph, costs every op, and predicts its latency on "
    "device profiles measured here or calibrated to the papers' GTX 1080Ti and Snapdragon 810."):
    from costmodel.viz import catalog
    from costmodel.app import ui
    from costmodel.studies import zoo_table
    from costmodel.units import si
    from costmodel.viz.labels import at_batch

settings = ui.sidebar()

with ui.guard():  # a bad operator setting is one line, as on every page
    ui.warm_up(settings)  # fills the cache for the other slow pages in the background
zoo = ui.compute(catalog.zoo_panel, settings, spinner="Analysing the zoo on every device (first run only)...")

st.subheader("Same FLOPs, different speed")
pairs = zoo_table.same_flops_pairs(zoo.long)
labels = [at_batch(pair.device, pair.batch) for pair in pairs.itertuples()]
values = [f"{pair.ratio:.2f}x slower" for pair in pairs.itertuples()]
for column, pair, label, value in zip(metric_grid(labels, values), pairs.itertuples(), labels, values):
    column.metric(label, value,
                  help="Two published zoo models whose FLOPs differ by at most 10%, with the largest gap in "
                       "predicted latency on this device.")
    column.caption(f"**{pair.slow}** ({si(pair.slow_flops, 'MAdds')}, {pair.slow_ms:.3g} ms) vs "
                   f"**{pair.fast}** ({si(pair.fast_flops, 'MAdds')}, {pair.fast_ms:.3g} ms)")
ui.chart(zoo.flops_latency, "zoo_flops_vs_latency")

st.subheader("How to read the numbers")
st.markdown("""
- **FLOPs** are multiply-adds (the ShuffleNet/MobileNet/EfficientNet convention), per image. Elementwise work
  (ReLU, add, sigmoid, unfused BN) is counted separately, never mixed in.
- **MAC** (memory access cost) is every element read and written by an op - inputs, parameters, outputs - in
  elements and in bytes at the sidebar's dtype. Concat, split and channel shuffle move memory: they are never free.
- **Kernels** and **width**: how many ops launch per block, and how many compute ops could run at once (G3).
- **Latency** is predicted per op on a device profile and summed in execution order, in ms per batch at each
  profile's own batch by default (h200_bN at N, gtx1080ti at 8, CPU/ARM at 1; see the sidebar); throughput in
  batches/s (GPU) or images/s (CPU/ARM), as the papers report. A profile is only as good as its fit: the *Device
  profiles* page shows it.
- A value marked *partial* touches an op the engine does not understand: it is not silently zero.

**Pages:** *ShuffleNet blocks* - V1 vs V2 units and networks, op graphs, where the time goes.
*Guidelines* - G1-G4 of ShuffleNet V2, predicted vs published. *EfficientNet scaling* - compound vs
single-dimension scaling. *Model zoo* - any zoo model; accuracy vs latency; MnasNet's reward.
*Device profiles* - rooflines, fit quality, profile this machine, upload a profile. *Your model* - your own
network (uploaded Python runs in a sandbox) and an A/B comparison with any model. *Design space* - sweep an
architecture's parameters, Pareto fronts per device, device-optimal depth/width/resolution scaling. Every chart
has SVG/PDF/PNG buttons (publication size and fonts); every table CSV and LaTeX (booktabs).
""")
