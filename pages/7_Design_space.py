"""Design space: sweep an architecture's parameters (or load a sweep's Parquet) on the local Dask cluster, plot any
metric against any other, the Pareto front per device, and device-optimal depth/width/resolution scaling."""
from __future__ import annotations

import functools
import hashlib
import tempfile
from pathlib import Path

import streamlit as st

from costmodel.app.header import header

MAX_POINTS = 200  # the app's bound; the CLI runs sweeps of any size

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header(
    "Design space",
    "Sweep a design space and see which points are fastest for their capacity on each device. Sweeps run on a "
    f"local Dask cluster, at most {MAX_POINTS} points here; `python -m costmodel sweep` runs any size (and on a "
    "cluster) and writes Parquet you can load below."):
    import pandas as pd

    from costmodel.app import ui, workers
    from costmodel.studies import optimal_scaling, search_space, sweep
    from costmodel.studies.evaluate import host_bound_note, profile
    from costmodel.viz import design_space
    from costmodel.viz.labels import display_name
    from costmodel.zoo import ARCHS

DEFAULT_GRIDS = {"shufflenet_v2": "width=0.5:2:0.25\nsplit_ratio=0.25,0.5,0.75", "shufflenet_v1":
                 "groups=1,2,3,4,8\nwidth=0.5,1,1.5", "mobilenet_v2": "width=0.5:1.5:0.25\nresolution=128:224:32",
                 "efficientnet": "phi=0:3:0.5", search_space.NAME: "s3_kernel=3,5,7\ns4_se=false,true"}
CACHE = Path(tempfile.gettempdir()) / "costmodel_sweeps"

settings = ui.sidebar()
devices = [profile(name).name for name in settings.devices]


def run_sweep(plan: sweep.Plan, key: str, parallel: bool) -> pd.DataFrame:
    """Run (or complete) `plan` into a file named by `key`, with a progress bar; finished files are reused."""
    out = CACHE / f"{hashlib.sha1((key + ui.fingerprint(settings)).encode()).hexdigest()[:16]}.parquet"
    bar = st.progress(0.0, text=f"Sweeping {design_space.count(len(plan.points), 'point')}...")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(1, total), text=f"{done} of {design_space.count(total, 'point')}")

    with ui.guard(), workers.blank_main():  # Dask's worker processes must not run this page
        sweep.run(plan, out, workers=2, resume=True, serial=not parallel, progress=progress)
    bar.empty()
    return sweep.read(out).to_pandas()


def plan_of(arch: str, text: str, sample: int | None) -> sweep.Plan:
    profiles = [profile(name) for name in settings.devices]
    with ui.guard():
        return sweep.make_plan(arch, sweep.parse_grid([line for line in text.splitlines() if line.strip()]),
                               sample=sample, devices=profiles, batch=settings.batch, dtype=settings.dtype,
                               mode=settings.mode, fold_bn=settings.fold_bn, limit=MAX_POINTS)


# ---------------------------------------------------------------- which results
source = st.radio("Results", ("Run a sweep here", "Load a sweep's Parquet"), horizontal=True, key="ds.source")
results: pd.DataFrame | None = st.session_state.get("ds.results")
if source == "Run a sweep here":
    archs = [*ARCHS, search_space.NAME]
    left, right = st.columns([1, 2])
    arch = left.selectbox("Architecture", archs, index=archs.index("shufflenet_v2"), key="ds.arch",
                          help=f"{search_space.NAME}: MnasNet-style blocks, kernel 3/5/7, expansion 3/6, layers and "
                               f"SE per stage ({search_space.size():.2g} networks)")
    grid_text = right.text_area("Grid: one KEY=V1,V2 or KEY=LO:HI:STEP per line ('resolution' sets the input size)",
                                DEFAULT_GRIDS.get(arch, ""), key=f"ds.grid.{arch}", height=100)
    sample = left.number_input("Sample N points (0: the whole grid)", 0, MAX_POINTS,
                               40 if arch == search_space.NAME else 0, key=f"ds.sample.{arch}")
    parallel = left.toggle("Local Dask cluster (2 worker processes)", True, key="ds.parallel",
                           help="Off: a plain loop in the app's process (faster for a handful of points).")
    plan = plan_of(arch, grid_text, sample or None)
    if not grid_text.strip() and arch != search_space.NAME:
        st.caption(f"No grid lines: the sweep is one point, {arch} with its default parameters.")
    if st.button(f"Run the sweep ({design_space.count(len(plan.points), 'point')} on "
                 f"{design_space.count(len(devices), 'device')})", type="primary"):
        results = st.session_state["ds.results"] = run_sweep(plan, repr(plan), parallel)
else:
    upload = st.file_uploader("A sweep's results (.parquet)", type=["parquet"], key="ds.upload")
    if upload is not None:
        with ui.guard():  # one line naming the uploaded file, never a path on this server
            results = st.session_state["ds.results"] = design_space.read_upload(upload.getvalue(), upload.name)

# ---------------------------------------------------------------- any metric against any other; Pareto fronts
if results is not None and not len(results):
    st.info("This sweep has no points: nothing to plot or list.")
