"""EfficientNet compound scaling: depth alpha^phi, width beta^phi, resolution gamma^phi from B0, against
scaling one dimension to the same nominal FLOPs; B0-B7 marked; accuracy vs predicted latency."""
from __future__ import annotations

import streamlit as st

from costmodel.app.header import header, metric_grid

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header(
    "EfficientNet compound scaling",
    "Compound scaling multiplies depth by alpha^phi, width by beta^phi and resolution by gamma^phi, so FLOPs grow "
    "by about (alpha beta^2 gamma^2)^phi. The dotted curves scale one dimension alone to the same nominal FLOPs "
    "(EfficientNet Figure 8's comparison): at equal FLOPs, which is fastest on your device?"):
    from costmodel.viz import catalog, figures, tables
    from costmodel.viz.labels import device_label
    from costmodel.studies import evaluate, scaling
    from costmodel.app import ui
    from costmodel.units import bytes_, ms, si

settings = ui.sidebar()

phi = st.slider("phi (compound coefficient)", 0.0, scaling.PHI_MAX, 1.0, 0.1, key="phi")
a, b, c, d = st.columns(4)
alpha = a.slider("alpha (depth)", 1.0, 2.0, 1.2, 0.01, key="alpha")
beta = b.slider("beta (width)", 1.0, 2.0, 1.1, 0.01, key="beta")
gamma = c.slider("gamma (resolution)", 1.0, 2.0, 1.15, 0.01, key="gamma")
bases = scaling.Bases(alpha, beta, gamma)
phi_max = scaling.compound_phi_max(bases)  # larger bases reach the zoo's depth/width/input limits sooner
if phi > phi_max:
    st.warning(f"phi = {phi:g} with these bases leaves the zoo's range (depth and width at most 8x B0's, inputs "
               f"up to its largest): showing phi = {phi_max:g}, the largest they allow.")
    phi = phi_max
d.metric("alpha x beta^2 x gamma^2", f"{bases.constraint:.3f}", f"{bases.constraint - scaling.TARGET_CONSTRAINT:+.3f} "
         "vs 2", delta_color="off", help="The nominal FLOPs factor per unit of phi; EfficientNet keeps it near 2.")
if scaling.far_from_target(bases):
    st.warning(f"alpha x beta^2 x gamma^2 = {bases.constraint:.3f} is far from 2: FLOPs no longer about double "
               "per unit of phi, so phi no longer means a FLOPs budget of 2^phi.")

with ui.guard():  # a bad operator setting is one line, as on every page
    ui.warm_up(settings)  # fills the cache for the other slow pages in the background
point = ui.compute(scaling.point, phi, bases, settings, spinner="Analysing the scaled network...")
st.subheader(f"The network at phi = {phi:g}")
cols = st.columns(4)
cols[0].metric("Resolution", f"{point['resolution']} px")
cols[1].metric("Width x depth", f"{point['width_coefficient']:.3g} x {point['depth_coefficient']:.3g}")
cols[2].metric("FLOPs (multiply-adds)", si(point["flops"], "MAdds"))
cols[3].metric("Params / MAC", si(point["params"]), bytes_(point["mac_bytes"]), delta_color="off", delta_arrow="off")
latencies = {k: h for k, h in tables.device_headers(settings).items() if k.startswith("ms:")}
labels, values = [h.replace(" latency", "") for h in latencies.values()], [ms(point[k]) for k in latencies]
for column, label, value in zip(metric_grid(labels, values), labels, values):
    column.metric(label, value)
st.caption(evaluate.trust(settings, device_label))
with st.expander("Per-stage configuration (EfficientNet Table 1 layout)"):
    ui.table(tables.readable(ui.compute(scaling.stages, phi, bases), settings), "scaling_stages",
             caption=f"EfficientNet stages at phi = {phi:g} (alpha={alpha:g}, beta={beta:g}, gamma={gamma:g}).")

panel = ui.compute(catalog.scaling_panel, bases, settings,
                   spinner="Analysing the scaling curves: about 35 networks per batch size (first run only)...")
st.subheader("Curves vs phi")
ui.chart(figures.mark_x(panel.curves, phi), "scaling_curves")
with st.expander("Curve data"):
    ui.table(tables.readable(panel.sweep, settings), "scaling_sweep", caption="Compound vs single-dimension scaling.")

st.subheader("Accuracy vs predicted latency (B0-B7, published top-1)")
ui.chart(panel.pareto, "scaling_pareto")
ui.table(tables.readable(panel.variants, settings), "scaling_variants",
         caption="EfficientNet B0-B7: official coefficients, costs, predicted latency and published top-1.")
