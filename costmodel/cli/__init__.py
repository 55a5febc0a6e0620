"""The `python -m costmodel` command line: one module per subcommand, each with `add_parser` and `run`.

Bad input of any kind ends in one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from types import ModuleType

from costmodel.cli import analyze_cmd, compare_cmd, devices_cmd, export_cmd, lint_cmd, profile_cmd, zoo_cmd
from costmodel.errors import CostModelError

COMMANDS: tuple[ModuleType, ...] = (zoo_cmd, analyze_cmd, lint_cmd, compare_cmd, export_cmd, devices_cmd, profile_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m costmodel",
        description="How fast will this CNN design be on that device, and why. FLOPs are multiply-adds.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub).set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore")  # library warnings (fvcore, torch.jit) are noise on a CLI
    try:
        return args.run(args) or 0
    except CostModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head` closed the pipe: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
