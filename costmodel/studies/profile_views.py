"""What the Device profiles page shows: a profile's provenance and fit, its parameters, its rooflines with a
network's ops as points, and profiling this machine in a child process (progress read from its bar)."""
from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from costmodel.errors import CostModelError
from costmodel.studies.evaluate import Settings, Source, device_batch, latency, profile, report
from costmodel.latency.kernels import COMPUTE_CLASSES, KERNEL_CLASSES
from costmodel.latency.model import Features, measurement_ms, op_milliseconds, samples_frame
from costmodel.studies import latency_validation, validated
from costmodel.latency.profiles import DeviceProfile, read_profile

_PROGRESS = re.compile(r"(\d+)/(\d+)")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # DeviceProfile.name's pattern


def summary(settings: Settings) -> pd.DataFrame:
    """One row per profile: what it is, its fit error on its own data and its error on whole networks it was
    never fitted or tuned on, at its batch (costmodel.studies.validated; empty: none), then the details. What a
    reader compares profiles by comes first, so it is on screen without scrolling; the long account of how the
    profile was made comes last."""
    rows = []
    for name in settings.devices:
        d = profile(name)
        unseen = validated.accuracy(d, d.batch, settings.mode, settings.fold_bn)
        rows.append({"profile": d.name, "device": d.device, "source": d.source.method, "batch": d.batch,
                     "fit median error (%)": d.fit.median_ape, "fit p90 error (%)": d.fit_p90_ape,
                     "fit max error (%)": d.fit.max_ape,
                     "unseen networks": unseen.networks if unseen else None,
                     "unseen median error (%)": unseen.median_pct if unseen else None,
                     "unseen max error (%)": unseen.max_pct if unseen else None,
                     "measurements": len(d.measurements), "kind": d.kind, "threads": d.threads, "dtype": d.dtype,
                     "how": d.source.description})
    counts = ["batch", "unseen networks", "measurements", "threads"]  # whole numbers, some missing: not floats
    return pd.DataFrame(rows).astype({column: "Int64" for column in counts})


def parameters(device: DeviceProfile) -> pd.DataFrame:
    """The fitted latency-model parameters, one row per kernel class (see costmodel.latency.model), under the
    raw names of costmodel.viz.tables.COLUMNS. `half_pixels` is the size at which a kernel's efficiency halves:
    output positions on a CPU, output elements (positions x channels) on a profile whose kernels fill the device
    with both (`parallel_channels`, the GPUs), so there it is named `half_output_elements`."""
    size = "half_output_elements" if device.latency_model.parallel_channels else "half_pixels"
    rows = [{"kernel class": name, "fitted": name in device.latency_model.fitted, **params.model_dump()}
            for name, params in device.latency_model.kernels.items()]
    return pd.DataFrame(rows).rename(columns={"half_pixels": size})


def fit_points(device: DeviceProfile) -> pd.DataFrame:
    """Measured vs fitted time of every measurement; kind = the op kind with the most FLOPs (else the first);
    source = 'published' for a paper's number (the measurement names its reference: calibrated profiles), else
    'measured' (a micro-benchmark timed on the machine). `measured_ms` is that time either way and
    `fit_error_pct` the fitted model's error against it: (fitted - time) / time, %."""
    rows = []
    for m in device.measurements:
        main = max(m.ops, key=lambda op: op.flops * op.count)
        fitted = m.predicted_ms or measurement_ms(m.ops, device.latency_model)
        rows.append({"name": m.label, "kind": main.kind.value,
                     "source": "measured" if m.reference is None else "published", "measured_ms": m.ms,
                     "fitted_ms": fitted, "fit_error_pct": 100 * (fitted - m.ms) / m.ms})
    return pd.DataFrame(rows, columns=["name", "kind", "source", "measured_ms", "fitted_ms", "fit_error_pct"])


def time_source(points: pd.DataFrame) -> str:
    """What `fit_points`' times are: 'measured', 'published', or 'measured or published' for a profile mixing them
    (the fit chart's axis and title say it, as the measurements table does)."""
    return " or ".join(sorted(set(points["source"]))) or "measured"


def measurements(device: DeviceProfile) -> pd.DataFrame:
    """`fit_points` as the measurements table shows them, its time and error named by what the time is (raw names
    of costmodel.viz.tables.COLUMNS): published (`published_ms`, `fit_error_vs_published_pct`) when every
    measurement is a paper's number, measured (`measured_ms`, `fit_error_pct`) when every one was timed, and
    both words (with the source column kept) when a profile mixes them."""
    points = fit_points(device).rename(columns={"name": "measurement", "kind": "main op kind"})
    sources = set(points["source"])
    if sources == {"published"}:
        return points.drop(columns="source").rename(
            columns={"measured_ms": "published_ms", "fit_error_pct": "fit_error_vs_published_pct"})
    if sources == {"published", "measured"}:
        return points.rename(columns={"measured_ms": "reference_ms", "fit_error_pct": "fit_error_vs_reference_pct"})
    return points.drop(columns="source")


