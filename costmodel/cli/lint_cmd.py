"""`lint`: which ShuffleNet V2 guidelines (G1-G4) a model breaks, where, and what each costs on a device."""
from __future__ import annotations

import argparse
import json
import textwrap

from costmodel.cli.analyze_cmd import add_mode_argument, add_model_arguments, report_from_args
from costmodel.studies.lint import DEFAULT_DEVICE, LintResult, lint
from costmodel.latency.profiles import load_profile


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--device", default=DEFAULT_DEVICE, metavar="NAME|profile.json",
                        help=f"device profile the costs are predicted on (default {DEFAULT_DEVICE})")
    add_mode_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def print_lint(result: LintResult) -> None:
    counts = ", ".join(f"{g} {n}" for g, n in result.counts().items())
    print(f"{result.arch} on {result.device} (batch {result.batch}): {result.total_ms:.4g} ms predicted")
    print(f"Findings: {counts}. Cost = predicted time the finding costs on {result.device}, ms (share of total).")
    for rank, row in enumerate(result.table().itertuples(index=False), start=1):
        print(f"{rank:3}. {row.guideline}  {row.cost_ms:.4g} ms ({100 * row.share:.1f}%)  {row.module}")
        print(textwrap.indent(textwrap.fill(row.evidence, 100), " " * 9))
    if not result.findings:
        print("No guideline findings.")
    if result.unknown_ops:
        print(f"PARTIAL: {', '.join(result.unknown_ops)} unknown to the engine - the predicted time counts their "
              "launch overhead only, and no finding can name them")


def run(args: argparse.Namespace) -> int:
    profile = load_profile(args.device)
    report = report_from_args(args, batch=profile.batch)  # --batch, when given, wins
    result = lint(report, profile, args.mode)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print_lint(result)
    return 0
