"""`compare`: A/B comparison of two models - metrics side by side and per-category deltas of cost and time."""
from __future__ import annotations

import argparse
import json

import pandas as pd

from costmodel.cli.analyze_cmd import add_mode_argument, add_model_arguments, report_from_args
from costmodel.studies.compare import Comparison, compare, readable
from costmodel.errors import CostModelError
from costmodel.latency.model import Latency, predict
from costmodel.latency.profiles import DeviceProfile, list_profiles, load_profile
from costmodel.engine.report import Report
from costmodel.studies.validated import as_json, trust


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("other", metavar="B", help="the second model (same forms as the first)")
    parser.add_argument("--device", action="extend", nargs="+", metavar="NAME|profile.json|all",
                        help="device profiles (several after one --device, or repeated; default: every shipped one)")
    add_mode_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _analysed(args: argparse.Namespace, spec: str, profiles: list[DeviceProfile]) -> tuple[Report, list[Latency]]:
    """The model's report for its costs (per image) and its latency on each profile (at the profile's own
    batch, as the app and ShuffleNet V2 Table 8 do); --batch, when given, applies to both."""
    reports: dict[int, Report] = {}

    def at(batch: int) -> Report:
        if batch not in reports:
            reports[batch] = report_from_args(args, spec, batch=batch)
        return reports[batch]

    return at(1), [predict(at(p.batch), p, args.mode) for p in profiles]


def devices(names: list[str] | None) -> list[DeviceProfile]:
    if not names or "all" in names:
        profiles = list_profiles()
        if not profiles:
            raise CostModelError("no device profiles are shipped", "give one with --device profile.json")
        return profiles
    return [load_profile(name) for name in names]


def _show(frame: pd.DataFrame) -> str:
    return readable(frame).to_string(index=False)


def print_trust(profiles: list[DeviceProfile], latencies: list[Latency], bn_folded: bool) -> None:
    """How far to trust each device's times: its whole-network error and ranking (costmodel.studies.validated)."""
    print("\nHow far to trust these times:")
    for profile, latency in zip(profiles, latencies):
        print(f"  {profile.name}: {trust(profile, latency.batch, latency.mode, bn_folded)}")


def print_comparison(result: Comparison) -> None:
    print(f"A: {result.a}\nB: {result.b}\n")
    for side, unknown in zip("AB", result.unknown_ops):
        if unknown:
            print(f"PARTIAL: {side}'s totals leave out the cost of ops unknown to the engine: {', '.join(unknown)}\n")
    print(_show(result.metrics))
    print("\nCost by ShuffleNet V2 Figure 2 category (FLOPs = multiply-adds):")
    print(_show(result.costs))
    if len(result.latency):
        print("\nPredicted time by category, ms (device time; a host-bound GPU run takes longer, see Latency):")
        print(_show(result.latency))


def run(args: argparse.Namespace) -> int:
    profiles = devices(args.device)
    (a, latency_a), (b, latency_b) = _analysed(args, args.model, profiles), _analysed(args, args.other, profiles)
    result = compare(a, b, latency_a, latency_b)
    folded = bool(a.summary["bn_folded"])
    if args.json:
        validation = {p.name: as_json(p, lat.batch, lat.mode, folded) for p, lat in zip(profiles, latency_a)}
        print(json.dumps({**result.to_dict(), "validation": validation}, indent=2))
    else:
        print_comparison(result)
        print_trust(profiles, latency_a, folded)
    return 0
