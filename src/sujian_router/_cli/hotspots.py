"""``sujian-router hotspots``: find hot issues in an export or a routed file."""

from __future__ import annotations


def build_parser(subparsers):
    """Register the ``hotspots`` sub-command."""
    from ._columns import add_column_arguments

    p = subparsers.add_parser(
        "hotspots",
        help="find hot issues (many tickets, one problem, one place, one period) and who should lead",
        description=(
            "Group tickets about one problem at one place, flag surges against each item's and area's own "
            "baseline, rank the groups by a heat index and name the lead unit of a special campaign. "
            "Reads a ticket export (routed on the fly) or an already routed file (route-file output)."
        ),
    )
    p.add_argument("input", help="CSV (UTF-8/BOM/GBK/GB18030) or XLSX export, or a routed CSV")
    add_column_arguments(p, label=False)
    p.add_argument("--encoding", default=None, help="input encoding (detected when omitted)")
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--period", default="7D", help="period of surges and class tables: 7D, 1D, 1W, M (default 7D)")
    p.add_argument("--top", type=int, default=20, help="hot issues to keep (default 20)")
    p.add_argument("--min-tickets", type=int, default=3, help="fewest tickets of a hot issue (default 3)")
    p.add_argument("--max-gap", default="90D", help="cut a hot issue where tickets are further apart (default 90D)")
    p.add_argument("--surge-area", choices=("street", "district"), default="street")
    p.add_argument("--surge-level", choices=("item", "subcategory"), default="item")
    p.add_argument("--chunk-size", type=int, default=50_000, help="rows read at a time (default 50000)")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="where unrouted tickets are routed: here, or chunk by chunk on a Dask cluster")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler (with --engine dask)")
    p.add_argument("--out", default=None, help="write the HTML report here (.html) or the JSON (.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Find the hot issues, print them and write the report."""
    from .._hotspots import find_hotspots
    from ._columns import column_mapping_from_args

    report = find_hotspots(
        args.input, router=args.model, column_mapping=column_mapping_from_args(args), encoding=args.encoding,
        period=args.period, top=args.top, min_tickets=args.min_tickets, max_gap=args.max_gap,
        surge_area=args.surge_area, surge_level=args.surge_level, chunk_size=args.chunk_size,
        engine=args.engine, scheduler=args.scheduler,
        progress=not args.quiet,
    )
    if args.out:
        if str(args.out).lower().endswith(".json"):
            report.to_json(args.out, indent=1)
        else:
            report.to_html(args.out)
    if args.json:
        print(report.to_json())
    else:
        print(report.summary(args.top))
        if args.out:
            print(f"report written to {args.out}")
    return 0
