"""A one-line status with the seconds elapsed, on a terminal's stderr, while a command computes: `export`
works for tens of seconds (every network on every device, then Chromium) with nothing else to show. The line
is erased when the step ends, so an error stays the only line, and pipes and logs get nothing."""
from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

ERASE_LINE = "\r\033[K"


@contextlib.contextmanager
def status(text: str, stream: TextIO | None = None, every_s: float = 1.0) -> Iterator[None]:
    """Show `text` and its elapsed seconds on `stream` (default stderr), refreshed every `every_s`, while the
    block runs, if `stream` is a terminal."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield
        return
    done, start = threading.Event(), time.monotonic()

    def show() -> None:
        while True:
            stream.write(f"{ERASE_LINE}{text} {time.monotonic() - start:.0f} s")
            stream.flush()
            if done.wait(every_s):
                return

    ticker = threading.Thread(target=show, name="costmodel-cli-status", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
        stream.write(ERASE_LINE)
        stream.flush()
