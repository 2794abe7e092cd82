"""Shared ``--column-map`` / ``--text-column`` / ``--label-column`` arguments."""

from __future__ import annotations

import argparse


def parse_column_map(items) -> dict:
    """Turn ``["诉求内容=text", ...]`` into ``{"诉求内容": "text"}``.

    Examples
    --------
    >>> parse_column_map(["诉求内容=text", "事项编码=label"])
    {'诉求内容': 'text', '事项编码': 'label'}
    """
    mapping = {}
    for item in items or ():
        src, sep, dst = str(item).partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise argparse.ArgumentTypeError(f"--column-map expects SOURCE=CANONICAL, got {item!r}")
        mapping[src.strip()] = dst.strip()
    return mapping


def add_column_arguments(parser, *, label=True, filters=False):
    """Add the column-mapping (and optionally encoding and row-filter) options to a sub-command parser."""
    parser.add_argument("--text-column", metavar="C", help="export column holding the complaint text")
    if label:
        parser.add_argument("--label-column", metavar="C", help="export column holding the label (item code)")
    parser.add_argument("--column-map", nargs="+", metavar="SRC=CANONICAL", default=[],
                        help="map export columns to canonical names (text, label, title, district, street, "
                             "received_at, ticket_id, department, location)")
    parser.add_argument("--sheet", default=None, help="sheet name or index of an XLSX export")
    if filters:
        parser.add_argument("--encoding", default=None, help="export encoding (detected when omitted)")
        parser.add_argument("--filter", action="append", default=[], metavar="COLUMN=VALUE",
                            help="keep only rows whose COLUMN equals VALUE (e.g. split=train); repeatable")


def add_catalog_argument(parser):
    """Add ``--catalog PATH``: the catalog to load the model with (the bundled one by default)."""
    parser.add_argument("--catalog", metavar="PATH", default=None,
                        help="duty catalog CSV the model was trained with (default: the bundled catalog); "
                             "a model refuses a catalog that gives its codes other meanings")


def load_router_from_args(args, model=None):
    """Load ``--model`` with ``--catalog``; print the model's load warnings on stderr."""
    import sys

    from .._catalog import load_catalog
    from .._router import Router

    model = getattr(args, "model", None) if model is None else model
    path = None if model in (None, "", "default") else model
    catalog = load_catalog(args.catalog) if getattr(args, "catalog", None) else None
    router = Router.load(path, catalog=catalog)
    for warning in router.load_warnings:
        print(f"sujian-router: warning: {warning}", file=sys.stderr)
    return router


def column_mapping_from_args(args) -> dict | None:
    """Combine ``--column-map``, ``--text-column`` and ``--label-column`` into one mapping."""
    mapping = parse_column_map(getattr(args, "column_map", None))
    if getattr(args, "text_column", None):
        mapping[args.text_column] = "text"
    if getattr(args, "label_column", None):
        mapping[args.label_column] = "label"
    return mapping or None


def filter_rows(df, filters):
    """Keep rows whose ``COLUMN`` equals ``VALUE`` for every ``COLUMN=VALUE`` given.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"split": ["train", "test"], "text": ["a", "b"]})
    >>> list(filter_rows(df, ["split=test"])["text"])
    ['b']
    """
    from ..exceptions import TicketSchemaError

    for f in filters or ():
        col, sep, value = str(f).partition("=")
        if not sep or not col:
            raise TicketSchemaError(f"--filter expects COLUMN=VALUE, got {f!r}")
        if col not in df.columns:
            raise TicketSchemaError(f"--filter {f!r}: expected a column {col!r}, found {list(df.columns)}")
        df = df[df[col].astype(str) == value]
    return df


def read_labelled_export(args, department_column=None):
    """Read ``--tickets`` with the mapping, encoding and sheet options, then apply ``--filter``.

    With ``department_column`` the export needs that column (read as ``department``) instead of a label.
    """
    from .._tickets import read_tickets

    mapping = column_mapping_from_args(args) or {}
    if department_column:
        mapping[department_column] = "department"
    required = ("text", "department") if department_column else ("text", "label")
    df = read_tickets(args.tickets, column_mapping=mapping or None, encoding=args.encoding,
                      sheet=args.sheet, required=required)
    return filter_rows(df, args.filter)
