"""Analyse a user's model in a child process that is isolated from the app, so that uploaded code that loops,
allocates, forks, prints, reads or writes files or opens sockets yields one clear line and the app keeps serving.

Isolation (docs/readme/reliability.md): bubblewrap gives the child a read-only view of only the Python
installation and the costmodel package, a private size-limited /tmp holding only the upload, no network, a new
session and pid namespace (killing it kills every process the upload started) and an empty environment; as
root, the child also drops to an unprivileged uid so that RLIMIT_NPROC is enforced. Python runs isolated (`-I`):
the upload's folder is never on sys.path, so an upload named torch.py cannot shadow torch. The child imports
torch and the engine, sets rlimits (address space, CPU, processes, file size, open files), says `ready` (the
clock for the time limit starts there), then imports the user's file, builds the model and traces it, and sends
back each report as JSON (`Report.to_json`). Nothing the child writes is ever unpickled.
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from costmodel.engine.analysis import analyze
from costmodel.engine.report import Report
from costmodel.errors import CostModelError
from costmodel.sources.userfile import load_user_model, module_classes, resolve_spec

__all__ = ["Limits", "analyze_sandboxed", "module_classes", "resolve_spec", "run_sandboxed", "run_uploaded"]

PACKAGE_PARENT = Path(__file__).resolve().parents[2]
STARTUP_LIMIT_S = 120.0  # importing torch in a fresh process: ~2 s here, much more on a loaded machine
MAX_RESULT_BYTES = 256 * 2**20  # a 10k-op graph is a few MB; more means something is wrong
MAX_OUTPUT_BYTES = 4 * 2**20  # what the user's code may print before it is stopped
TMP_BYTES = 64 * 2**20  # size of the child's private /tmp
SANDBOX_UID = 65534  # 'nobody': the child's uid when the app runs as root
STDERR_TAIL_BYTES = 2000
INSTALL_FIX = ("install bubblewrap (apt-get install bubblewrap); an operator may instead set "
               "COSTMODEL_UNSAFE_SANDBOX=1 to run uploads without isolation (unsafe)")
_READY, _LOADED = "ready", "loaded"


@dataclass(frozen=True)
class Limits:
    """What the user's code may use once the child is ready: wall-clock seconds for import + build + trace,
    bytes of address space beyond what the child maps after importing torch and the engine (several GiB of
    libraries with a CUDA build of torch; tracing itself maps about 1.5 GiB more), processes and threads,
    open files and the size of any file it writes."""

    seconds: float = 60.0
    memory_bytes: int = 4 * 2**30
    processes: int = 64
    open_files: int = 256
    file_bytes: int = 16 * 2**20

    def memory_text(self) -> str:
        return f"{self.memory_bytes / 2**30:g} GiB"


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes/contexts (user-code errors arrive wrapped in a CostModelError)."""
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and all(link is not seen for seen in chain):
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def _memory_exhausted(error: BaseException) -> bool:
    """Whether an allocation failed somewhere in the chain (Python's MemoryError or torch's ENOMEM)."""
    return any(isinstance(e, MemoryError) or "can't allocate memory" in str(e) for e in _chain(error))


def _allocation_text(error: BaseException) -> str:
    """' (it tried to allocate 8 GiB)' when torch says how much; '' otherwise."""
    found = re.search(r"tried to allocate (\d+) bytes", " ".join(map(str, _chain(error))))
    return f" (it tried to allocate {int(found.group(1)) / 2**30:.3g} GiB)" if found else ""


def _phase(name: str, loaded: bool) -> str:
    return f"'{name}': " + ("tracing the model" if loaded else "importing the file and building the model")


def _describe(error: BaseException, phase: str, limits: Limits) -> str:
    """One line for any failure of the user's code inside the child."""
    if _memory_exhausted(error):
        return (f"{phase} ran out of memory{_allocation_text(error)}: the limit is {limits.memory_text()} "
                "(memory limit) - shrink the model or raise the limit")
    if any(isinstance(e, BlockingIOError) and e.errno == errno.EAGAIN for e in _chain(error)):
        return (f"{phase} tried to run more than {limits.processes} processes and threads (process limit) - "
                "do not start processes in the model file")
    if isinstance(error, CostModelError):
        return str(error)
    first = str(error).splitlines()[0][:300] if str(error) else ""
    return f"{phase} failed with {type(error).__name__}: {first}"


