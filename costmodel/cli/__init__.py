"""The `python -m costmodel` command line: one module per subcommand, each with `configure(parser)` and `run`.

Only the subcommand that runs is imported, so `profile` works where plotly is not installed and `zoo` or
`analyze` never pay for plotting or fitting libraries. Bad input of any kind ends in one line on stderr and
exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from typing import NoReturn

from costmodel.cli.status import status
from costmodel.errors import CostModelError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str | None = None

    @property
    def module(self) -> str:
        return f"costmodel.cli.{self.name}_cmd"


COMMANDS = (
    Command("zoo", "list architectures and their parameters"),
    Command("analyze", "FLOPs, params, MAC, fragmentation and elementwise cost of a model"),
    Command("lint", "ShuffleNet V2 guideline findings (G1-G4), costliest first"),
    Command("compare", "A/B comparison of two models, per category and per device",
            "Compare model A with model B. Name a zoo model with its parameters inline, e.g. "
            "'shufflenet_v1(groups=8)'; -p applies to both."),
    Command("export", "write a paper figure (SVG, PDF, PNG)"),
    Command("devices", "list device profiles (data/profiles) and how well each fits its data"),
    Command("profile", "measure this machine and write a device profile (JSON)"),
    Command("sweep", "design-space sweep on Dask to Parquet; --scaling: device-optimal depth/width/resolution"),
)


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors (a missing argument, an unknown choice) as the one line every other error is, naming
    where the options are listed, instead of a usage block and the error."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} - see `{self.prog} --help`", file=sys.stderr)
        raise SystemExit(2)


def _chosen(argv: list[str]) -> str | None:
    """The subcommand named on the command line (the first word that is not an option)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in `argv` gets its module imported and its full arguments."""
    parser = OneLineParser(
        prog="python -m costmodel",
        description="How fast will this CNN design be on that device, and why. FLOPs are multiply-adds.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen(sys.argv[1:] if argv is None else argv)
    for command in COMMANDS:
        child = sub.add_parser(command.name, help=command.help, description=command.description or command.help)
        if command.name == chosen:
            with status("starting (loading PyTorch)..."):
                module = importlib.import_module(command.module)
            module.configure(child)
            child.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    warnings.filterwarnings("ignore")  # library warnings (fvcore, torch.jit) are noise on a CLI
    try:
        return args.run(args) or 0
    except CostModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head` closed the pipe: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:  # a file the checks let through but the system refused (read-only, full, /proc)
        where = f" {error.filename}" if error.filename else ""
        print(f"error: cannot write or read{where}: {error.strerror or error} - check the path and its folder",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
