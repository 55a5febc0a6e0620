"""Page helpers shared by every Streamlit page: the sidebar settings, cached computation, charts with
publication export buttons, tables with CSV/LaTeX buttons, and turning bad input into `st.error`.

Pages stay thin: `with header("Title"):` around their imports (costmodel.app.header: the title and a status
line come before the engine loads), `settings = ui.sidebar()`, then `ui.compute(fn, ...)`,
`ui.chart(fig, "name")`, `ui.table(frame, "name")`. Sidebar values live in `st.session_state` under
`settings.*`, so they survive page switches (a widget's own state is dropped when its page is left; the copy
is not).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from costmodel.viz import export, figures, styles, tables
from costmodel.engine.analysis import DTYPE_BYTES
from costmodel.errors import CostModelError
from costmodel.studies.evaluate import Settings
from costmodel.latency.profiles import DeviceProfile, parse_profile, profile_names, save_profile
from costmodel.latency.schedule import MODES
from costmodel.zoo import ArchSpec
from costmodel.app import cache
from costmodel.app.header import WORK_THREADS, working
from costmodel.app import settings as operator_settings
from costmodel.app import workers
from costmodel.studies import scaling
from costmodel.viz import catalog
from costmodel.viz.labels import chip_label
from costmodel.viz.screen import COLUMN_GAP_PX, MAIN_COLUMN_PX

OWN_BATCH = 0  # sidebar value meaning "each profile's own batch"
OWN_BATCH_WORDS = "each profile's own (h200_bN: N, gtx1080ti: 8, CPU/ARM: 1)"
BATCHES = (OWN_BATCH, 1, 2, 4, 8, 16, 32, 64)
_UPLOADED = "settings.uploaded_profiles"  # name -> path of profiles uploaded in this session
_PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "svg"}}


# ---------------------------------------------------------------- sidebar settings
def _persisted(name: str, default: Any) -> str:
    """The widget key for setting `name`, primed with the persisted value (or `default`)."""
    store, widget = f"settings.{name}", f"_settings.{name}"
    if store not in st.session_state:
        st.session_state[store] = default
    st.session_state[widget] = st.session_state[store]
    return widget


def _save(name: str) -> None:
    st.session_state[f"settings.{name}"] = st.session_state[f"_settings.{name}"]


def uploaded_profiles() -> dict[str, str]:
    return st.session_state.setdefault(_UPLOADED, {})


def add_profile(data: object, origin: str = "uploaded file") -> tuple[DeviceProfile, bool]:
    """Validate a profile (parsed JSON), keep it for this session and select it in the sidebar.
    Returns the profile and whether it is new to this session."""
    device = parse_profile(data, origin)
    folder = Path(tempfile.gettempdir()) / "costmodel_profiles"
    path = folder / f"{device.name}-{hashlib.sha1(repr(data).encode()).hexdigest()[:8]}.json"
    known = uploaded_profiles().get(device.name)
    if device.name in profile_names() or (known is not None and known != str(path)):
        # tables and charts name devices by profile name: a second profile of that name would replace the first
        raise CostModelError(f"{origin}: a profile named '{device.name}' is already in use",
                             'give this one another "name" in its JSON')
    save_profile(device, path)
    uploaded_profiles()[device.name] = str(path)
    devices = st.session_state.get("settings.devices") or []
    new = str(path) not in devices
    if new:
        st.session_state["settings.devices"] = [*devices, str(path)]
    return device, new


def _device_label(option: str) -> str:
    """A sidebar chip: the hardware, short enough to read whole in the chip, or an uploaded profile's own name."""
    if option in profile_names():
        return chip_label(option)
    return f"{Path(option).stem.rsplit('-', 1)[0]} (uploaded)"


def sidebar() -> Settings:
    """The shared sidebar; returns the settings every page computes with. No device selected is an error, and
    so is a profile file that does not load (one line naming it, never a traceback)."""
    with guard():
        return _sidebar()


