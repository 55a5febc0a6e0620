"""Uploaded code is isolated: each hostile upload of issue 9 ends in one clear line (or a normal report), and
leaves nothing behind - no connection, no read or written host file, no live process.

Each test starts one sandbox (a fresh torch import: seconds on a quiet machine). They need bubblewrap, as CI has
(the refusal without it is tested by hiding it)."""
import random
import select
import shutil
import socket
import time
from pathlib import Path

import pytest

from costmodel import CostModelError
from costmodel.sources import sandbox
from costmodel.sources.sandbox import Limits, run_uploaded

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

LIMITS = Limits(seconds=30, memory_bytes=2 * 2**30)
SHAPE = (1, 3, 8, 8)
NET = """
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)
"""


def outcome(source: str, name: str = "upload.py") -> str:
    """The run's one-line error, or 'ok' when the upload analysed normally."""
    try:
        run_uploaded(source.encode(), name, None, [SHAPE], limits=LIMITS)
    except CostModelError as error:
        message = str(error)
        assert "\n" not in message and "Traceback" not in message
        return message
    return "ok"


def test_an_upload_cannot_connect_to_a_listener_on_localhost():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        message = outcome(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)\n" + NET)
        assert select.select([listener], [], [], 0)[0] == []  # nobody connected
    assert "importing 'upload.py' raised" in message and "Error" in message


def test_an_upload_cannot_read_another_upload_the_tests_or_the_server_folder(tmp_path):
    other_upload = tmp_path / "costmodel_upload_other" / "secret.py"
    other_upload.parent.mkdir()
    other_upload.write_text("SECRET-OF-ANOTHER-VISITOR")
    paths = [str(other_upload), __file__, str(sandbox.PACKAGE_PARENT / "README.md")]
    message = outcome("found = []\n"
                      f"for path in {paths!r}:\n"
                      "    try:\n"
                      "        found.append(open(path).read(40))\n"
                      "    except OSError:\n"
                      "        pass\n"
                      "raise RuntimeError(f'read {found}')\n" + NET)
    assert "read []" in message and "SECRET" not in message


def test_an_upload_cannot_write_outside_its_private_tmp(tmp_path):
    targets = [tmp_path / "written.txt", sandbox.PACKAGE_PARENT / "costmodel" / "planted_by_upload.py",
               sandbox.PACKAGE_PARENT / "planted_by_upload.txt"]
    try:
        message = outcome("written = []\n"
                          f"for path in {[str(t) for t in targets]!r} + ['/tmp/scratch.txt']:\n"
                          "    try:\n"
                          "        open(path, 'w').write('x')\n"
                          "        written.append(path)\n"
                          "    except OSError:\n"
                          "        pass\n"
                          "raise RuntimeError(f'wrote {written}')\n" + NET)
        assert not any(target.exists() for target in targets)
        assert "wrote ['/tmp/scratch.txt']" in message  # its own tmp works, and vanishes with it
    finally:
        for target in targets:
            target.unlink(missing_ok=True)


def _alive(marker: str) -> list[int]:
    """Pids whose command line contains `marker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_no_process_the_upload_started_outlives_the_run():
    marker = str(random.randrange(10**6, 10**7))
    source = ("import os, subprocess\n"
              f"subprocess.Popen(['sleep', '{marker}1'])\n"
              f"subprocess.Popen(['setsid', 'sleep', '{marker}2'])\n"
              "if os.fork() == 0:\n"
              f"    os.execvp('sleep', ['sleep', '{marker}3'])\n" + NET)
    started = time.monotonic()
    assert outcome(source) == "ok"
    assert time.monotonic() - started < LIMITS.seconds  # the run did not wait for its sleepers
    assert _alive(marker) == []


def test_a_fork_bomb_is_stopped_by_the_process_limit():
    started = time.monotonic()
    message = outcome("import os\nwhile True:\n    os.fork()\n" + NET)
    assert "process limit" in message and "importing the file" in message
    assert time.monotonic() - started < LIMITS.seconds


def test_an_upload_named_torch_cannot_shadow_torch_and_allocates_under_the_limit():
    message = outcome("hog = bytearray(6 * 2**30)\n" + NET, name="torch.py")
    assert "'torch.py'" in message and "memory limit" in message and "2 GiB" in message


def test_printing_a_gigabyte_is_stopped_with_one_line():
    started = time.monotonic()
    message = outcome("import sys\nline = 'x' * 2**20 + '\\n'\nfor _ in range(1024):\n"
                      "    sys.stdout.write(line)\n" + NET)
    assert "printed more than" in message and "remove the prints" in message
    assert time.monotonic() - started < LIMITS.seconds


def test_without_bubblewrap_uploads_are_refused_with_how_to_install_it(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None if name == "bwrap" else shutil.which(name))
    message = outcome(NET)
    assert "bubblewrap" in message and "apt-get install bubblewrap" in message and "COSTMODEL_UNSAFE_SANDBOX" in message