elif results is not None:
    shown = [d for d in devices if f"ms:{d}" in results]
    errors = int((results["status"] == "error").sum())
    st.caption(f"{design_space.count(len(results), 'point')}, {errors} invalid (error rows, listed at the bottom). "
               "FLOPs = multiply-adds; latency in ms per batch at each device's batch.")
    metrics, params = design_space.metric_columns(results), design_space.parameter_columns(results)
    title = functools.partial(design_space.axis_title, results=results)
    a, b, c = st.columns(3)
    x = a.selectbox("x", metrics, index=metrics.index("flops") if "flops" in metrics else 0, key="ds.x",
                    format_func=title)
    default_y = f"ms:{shown[0]}" if shown else metrics[-1]
    y = b.selectbox("y", metrics, index=metrics.index(default_y) if default_y in metrics else 0, key="ds.y",
                    format_func=title)
    color = c.selectbox("colour by", [None, *params], index=1 if params else 0, key="ds.color",
                        format_func=lambda v: "(none)" if v is None else v.removeprefix("param:"))
    ui.chart(design_space.metric_scatter(results, x, y, color), "design_space_scatter")
    st.subheader("Pareto front per device")
    if shown:
        capacities = [m for m in metrics if not m.startswith(("ms:", "thr"))]
        value = st.selectbox("capacity (higher is better)", capacities, key="ds.value", format_func=title,
                             index=capacities.index("flops") if "flops" in capacities else 0)
        ui.chart(design_space.pareto_figure(results, shown, value), "design_space_pareto")
        if bound := design_space.host_bound_devices(results, shown):
            st.info(host_bound_note([display_name(device) for device in bound], "every point's time is its "
                                    "kernel launches and these fronts rank the points by op count, not by the work "
                                    "they give the GPU"))
        ui.table(design_space.readable(design_space.pareto_fronts(results, shown, value), settings),
                 "design_space_pareto_points", caption="Pareto-optimal design points per device: no other point is "
                 f"faster with more {title(value)}.")
    else:
        st.info(design_space.no_shared_device(results, devices))
    with st.expander("All points"):
        ui.table(design_space.readable(results, settings), "design_space_points",
                 caption="Sweep results (columns: docs/readme/sweeps.md).", pinned=("point",))

# ---------------------------------------------------------------- device-optimal scaling
st.header("Device-optimal scaling")
st.markdown("Which depth, width and resolution multipliers give the most FLOPs within a latency budget on each "
            "device, against EfficientNet's compound scaling (alpha 1.2, beta 1.1, gamma 1.15) and scaling one "
            "dimension alone. The grid here is small (about 50 networks); `python -m costmodel sweep ARCH --scaling` "
            "sweeps a finer one.")
scale_arch = st.selectbox("Architecture", list(optimal_scaling.KNOBS), key="ds.scale_arch")
scaling_plan = optimal_scaling.plan(scale_arch, [profile(n) for n in settings.devices], batch=settings.batch,
                                    dtype=settings.dtype, mode=settings.mode, fold_bn=settings.fold_bn,
                                    **optimal_scaling.APP_GRID)
key = f"ds.scaling.{scale_arch}.{settings}"
if st.button(f"Run the scaling sweep ({design_space.count(len(scaling_plan.points), 'network')})", key="ds.scale_run"):
    st.session_state[key] = run_sweep(scaling_plan, repr(scaling_plan), True)
if key in st.session_state:
    frame = optimal_scaling.multipliers(st.session_state[key], scale_arch)
    factor = st.slider("Latency budget (x the unscaled network's latency on each device)", 1.0, 8.0, 2.0, 0.25,
                       key="ds.budget")
    with ui.guard():
        budgets = optimal_scaling.relative_budgets(frame, devices, factor)
        surrogate = optimal_scaling.accuracy_surrogate() if scale_arch == "efficientnet" else None
        table = optimal_scaling.budget_table(frame, budgets, surrogate)
        fits = pd.DataFrame([optimal_scaling.fit_bases(frame, d).to_dict() for d in devices])
    ui.chart(design_space.scaling_panel(frame, table, budgets), "design_space_scaling")
    ui.table(design_space.readable(table, settings), "design_space_scaling_table",
             caption="Most FLOPs within each device's budget (ms per batch at the device's batch), per method.")
    st.subheader("Compound-scaling bases fitted per device")
    ui.table(design_space.readable(fits, settings), "design_space_bases", caption="alpha*beta^2*gamma^2 = 2; gap: "
             "mean FLOPs shortfall below the device's frontier at equal latency along phi.")
    if surrogate is not None:
        st.info(f"**The surrogate top-1 is a fitted surrogate, not a measurement**: a saturating curve fitted to "
                f"{surrogate.points} published points (EfficientNet B0-B7, Table 3's single-dimension scaling); "
                f"fit RMSE {surrogate.rmse:.2f} top-1 points (max {surrogate.max_error:.2f}), leave-one-out RMSE "
                f"{surrogate.loo_rmse:.2f}.")
