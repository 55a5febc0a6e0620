"""`devices`: the shipped device profiles with kind, source, batch and fit error."""
from __future__ import annotations

import argparse
import json

import pandas as pd

from costmodel.latency.profiles import DeviceProfile, list_profiles
from costmodel.studies.validated import as_json

TABLE = {"name": "name", "kind": "kind", "source": "source", "batch": "batch", "threads": "threads",
         "unit": "unit", "fit_median_error_pct": "fit median %", "fit_p90_error_pct": "fit p90 %",
         "fit_max_error_pct": "fit max %", "fit_samples": "samples", "unseen_median_error_pct": "unseen median %",
         "device": "device"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _row(profile: DeviceProfile) -> dict:
    unseen = as_json(profile, profile.batch, "eager", True)  # as `analyze` predicts by default
    return {"name": profile.name, "kind": profile.kind, "device": profile.device, "source": profile.source.method,
            "batch": profile.batch, "threads": profile.threads, "unit": profile.unit,
            "fit_median_error_pct": round(profile.fit.median_ape, 1),
            "fit_p90_error_pct": None if profile.fit_p90_ape is None else round(profile.fit_p90_ape, 1),
            "fit_max_error_pct": round(profile.fit.max_ape, 1), "fit_samples": profile.fit.samples,
            "unseen_median_error_pct": round(unseen["median_pct"], 1) if unseen else None, "validation": unseen,
            "description": profile.source.description}


def run(args: argparse.Namespace) -> int:
    rows = [_row(p) for p in list_profiles()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("No device profiles in data/profiles: python -m costmodel profile --out data/profiles/NAME.json")
        return 0
    unseen = "unseen_median_error_pct"
    shown = [{**row, "threads": row["threads"] or "-", unseen: "-" if row[unseen] is None else row[unseen]}
             for row in rows]
    table = pd.DataFrame(shown)[list(TABLE)].rename(columns=TABLE)
    print(table.to_string(index=False))
    print("\nbatch: whole networks are predicted at this batch (GPU: batches/s, CPU/ARM: images/s). fit %: "
          "absolute error of the latency model on the profile's own measurements (median, 90th percentile, max).\n"
          "The max is one micro-benchmark, often a shape the library runs on a slow algorithm; a GPU's fit is robust "
          "and leaves such outliers aside on purpose, so p90 tells more of the bulk.\nunseen %: median absolute "
          "error on whole networks of families the profile was never fitted or tuned on, at its batch (eager, BN "
          "folded; - where none was timed).")
    for row in rows:
        print(f"- {row['name']}: {row['description']}")
    return 0
