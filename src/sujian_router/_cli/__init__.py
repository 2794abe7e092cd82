"""The ``sujian-router`` console script: one sub-command per module.

Each sub-command module defines ``build_parser(subparsers)`` (registers its
parser and sets ``func``) and keeps heavy imports inside its ``run`` function,
so ``sujian-router --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# sub-command modules, in the order they appear in --help
_COMMANDS = ("route", "catalog", "build_default", "train", "evaluate", "route_file", "serve", "hotspots")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="sujian-router",
        description="Route citizens' complaints to duty items and handling units.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f".{name}", __name__)
        module.build_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from ..exceptions import SujianRouterError

    try:
        return int(args.func(args) or 0)
    except SujianRouterError as exc:
        print(f"sujian-router: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - interactive only
        print("sujian-router: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
