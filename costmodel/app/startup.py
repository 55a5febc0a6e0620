"""Server start: warm the app's cache before the first visitor (docs/readme/reliability.md, "First feedback").

The slowest panels (the zoo on every device, the EfficientNet scaling curves) take tens of seconds on a cold
cache. At server start one background thread imports the engine and computes them for the sidebar's default
settings; the server answers meanwhile, and a visitor who arrives first shares the computation (one per key:
costmodel.app.cache). The operator turns it off with COSTMODEL_WARM_UP=0 (costmodel/app/settings.py).
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def lifespan(app: object) -> AsyncIterator[None]:
    """st.App's lifespan hook: start the warm-up thread, then serve."""
    from costmodel.app import settings as operator_settings

    if operator_settings.from_env().warm_up:
        threading.Thread(target=_warm, name="costmodel-server-start", daemon=True).start()
    yield


def _warm() -> None:
    from costmodel.app import ui  # torch, the engine, plotly: seconds of imports, off the server's event loop
    from costmodel.studies.evaluate import Settings

    ui.warm_up(Settings())  # the sidebar's defaults: what a first visit asks for
