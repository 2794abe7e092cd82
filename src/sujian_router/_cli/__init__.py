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
_COMMANDS = ("route", "catalog", "build_default", "train", "evaluate", "route_file", "serve", "hotspots", "monitor",
             "adapt", "learn")


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
    except BrokenPipeError:  # `sujian-router ... | head`: the reader left; stop quietly
        _silence_stdout()
        return 141
    except ImportError as exc:
        extra = _EXTRAS.get((getattr(exc, "name", None) or "").split(".")[0])
        if extra is None and "sujian-router[" not in str(exc):
            raise
        hint = str(exc) if extra is None else f"{exc.name} is not installed: install sujian-router[{extra}]"
        print(f"sujian-router: error: {hint}", file=sys.stderr)
        return 1
    except OSError as exc:  # missing input, unwritable or full disk: one line naming the file
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"sujian-router: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


# optional dependency -> the extra that installs it
_EXTRAS = {"pyarrow": "parquet", "dask": "dask", "distributed": "dask", "matplotlib": "report"}


def _silence_stdout():
    """Point stdout at /dev/null so the interpreter's final flush does not raise again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
