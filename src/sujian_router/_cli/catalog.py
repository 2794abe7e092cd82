"""``sujian-router catalog``: inspect, search, validate and build the duty catalog.

Sub-commands: ``stats``, ``show CODE``, ``search WORDS...``,
``validate [PATH] [--column-map SRC=DST ...]``, ``build [--check]`` and
``crosswalk [--previous CSV] [--check]``.
Tables are aligned for reading; ``--json`` prints machine-readable output.
"""

from __future__ import annotations

import json
import sys

__all__ = ["build_parser", "run", "format_table"]


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_table(headers, rows) -> str:
    """Align ``rows`` under ``headers`` (CJK characters count double).

    Examples
    --------
    >>> print(format_table(["code", "名称"], [["08-01-001", "夜间施工"]]))
    code       名称
    ---------  --------
    08-01-001  夜间施工
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]

    def line(row):
        parts = [c + " " * (w - _width(c)) for c, w in zip(row, widths)]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)


def _print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def _add_json(p) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def build_parser(subparsers):
    """Register ``catalog`` and its sub-commands on ``subparsers``."""
    parser = subparsers.add_parser(
        "catalog",
        help="inspect, search, validate or build the duty catalog",
        description="Inspect, search, validate or build the duty catalog.",
    )
    sub = parser.add_subparsers(dest="catalog_command", metavar="ACTION")

    p = sub.add_parser("stats", help="items per category, roles, units")
    _add_json(p)
    p.set_defaults(func=run_stats)

    p = sub.add_parser("show", help="show one duty item")
    p.add_argument("code", help="item code, e.g. 08-01-001")
    p.add_argument("--district", help="resolve the departments for this district")
    p.add_argument("--street", help="resolve the departments for this street")
    _add_json(p)
    p.set_defaults(func=run_show)

    p = sub.add_parser("search", help="find items by words")
    p.add_argument("words", nargs="+", help="words or a whole complaint sentence")
    p.add_argument("--limit", type=int, default=10, help="at most this many results (default 10)")
    _add_json(p)
    p.set_defaults(func=run_search)

    p = sub.add_parser("validate", help="validate the bundled catalog or a catalog CSV")
    p.add_argument("path", nargs="?", help="catalog CSV (default: the bundled catalog)")
    p.add_argument(
        "--column-map",
        action="append",
        default=[],
        metavar="SRC=DST",
        help="rename a column of the file to a catalog column (repeatable)",
    )
    _add_json(p)
    p.set_defaults(func=run_validate)

    p = sub.add_parser("build", help="build duty_catalog.csv and departments.csv from the seeds")
    p.add_argument("--check", action="store_true", help="fail if the committed CSVs differ from a rebuild")
    p.add_argument("--seed-dir", help="seed folder (default: the package's data/seeds)")
    p.add_argument("--out-dir", help="output folder (default: the package's data)")
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="do not require all 18 categories and 4,315 items (development)",
    )
    _add_json(p)
    p.set_defaults(func=run_build)

    p = sub.add_parser("crosswalk", help="regenerate the old-code -> new-code crosswalk of the catalog version")
    p.add_argument("--previous", help="previous duty_catalog.csv (default: read with git at previous_rev "
                                      "of seeds/catalog.yaml)")
    p.add_argument("--seed-dir", help="seed folder (default: the package's data/seeds)")
    p.add_argument("--out", help="output CSV (default: the package's data/catalog_crosswalk.csv)")
    p.add_argument("--check", action="store_true", help="fail if the committed crosswalk differs from a rebuild")
    _add_json(p)
    p.set_defaults(func=run_crosswalk)

    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    return parser


def run(args) -> int:
    """Run the selected catalog action."""
    return int(args.func(args) or 0)


def run_stats(args) -> int:
    from .._catalog import load_catalog

    catalog = load_catalog()
    directory = catalog.departments
    rows = []
    for name in catalog.categories:
        items = catalog.items_in(name)
        rows.append(
            {
                "category_code": items[0].category_code,
                "category": name,
                "subcategories": len({i.subcategory_code for i in items}),
                "items": len(items),
                "lead_roles": len({i.lead_department for i in items}),
                "disputed": sum(i.disputed for i in items),
                "gap": sum(i.gap for i in items),
            }
        )
    summary = {
        "items": len(catalog),
        "categories": len(catalog.categories),
        "roles": len(directory.roles),
        "units": len(directory.units),
        "districts": len(directory.districts),
        "streets": len(directory.streets),
        "version": catalog.version,
        "fingerprint": catalog.fingerprint,
    }
    if args.json:
        _print_json({**summary, "by_category": rows})
        return 0
    keys = list(rows[0]) if rows else ["category_code", "category", "items"]
    print(format_table(keys, [[r[k] for k in keys] for r in rows]))
    print()
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def run_show(args) -> int:
    from .._catalog import load_catalog

    catalog = load_catalog()
    item = catalog.get(args.code)
    data = item.to_dict()
    if args.district or args.street:
        directory = catalog.departments
        lead = directory.resolve_unit(item.lead_department, args.district, args.street)
        data["resolved_lead"] = lead.to_dict()
        data["resolved_co"] = [
            directory.resolve_unit(r, args.district, args.street).to_dict() for r in item.co_departments
        ]
    if args.json:
        _print_json(data)
        return 0
    rows = []
    for key, value in data.items():
        if isinstance(value, list):
            value = " | ".join(v["name"] if isinstance(v, dict) else str(v) for v in value)
        elif isinstance(value, dict):
            value = f"{value['name']} ({value['note']})"
        rows.append([key, value])
    print(format_table(["field", "value"], rows))
    return 0


def run_search(args) -> int:
    from .._catalog import load_catalog

    catalog = load_catalog()
    hits = catalog.search(" ".join(args.words), limit=args.limit)
    if args.json:
        _print_json([{"score": round(s, 3), **i.to_dict()} for i, s in hits])
        return 0
    if not hits:
        print("no matching item")
        return 0
    rows = [[i.code, f"{s:.1f}", i.name, i.subcategory, i.lead_department] for i, s in hits]
    print(format_table(["code", "score", "name", "subcategory", "lead"], rows))
    return 0


def _parse_map(pairs) -> dict:
    from ..exceptions import CatalogError

    mapping = {}
    for pair in pairs:
        src, sep, dst = pair.partition("=")
        if not sep or not src or not dst:
            raise CatalogError([f"--column-map {pair!r}: expected SRC=DST"])
        mapping[src] = dst
    return mapping


def run_validate(args) -> int:
    from .._catalog import load_catalog
    from ..exceptions import CatalogError

    mapping = _parse_map(args.column_map) or None
    try:
        if args.path is None and mapping is None:
            catalog = load_catalog()
        else:
            catalog = load_catalog(args.path, column_mapping=mapping)
    except CatalogError as exc:
        if args.json:
            _print_json({"ok": False, "source": exc.source, "problems": exc.problems})
            return 1
        raise
    result = {"ok": True, "source": catalog.source, "items": len(catalog), "fingerprint": catalog.fingerprint}
    if args.json:
        _print_json(result)
    else:
        print(f"OK: {catalog.source}: {len(catalog)} items in {len(catalog.categories)} categories")
    return 0


def run_build(args) -> int:
    from .._catalog_build import build_catalog, check_catalog

    strict = not args.allow_incomplete
    if args.check:
        differ = check_catalog(args.seed_dir, args.out_dir, strict=strict)
        if args.json:
            _print_json({"ok": not differ, "differ": differ})
        elif differ:
            print(f"out of date (rebuild with `sujian-router catalog build`): {', '.join(differ)}", file=sys.stderr)
        else:
            print("OK: committed catalog and directory match the seeds")
        return 1 if differ else 0
    result = build_catalog(args.seed_dir, args.out_dir, strict=strict)
    if args.json:
        _print_json(result.to_dict())
        return 0
    rows = [[code, count] for code, count in result.counts.items()]
    print(format_table(["category_code", "items"], rows))
    print(f"\n{result.n_items} items -> {result.catalog_path}")
    print(f"{result.n_units} units -> {result.departments_path}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _previous_catalog_text(args) -> str:
    """The previous catalog: ``--previous``, else ``git show <previous_rev>:.../duty_catalog.csv``."""
    import subprocess
    from pathlib import Path

    from .._catalog_build import _PACKAGE_DATA
    from .._crosswalk import catalog_version_info
    from ..exceptions import CatalogError

    if args.previous:
        return Path(args.previous).read_bytes().decode("utf-8-sig")
    rev = catalog_version_info(args.seed_dir)["previous_rev"]
    if not rev:
        raise CatalogError(["no --previous file and no previous_rev in catalog.yaml"], source="catalog.yaml")
    cmd = ["git", "-C", str(_PACKAGE_DATA), "show", f"{rev}:./duty_catalog.csv"]
    try:
        done = subprocess.run(cmd, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise CatalogError([f"cannot read the previous catalog with {' '.join(cmd)}: {exc}; pass --previous"]) from None
    return done.stdout.decode("utf-8-sig")


def run_crosswalk(args) -> int:
    import tempfile
    from pathlib import Path

    from .._catalog_build import write_crosswalk

    previous = _previous_catalog_text(args)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = Path(tmp) / "catalog_crosswalk.csv"
            write_crosswalk(previous, seed_dir=args.seed_dir, out_path=fresh)
            from .._catalog_build import _PACKAGE_DATA

            committed = Path(args.out) if args.out else _PACKAGE_DATA / "catalog_crosswalk.csv"
            same = committed.exists() and committed.read_bytes() == fresh.read_bytes()
        if args.json:
            _print_json({"ok": same})
        else:
            print("OK: crosswalk up to date" if same else "out of date: run `sujian-router catalog crosswalk`",
                  file=sys.stdout if same else sys.stderr)
        return 0 if same else 1
    crosswalk = write_crosswalk(previous, seed_dir=args.seed_dir, out_path=args.out)
    counts = crosswalk.counts()
    if args.json:
        _print_json({"from_version": crosswalk.from_version, "to_version": crosswalk.to_version, "counts": counts})
        return 0
    print(f"crosswalk {crosswalk.from_version} -> {crosswalk.to_version}: {len(crosswalk)} old codes")
    print(format_table(["change", "codes"], [[k, v] for k, v in counts.items()]))
    return 0
