"""``sujian-router learn``: remember dispatchers' corrections in a NEW model directory."""

from __future__ import annotations


def build_parser(subparsers):
    """Register the ``learn`` sub-command."""
    from ._columns import add_catalog_argument, add_column_arguments

    p = subparsers.add_parser(
        "learn",
        help="learn dispatchers' corrections into a new model directory",
        description=(
            "Read a corrections file (columns text, routed, correct, time; CSV in UTF-8/BOM/GBK/GB18030 or "
            "XLSX) and write a new model directory that routes the same kind of text to the corrected unit. "
            "The --model directory is left as it is (keep it to undo). Bad rows are reported one by one; "
            "the good rows are learnt."
        ),
    )
    p.add_argument("--model", default="default", help="model directory, or 'default' for the bundled model")
    p.add_argument("--corrections", required=True, help="the corrections file")
    add_column_arguments(p, label=False)
    add_catalog_argument(p)
    p.add_argument("--out", required=True, help="model directory to write (must differ from --model)")
    p.add_argument("--similarity", type=float, default=None,
                   help="text similarity (0-1) above which a correction applies (default: the model's, else 0.45)")
    p.add_argument("--refit", action="store_true",
                   help="also retrain the model with every remembered correction folded in (a full retrain: slow; "
                        "lets corrections generalise beyond near-repeats)")
    p.add_argument("--base-tickets", default=None, metavar="FILE",
                   help="with --refit: the labelled tickets the model was trained on (not needed for the default model)")
    p.add_argument("--json", action="store_true", help="print the learning report as JSON")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Load, learn, save and report."""
    import json
    import sys
    from pathlib import Path

    from .._learn import read_corrections
    from ._columns import column_mapping_from_args, load_router_from_args

    if args.model not in (None, "", "default") and Path(args.out).resolve() == Path(args.model).resolve():
        print("sujian-router: error: --out must be a new directory: the previous model stays as the undo",
              file=sys.stderr)
        return 2
    corrections = read_corrections(args.corrections, column_mapping=column_mapping_from_args(args), sheet=args.sheet)
    router = load_router_from_args(args)
    new = router.learn(corrections, similarity=args.similarity)
    report = new.learning_report
    if args.refit:
        from .._adapt import fold_corrections
        from .._tickets import read_tickets

        base = read_tickets(args.base_tickets, required=("text", "label")) if args.base_tickets else None
        new = fold_corrections(new, base_tickets=base, progress=not args.json)
    new.save(args.out)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
        print(f"model written to {args.out}; {args.model} is unchanged")
    return 0
