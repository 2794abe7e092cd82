"""``sujian-router build-default``: build and cache the bundled default model."""

from __future__ import annotations


def build_parser(subparsers):
    """Register the ``build-default`` sub-command."""
    p = subparsers.add_parser(
        "build-default",
        help="build the default model (synthetic tickets from the catalog) and cache it",
        description="Build the bundled default model from the catalog and SYNTHETIC tickets, and cache it.",
    )
    p.add_argument("--force", action="store_true", help="rebuild even if a valid cached model exists")
    p.add_argument("--out", default=None, help="model directory (default: the cache location)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Build (or verify) the default model and print where it is."""
    from .._default_model import build_default_model, default_model_dir, ensure_default_model

    if args.force or args.out:
        path = build_default_model(args.out, progress=not args.quiet)
    else:
        path = ensure_default_model(progress=not args.quiet)
    print(f"default model ready: {path or default_model_dir()}")
    return 0
