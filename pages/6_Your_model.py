"""Your model: upload a .py file or name an importable module; the full cost report, the ShuffleNet V2 guideline
findings and an A/B comparison with any zoo model. The user's code runs only in the sandbox (an isolated child
process with a time and a memory limit); what visitors may do is bounded by the operator settings
(costmodel.app.settings)."""
from __future__ import annotations

import streamlit as st

from costmodel.app.header import header

# The title and a status line come first: on a server's first visit the imports below take seconds.
with header(
    "Your model",
    "Analyse your own network: the same report as the zoo models get, the ShuffleNet V2 guidelines it breaks "
    "(with the predicted time each costs), and a comparison with any zoo model. FLOPs are multiply-adds per "
    "image; latency is predicted per device at the batch in the sidebar."):
    from costmodel.studies import evaluate, yourmodel
    from costmodel.viz import figures, tables
    from costmodel.viz.labels import device_label
    from costmodel.app import settings as operator
    from costmodel.app import pickers, ui
    from costmodel.studies.compare import compare, readable
    from costmodel.errors import CostModelError
    from costmodel.studies.evaluate import Source, ZooModel
    from costmodel.app.lint_view import source_lint_panel
    from costmodel.sources.sandbox import Limits, module_classes
    from costmodel.sources.names import parse_shape

UPLOAD, MODULE = "Upload a .py file", "Module importable from the working directory"
GRAPH_OPS = 400  # draw the op graph by default up to this many ops
SUGGEST_BYTES = 2**20  # parse uploads up to 1 MiB in the app to suggest class names

settings = ui.sidebar()
with ui.guard():
    OPERATOR = operator.from_env()
st.warning("**Uploaded Python is executed.** Importing your file, building the model and tracing it run in an "
           "isolated process (no network, no access to other files, a time limit, a memory limit and a process "
           "limit), never "
           "inside this app, so the app keeps serving whatever the file does.")
st.caption(f"Limits set by this server's operator: {operator.describe(OPERATOR)}.")


def model_input() -> yourmodel.UserModel | None:
    """The widgets that name the model, its input shape and the sandbox limits; None until a model is named."""
    sources = (UPLOAD,) * OPERATOR.uploads + (MODULE,) * OPERATOR.module_mode
    if not sources:
        st.info("The operator has turned uploads off on this server (COSTMODEL_UPLOADS=0).")
        return None
    source = st.radio("Model", sources, horizontal=True, key="source")
    name, attr, content = "", "", None
    if source == UPLOAD:
        upload = st.file_uploader("Model file (.py)", type=["py"], key="upload")
        if upload is not None:
            if upload.size > OPERATOR.max_upload_bytes:
                raise CostModelError(f"'{upload.name}' is {upload.size / 1024:.0f} KiB, more than this server's "
                                     f"{OPERATOR.max_upload_kib} KiB upload limit", "upload a smaller file")
            name, content = upload.name, upload.getvalue()
            try:  # parsing only, to suggest names; a big or broken file is left to the sandbox to report
                found = module_classes(content.decode("utf-8", errors="replace"), name) \
                    if len(content) <= SUGGEST_BYTES else []
            except CostModelError:
                found = []
            attr = st.text_input("Class or function that builds the model (called without arguments)", key="attr",
                                 placeholder=found[-1] if found else "Net",
                                 help=f"nn.Module classes in the file: {', '.join(found) or 'none found'}. Leave "
                                      "empty when the file defines exactly one.")
    else:
        name = st.text_input("package.module:Name", key="module", placeholder="mypackage.models:MyNet",
                             help="Imported from the directory the app was started in.")
    shape_column, limits_column = st.columns(2)
    shape_text = shape_column.text_input("Input shape per sample, without the batch (C,H,W)", "3,224,224",
                                         key="shape", help="The batch comes from the sidebar (costs per image).")
    with limits_column.expander("Sandbox limits"):
        seconds = st.number_input("Time for import + build + trace (s)", 1.0, OPERATOR.max_seconds,
                                  min(60.0, OPERATOR.max_seconds), step=1.0, key="seconds")
        memory = st.number_input("Memory beyond torch's own (GiB)", 0.5, OPERATOR.max_memory_gib,
                                 min(4.0, OPERATOR.max_memory_gib), step=0.5, key="memory")
    if not name:
        return None
    limits = Limits(min(float(seconds), OPERATOR.max_seconds), int(min(memory, OPERATOR.max_memory_gib) * 2**30))
    return yourmodel.UserModel(name.strip(), parse_shape(shape_text, "3,224,224"), attr.strip(), content, limits,
                               yourmodel.batches_for(settings), allow_unsafe=OPERATOR.unsafe_sandbox)


