"""Files a command writes: checked before any work, so a long run never ends in a traceback at its last step."""
from __future__ import annotations

import os
from pathlib import Path

from costmodel.errors import CostModelError


def output_path(text: str, option: str, suffixes: tuple[str, ...]) -> Path:
    """`text` as a file the command can write in one of `suffixes` (lower case, with the dot), or one line naming
    `option` and the problem: empty, a folder, a folder that does not exist or cannot be written, another file
    type. A failure that only writing can reveal (a read-only file system) is caught where the CLI starts."""
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
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CostModelError(f"{option} {text} cannot be written", "choose a folder you can write to")
    if path.suffix.lower() not in suffixes:
        raise CostModelError(f"{option} {text} is not a {' or '.join(suffixes)} file",
                             f"name it with that extension, e.g. {example}")
    return path
