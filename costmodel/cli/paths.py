"""Files a command writes: checked before any work, so a long run never ends in a traceback at its last step."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from costmodel.errors import CostModelError


def _try_writing(path: Path) -> str | None:
    """Why `path` cannot be written, found by trying (None: it can). os.access answers from the permission bits,
    so to root every folder looks writable, /proc and a full or read-only file system included: a temporary
    file is created in the folder and removed at once, and an existing file is opened for writing without being
    truncated, so nothing is left behind or changed before the command's work is done."""
    try:
        if path.is_file():
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except OSError as error:
        return f"opening it for writing fails: {error.strerror or type(error).__name__}"
    try:
        descriptor, trial = tempfile.mkstemp(prefix=".costmodel-check-", suffix=".tmp", dir=path.parent)
        os.close(descriptor)
        os.unlink(trial)
    except OSError as error:
        return f"creating a file in {path.parent} fails: {error.strerror or type(error).__name__}"
    if path.exists() and not path.is_file() and not os.access(path, os.W_OK):
        return "it is not a file this user may write"
    return None


def output_path(text: str, option: str, suffixes: tuple[str, ...]) -> Path:
    """`text` as a file the command can write in one of `suffixes` (lower case, with the dot), or one line naming
    `option` and the problem: empty, a folder, a folder that does not exist or cannot be written (tried, so
    that root gets it too), another file type. A failure that only writing can reveal (a disk that fills up
    during the work) is caught where the CLI starts."""
    example = f"{option} out{suffixes[0]}"
    if not text.strip():
        raise CostModelError(f"{option} is empty", f"give a file name, e.g. {example}")
    path = Path(text)
    if path.is_dir():
        raise CostModelError(f"{option} {text} is a folder",
                             f"give a file name inside it, e.g. {path / ('out' + suffixes[0])}")
    folder = path.parent
    if not folder.is_dir():
        raise CostModelError(f"{option} {text}: the folder {folder} does not exist",
                             "create it first or choose another")
    if path.suffix.lower() not in suffixes:
        raise CostModelError(f"{option} {text} is not a {' or '.join(suffixes)} file",
                             f"name it with that extension, e.g. {example}")
    problem = _try_writing(path)
    if problem:
        raise CostModelError(f"{option} {text} cannot be written ({problem})", "choose a folder you can write to")
    return path
