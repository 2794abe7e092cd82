"""``sujian-router adapt``: adapt a model to a city's unlabelled ticket history."""

from __future__ import annotations


def build_parser(subparsers):
    """Register the ``adapt`` sub-command."""
    from ._columns import add_catalog_argument, add_column_arguments

    p = subparsers.add_parser(
        "adapt",
        help="adapt a model to a city's own language from unlabelled tickets",
        description=(
            "Self-training on a city's past ticket texts (no labels needed; CSV in UTF-8/BOM/GBK/GB18030 or "
            "XLSX): the tickets the model routes confidently are added to its training tickets and the model "
            "is retrained into --out. Prints new terms, the share of tickets whose unit changed and the tier "
            "shares before and after."
        ),
    )
    p.add_argument("--model", default="default", help="model directory, or 'default' for the bundled model")
    p.add_argument("--tickets", required=True, help="the city's ticket export (only the text is used)")
    add_column_arguments(p, label=False, filters=True)
    add_catalog_argument(p)
    p.add_argument("--base-tickets", default=None, metavar="FILE",
                   help="the labelled tickets the model was trained on (needed unless it is the default model)")
    p.add_argument("--min-confidence", type=float, default=None,
                   help="unit confidence from which a ticket is taken as labelled (default: the auto threshold)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="model directory to write")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the adaptation report as JSON")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Read, adapt, save and report."""
    import json

    from .._adapt import adapt
    from .._tickets import read_tickets
    from ._columns import column_mapping_from_args, filter_rows, load_router_from_args

    df = read_tickets(args.tickets, column_mapping=column_mapping_from_args(args), encoding=args.encoding,
                      sheet=args.sheet, required=("text",))
    df = filter_rows(df, args.filter)
    base = None
    if args.base_tickets:
        base = read_tickets(args.base_tickets, required=("text", "label"))
    router = load_router_from_args(args)
    adapted = adapt(router, df, min_unit_confidence=args.min_confidence, base_tickets=base, seed=args.seed,
                    progress=not args.quiet)
    adapted.save(args.out)
    report = adapted.adaptation_report
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
        print(f"model written to {args.out}")
    return 0
