"""`analyze`: the cost report of a zoo architecture or a user's model, as a table, JSON or CSV."""
from __future__ import annotations

import argparse
import json

import pandas as pd

from costmodel.cli.paths import output_path
from costmodel.cli.status import status
from costmodel.engine.analysis import DTYPE_BYTES, analyze
from costmodel.errors import CostModelError
from costmodel.latency.model import Latency, predict
from costmodel.latency.schedule import MODES
from costmodel.latency.profiles import DeviceProfile, list_profiles, load_profile
from costmodel.engine.report import Report
from costmodel.sources.names import load_model, parse_params, parse_shape
from costmodel.studies.validated import as_json, trust
from costmodel.units import bytes_, percent, si


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """How every subcommand names a model: ARCH [-p k=v] (or 'ARCH(k=v, ...)') [--resolution] [--batch] or
    FILE.py:Name --input."""
    parser.add_argument("model", metavar="ARCH|FILE.py:Name",
                        help="zoo architecture, its parameters inline if you like ('shufflenet_v1(groups=8)'), "
                             "or your model")
    parser.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="zoo parameter (repeatable)")
    parser.add_argument("--resolution", type=int, help="input resolution (zoo models)")
    parser.add_argument("--batch", type=int, help="batch size (default 1; with --device, the profile's batch)")
    parser.add_argument("--input", metavar="N,C,H,W", help="input shape for your model (default 1,3,224,224)")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPE_BYTES), help="dtype for MAC bytes")
    parser.add_argument("--keep-bn", action="store_true", help="keep BatchNorm as an elementwise op (no folding)")


def add_mode_argument(parser: argparse.ArgumentParser) -> None:
    """--mode: how a GPU runs the model (costmodel.latency.schedule); CPU profiles ignore it."""
    parser.add_argument("--mode", default="eager", choices=MODES,
                        help="GPU execution: eager PyTorch (host issues every kernel) or a replayed CUDA graph "
                             "(device time only); CPUs ignore it (default eager)")


def report_from_args(args: argparse.Namespace, model_spec: str | None = None, *, batch: int | None = None) -> Report:
    """The report the arguments name; `batch` (a profile's) applies unless --batch was given."""
    spec = model_spec or args.model
    if args.input and (args.batch is not None or args.resolution is not None):
        raise CostModelError("--input sets the whole input shape, so --batch and --resolution would be ignored",
                             "give the batch and size inside --input N,C,H,W, or drop --input")
    with status(f"building and tracing {spec}..."):
        model, shape, name = load_model(spec, params=parse_params(args.param), resolution=args.resolution,
                                        batch=args.batch if args.batch is not None else batch or 1,
                                        input_shape=parse_shape(args.input) if args.input else None)
        return analyze(model, shape, dtype=args.dtype, fold_bn=not args.keep_bn, arch=name)


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--device", metavar="NAME|profile.json|all",
                        help="add predicted latency on a device profile (see `python -m costmodel devices`)")
    add_mode_argument(parser)
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--csv", metavar="FILE", help="write the per-op table as CSV (with --device: predicted ms "
                                                   "per op on each device, column ms:NAME)")


def summary_table(summary: dict) -> pd.DataFrame:
    """The headline numbers with their units, as people read them."""
    frag, elem, data = summary["fragmentation"], summary["elementwise"], summary["data_movement"]
    rows = [
        ("FLOPs", si(summary["flops"], "FLOPs"), "multiply-adds (1 MAdd = 1 FLOP)"),
        ("Params", si(summary["params"]), "parameters"),
        ("MAC", si(summary["mac_elements"]), f"elements ({bytes_(summary['mac_bytes'])} at {summary['dtype']})"),
        ("Arithmetic intensity", f"{summary['arithmetic_intensity']:.2f}", "multiply-adds per byte"),
        ("Elementwise ops", str(elem["ops"]), f"{si(elem['elements'])} elements, {percent(elem['mac_share'])} of MAC"),
        ("Data-movement ops", str(data["ops"]),
         f"{data['shuffle_ops']} shuffles, {percent(data['mac_share'])} of MAC"),
        ("Kernels", str(frag["kernels"]), f"{frag['blocks']} blocks"),
        ("Kernels per block", f"{frag['kernels_per_block_mean']:.1f} (max {frag['kernels_per_block_max']})", "mean"),
        ("Width", f"{frag['width_mean']:.2f} (max {frag['width_max']})", "parallel compute ops per block"),
        ("Status", summary["status"], ", ".join(summary["unknown_ops"]) or "every op known"),
    ]
    return pd.DataFrame(rows, columns=["metric", "value", "unit / note"])