def _sidebar() -> Settings:
    options, default = [*profile_names(), *uploaded_profiles().values()], Settings()  # what a first visit sees
    bar = st.sidebar
    bar.header("Settings")
    bar.multiselect("Device profiles", options, key=_persisted("devices", list(default.devices)),
                    format_func=_device_label, on_change=_save, args=("devices",),
                    help="Latency is predicted on each; see the Device profiles page for their fit.")
    bar.selectbox("Batch for latency", BATCHES, key=_persisted("batch", OWN_BATCH), on_change=_save,
                  args=("batch",), format_func=lambda b: OWN_BATCH_WORDS if b == OWN_BATCH else str(b),
                  help="FLOPs, params and MAC are always per image (batch 1), as the papers print them.")
    bar.selectbox("dtype (bytes of MAC)", tuple(DTYPE_BYTES), key=_persisted("dtype", default.dtype), on_change=_save,
                  args=("dtype",))
    bar.toggle("Fold BatchNorm into convs", key=_persisted("fold_bn", default.fold_bn), on_change=_save,
               args=("fold_bn",),
               help="Inference engines fold BN; unfolded, each BN is an elementwise op (G4).")
    bar.radio("GPU execution", MODES, key=_persisted("mode", default.mode), on_change=_save, args=("mode",),
              horizontal=True, help="eager: PyTorch issues every kernel from Python, so small networks wait on the "
                                    "host; graph: a replayed CUDA graph (TensorRT-like), device time only. CPUs "
                                    "ignore it.")
    bar.selectbox("Figure style (exports)", tuple(styles.PRESETS), key=_persisted("style", styles.DEFAULT),
                  on_change=_save, args=("style",), format_func=lambda name: styles.PRESETS[name].label,
                  help="Venue preset of the SVG / PDF / PNG downloads: width, aspect, fonts and line widths.")
    bar.caption("FLOPs = multiply-adds (the ShuffleNet/MobileNet/EfficientNet convention). MAC = bytes read + "
                "written. Latency in ms per batch; GPU throughput in batches/s, CPU/ARM in images/s.")
    devices = tuple(d for d in st.session_state["settings.devices"] if d in options)
    if not devices:
        st.error("No device profile selected: pick at least one in the sidebar.")
        st.stop()
    return Settings(devices=devices, batch=st.session_state["settings.batch"] or None,
                    dtype=st.session_state["settings.dtype"], fold_bn=st.session_state["settings.fold_bn"],
                    mode=st.session_state["settings.mode"])


def zoo_params(spec: ArchSpec, key: str) -> dict[str, Any]:
    """Widgets for a zoo architecture's parameters, generated from its `Param`s (ranges, choices, help);
    returns the values that differ from the defaults (so equal configurations share one label and cache key)."""
    values: dict[str, Any] = {}
    for p in spec.params:
        k, label = f"{key}.{spec.name}.{p.name}", p.name.replace("_", " ")
        if p.choices is not None:
            options = (None, *p.choices) if p.default is None else p.choices
            values[p.name] = st.selectbox(label, options, index=options.index(p.default), help=p.help, key=k,
                                          format_func=lambda v: "(default)" if v is None else str(v))
        elif p.type is bool:
            values[p.name] = st.toggle(label, bool(p.default), help=p.help, key=k)
        else:
            cast = int if p.type is int else float
            values[p.name] = st.number_input(
                label, None if p.minimum is None else cast(p.minimum), None if p.maximum is None else cast(p.maximum),
                None if p.default is None else cast(p.default), step=cast(1) if p.type is int else 0.05, help=p.help,
                key=k, placeholder="(default)")
    defaults = {p.name: p.default for p in spec.params}
    return {name: value for name, value in values.items() if value is not None and value != defaults[name]}


# ---------------------------------------------------------------- errors and computation
@contextlib.contextmanager
def guard() -> Iterator[None]:
    """Bad settings become one `st.error` line (and the page stops there), never a traceback."""
    try:
        yield
    except CostModelError as error:
        st.error(str(error))
        st.stop()


def fingerprint(settings: Settings | None = None) -> str:
    """Changes whenever the costmodel code, anything under data/, a selected uploaded profile or a library
    version changes: part of every cache key, so a new profile or a code update never serves stale numbers."""
    return cache.fingerprint(Path(d) for d in (settings.devices if settings else ()))


def _store() -> cache.ResultCache:
    """The app's cache, where the operator put it (costmodel.app.settings)."""
    operator = operator_settings.from_env()
    return cache.shared(Path(operator.cache_dir), operator.cache_max_mib * 2**20)


