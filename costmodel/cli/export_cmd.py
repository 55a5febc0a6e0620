"""`export`: a paper figure (the app's) as SVG, PDF or PNG, rendered with kaleido + Chromium at a venue
preset's size and fonts (`--style`, costmodel/viz/styles.py)."""
from __future__ import annotations

import argparse

from costmodel.cli.analyze_cmd import add_mode_argument
from costmodel.cli.paths import output_path
from costmodel.cli.status import status
from costmodel.engine.analysis import DTYPE_BYTES
from costmodel.viz.catalog import RECIPES
from costmodel.errors import CostModelError
from costmodel.studies.evaluate import Settings
from costmodel.viz.export import FIGURE_FORMATS, format_of, write_figure
from costmodel.viz.styles import DEFAULT, PRESETS, preset
from costmodel.latency.profiles import profile_names
from costmodel.sources.names import parse_params


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = f"Figures: {', '.join(sorted(RECIPES))}. `-p` parameters per figure: `--list`."
    parser.add_argument("figure", nargs="?", choices=sorted(RECIPES), metavar="FIGURE", help="figure name")
    parser.add_argument("--format", choices=FIGURE_FORMATS, help="default: the --out suffix")
    parser.add_argument("--out", metavar="FILE", help="output file")
    parser.add_argument("--style", default=DEFAULT, metavar="PRESET",
                        help=f"venue preset (size, fonts): {', '.join(PRESETS)}; default {DEFAULT}")
    parser.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="figure parameter (repeatable)")
    parser.add_argument("--device", action="extend", nargs="+", metavar="NAME|profile.json",
                        help="device profiles to show (several after one --device, or repeated; default: every "
                             "shipped one)")
    parser.add_argument("--batch", type=int, help="batch for latency (default: each profile's own)")
    parser.add_argument("--dtype", default="float32", choices=sorted(DTYPE_BYTES), help="dtype for MAC bytes")
    parser.add_argument("--keep-bn", action="store_true", help="keep BatchNorm as an elementwise op")
    add_mode_argument(parser)
    parser.add_argument("--list", action="store_true", help="list the figures and their -p parameters")


def _list() -> None:
    for recipe in RECIPES.values():
        print(f"{recipe.name}  - {recipe.help}")
        for p in recipe.params:
            print(f"    -p {p.name}=VALUE   default {p.default!r}; {p.valid()}. {p.help}")
    print("styles (--style):")
    for name, style in PRESETS.items():
        print(f"  {name}  - {style.label}")


def run(args: argparse.Namespace) -> int:
    if args.list:
        _list()
        return 0
    if not args.figure or not args.out:
        raise CostModelError("export needs a FIGURE and --out FILE", "e.g. export g1 --out g1.pdf (or --list)")
    if args.batch is not None and args.batch < 1:
        raise CostModelError(f"batch {args.batch} is not positive", "use --batch 1 or more")
    fmt = format_of(args.out, args.format)  # checked before the (possibly long) computation
    out = output_path(args.out, "--out", (f".{fmt}",))
    preset(args.style)
    devices = tuple(args.device or profile_names())
    if not devices:
        raise CostModelError("no device profiles to show", "pass --device NAME|profile.json")
    settings = Settings(devices=devices, batch=args.batch, dtype=args.dtype, fold_bn=not args.keep_bn, mode=args.mode)
    with status(f"computing figure {args.figure} on {len(devices)} device(s)..."):
        fig = RECIPES[args.figure].figure(settings, parse_params(args.param))
    with status(f"rendering {fmt.upper()} with Chromium..."):
        path = write_figure(fig, out, fmt, style=args.style)
    print(f"wrote {path}")
    return 0
