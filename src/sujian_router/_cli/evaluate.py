"""``sujian-router evaluate``: score a model on a labelled ticket export."""

from __future__ import annotations


def build_parser(subparsers):
    """Register the ``evaluate`` sub-command."""
    from ._columns import add_catalog_argument, add_column_arguments
    from .route import add_threshold_arguments

    p = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on a labelled ticket export",
        description=(
            "Score a model on a labelled export (CSV in UTF-8/BOM/GBK/GB18030, or XLSX): accuracy, "
            "macro F1, top-k accuracy, department accuracy and the share routed automatically. "
            "Rows without text or label are left out and counted."
        ),
    )
    p.add_argument("--model", default="default",
                   help="model directory, or 'default' for the bundled model (the default)")
    p.add_argument("--tickets", required=True, help="the labelled export")
    add_column_arguments(p, filters=True)
    add_catalog_argument(p)
    p.add_argument("-k", "--top-k", type=int, default=3, dest="top_k",
                   help="candidates counted for top-k accuracy (default 3)")
    p.add_argument("--target-accuracy", type=float, default=None,
                   help="also suggest the review threshold reaching this accuracy")
    add_threshold_arguments(p)
    p.add_argument("--json", action="store_true",
                   help="print the metrics, the tier table and the unit coverage curve as one JSON object")
    p.add_argument("--report", metavar="OUT.html", default=None,
                   help="write a self-contained HTML report (plots need sujian-router[report])")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Read the export, evaluate the model and print (and optionally write) the report."""
    import json
    import sys

    from .._evaluate import evaluate
    from .._tickets import quarantine_tickets
    from ._columns import read_labelled_export
    from .route import load_with_thresholds

    df = read_labelled_export(args)
    # evaluation keeps duplicates and unknown labels (they are real errors); only unusable rows go
    q = quarantine_tickets(df, free_labels=True)
    unusable = q.quarantined[q.quarantined["reason"] != "duplicate"]
    if len(unusable):
        df = df[~df["source_row"].isin(unusable["source_row"])]
        counts = unusable["reason"].value_counts().to_dict()
        print(f"left out {len(unusable)} row(s) without text or label: {counts}", file=sys.stderr)
    model = load_with_thresholds(args, "evaluate")
    if model is None:
        return 2
    report = evaluate(model, df, top_k=args.top_k, target_accuracy=args.target_accuracy)
    if args.report:
        report.to_html(args.report)
    if args.json:
        out = report.to_dict()
        out["left_out"] = int(len(unusable))
        out.update(report.tier_records())
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(report.summary())
        if args.report:
            print(f"report written to {args.report}")
    return 0
