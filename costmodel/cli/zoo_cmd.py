"""`zoo`: the architectures, their parameters and ranges, and the published numbers each is tested against;
with --source torchvision|timm, the names those libraries build (`torchvision:NAME`, `timm:NAME`)."""
from __future__ import annotations

import argparse
import json
import sys

from costmodel import zoo
from costmodel.sources.hub import HUBS, list_names


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a listing")
    parser.add_argument("--source", choices=["zoo", *HUBS], default="zoo",
                        help="the built-in zoo (default) or a model library")
    parser.add_argument("--filter", metavar="TEXT", help="only names containing TEXT (case-insensitive)")


def _range(param: zoo.Param) -> str:
    if param.choices:
        return "one of " + ", ".join(map(str, param.choices))
    low = "" if param.minimum is None else f"{param.minimum} <= "
    high = "" if param.maximum is None else f" <= {param.maximum}"
    return f"{low}{param.name}{high}" if low or high else param.type.__name__


def _run_hub(args: argparse.Namespace) -> int:
    names = list_names(args.source, args.filter)
    if args.json:
        print(json.dumps([f"{args.source}:{n}" for n in names], indent=2))
        return 0
    for name in names:
        print(f"{args.source}:{name}")
    example = names[0] if names else "NAME"
    print(f"\n{len(names)} models. Example: python -m costmodel analyze {args.source}:{example}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.source != "zoo":
        return _run_hub(args)
    specs = [s for s in zoo.list_archs() if not args.filter or args.filter.lower() in s.name.lower()]
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
