"""The app's own result cache: what pages compute, kept across reruns, sessions and restarts.

Why not Streamlit's disk cache: it stores pickles (a process that can write there runs code in the app), writes
them in place (a truncated entry raised on every visit), never prunes, and keys miss the data and libraries.
Here values are JSON (costmodel.app.codec: nothing executable), written to a temporary file and `os.replace`d;
an unreadable or corrupt entry is a miss and is rewritten; the folder is the operator's (COSTMODEL_CACHE_DIR),
private to the app's user, pruned to a size cap (least recently used first); keys hash the function, its
arguments, the costmodel code, everything under data/ (profiles and data/reference), any uploaded profile's
contents and the library versions. An in-process layer keeps the encoded values so a slider move stays fast,
and one computation per key runs at a time (a cold cache under load computes each thing once).
"""
from __future__ import annotations

import collections
import hashlib
import importlib.metadata
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from costmodel.app import codec

PACKAGE = Path(__file__).resolve().parents[1]
DATA = PACKAGE.parent / "data"
LIBRARIES = ("torch", "torchvision", "timm", "numpy", "pandas", "networkx", "scipy", "pydantic", "plotly",
             "streamlit", "fvcore", "pyarrow")
MEMORY_ENTRIES = 256
_PRUNE_TO = 0.8  # after pruning, the cache holds at most this share of its cap


class _ContentHashes:
    """sha256 of files, recomputed only when a file's mtime or size changes (a key is made on every rerun)."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def of(self, path: Path) -> str:
        stat = path.stat()
        with self._lock:
            known = self._known.get(path)
        if known and known[:2] == (stat.st_mtime_ns, stat.st_size):
            return known[2]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with self._lock:
            self._known[path] = (stat.st_mtime_ns, stat.st_size, digest)
        return digest


_hashes = _ContentHashes()


def library_versions() -> str:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "-"
    return ",".join(f"{name}={version(name)}" for name in LIBRARIES)


def fingerprint(extra_files: Iterable[Path] = ()) -> str:
    """Changes whenever the costmodel code, anything under data/, one of `extra_files` (uploaded profiles) or
    a library version changes: part of every key, so no update ever serves stale numbers."""
    files = sorted(PACKAGE.rglob("*.py")) + sorted(p for p in DATA.rglob("*") if p.is_file())
    files += [Path(f) for f in extra_files if Path(f).is_file()]
    stamp = "|".join(f"{f}:{_hashes.of(f)}" for f in files)
    return hashlib.sha256(f"{stamp}|{library_versions()}".encode()).hexdigest()


def key(function: str, args: tuple, kwargs: dict[str, Any], stamp: str) -> str | None:
    """The entry's name, from the function, its arguments' repr (frozen dataclasses, tuples, numbers, strings)
    and `stamp`; None when an argument has no stable repr (the value is then not cached)."""
    text = f"{function}|{args!r}|{sorted(kwargs.items())!r}"
    if " object at 0x" in text:
        return None
    return hashlib.sha256(f"{text}|{stamp}".encode()).hexdigest()


class ResultCache:
    """JSON entries under `folder` (at most `max_bytes`), with an in-process layer in front."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._memory: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}
        self._bytes: int | None = None  # on disk, counted on the first write

    def _path(self, name: str) -> Path:
        return self.folder / name[:2] / f"{name}.json"

    def _remember(self, name: str, data: Any) -> None:
        with self._lock:
            self._memory[name] = data
            self._memory.move_to_end(name)
            while len(self._memory) > MEMORY_ENTRIES:
                self._memory.popitem(last=False)

    def _recall(self, name: str) -> tuple[bool, Any]:
        """(found, encoded data) from memory, then disk (a corrupt or unreadable entry is not found)."""
        with self._lock:
            if name in self._memory:
                self._memory.move_to_end(name)
                return True, self._memory[name]
        path = self._path(name)
        try:
            data = json.loads(path.read_bytes())
            codec.decode(data)  # proves the entry whole before anyone relies on it
            os.utime(path)  # recently used: pruned last
        except (OSError, ValueError, KeyError, TypeError, AttributeError, StopIteration, ImportError):
            return False, None
        self._remember(name, data)
        return True, data

    def get(self, name: str) -> tuple[bool, Any]:
        """(True, a fresh copy of the value) or (False, None)."""
        found, data = self._recall(name)
        return (True, codec.decode(data)) if found else (False, None)

    def put(self, name: str, value: Any) -> None:
        """Store `value` (a value the codec cannot store is skipped); atomic on disk, then pruned to the cap."""
        try:
            data = codec.encode(value)
        except codec.Unencodable:
            return
        self._remember(name, data)
        text = json.dumps(data, separators=(",", ":")).encode()
        path = self._path(name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.folder, 0o700)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as temporary:
                temporary.write(text)
            os.replace(temporary.name, path)
        except OSError:
            return  # a read-only or full disk costs speed, never an answer
        self._grew(len(text))

    def _grew(self, size: int) -> None:
        with self._lock:
            self._bytes = self._disk_bytes() if self._bytes is None else self._bytes + size
            over = self._bytes > self.max_bytes
        if over:
            self.prune()

    def _entries(self) -> list[tuple[int, int, Path]]:
        found = []
        for path in self.folder.glob("*/*.json"):
            try:
                found.append((path.stat().st_mtime_ns, path.stat().st_size, path))
            except OSError:
                continue
        return found

    def _disk_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def prune(self) -> None:
        """Delete least recently used entries (and stale temporary files) until the cache fits its cap."""
        for stale in self.folder.glob("*/*.tmp"):
            stale.unlink(missing_ok=True)
        entries = sorted(self._entries(), key=lambda entry: entry[0])
        total = sum(size for _, size, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes * _PRUNE_TO:
                break
            path.unlink(missing_ok=True)
            total -= size
        with self._lock:
            self._bytes = total

    def get_or_compute(self, name: str | None, compute: Callable[[], Any]) -> Any:
        """The cached value of `name`, or `compute()`'s (stored). One computation per name at a time."""
        if name is None:
            return compute()
        found, value = self.get(name)
        if found:
            return value
        with self._lock:
            gate = self._computing.setdefault(name, threading.Lock())
        with gate:
            found, value = self.get(name)  # another session may have computed it meanwhile
            if found:
                return value
            value = compute()
            self.put(name, value)
        with self._lock:
            self._computing.pop(name, None)
        return value


_shared: dict[tuple[str, int], ResultCache] = {}
_shared_lock = threading.Lock()


def shared(folder: Path, max_bytes: int) -> ResultCache:
    """One cache per folder and cap in this process (every session shares it)."""
    with _shared_lock:
        return _shared.setdefault((str(Path(folder).expanduser()), max_bytes),
                                  ResultCache(Path(folder).expanduser(), max_bytes))
