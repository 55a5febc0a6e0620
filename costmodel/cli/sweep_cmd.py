"""`sweep`: a design-space sweep on Dask (a local cluster or a scheduler), written to Parquet as chunks finish;
`--scaling` sweeps depth x width x resolution multipliers and prints the device-optimal scaling at `--budget`."""
from __future__ import annotations

import argparse
import contextlib
import math
import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from costmodel.cli.paths import output_path
from costmodel.engine.analysis import DTYPE_BYTES
from costmodel.errors import CostModelError
from costmodel.latency.profiles import DeviceProfile, list_profiles, load_profile
from costmodel.latency.schedule import MODES
from costmodel.sources.names import shown
from costmodel.studies import optimal_scaling, search_space, sweep
from costmodel.units import si

EPILOG = f"""examples:
  python -m costmodel sweep shufflenet_v2 --grid width=0.5:2:0.25 --grid split_ratio=0.25,0.5,0.75 --out v2.parquet
  python -m costmodel sweep {search_space.NAME} --sample 1000 --seed 0 --device snapdragon810 --out nas.parquet
  python -m costmodel sweep efficientnet --scaling --budget 20 --out scaling.parquet
a cluster: `dask scheduler` on one machine, `dask worker tcp://HOST:8786` on each worker machine (with this
package installed), then --scheduler tcp://HOST:8786."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("arch", metavar="ARCH", help=f"zoo architecture, torchvision:NAME / timm:NAME, or "
                                                     f"{search_space.NAME} (MnasNet-style block search space)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2|LO:HI:STEP",
                        help="values of one parameter (repeatable; 'resolution' sets the input size)")
    parser.add_argument("--sample", type=int, help="draw N points of the grid (or of the search space) at random")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--device", nargs="+", default=["all"], metavar="NAME|profile.json|all",
                        help="device profiles to predict latency on (default all)")
    parser.add_argument("--mode", choices=MODES, default="eager",
                        help="GPU execution: eager (host issues each op) or graph (CUDA-graph replay)")
    parser.add_argument("--batch", type=int, help="batch for latency (default: each profile's own)")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPE_BYTES), help="dtype for MAC bytes")
    parser.add_argument("--keep-bn", action="store_true", help="keep BatchNorm as an elementwise op (no folding)")
    parser.add_argument("--out", required=True, metavar="FILE.parquet", help="results file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="local Dask worker processes (default 2)")
    where.add_argument("--scheduler", metavar="tcp://HOST:8786", help="a running Dask scheduler to use instead")
    where.add_argument("--serial", action="store_true", help="a plain loop in this process, no Dask")
    parser.add_argument("--resume", action="store_true", help="complete --out: skip the points already in it")
    parser.add_argument("--scaling", action="store_true",
                        help="sweep depth x width x resolution multipliers and EfficientNet's compound path "
                             "(with ARCH one of " + ", ".join(optimal_scaling.KNOBS) + ")")
    parser.add_argument("--budget", action="append", metavar="MS|FACTORx",
                        help="with --scaling: latency budget in ms per batch, or e.g. 2x: twice the unscaled "
                             "network's latency on each device (repeatable)")


def devices(names: list[str]) -> list[DeviceProfile]:
    return list_profiles() if "all" in names else [load_profile(name) for name in names]


def _plan(args: argparse.Namespace, profiles: list[DeviceProfile]) -> sweep.Plan:
    if args.scaling:
        if args.grid or args.sample:
            raise CostModelError("--scaling sweeps its own multiplier grid", "drop --grid and --sample")
        return optimal_scaling.plan(args.arch, profiles, batch=args.batch, dtype=args.dtype, mode=args.mode,
                                    fold_bn=not args.keep_bn)
    if not args.grid and args.arch != search_space.NAME:
        raise CostModelError(f"no parameters to sweep for {args.arch}", "add --grid KEY=V1,V2 (see `costmodel zoo`)")
    return sweep.make_plan(args.arch, sweep.parse_grid(args.grid), sample=args.sample, seed=args.seed,
                           devices=profiles, batch=args.batch, dtype=args.dtype, mode=args.mode,
                           fold_bn=not args.keep_bn)


def parse_budget(text: str) -> float:
    """'20' -> 20.0 (ms), '2x' -> 2.0 (a factor): checked before the sweep, whose results the budget only reads."""
    hint = "write --budget 20 (ms) or --budget 2x"
    try:
        value = float(text.removesuffix("x"))
    except ValueError:
        raise CostModelError(f"--budget {shown(text)} is not a number of ms or a factor", hint) from None
    if not math.isfinite(value):
        raise CostModelError(f"--budget {shown(text)} is not a finite number", hint)
    if value <= 0:
        raise CostModelError(f"--budget {shown(text)} is not positive", hint)
    return value


def budgets_of(text: str, frame: pd.DataFrame, names: list[str]) -> dict[str, float]:
    """'20' -> 20 ms on every device; '2x' -> twice the unscaled network's latency on each device."""
    value = parse_budget(text)
    if text.endswith("x"):
        return optimal_scaling.relative_budgets(frame, names, value)
    return dict.fromkeys(names, value)


