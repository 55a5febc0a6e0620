"""Device profiles: where each profile's numbers come from and how well its latency model fits them; rooflines
with a network's ops; profile this machine; upload a profile."""
from __future__ import annotations

import streamlit as st

from costmodel.app.header import header

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header(
    "Device profiles",
    "A profile holds a device's fitted latency model and the measurements it was fitted to. It is only as "
    "honest as its fit: each carries its error on its own data. Calibrated profiles are fitted to ShuffleNet "
    "V2's published Tables 1-4; measured ones to micro-benchmarks timed on a named machine."):
    from costmodel.studies import evaluate, profile_views
    from costmodel.viz import figures, tables
    from costmodel.app import ui
    from costmodel.latency.profiles import loads_profile
    from costmodel.studies.evaluate import ZooModel
    from costmodel.viz.labels import choice_label, device_label
    from costmodel.zoo import ARCHS

settings = ui.sidebar()

ui.table(profile_views.summary(settings), "profiles",
         caption="Device profiles: provenance, batch and fit error on their own measurements (median, 90th "
                 "percentile, max). The max is one micro-benchmark, often a shape the library runs on a slow "
                 "algorithm, which a GPU's robust fit leaves aside on purpose. Unseen: the error on whole networks "
                 "of families the profile was never fitted or tuned on, at its batch (empty: none was timed).",
         pinned=("profile",))

name = st.selectbox("Profile", settings.devices, format_func=lambda d: choice_label(evaluate.profile(d)),
                    key="profile")
device = evaluate.profile(name)
label = device_label(device)
arch = st.selectbox("Network whose ops are drawn on the roofline", tuple(ARCHS), key="roofline_arch",
                    index=tuple(ARCHS).index("shufflenet_v2"))
model = ZooModel.of(arch)
ops = ui.compute(profile_views.roofline_ops, model, name, settings,
                 spinner=f"Tracing {model.label} for the roofline...")
points = profile_views.fit_points(device)
source = profile_views.time_source(points)
ui.charts_beside([
    (figures.roofline(profile_views.ceilings(device), ops, title=f"{label}: roofline with {model.label} ops "
                      f"(batch {evaluate.device_batch(device, settings)})"), f"roofline_{device.name}"),
    (figures.fit_quality(points, title=f"{label}: {source} vs fitted ({device.fit.median_ape:.1f}% median error)",
                         source=source), f"fit_{device.name}")])
st.subheader("Where the model is weak")
residuals = ui.compute(profile_views.class_residuals, name,
                       spinner=f"Predicting {label}'s micro-benchmarks by kernel class...")
networks = profile_views.network_residuals(device)
weak = [(figures.residuals_by_group(residuals, title=f"{label}: micro-benchmark error by kernel class"),
         f"class_residuals_{device.name}")]
if len(networks):
    title = f"{label}: whole networks never fitted (D = development half, R = report half)"
    weak.append((figures.residuals_by_group(networks, title=title), f"network_residuals_{device.name}"))
columns = ui.charts_beside(weak, columns=2)
if not len(networks):
    columns[1].caption("No whole-network validation is stored for this profile (benchmarks/validate_latency.py).")
with st.expander("Fitted parameters and measurements"):
    ui.table(tables.readable(profile_views.parameters(device), settings), f"parameters_{device.name}",
             caption=f"{label}: latency-model parameters per kernel class (costmodel/latency/model.py).")
    ui.table(tables.readable(profile_views.measurements(device), settings), f"measurements_{device.name}",
             caption=f"{label}: measurements (per batch) and the fitted model's times.")

st.subheader("Profile this machine")
left, right = st.columns(2)
with left:
    new_name = st.text_input("Profile name", "this_machine", key="new_name")
    quick = st.toggle("Quick (under 2 minutes)", True, key="quick")
    if st.button("Profile this machine", key="run_profiler", type="primary"):
        bar = st.progress(0.0, text="Timing micro-benchmarks in a separate process...")
        with ui.guard():
            measured = profile_views.profile_machine(new_name, quick=quick, on_progress=lambda f: bar.progress(
                min(1.0, f), text=f"Timing micro-benchmarks: {100 * f:.0f}%"))
            ui.add_profile(measured.model_dump(mode="json"), "the new profile")
        st.rerun()
with right:
    upload = st.file_uploader("Upload a profile (JSON)", type=["json"], key="upload")
    if upload is not None:
        with ui.guard():  # size cap, finite numbers, bounded lists and integers: one line naming the field
            checked = loads_profile(upload.getvalue(), upload.name)
            added, new = ui.add_profile(checked.model_dump(mode="json"), upload.name)
        if new:
            st.rerun()  # show it in the sidebar (already drawn in this run)
        st.success(f"Loaded {added.name} ({added.device}); it is selected in the sidebar.")
