"""``sujian-router monitor``: operator metrics per week of a routed or labelled export, as an HTML report."""

from __future__ import annotations


def build_parser(subparsers):
    """Register the ``monitor`` sub-command."""
    from ._columns import add_catalog_argument, add_column_arguments

    p = subparsers.add_parser(
        "monitor",
        help="weekly dispatch accuracy, tiers, re-dispatch rate, confused units and drift of an export",
        description=(
            "Report per week (Monday first) on a file route-file wrote (join its export with --tickets for dates, "
            "text and truth) or on labelled tickets (routed here): dispatch accuracy (派单准确率) overall and per "
            "unit, tier shares and accuracy, re-dispatch and return rates (columns 改派次数 / 退单, or map yours "
            "to redispatch_count / returned), the units most confused with each other, and drift (out-of-vocabulary "
            "share, category mix). Rows with a bad date are kept in week 'undated' and listed."
        ),
    )
    p.add_argument("input", help="routed file (CSV/XLSX from route-file) or labelled export (CSV/XLSX, any encoding)")
    p.add_argument("--out", metavar="REPORT.html", default=None,
                   help="write a self-contained HTML report (plots need sujian-router[report])")
    p.add_argument("--tickets", metavar="EXPORT", default=None,
                   help="the original export of a routed file, joined on source_row (or ticket_id)")
    p.add_argument("--model", default="default",
                   help="model that routed the file (for its vocabulary; routes labelled tickets); "
                        "'default' for the bundled model")
    add_column_arguments(p, label=True)
    p.add_argument("--encoding", default=None, help="export encoding (detected when omitted)")
    add_catalog_argument(p)
    p.add_argument("--baseline-weeks", type=int, default=2,
                   help="weeks forming the category baseline when the model has no training label counts (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Read the file(s), compute the weekly metrics, print them and write the HTML report."""
    import json

    from .._monitor import monitor
    from ._columns import column_mapping_from_args, load_router_from_args

    router = load_router_from_args(args)
    report = monitor(args.input, router=router, tickets=args.tickets, column_mapping=column_mapping_from_args(args),
                     encoding=args.encoding, sheet=args.sheet, baseline_weeks=args.baseline_weeks,
                     progress=not args.quiet and not args.json)
    if args.out:
        report.to_html(args.out)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
        if args.out:
            print(f"report written to {args.out}")
    return 0