def print_report(report: Report) -> None:
    s = report.summary
    print(f"{s['arch']}  input {tuple(s['input_shape'])}  traced with {s['tracer']}"
          f"{', BN folded' if s['bn_folded'] else ''}")
    print(summary_table(s).to_string(index=False))
    blocks = report.blocks.assign(
        MFLOPs=report.blocks["flops"] / 1e6, MAC_KiB=report.blocks["mac_bytes"] / 1024
    )[["block", "kernels", "compute_ops", "width", "MFLOPs", "MAC_KiB", "elementwise_ops", "data_movement_ops",
       "status"]]
    print("\nPer block (MFLOPs = millions of multiply-adds):")
    print(blocks.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if report.partial:
        print(f"\nPARTIAL: totals exclude the cost of unknown ops: {', '.join(s['unknown_ops'])}")


def latencies(args: argparse.Namespace, report: Report) -> list[tuple[DeviceProfile, Latency]]:
    """Latency on every profile --device names, each at the profile's batch unless --batch was given
    (`report` is the one at --batch, or at batch 1), with its profile."""
    profiles = list_profiles() if args.device == "all" else [load_profile(args.device)]
    reports = {report.summary["input_shape"][0]: report}
    result = []
    for profile in profiles:
        batch = args.batch or profile.batch
        if batch not in reports:
            reports[batch] = report_from_args(args, batch=profile.batch)
        result.append((profile, predict(reports[batch], profile, args.mode)))
    return result


def latency_json(profile: DeviceProfile, latency: Latency, bn_folded: bool) -> dict:
    """A latency's JSON form with `validation`: the profile's whole-network error that applies, or null."""
    return {**latency.to_dict(), "validation": as_json(profile, latency.batch, latency.mode, bn_folded)}


def print_latency(latency: Latency, trusted: str) -> None:
    parts = ", ".join(f"{name} {ms:.3g} ms ({percent(ms / latency.device_ms if latency.device_ms else 0)})"
                      for name, ms in latency.breakdown.items())
    mode = "" if latency.one_resource else f" ({latency.mode})"  # a CPU runs every op as it issues it
    print(f"\nLatency on {latency.device} at batch {latency.batch}: {latency.ms:.4g} ms per batch{mode}, "
          f"{latency.throughput:.4g} {latency.unit}{'  (PARTIAL: unknown ops cost overhead only)' * latency.partial}")
    if not latency.one_resource:
        print(f"  {latency.bound}-bound: host issues kernels in {latency.host_ms:.4g} ms, "
              f"device busy {latency.device_ms:.4g} ms")
    print(f"  device time by ShuffleNet V2 Fig. 2 category: {parts}")
    print(f"  how far to trust it: {trusted}")


def run(args: argparse.Namespace) -> int:
    if args.mode != "eager" and not args.device:
        raise CostModelError(f"--mode {args.mode} applies to predicted latency", "add --device NAME (a GPU profile)")
    csv_path = output_path(args.csv, "--csv", (".csv",)) if args.csv is not None else None  # before any work
    report = report_from_args(args)
    predicted = latencies(args, report) if args.device else []
    folded = bool(report.summary["bn_folded"])
    if args.json:
        summary = dict(report.summary)
        if args.device:
            entries = [latency_json(profile, latency, folded) for profile, latency in predicted]
            summary["latency"] = entries if args.device == "all" else entries[0]
        print(json.dumps(summary, indent=2))
    elif csv_path is not None:
        per_device = {f"ms:{latency.device}": latency.per_op["ms"].to_numpy() for _, latency in predicted
                      if len(latency.per_op) == len(report.ops)}
        report.ops.assign(**per_device).to_csv(csv_path, index=False)
        devices = f", with predicted ms per op on {', '.join(p.name for p, _ in predicted)}" if predicted else ""
        print(f"wrote {len(report.ops)} ops to {csv_path}{devices}")
    else:
        print_report(report)
        for profile, latency in predicted:
            print_latency(latency, trust(profile, latency.batch, latency.mode, folded))
    return 0
