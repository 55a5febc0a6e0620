"""Sweep throughput: a 2,000-point sweep in a plain serial loop and on a Dask LocalCluster of 1 and 2 worker
processes, in points per second, with the scaling efficiency and the peak memory (RSS) of each worker.

Run: `.venv/bin/python benchmarks/sweep_scaling.py [--points 2000] [--device amd_epyc_1t]`. The sweep is G1's
micro-network (ShuffleNet V2 Table 1: 10 blocks of 1x1 convs c1 -> c2 -> c1 at 56x56) over a c1 x c2 grid, costed
and predicted on one device at batch 1 (one trace per point). The serial loop calls the same per-point function
without Dask or Parquet; the Dask runs write Parquet as chunks finish and their time includes each worker's first
import of torch, but not the cluster's start (reported apart). Prints a table with the machine, date and the
load average: on a shared machine the numbers are noisy.
"""
from __future__ import annotations

import argparse
import datetime
import logging
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.latency.profiler import machine_name  # noqa: E402
from costmodel.latency.profiles import load_profile  # noqa: E402
from costmodel.studies import sweep  # noqa: E402


def peak_rss_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def grid_plan(points: int, device: str) -> sweep.Plan:
    c2_count = max(1, int(math.sqrt(points / 1.25)))
    c1_count = math.ceil(points / c2_count)
    grid = {"c1": [str(8 * (i + 1)) for i in range(c1_count)], "c2": [str(8 * (i + 1)) for i in range(c2_count)]}
    plan = sweep.make_plan("g1_pointwise", grid, devices=[load_profile(device)])
    return sweep.Plan(plan.arch, plan.keys, plan.points[:points], plan.devices)


def serial_loop(plan: sweep.Plan) -> dict[str, object]:
    start = time.perf_counter()
    for point in plan.points:
        sweep.evaluate_point(plan, point)
    seconds = time.perf_counter() - start
    return {"run": "plain serial loop", "workers": 0, "cluster start s": 0.0, "seconds": seconds,
            "peak MiB per process": f"{peak_rss_mib():.0f}"}


def dask_run(plan: sweep.Plan, workers: int, folder: Path) -> dict[str, object]:
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        started = time.perf_counter() - start
        outcome = sweep.run(plan, folder / f"dask{workers}.parquet", scheduler=cluster.scheduler_address)
        peaks = client.run(peak_rss_mib)
    return {"run": f"Dask LocalCluster, {workers} worker{'s' * (workers > 1)}", "workers": workers,
            "cluster start s": started, "seconds": outcome.seconds,
            "peak MiB per process": ", ".join(f"{v:.0f}" for v in peaks.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--device", default="amd_epyc_1t")
    args = parser.parse_args()
    torch.set_num_threads(1)
    plan = grid_plan(args.points, args.device)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        rows = [serial_loop(plan)] + [dask_run(plan, n, Path(folder)) for n in (1, 2)]
    table = pd.DataFrame(rows)
    table["points/s"] = len(plan.points) / table["seconds"]
    one = float(table.loc[table["workers"] == 1, "points/s"].iloc[0])
    table["vs serial"] = table["points/s"] / float(table["points/s"].iloc[0])
    table["efficiency"] = [None if w == 0 else table["points/s"].iloc[i] / (one * w)
                           for i, w in enumerate(table["workers"])]
    print(f"Sweep scaling - {len(plan.points)} points of g1_pointwise on {args.device} - "
          f"{machine_name(torch.device('cpu'))}, {os.cpu_count()} cores, {datetime.date.today()}; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (a shared machine: noisy)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
