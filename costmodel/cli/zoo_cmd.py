"""`zoo`: the architectures, their parameters and ranges, and the published numbers each is tested against."""
from __future__ import annotations

import argparse
import json

from costmodel import zoo


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a listing")


def _range(param: zoo.Param) -> str:
    if param.choices:
        return "one of " + ", ".join(map(str, param.choices))
    low = "" if param.minimum is None else f"{param.minimum} <= "
    high = "" if param.maximum is None else f" <= {param.maximum}"
    return f"{low}{param.name}{high}" if low or high else param.type.__name__


def run(args: argparse.Namespace) -> int:
    specs = zoo.list_archs()
    if args.json:
        print(json.dumps([{
            "arch": s.name, "family": s.family, "summary": s.summary,
            "params": [{"name": p.name, "type": p.type.__name__, "default": p.default, "range": _range(p),
                        "help": p.help} for p in s.params],
        } for s in specs], indent=2, default=str))
        return 0
    for spec in specs:
        print(f"{spec.name}  ({spec.family}) - {spec.summary}")
        for p in spec.params:
            print(f"    -p {p.name}=VALUE   default {p.default!r}; {_range(p)}. {p.help}")
    print("\nExample: python -m costmodel analyze shufflenet_v2 -p width=1.0")
    return 0