def _mapped_bytes() -> int:
    """This process's address space now (VmSize), the base the memory limit is added to."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmSize:\s+(\d+) kB", status, re.MULTILINE).group(1)) * 1024


def _set_limits(limits: Limits) -> None:
    """rlimits for everything the user's code does from here on (a CPU-time backstop too, in case the parent
    is gone); SIGXFSZ ignored so that writing past the file-size limit raises instead of killing silently."""
    cpu_seconds = math.ceil(limits.seconds * (os.cpu_count() or 1) + STARTUP_LIMIT_S)
    address_space = _mapped_bytes() + limits.memory_bytes
    for kind, value in ((resource.RLIMIT_AS, address_space), (resource.RLIMIT_CPU, cpu_seconds),
                        (resource.RLIMIT_NPROC, limits.processes), (resource.RLIMIT_NOFILE, limits.open_files),
                        (resource.RLIMIT_FSIZE, limits.file_bytes)):
        resource.setrlimit(kind, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _warm_up() -> None:
    """Trace a one-conv model before the limits: the tracer's lazy imports (seconds, over 1 GiB of address
    space) then count as startup, not against the user's time and memory."""
    from torch import nn  # noqa: PLC0415 - torch is imported with the engine already; this names it

    analyze(nn.Sequential(nn.Conv2d(1, 1, 1)), (1, 1, 4, 4))


def _only_main(main_pid: int) -> None:
    """A process the user's code forked must not reach the protocol: it leaves quietly."""
    if os.getpid() != main_pid:
        os._exit(0)


def _child() -> None:
    """Entry point inside the sandbox: one request on stdin, protocol lines on the real stdout."""
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the user's code prints goes to stderr, never into the protocol
    request = json.loads(sys.stdin.read())
    limits = Limits(**request["limits"])
    _warm_up()
    _set_limits(limits)
    main_pid = os.getpid()
    print(_READY, file=channel)
    phase = _phase(request["name"], loaded=False)
    try:
        model = load_user_model(resolve_spec(request["spec"], class_field=request["class_field"]))
        _only_main(main_pid)
        print(_LOADED, file=channel)
        phase = _phase(request["name"], loaded=True)
        reports = [analyze(model, shape, dtype=request["dtype"], fold_bn=request["fold_bn"],
                           arch=request["label"]).to_json() for shape in request["input_shapes"]]
        _only_main(main_pid)
        text = '{"ok": true, "reports": [' + ", ".join(reports) + "]}"
    except BaseException as error:  # noqa: BLE001 - every failure of user code is reported as one line
        _only_main(main_pid)
        text = json.dumps({"ok": False, "error": _describe(error, phase, limits)})
    channel.write(text + "\n")
    channel.close()
    os._exit(0)  # threads the user's code started must not keep the child alive


class _ChildOutput:
    """Reads the child's stdout (protocol) and stderr (kept as a short tail, capped in total) without blocking."""

    def __init__(self, process: subprocess.Popen, name: str) -> None:
        self.name = name
        self.selector = selectors.DefaultSelector()
        self.selector.register(process.stdout, selectors.EVENT_READ, "out")
        self.selector.register(process.stderr, selectors.EVENT_READ, "err")
        self.out = bytearray()
        self.err = bytearray()
        self.err_total = 0

    def lines(self) -> list[str]:
        """Complete protocol lines so far."""
        return self.out.decode("utf-8", errors="replace").split("\n")[:-1]

    def result(self) -> str | None:
        """The child's JSON answer, once its line is complete."""
        return next((line for line in self.lines() if line.startswith("{")), None)

    def _stdout_open(self) -> bool:
        return any(key.data == "out" for key in self.selector.get_map().values())

    def pump(self, deadline: float, done: Callable[[], bool]) -> bool:
        """Read until `done()` (or stdout closes); False if the deadline passes first."""
        while self._stdout_open() and not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, _ in self.selector.select(timeout=left):
                chunk = os.read(key.fileobj.fileno(), 1 << 16)
                if not chunk:
                    self.selector.unregister(key.fileobj)
                elif key.data == "out":
                    self.out += chunk
                    if len(self.out) > MAX_RESULT_BYTES:
                        raise CostModelError("the model's report is larger than 256 MiB", "analyse a smaller model")
                else:
                    self._stderr(chunk)
        return True

    def _stderr(self, chunk: bytes) -> None:
        self.err = (self.err + chunk)[-STDERR_TAIL_BYTES:]
        self.err_total += len(chunk)
        if self.err_total > MAX_OUTPUT_BYTES:
            raise CostModelError(f"'{self.name}' printed more than {MAX_OUTPUT_BYTES // 2**20} MiB, so it was stopped",
                                 "remove the prints from the file")

    def stderr_tail(self) -> str:
        lines = self.err.decode("utf-8", errors="replace").strip().splitlines()
        return lines[-1][:200] if lines else ""


