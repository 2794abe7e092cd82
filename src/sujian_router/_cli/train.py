"""``sujian-router train``: retrain from a labelled ticket export."""

from __future__ import annotations

import json


def build_parser(subparsers):
    """Register the ``train`` sub-command."""
    from ._columns import add_catalog_argument, add_column_arguments

    p = subparsers.add_parser(
        "train",
        help="train a model from a labelled ticket export",
        description=(
            "Train a router from a labelled export (CSV in UTF-8/BOM/GBK/GB18030, or XLSX). Labels are "
            "catalog item codes unless --free-labels. Every input row is accounted for in the report."
        ),
    )
    p.add_argument("--tickets", required=True, help="the labelled export")
    add_column_arguments(p, filters=True)
    p.add_argument("--free-labels", action="store_true",
                   help="any label set (another taxonomy, categories only): a plain text classifier")
    p.add_argument("--department-column", metavar="C", default=None,
                   help="train from a department-only export: column C holds the unit that handled each ticket "
                        "(e.g. 主办单位); unit names are mapped through the directory and unmapped names reported")
    p.add_argument("--on-unmapped", choices=("quarantine", "error"), default="quarantine",
                   help="with --department-column: quarantine rows whose unit cannot be mapped (default) or stop")
    p.add_argument("--out", required=True, help="model directory to write")
    add_catalog_argument(p)
    p.add_argument("--no-escape-formulas", action="store_true",
                   help="write the quarantine CSV's text cells unchanged (by default cells starting with "
                        "= + - @ are prefixed with ' so spreadsheets do not run them as formulas)")
    p.add_argument("--quarantine", default=None, metavar="FILE",
                   help="where to write the quarantined rows with their reasons (default: OUT.quarantine.csv)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--target-accuracy", type=float, default=0.9,
                   help="accuracy wanted on the automatically routed share (default 0.9)")
    p.add_argument("--validation-fraction", type=float, default=0.1, help="held out for calibration (default 0.1)")
    p.add_argument("--n-jobs", type=int, default=-1,
                   help="worker processes for tokenising and fitting (default -1: one per core; "
                        "the model does not depend on it)")
    p.add_argument("--no-refit", action="store_true",
                   help="keep the model fitted on the training split instead of refitting on all rows after "
                        "calibration (about halves the time; for large exports the held-out 10%% add little)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the training report as JSON")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Read, train, save and report."""
    from pathlib import Path

    from .._csvout import write_csv
    from .._train import train
    from ._columns import read_labelled_export

    department = bool(args.department_column)
    df = read_labelled_export(args, department_column=args.department_column)
    catalog = None
    if args.catalog:
        from .._catalog import load_catalog

        catalog = load_catalog(args.catalog)
    router = train(df, catalog=catalog, free_labels=args.free_labels, seed=args.seed, target_accuracy=args.target_accuracy,
                   validation_fraction=args.validation_fraction, progress=not args.quiet,
                   n_jobs=args.n_jobs, refit=not args.no_refit,
                   label_kind="department" if department else "item", on_unmapped=args.on_unmapped)
    out = Path(args.out)
    router.save(out)  # the training report is part of metadata.json and the model card
    report = router.training_report
    qpath = Path(args.quarantine) if args.quarantine else out.with_name(out.name + ".quarantine.csv")
    write_csv(router.quarantined, qpath, escape_formulas=not args.no_escape_formulas)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(report.summary())
        if department:
            from .._weak import DepartmentMappingReport

            print(DepartmentMappingReport(**report.department_mapping).summary())
        print(f"model written to {out}; quarantined rows listed in {qpath}")
    return 0