def print_scaling(results: pd.DataFrame, arch: str, names: list[str], budgets: list[str]) -> None:
    """The device-optimal scaling table at each budget and the fitted bases per device."""
    frame = optimal_scaling.multipliers(results, arch)
    surrogate = optimal_scaling.accuracy_surrogate() if arch == "efficientnet" else None
    for budget in budgets:
        table = optimal_scaling.budget_table(frame, budgets_of(budget, frame, names), surrogate)
        if "flops" in table:
            table["flops"] = table["flops"].map(lambda v: "-" if pd.isna(v) else si(v, "MAdds"))
        print(f"\nMost FLOPs within {budget}{'' if budget.endswith('x') else ' ms'} per batch "
              "(ms at each device's batch; blank: nothing fits):")
        print(table.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.3g}"))
    fits = pd.DataFrame([optimal_scaling.fit_bases(frame, name).to_dict() for name in names])
    print("\nPer device, the bases (alpha*beta^2*gamma^2 = 2) whose phi-curve stays closest to the frontier; gap = "
          "mean FLOPs shortfall at equal latency (EfficientNet: 1.2, 1.1, 1.15):")
    print(fits.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if surrogate is not None:
        print(f"\ntop1_surrogate is a FITTED SURROGATE, not a measurement: fitted to {surrogate.points} published "
              f"points (EfficientNet B0-B7, Table 3); RMSE {surrogate.rmse:.2f} points, max {surrogate.max_error:.2f}, "
              f"leave-one-out RMSE {surrogate.loo_rmse:.2f}.")


def check_inputs(args: argparse.Namespace) -> Path:
    """Everything the sweep's end reads, checked before its start: --out (a writable .parquet file) and --budget."""
    if args.budget and not args.scaling:
        raise CostModelError("--budget applies to --scaling sweeps", "add --scaling or drop --budget")
    out = output_path(args.out, "--out", (".parquet",))
    for budget in args.budget or []:
        parse_budget(budget)
    return out


def print_outcome(outcome: sweep.Outcome) -> None:
    """The run in one line, and why points failed (the lowest one's message) without opening the Parquet."""
    print(f"{outcome.out}: {outcome.rows} rows; {outcome.written} evaluated now ({outcome.errors} errors) in "
          f"{outcome.seconds:.1f} s ({outcome.points_per_second:.3g} points/s), {outcome.skipped} already done")
    if outcome.first_error:
        _, point, message = outcome.first_error
        print(f"first error, at {point}: {message}")


class Progress:
    """A bar that appears with the sweep's first progress report: an input error found before it is the only line."""

    def __init__(self) -> None:
        self.bar: tqdm | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = tqdm(total=total, unit="point", desc="sweep", smoothing=0.1)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    out = check_inputs(args)
    profiles = devices(args.device)
    plan = _plan(args, profiles)
    with contextlib.closing(Progress()) as progress:
        try:
            outcome = sweep.run(plan, out, workers=args.workers, scheduler=args.scheduler, resume=args.resume,
                                serial=args.serial, progress=progress)
        except KeyboardInterrupt:
            progress.close()
            kept = f"the finished points are in {out}; --resume completes it" if out.exists() else "nothing written"
            print(f"interrupted: {kept}", file=sys.stderr)
            return 130
    print_outcome(outcome)
    if args.scaling:
        results = sweep.read(out).to_pandas()
        print_scaling(results, args.arch, [p.name for p in profiles], args.budget or [])
    return 0