def _bootstrap() -> list[str]:
    """`python -I` (no PYTHONPATH, no script or working folder on sys.path) that can import costmodel."""
    code = (f"import sys; sys.path.insert(0, {str(PACKAGE_PARENT)!r}); "
            "from costmodel.sources.sandbox import _child; _child()")
    return [sys.executable, "-I", "-c", code]


def _minimal_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1"}


def _read_only_paths() -> list[Path]:
    """What the child may read: the Python installation (and venv) and the costmodel package, nothing else -
    no home, no other uploads, no caches, no server folder."""
    candidates = {Path("/usr"), Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
                  Path(sys.prefix), PACKAGE_PARENT / "costmodel", Path("/etc/ld.so.cache")}
    kept: list[Path] = []
    for path in sorted((p for p in candidates if p.exists()), key=lambda p: len(p.parts)):
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return kept


def _root_links() -> list[str]:
    """/bin, /lib, ... as on the host: symlinks into /usr on merged-/usr systems, read-only folders otherwise."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    return args


def _parents(path: Path) -> list[str]:
    """Folders leading to a bind target, listable by the unprivileged child (bwrap would make them 0700,
    and Python's import system lists each folder on sys.path)."""
    args: list[str] = []
    for parent in reversed(path.parents[:-1]):
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def _bwrap_command(bwrap: str, workdir: Path, info_fd: int) -> list[str]:
    """The bubblewrap command line that runs the child with `workdir` (read-only) as its working folder."""
    command = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
               "--new-session", "--die-with-parent", "--clearenv", "--info-fd", str(info_fd)]
    # The private /tmp first: later binds land on top of it, so an installation under /tmp (a CI clone, a venv
    # there) stays visible, read-only, while the rest of the host's /tmp does not.
    command += ["--size", str(TMP_BYTES), "--perms", "1777", "--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc"]
    for path in _read_only_paths():
        command += [*_parents(path), "--ro-bind", str(path), str(path)]
    command += _root_links()
    command += [*_parents(workdir), "--ro-bind", str(workdir), str(workdir), "--chdir", str(workdir)]
    for key, value in _minimal_env().items():
        command += ["--setenv", key, value]
    if os.geteuid() != 0:
        return [*command, "--unshare-user", "--", *_bootstrap()]
    setpriv = shutil.which("setpriv")  # root's processes are exempt from RLIMIT_NPROC: drop to an unprivileged uid
    if setpriv is None:
        raise CostModelError("setpriv is missing, so the sandbox cannot drop root privileges",
                             "install util-linux (apt-get install util-linux)")
    return [*command, "--", setpriv, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", *_bootstrap()]


class _Child:
    """The running child: bubblewrap around it when available, else (operator opt-in only) a bare process."""

    def __init__(self, workdir: Path, allow_unsafe: bool) -> None:
        bwrap = shutil.which("bwrap")
        if bwrap is None and not allow_unsafe:
            raise CostModelError("uploaded code cannot be isolated on this server: bubblewrap (bwrap) is missing",
                                 INSTALL_FIX)
        self.info_read: int | None = None
        pipes = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        if bwrap is None:
            self.process = subprocess.Popen(_bootstrap(), cwd=workdir, env=_minimal_env(), **pipes)
            return
        self.info_read, info_write = os.pipe()
        try:
            self.process = subprocess.Popen(_bwrap_command(bwrap, workdir, info_write), pass_fds=(info_write,),
                                            env={}, **pipes)
        except BaseException:
            os.close(self.info_read)
            raise
        finally:
            os.close(info_write)

    def _sandbox_init(self) -> int | None:
        """The pid (seen from here) of the sandbox's first process; killing it ends its whole pid namespace."""
        if self.info_read is None:
            return None
        os.set_blocking(self.info_read, False)
        try:
            found = re.search(rb'"child-pid"\s*:\s*(\d+)', os.read(self.info_read, 4096))
        except BlockingIOError:
            return None
        return int(found.group(1)) if found else None

    def kill(self) -> None:
        """End the child and every process it started, on every exit path; returns once they are gone."""
        init = self._sandbox_init()
        if init is not None and self.process.poll() is None:
            with _ignore_missing():
                os.kill(init, signal.SIGKILL)
            with _ignore_missing():
                self.process.wait(timeout=5)  # bwrap exits once its pid namespace is empty
        if self.process.poll() is None:
            with _ignore_missing():
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.info_read is not None:
            os.close(self.info_read)
            self.info_read = None


class _ignore_missing:
    """Context manager: a process that is already gone (or a wait that timed out) is not an error."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, *_: object) -> bool:
        return kind is not None and issubclass(kind, (ProcessLookupError, subprocess.TimeoutExpired))


def _exit_code(process: subprocess.Popen) -> int | None:
    """The child's exit status once its stdout has closed (None if it lingers, e.g. in a user thread)."""
    try:
        return process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        return None


def _timeout_message(name: str, loaded: bool, limits: Limits) -> str:
    where = "forward()" if loaded else "the file's top level or the constructor"
    return (f"{_phase(name, loaded)} did not finish within {limits.seconds:g} s (time limit) - "
            f"look for an endless loop in {where}, or raise the limit")


def _exit_message(name: str, code: int | None, tail: str, limits: Limits) -> str:
    if code is not None and code < 0:
        signame = signal.Signals(-code).name
        hint = f" (out of memory? the limit is {limits.memory_text()})" if -code == signal.SIGKILL else ""
        return f"'{name}': the model process was killed by {signame}{hint}{': ' + tail if tail else ''}"
    return f"'{name}': the model process exited (code {code}) without a report{': ' + tail if tail else ''}"


def run_sandboxed(spec: str, input_shapes: Sequence[tuple[int, ...]], *, dtype: str = "float32",
                  fold_bn: bool = True, label: str | None = None, limits: Limits = Limits(),
                  cwd: str | Path | None = None, allow_unsafe: bool = False,
                  class_field: bool = False) -> list[Report]:
    """Import and build `spec` ('file.py', 'file.py:Name' or 'pkg.mod:Name', relative to `cwd`) once in the
    sandbox and trace it at each of `input_shapes` (e.g. batch 1 for costs and a device's batch for latency).
    A bare 'file.py' is its only nn.Module class; `class_field`: the caller names the class in a field of its
    own (an upload), so the error for a file with several says to type the name there (resolve_spec).

    `cwd` is the only host folder the child sees (read-only). Without bubblewrap this refuses, unless
    `allow_unsafe` (an operator's explicit choice). Raises CostModelError with one line."""
    name = spec.rsplit(":", 1)[0] if ":" in spec else spec
    shapes = [[int(d) for d in shape] for shape in input_shapes]
    request = {"spec": spec, "name": name, "label": label or spec, "input_shapes": shapes, "dtype": dtype,
               "fold_bn": fold_bn, "limits": asdict(limits), "class_field": class_field}
    child = _Child(Path(cwd or Path.cwd()).resolve(), allow_unsafe)
    process = child.process
    try:
        process.stdin.write(json.dumps(request).encode())
        process.stdin.close()
        output = _ChildOutput(process, name)
        if not output.pump(time.monotonic() + STARTUP_LIMIT_S, lambda: _READY in output.lines()) \
                or _READY not in output.lines():
            raise CostModelError(f"the analysis process did not start ({output.stderr_tail() or 'no output'})",
                                 "check that torch imports in this environment")
        if not output.pump(time.monotonic() + limits.seconds, lambda: output.result() is not None):
            raise CostModelError(_timeout_message(name, _LOADED in output.lines(), limits))
        answer = output.result()
        if answer is None:
            raise CostModelError(_exit_message(name, _exit_code(process), output.stderr_tail(), limits))
    finally:
        child.kill()
    return _reports(answer, name)


def _reports(answer: str, name: str) -> list[Report]:
    """The child's answer as Reports (or its one-line error); an answer that is not what `_child` writes (the
    user's code can write to the channel too) is reported, never trusted further."""
    try:
        result = json.loads(answer)
        if result["ok"] is False:
            raise CostModelError(str(result["error"])[:500].replace("\n", " "))
        return [Report.from_json(json.dumps(item)) for item in result["reports"]]
    except CostModelError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as error:
        raise CostModelError(f"'{name}': the model process sent a malformed report ({type(error).__name__})",
                             "do not write to file descriptors the model file did not open") from None


def run_uploaded(content: bytes, filename: str, attr: str | None, input_shapes: Sequence[tuple[int, ...]],
                 **options: Any) -> list[Report]:
    """`run_sandboxed` for an uploaded file: written alone into a fresh temporary folder (the only host folder
    the child sees), analysed there (its name in messages is the uploaded name), then deleted."""
    name = Path(filename).name
    if not name.endswith(".py") or name.startswith("."):
        raise CostModelError(f"'{name}' is not a Python file", "upload a .py file")
    spec = f"{name}:{attr}" if attr else name
    with tempfile.TemporaryDirectory(prefix="costmodel_upload_") as folder:
        (Path(folder) / name).write_bytes(content)
        os.chmod(folder, 0o711)  # the child runs as another uid: it may open the upload, not list the folder
        return run_sandboxed(spec, input_shapes, cwd=folder, **{"label": spec, "class_field": True, **options})


def analyze_sandboxed(spec: str, input_shape: tuple[int, ...], **options: Any) -> Report:
    """The Report of a user's model at one input shape, computed out of process."""
    return run_sandboxed(spec, [input_shape], **options)[0]
