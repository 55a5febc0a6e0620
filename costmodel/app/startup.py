"""Server start: warm the app's cache before the first visitor (docs/readme/reliability.md, "First feedback").

The slowest panels (the zoo on every device, the EfficientNet scaling curves) take tens of seconds on a cold
cache. At server start one background thread starts the worker pool (costmodel/app/workers.py), then imports
the engine and computes them for the sidebar's default settings; the server answers meanwhile, and a visitor
who arrives first shares the computation (one per key: costmodel.app.cache). The operator turns it off with
COSTMODEL_WARM_UP=0 (costmodel/app/settings.py).
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[None]:
    """st.App's lifespan hook: start the worker pool and the warm-up in one thread, then serve."""
    threading.Thread(target=_start, name="costmodel-server-start", daemon=True).start()
    yield


def _start() -> None:
    from costmodel.app import settings as operator_settings
    from costmodel.app import workers

    workers.start()  # before any page runs (costmodel.app.workers.start says why)
    if operator_settings.from_env().warm_up:
        from costmodel.app import ui  # torch, the engine, plotly: seconds of imports, off the event loop
        from costmodel.studies.evaluate import Settings

        ui.warm_up(Settings())  # the sidebar's defaults: what a first visit asks for