def _key(fn: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> str | None:
    settings = next((a for a in (*args, *kwargs.values()) if isinstance(a, Settings)), None)
    return cache.key(f"{fn.__module__}:{fn.__qualname__}", args, kwargs, fingerprint(settings))


def compute(fn: Callable[..., Any], *args: Any, spinner: str | None = None, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` for a pure costmodel function, cached across reruns, sessions and restarts in the
    app's own cache (costmodel.app.cache: JSON, never pickles). Arguments need a stable repr (primitives,
    tuples, frozen dataclasses). On a miss a status line says what is computed, with the seconds elapsed, while
    a worker thread computes (costmodel.app.header.working); CostModelError shows as st.error."""
    with guard():
        store, name = _store(), _key(fn, args, kwargs)
        found, value = store.get(name) if name else (False, None)
        if found:
            return value
        work = workers.offloaded(functools.partial(fn, *args, **kwargs))
        return working(functools.partial(store.get_or_compute, name, work),
                       spinner or f"Computing {fn.__name__.replace('_', ' ')} (first visit only)...")


_warming = threading.Lock()
_warmed: set[str] = set()


def warm_up(settings: Settings) -> None:
    """Fill the cache with the slowest panels (the zoo on every device, the scaling curves) for `settings` in
    one background thread, once per server process and settings, so the pages that need them open fast."""
    calls = [(catalog.zoo_panel, (settings,)), (catalog.scaling_panel, (scaling.Bases(), settings))]
    with _warming:
        if repr(settings) in _warmed or not operator_settings.from_env().warm_up:
            return
        _warmed.add(repr(settings))
    store = _store()

    def work() -> None:
        for fn, args in calls:
            with contextlib.suppress(Exception):  # a failure is shown by the page that needs the panel
                store.get_or_compute(_key(fn, args, {}), workers.offloaded(functools.partial(fn, *args)))

    threading.Thread(target=work, name=WORK_THREADS[1], daemon=True).start()


# ---------------------------------------------------------------- charts and tables
def _buttons(name: str, items: list[tuple[str, Callable[[], bytes | str], str, str]]) -> None:
    """Small download buttons in one row; content is produced only when clicked."""
    row = st.container(horizontal=True, gap="small")
    for label, data, filename, mime in items:
        row.download_button(label, data=data, file_name=filename, mime=mime, key=f"download.{name}.{label}",
                            on_click="ignore", icon=":material/download:", type="tertiary")


def export_problem() -> str | None:
    """Why figures cannot be exported on this server (export's own one-line error), or None. Checked before the
    buttons are drawn: a button renders only when clicked, outside the page, where an error could not be shown."""
    if export.browser_path() is not None:
        return None
    try:
        export.figure_bytes(go.Figure(), "svg")  # without Chromium this raises before anything starts
    except CostModelError as error:
        return str(error)
    return None


def chart(fig: go.Figure, name: str) -> None:
    """The figure (its title wrapped to the page) and its caption, then SVG / PDF / PNG buttons that render it
    for the sidebar's venue style (or one st.error line saying why figures cannot be exported here)."""
    _chart(figures.within(fig, MAIN_COLUMN_PX), fig, name)


def charts_beside(charts: Sequence[tuple[go.Figure, str]], columns: int | None = None) -> list[Any]:
    """`chart` for each (figure, name) in a row of `columns` (default: one per chart), titles wrapped to a
    column and the charts made level (`figures.beside`); returns the columns, so that a page can fill one
    left empty."""
    places = st.columns(columns or len(charts))
    width = (MAIN_COLUMN_PX - COLUMN_GAP_PX * (len(places) - 1)) / len(places)
    for place, shown, (fig, name) in zip(places, figures.beside([fig for fig, _ in charts], width), charts):
        with place:
            _chart(shown, fig, name)
    return places


def _chart(shown: go.Figure, fig: go.Figure, name: str) -> None:
    """`shown` on screen; the exports render `fig`, laid out for paper by the venue style."""
    st.plotly_chart(shown, key=f"chart.{name}", config=_PLOTLY_CONFIG, theme=None)  # as exported, not restyled
    if figures.caption(fig):
        st.caption(figures.caption(fig))
    if problem := export_problem():
        st.error(problem)
        return
    style = st.session_state.get("settings.style", styles.DEFAULT)
    _buttons(name, [(fmt.upper(), functools.partial(export.figure_bytes, fig, fmt, style=style), f"{name}.{fmt}",
                     export.MIME[fmt]) for fmt in export.FIGURE_FORMATS])


def table(frame: pd.DataFrame, name: str, *, caption: str | None = None, pinned: Sequence[str] = ()) -> None:
    """The table (whole up to 25 rows, scrolling beyond), then CSV and LaTeX (booktabs) buttons; `caption`
    goes into the LaTeX. `pinned` text columns name a row (a setting, a device) and stay on screen while a table
    wider than the page scrolls sideways."""
    height = 35 * (len(frame) + 1) + 3 if len(frame) <= 25 else "auto"
    columns = {column: st.column_config.NumberColumn(format=fmt)
               for column, fmt in tables.display_formats(frame).items()}  # digits by costmodel/units.py
    columns.update({column: st.column_config.Column(width=px, pinned=column in pinned)
                    for column, px in tables.text_widths(frame).items()})
    st.dataframe(frame, hide_index=True, key=f"table.{name}", height=height, column_config=columns)
    table_buttons(frame, name, caption=caption)


def table_buttons(frame: pd.DataFrame, name: str, *, caption: str | None = None) -> None:
    """CSV and LaTeX (booktabs) download buttons for `frame`, for a table a page draws its own way."""
    _buttons(name, [("CSV", functools.partial(export.table_csv, frame), f"{name}.csv", "text/csv"),
                    ("LaTeX", functools.partial(export.table_latex, frame, caption=caption, label=f"tab:{name}"),
                     f"{name}.tex", "application/x-tex")])
