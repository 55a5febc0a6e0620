"""`profile`: measure this machine (CPU, or CUDA GPU) with micro-benchmarks and save a fitted device profile."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from costmodel.cli.paths import output_path
from costmodel.errors import CostModelError
from costmodel.latency.profiles import DeviceProfile, save_profile
from costmodel.sources.names import BATCH_RANGE, check_range


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="what to measure (default cpu)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1, as the papers)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1], metavar="B",
                        help="batch size(s) of the micro-benchmarks (default 1); several sizes write one profile "
                             "per size, NAME_b<B>.json, since a GPU's efficiency changes with the batch (on a GPU "
                             "they share one host model, fitted to every size's issue times)")
    parser.add_argument("--quick", action="store_true", help="fewer micro-benchmarks (under 2 minutes on 2 cores)")
    parser.add_argument("--out", required=True, metavar="data/profiles/NAME.json",
                        help="where to write the profile; NAME becomes the device name")


def run(args: argparse.Namespace) -> int:
    out = output_path(args.out, "--out", (".json",))  # before minutes of measuring
    if args.threads < 1:
        raise CostModelError("--threads must be at least 1", "use e.g. --threads 1")
    for batch in args.batch:  # a profile's batch is where its networks are predicted: the range every command takes
        check_range("batch", batch, BATCH_RANGE)
    start = time.perf_counter()
    from costmodel.latency.profiler import profile_device  # torch timing + scipy: only when profiling

    several = len(args.batch) > 1
    written = {}
    for batch in args.batch:
        path = out.with_name(f"{out.stem}_b{batch}.json") if several else out
        profile = profile_device(path.stem, device=args.device, threads=args.threads, batch=batch, quick=args.quick)
        written[path] = profile
        save_profile(profile, path)
        print(f"wrote {path} after {time.perf_counter() - start:.0f} s: {profile.device}, batch {profile.batch}, "
              f"{profile.fit.samples} micro-benchmarks; fit error median {profile.fit.median_ape:.1f}%, "
              f"90th percentile {profile.fit_p90_ape:.1f}%, max {profile.fit.max_ape:.1f}%")
        print(f"use it: python -m costmodel analyze shufflenet_v2 --device {path}")
    if several and all(p.host is not None for p in written.values()):
        _share_host(written)
    return 0


def _share_host(profiles: dict[Path, DeviceProfile]) -> None:
    """Issuing an op costs the host the same at any batch: one host model fitted to every batch's issue
    times replaces each profile's own (docs/readme/gpu.md)."""
    from costmodel.latency.host import fit_host

    sizes = ", ".join(str(p.batch) for p in profiles.values())
    host, _ = fit_host([m for p in profiles.values() for m in p.measurements],
                       f"host issue times of the micro-benchmarks at batch {sizes}, in one fit")
    for path, profile in profiles.items():
        save_profile(profile.model_copy(update={"host": host}), path)
    print(f"one host model for batch {sizes}, fitted to all {sum(len(p.measurements) for p in profiles.values())} "
          f"issue times, written to every profile")
