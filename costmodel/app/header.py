"""What a page shows before anything slow: its config, title and intro, and a line saying what it is computing.

Why a module of its own that imports only streamlit: a page's imports (torch, the engine, pandas, plotly) take
seconds on a server's first visit, and Streamlit sends nothing until the script's first `st.*` call, so a page
that imported first stayed blank. Pages open with `with header(...):` around their imports, so the title and
a status line are on screen while the engine loads. `working()` runs slow work on a worker thread and keeps
the status line up to date (elapsed seconds) while the script thread waits (docs/readme/reliability.md).
"""
from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import streamlit as st

from costmodel.viz.screen import COLUMN_GAP_PX, MAIN_COLUMN_PX

T = TypeVar("T")
ENGINE = "costmodel.studies.evaluate"  # every page imports it; once loaded, a page's imports are instant
LOADING = "Loading the analysis engine (torch; the first visit to this server only)..."
TICK_S = 1.0  # how often the status line's elapsed time is refreshed
# The server answers browsers on one event-loop thread that waits for the GIL between the sessions' compute
# threads; a switch interval of 1 ms (Python's default: 5 ms) lets it in sooner, at a small cost in compute
# throughput (measured in docs/readme/reliability.md, "First feedback on a cold server").
SWITCH_INTERVAL_S = 0.001
sys.setswitchinterval(SWITCH_INTERVAL_S)
WORK_THREADS = ("costmodel-page-work", "costmodel-warm-up")  # computations in the server's own process
EXIT_GRACE_S = 3.0  # how long an exiting server lets such a computation finish


def _abandon_unfinished_work() -> None:
    """At the server's exit: a computation still running in its own process (COSTMODEL_COMPUTE_PROCESSES=0, or
    work the workers could not take) is a daemon thread inside torch's C++ code, and such a thread aborts the
    interpreter as it finalizes (SIGABRT, "terminate called without an active exception"). Give it a moment,
    then end the process at once, saying what was left unfinished."""
    deadline = time.monotonic() + EXIT_GRACE_S
    for thread in [t for t in threading.enumerate() if t.name in WORK_THREADS]:
        thread.join(max(0.0, deadline - time.monotonic()))
    unfinished = sum(t.is_alive() for t in threading.enumerate() if t.name in WORK_THREADS)
    if unfinished:
        sys.stderr.write(f"costmodel: stopped with {unfinished} computation(s) unfinished in the server's own "
                         "process; they were abandoned\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)


atexit.register(_abandon_unfinished_work)  # runs before the interpreter finalizes its threads


@contextlib.contextmanager
def status_line(text: str) -> Iterator[Callable[[str], None]]:
    """A running status line showing `text`, on screen at once (st.spinner waits half a second) and removed
    when the block ends; yields a function that replaces its text."""
    slot = st.empty()

    def show(label: str) -> None:
        slot.status(label, state="running")

    show(text)
    try:
        yield show
    finally:
        slot.empty()


@contextlib.contextmanager
def header(title: str, intro: str | None = None) -> Iterator[None]:
    """Page config, title and intro; while the block runs (the page's imports) a status line says that the
    engine is loading, when it is not loaded yet."""
    st.set_page_config(page_title=f"{title} - cost lab", layout="wide")
    st.title(title)
    if intro:
        st.markdown(intro)
    if ENGINE in sys.modules:
        yield
        return
    with status_line(LOADING):
        yield


# st.metric cuts its label and value to one line each ("2.73x slo..."). Rows of metrics are sized for the app's
# screen (costmodel.viz.screen), from the widths measured there in Chromium: a value's 36 px text takes about
# 24 px per capital, 20 per digit and 15.5 per other character; a label's 14 px text about 6.6 px a character,
# and its help icon 24 px.
LABEL_CHAR_PX, ICON_PX = 6.6, 24
MAX_METRICS_PER_ROW = 4


def value_width(text: str) -> float:
    """Estimated px of a metric's value `text` (an upper estimate)."""
    return sum(24 if c.isupper() else 20 if c.isdigit() else 15.5 for c in str(text))


def _metrics_per_row(labels: Sequence[str], values: Sequence[str]) -> int:
    """How many metrics fit side by side without cutting the longest label or value: 1 to MAX_METRICS_PER_ROW."""
    need = max([value_width(v) for v in values] + [len(str(t)) * LABEL_CHAR_PX + ICON_PX for t in labels] + [1.0])
    return max(1, min(MAX_METRICS_PER_ROW, int((MAIN_COLUMN_PX + COLUMN_GAP_PX) // (need + COLUMN_GAP_PX))))


def metric_grid(labels: Sequence[str], values: Sequence[str]) -> list:
    """One column per metric, in rows as wide as the longest label or value allows (all rows alike, so metrics
    line up), in reading order."""
    per_row = _metrics_per_row(labels, values)
    columns: list = []
    while len(columns) < len(labels):
        columns += st.columns(per_row)[:len(labels) - len(columns)]
    return columns


def _run(work: Callable[[], T], future: concurrent.futures.Future) -> None:
    try:
        future.set_result(work())
    except BaseException as error:  # noqa: BLE001 - handed to the waiting script thread, which re-raises it
        future.set_exception(error)


def working(work: Callable[[], T], text: str) -> T:
    """`work()` on a worker thread while the page shows `text` and the seconds elapsed; its result or its
    exception. If the visitor moves on (a rerun stops this script), the work still finishes and fills the cache."""
    future: concurrent.futures.Future = concurrent.futures.Future()
    threading.Thread(target=_run, args=(work, future), name=WORK_THREADS[0], daemon=True).start()
    started = time.monotonic()
    with status_line(text) as show:
        while True:
            try:
                return future.result(timeout=TICK_S)
            except concurrent.futures.TimeoutError:
                show(f"{text} ({time.monotonic() - started:.0f} s)")
