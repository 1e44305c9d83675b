"""``python -m matcher``: build an index, trace requests, evaluate results, explain one trace.

The commands and their output columns are a contract other tools read (see docs/matching.md).
"""

from __future__ import annotations

import argparse
import sys

from matcher.build import BUILD_ERRORS
from matcher.cli import build, demo, evaluate, explain, keys, trace

COMMANDS = {"build": build, "trace": trace, "evaluate": evaluate, "demo": demo, "explain": explain, "keys": keys}
"""Each command's module: ``add_parser(commands)`` declares it, ``run(args)`` does it and gives the exit code."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m matcher", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except BUILD_ERRORS as error:  # DamagedIndexError is a ValueError
        print(f"error: {error}", file=sys.stderr)
        return 2
