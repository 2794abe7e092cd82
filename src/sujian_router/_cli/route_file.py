"""``sujian-router route-file``: route a whole export in bounded memory, resumably."""

from __future__ import annotations

import json


def build_parser(subparsers):
    """Register the ``route-file`` sub-command."""
    from ._columns import add_catalog_argument, add_column_arguments

    p = subparsers.add_parser(
        "route-file",
        help="route every row of a CSV/XLSX export to CSV or Parquet (chunked, resumable)",
        description=(
            "Route every row of an export. Memory is bounded by --chunk-size; progress is recorded "
            "after each chunk so an interrupted run continues where it stopped when started again."
        ),
    )
    p.add_argument("input", help="CSV (UTF-8/BOM/GBK/GB18030) or XLSX export")
    p.add_argument("--out", required=True, help="output .csv or .parquet (a directory of part files)")
    add_column_arguments(p, label=False)
    p.add_argument("--encoding", default=None, help="input encoding (detected when omitted)")
    p.add_argument("--chunk-size", type=int, default=50_000, help="rows per chunk (default 50000)")
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    add_catalog_argument(p)
    p.add_argument("--no-escape-formulas", action="store_true",
                   help="write text cells starting with = + - @ unchanged (for machine consumers; by default "
                        "they are prefixed with ' so spreadsheets do not run them as formulas)")
    p.add_argument("--on-long-cell", choices=("error", "truncate"), default="error",
                   help="a cell over 131072 characters: stop naming row and column (default), or shorten it "
                        "and flag the row cell_truncated")
    p.add_argument("--engine", choices=("local", "dask"), default="local",
                   help="'dask' routes chunks on a Dask cluster (local unless --scheduler)")
    p.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    p.add_argument("--restart", action="store_true", help="ignore earlier progress and start again")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the run report as JSON")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Route the file and print a short report."""
    from .._stream import route_file
    from ._columns import column_mapping_from_args

    catalog = None
    if args.catalog:
        from .._catalog import load_catalog

        catalog = load_catalog(args.catalog)
    report = route_file(
        args.input, args.out, router=args.model, catalog=catalog, column_mapping=column_mapping_from_args(args),
        encoding=args.encoding, sheet=args.sheet, chunk_size=args.chunk_size, resume=not args.restart,
        progress=not args.quiet, engine=args.engine, scheduler=args.scheduler,
        escape_formulas=not args.no_escape_formulas, on_long_cell=args.on_long_cell,
    )
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(f"routed {report.rows_written} rows ({report.rows_resumed} from an earlier run) into {report.output}; "
              f"{report.rows_needing_review} need review; {report.rows_per_second:,.0f} rows/s")
    return 0
