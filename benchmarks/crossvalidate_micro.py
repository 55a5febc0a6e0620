"""Out-of-fold error of the device-time model on the H200 profiler run's micro-benchmarks (CPU only).

Run: `.venv/bin/python benchmarks/crossvalidate_micro.py [--ablation] [--cpu PROFILE ...]` (1.5 minutes; with
--ablation 10-25 minutes on 2 cores).

Why: a change to the model's form (a kernel class, the loss) is decided on the micro-benchmarks, the fit
set, but its in-sample fit error always falls when parameters are added. Here every micro-benchmark of
data/measurements/h200-2026-11-30-profiler/profile_b{B}.json.gz is predicted by a model fitted without it:
the grid is cut into FOLDS folds by a hash of each benchmark's label (fixed before any result was seen), each
fold predicted by the fit to the other four, with the fit that makes the shipped profiles
(costmodel.latency.profiler.fit_gpu_device). Prints median |log(predicted / measured)| and its median sign
(bias) per benchmark family and batch, with the date and the code's git commit. No whole network is used.
`--ablation` compares the choices this decided (docs/readme/gpu.md): grouped 1x1 convs in their own kernel
class or merged with grouped 3x3 convs, and a least-squares or soft-L1 loss at two scales. `--cpu` compares the
two class structures on a stored CPU profile's grid, fitted as the CPU profiler fits (least squares).
"""
from __future__ import annotations

import argparse
import contextlib
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.latency import model as latency_model  # noqa: E402
from costmodel.latency.fitting import fit  # noqa: E402
from costmodel.latency.gpu_profiles import H200_BATCHES, profiler_grid  # noqa: E402
from costmodel.latency.kernels import kernel_class  # noqa: E402
from costmodel.latency.model import measurement_ms  # noqa: E402
from costmodel.latency.profiler import GPU_ROBUST_SCALE, fit_gpu_device, generic_prior  # noqa: E402
from costmodel.latency.profiles import LatencyModel, Measurement, load_profile  # noqa: E402

FOLDS = 5
# Families reported on their own (label patterns of costmodel.latency.profiler's grid); the rest are "other".
FAMILIES = {"grouped 1x1 conv": r"gconv1x1 ", "grouped 3x3 conv": r"gconv3x3 ", "dense 1x1 conv": r"conv1x1/",
            "dense kxk conv": r"conv[357]x[357]/", "depthwise conv": r"dw\d"}
ROBUST_CHOICES = (None, 0.3, 0.1)


def family(label: str) -> str:
    return next((name for name, pattern in FAMILIES.items() if re.match(pattern, label)), "other")


def fold_of(label: str) -> int:
    return zlib.crc32(label.encode()) % FOLDS


def gpu_fit(robust: float | None = GPU_ROBUST_SCALE) -> Callable[[list[Measurement]], LatencyModel]:
    return lambda train: fit_gpu_device(train, robust)[0]


def cpu_fit(train: list[Measurement]) -> LatencyModel:
    return fit(train, generic_prior("cpu"))[0]


def out_of_fold(measurements: list[Measurement], fitted: Callable[[list[Measurement]], LatencyModel]
                ) -> pd.DataFrame:
    """Each measurement's family and log error when predicted by the model `fitted` to the other folds."""
    rows = []
    for fold in range(FOLDS):
        model = fitted([m for m in measurements if fold_of(m.label) != fold])
        rows += [{"family": family(m.label), "log_error": np.log(measurement_ms(m.ops, model) / m.ms)}
                 for m in measurements if fold_of(m.label) == fold]
    return pd.DataFrame(rows)


@contextlib.contextmanager
def grouped_classes_merged() -> Iterator[None]:
    """The model as it was before `group_conv1x1`: every group conv in the one `group_conv` class."""
    def merged(*features: object) -> str:
        name = kernel_class(*features)
        return "group_conv" if name == "group_conv1x1" else name

    latency_model.kernel_class = merged
    try:
        yield
    finally:
        latency_model.kernel_class = kernel_class


def by_family(errors: pd.DataFrame) -> pd.DataFrame:
    """Median |log error|, median log error and count per family, and over all benchmarks (plus the mean)."""
    errors = errors.assign(abs=errors["log_error"].abs())
    table = errors.groupby("family").agg(median_abs=("abs", "median"), bias=("log_error", "median"),
                                         n=("abs", "size"))
    table.loc["all"] = [errors["abs"].median(), errors["log_error"].median(), len(errors)]
    table.loc["all (mean |log err|)"] = [errors["abs"].mean(), np.nan, len(errors)]
    return table


def shipped_table(grids: dict[int, list[Measurement]]) -> pd.DataFrame:
    columns = {}
    for batch, measurements in grids.items():
        table = by_family(out_of_fold(measurements, gpu_fit()))
        columns[f"b{batch} |log err|"], columns[f"b{batch} bias"] = table["median_abs"], table["bias"]
        columns[f"b{batch} n"] = table["n"].astype(int)
    return pd.DataFrame(columns)


def ablation_table(grids: dict[int, list[Measurement]]) -> pd.DataFrame:
    columns = {}
    for merged in (True, False):
        for robust in ROBUST_CHOICES:
            variant = f"{'merged' if merged else 'split'} {'lsq' if robust is None else f'l1 {robust}'}"
            with grouped_classes_merged() if merged else contextlib.nullcontext():
                for batch, measurements in grids.items():
                    errors = out_of_fold(measurements, gpu_fit(robust))
                    columns[f"{variant} b{batch}"] = by_family(errors)["median_abs"]
            print(f"  done: {variant}", file=sys.stderr, flush=True)
    return pd.DataFrame(columns).T


def cpu_table(names: list[str]) -> pd.DataFrame:
    columns = {}
    for name in names:
        measurements = list(load_profile(name).measurements)
        for merged in (True, False):
            with grouped_classes_merged() if merged else contextlib.nullcontext():
                errors = out_of_fold(measurements, cpu_fit)
            columns[f"{name} {'merged' if merged else 'split'}"] = by_family(errors)["median_abs"]
    return pd.DataFrame(columns).T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ablation", action="store_true", help="compare class structures and losses")
    parser.add_argument("--cpu", nargs="+", metavar="PROFILE", help="compare class structures on CPU profiles")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    what = ", ".join(args.cpu) if args.cpu else "H200 profiler run"
    print(f"out-of-fold micro-benchmark error (median |log(predicted/measured)|), {what}, {FOLDS} folds; "
          f"{date.today()}, commit {commit}")
    if args.cpu:
        print(cpu_table(args.cpu).round(3).to_markdown())
        return
    grids = {batch: list(profiler_grid(batch).measurements) for batch in H200_BATCHES}
    table = ablation_table(grids) if args.ablation else shipped_table(grids)
    print(table.round(3).to_markdown())


if __name__ == "__main__":
    main()