def show_report(model: yourmodel.UserModel) -> None:
    per_image = evaluate.per_image(model, settings)
    if per_image.partial:
        unknown = ", ".join(per_image.summary["unknown_ops"])
        st.warning(f"Partial: totals exclude ops the engine does not know ({unknown}).")
    ui.table(tables.readable(evaluate.rows([model], settings), settings), "your_model",
             caption=f"{model.label}: costs (FLOPs = multiply-adds, per image) and predicted latency per device.")
    st.caption(evaluate.trust(settings, device_label))
    ui.chart(figures.breakdown_bars(evaluate.breakdown([model], settings), title=f"{model.label}: where the time goes"),
             "your_model_breakdown")
    if st.toggle("Draw the op graph", len(per_image.ops) <= GRAPH_OPS, key="draw_graph"):
        first = settings.devices[0]
        title = f"{model.label} (node size = predicted time on {device_label(first)})"
        ui.chart(figures.op_graphs({model.label: per_image.graph}, size_by="time", title=title,
                                   times_ms={model.label: evaluate.op_times(model, first, settings)}),
                 "your_model_graph")
    with st.expander("Per block"):
        ui.table(tables.readable(evaluate.block_table(model, settings), settings), "your_model_blocks",
                 caption=f"{model.label}: per-block kernels, width, costs and predicted ms.")
    with st.expander("Per op"):
        ui.table(tables.readable(evaluate.op_table(model, settings), settings), "your_model_ops",
                 caption=f"{model.label}: per-op costs and predicted ms.")


def pick(side: str, mine: yourmodel.UserModel | None) -> Source:
    """One side of the A/B comparison: your model (when there is one) or any zoo, torchvision or timm model."""
    if mine and st.toggle("Your model", side == "A", key=f"ab_{side}_yours"):
        return mine
    arch, params = pickers.any_model(f"ab_{side}")
    return ZooModel.of(arch, **params)


def show_comparison(mine: yourmodel.UserModel | None) -> None:
    left, right = st.columns(2)
    with left:
        a = pick("A", mine)
    with right:
        b = pick("B", mine)
    with ui.guard():
        result = compare(evaluate.per_image(a, settings), evaluate.per_image(b, settings),
                         evaluate.latencies(a, settings), evaluate.latencies(b, settings))
    ui.table(tables.ab_metrics(result.metrics, settings), "ab_metrics",
             caption=f"A = {result.a}, B = {result.b}: metrics side by side.")
    ui.chart(figures.breakdown_bars(evaluate.breakdown([a, b], settings, ("A", "B")),
                                    title="A vs B: where the time goes"), "ab_breakdown")
    ui.table(tables.ab_latency(result.latency, settings), "ab_latency",
             caption=f"A = {result.a}, B = {result.b}: predicted device time per category and device, ms per batch at "
                     "the device's batch (categories sum to Total).")
    with st.expander("FLOPs, MAC and kernels per category"):
        ui.table(readable(result.costs), "ab_costs",
                 caption=f"A = {result.a}, B = {result.b}: FLOPs, MAC and kernels per category (per image).")


analysed = None
try:
    chosen = model_input()
    if chosen is None:
        st.info("Upload a model file or name a module to analyse it; the A/B comparison below works with zoo "
                "models meanwhile.")
    else:
        busy = f"All {OPERATOR.sandbox_runs} sandbox slots of this server are busy: waiting for a free one..."
        with operator.sandbox_slot(OPERATOR, lambda: st.info(busy)), \
                st.spinner("Importing, building and tracing your model in the sandbox..."):
            evaluate.per_image(chosen, settings)  # one sandbox run for every batch the page shows
        analysed = chosen
except CostModelError as error:
    st.error(str(error))
    st.caption("The app is still running: fix the file (or the shape) and try again.")

if analysed is not None:
    report_tab, lint_tab = st.tabs(["Report", "Guideline findings"])
    with report_tab:
        show_report(analysed)
    with lint_tab:
        source_lint_panel(analysed, settings, key="your_model_lint", persist=False)
st.subheader("A/B comparison")
show_comparison(analysed)