def class_residuals(device: str) -> pd.DataFrame:
    """Each measurement's prediction error (%), grouped by the kernel class that takes most of its predicted
    time: the per-class residuals of profile `device`'s own micro-benchmarks (a pure function of its name, so
    pages cache it: about a second for a thousand measurements)."""
    rows, measured = [], profile(device)
    for m in measured.measurements:
        frame = samples_frame(m.ops)
        ms = op_milliseconds(frame, measured.latency_model) * frame["count"].to_numpy()
        main = KERNEL_CLASSES[Features(frame).cls[ms.argmax()]]
        rows.append({"group": main, "name": m.label, "error_pct": 100 * (ms.sum() / m.ms - 1)})
    return pd.DataFrame(rows, columns=["group", "name", "error_pct"]).sort_values("group", kind="stable")


def network_residuals(device: DeviceProfile) -> pd.DataFrame:
    """Whole-network errors (%) per family from the stored validation timings of this profile's machine and
    thread count (data/validation/); empty for profiles that were not validated there."""
    threads = latency_validation.VALIDATED.get(device.name)
    if threads is None:
        return pd.DataFrame(columns=["group", "name", "error_pct"])
    table = latency_validation.predictions(latency_validation.load(), device, threads)
    table = table.assign(group=table["half"].str[0].str.upper() + ": " + table["family"],
                         name=table["network"] + " (" + table["variant"] + ")")
    return table.sort_values(["half", "family"])[["group", "name", "error_pct"]]


def ceilings(device: DeviceProfile) -> pd.DataFrame:
    """Roofs of the compute kernel classes: peak MAdds/s and bandwidth in bytes/s at full efficiency."""
    rows = [{"label": name, "peak": k.gmadds_per_s * 1e9, "bandwidth": k.gbytes_per_s * 1e9}
            for name, k in device.latency_model.kernels.items() if name in COMPUTE_CLASSES and k.gmadds_per_s]
    return pd.DataFrame(rows, columns=["label", "peak", "bandwidth"])


def roofline_ops(source: Source, device: str, settings: Settings) -> pd.DataFrame:
    """The network's ops with FLOPs as roofline points at the device's batch: intensity (MAdds per byte of MAC)
    and attained MAdds/s as predicted."""
    ops = report(source, device_batch(profile(device), settings), settings.dtype, settings.fold_bn).ops
    ms = latency(source, device, settings).per_op["ms"].to_numpy()
    frame = pd.DataFrame({"name": ops["name"], "kind": ops["kind"], "flops": ops["flops"],
                          "mac_bytes": ops["mac_bytes"], "ms": ms})
    frame = frame[(frame["flops"] > 0) & (frame["mac_bytes"] > 0) & (frame["ms"] > 0)]
    return frame.assign(intensity=frame["flops"] / frame["mac_bytes"], achieved=frame["flops"] / (frame["ms"] / 1e3))


def profile_machine(name: str, *, quick: bool = True, on_progress: Callable[[float], None] = lambda _: None,
                    command: list[str] | None = None) -> DeviceProfile:
    """Run `python -m costmodel profile` (or `command`, given `--out FILE` appended) in a child process, so its
    torch threads and timing stay out of the app's; report progress 0..1 from its progress bar."""
    if not _NAME.fullmatch(name):
        raise CostModelError(f"profile name '{name}' has characters a profile name cannot have",
                             "use letters, digits, '_', '-' and '.' only")
    out = Path(tempfile.mkdtemp(prefix="costmodel_profile_")) / f"{name}.json"
    command = command or [sys.executable, "-m", "costmodel", "profile", *(["--quick"] if quick else [])]
    process = subprocess.Popen([*command, "--out", str(out)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True, cwd=Path(__file__).resolve().parents[2])
    assert process.stderr is not None
    chunk, tail = "", []

    def line(text: str) -> None:
        nonlocal tail
        if match := _PROGRESS.search(text):
            done, total = int(match[1]), int(match[2])
            on_progress(done / total if total else 0.0)
        elif text.strip():
            tail = [*tail[-4:], text.strip()]

    while (char := process.stderr.read(1)) != "":
        if char in "\r\n":
            line(chunk)
            chunk = ""
        else:
            chunk += char
    line(chunk)
    if process.wait() != 0 or not out.exists():
        raise CostModelError(f"profiling failed: {' / '.join(tail) or 'no output'}",
                             "run `python -m costmodel profile --quick --out my.json` in a shell to see why")
    return read_profile(out)
