"""Operator settings of the served app, in one place: environment variables COSTMODEL_* (the table below,
documented in docs/readme/reliability.md). They bound what a visitor may do - run uploads at all, import modules
from the server's folder, how long and how much memory a sandbox run may take, how many run at once, how large
an upload may be - and where the app keeps its cache. A bad value is one line naming the variable."""
from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from costmodel.errors import CostModelError

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class OperatorSettings:
    """Defaults are the safe choice for a public server; each field is read from COSTMODEL_<FIELD in capitals>."""

    uploads: bool = True  # visitors may upload a model file (run in the sandbox)
    module_mode: bool = False  # visitors may name a module importable from the server's folder
    unsafe_sandbox: bool = False  # run uploads without bubblewrap (only where it cannot be installed)
    max_seconds: float = 120.0  # the most time a visitor may give one sandbox run, s
    max_memory_gib: float = 8.0  # the most memory a visitor may give one sandbox run, GiB
    sandbox_runs: int = 2  # sandbox runs at once; further visitors wait
    max_upload_kib: int = 1024  # largest model file a visitor may upload, KiB (profiles: 8 MiB, the loader's cap)
    cache_dir: str = str(Path.home() / ".cache" / "costmodel-app")  # the app's result cache
    cache_max_mib: int = 512  # the cache's size cap, MiB (oldest entries are pruned beyond it)
    warm_up: bool = True  # compute the slowest panels in the background when the server starts
    compute_processes: int = 2  # worker processes for the heavy computations (0: in the server's own process)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_kib * 1024


BOUNDS: dict[str, tuple[float, float]] = {  # accepted range of each numeric setting
    "max_seconds": (1, 3600), "max_memory_gib": (0.5, 256), "sandbox_runs": (1, 64),
    "max_upload_kib": (1, 200 * 1024), "cache_max_mib": (1, 10**6), "compute_processes": (0, 64),
}


def variable(name: str) -> str:
    """The environment variable of field `name`."""
    return f"COSTMODEL_{name.upper()}"


def _parse(name: str, kind: type, text: str) -> object:
    where = f"{variable(name)}={text!r}"
    if kind is bool:
        if text.strip().lower() not in _TRUE + _FALSE:
            raise CostModelError(f"{where} is not a yes/no value", f"set {variable(name)} to 1 or 0")
        return text.strip().lower() in _TRUE
    if kind is str:
        if not text.strip():
            raise CostModelError(f"{where} is empty", f"unset {variable(name)} or give a folder")
        return text
    try:
        value = kind(text)
    except ValueError:
        raise CostModelError(f"{where} is not a {'whole ' if kind is int else ''}number",
                             f"set {variable(name)} to a number") from None
    low, high = BOUNDS[name]
    if not low <= value <= high:
        raise CostModelError(f"{where} is out of range", f"set {variable(name)} between {low:g} and {high:g}")
    return value


def from_env(environ: Mapping[str, str] | None = None) -> OperatorSettings:
    """The settings in force: defaults, overridden by each COSTMODEL_* variable that is set."""
    environ = os.environ if environ is None else environ
    kinds = {"bool": bool, "float": float, "int": int, "str": str}
    values = {f.name: _parse(f.name, kinds[str(f.type)], environ[variable(f.name)])
              for f in fields(OperatorSettings) if variable(f.name) in environ}
    return OperatorSettings(**values)


def describe(settings: OperatorSettings) -> str:
    """The limits in force, in one line for the page."""
    return (f"{settings.max_seconds:g} s and {settings.max_memory_gib:g} GiB at most per run, "
            f"{settings.sandbox_runs} run{'s' if settings.sandbox_runs > 1 else ''} at once, "
            f"uploads up to {settings.max_upload_kib:g} KiB")


_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


@contextlib.contextmanager
def sandbox_slot(settings: OperatorSettings, waiting: Callable[[], None]) -> Iterator[None]:
    """Hold one of the `sandbox_runs` slots of this server process; `waiting()` is called first when all are
    taken (to show a message), then this blocks until one is free."""
    with _slots_lock:
        slots = _slots.setdefault(settings.sandbox_runs, threading.BoundedSemaphore(settings.sandbox_runs))
    if not slots.acquire(blocking=False):
        waiting()
        slots.acquire()
    try:
        yield
    finally:
        slots.release()
