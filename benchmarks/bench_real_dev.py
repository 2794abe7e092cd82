"""Real-text development check: does the router pick a unit a Shenzhen dispatcher would accept?

``benchmarks/real_dev_check.csv`` lists hand-labelled messages of the TRAIN split of the Teddy Cup
2020 data (``../shared/data/teddycup2020/messages.csv``) by their ``row`` id only, with

* ``lead``: the department-directory roles a dispatcher would accept as lead (``|``-separated);
* ``co``: optional roles acceptable as co-handlers only (counted in the lenient figure);
* ``register``: comma-separated register tags (``letter``, ``question``, ``multi``, ``short``,
  ``long``, ``regulation``, ``vague``, ``other``) for the per-register breakdown;
* ``note``: a few words on the topic (never the message text).

The message text is read from the shared data folder at run time and never copied: when the folder
is absent the check is skipped with a message.  Each message's original text is routed; the lead
unit's name is mapped back to its role through the department directory and counted correct when
that role is one of the listed ``lead`` roles.  District and city counterparts are NOT inferred: a
role counts only when it is listed.

The messages come from another city (places pseudonymised as ``A市A3区``), while a Shenzhen ticket
always carries its district and street.  The check therefore routes every message with one fixed
placeholder jurisdiction (``--district``/``--street``, default 福田区/福田街道) so that every role
resolves at its own level; ``--no-place`` routes without any, which sends district and street roles
to their city fallbacks.  The receipt time is fixed too (a weekday morning) so time rules do not
depend on when the check runs.

When a decision has a ``tier`` attribute the share and accuracy of each tier are reported; the
``needs_review`` split is reported in any case.  Usage::

    python benchmarks/bench_real_dev.py                      # bundled default model, table
    python benchmarks/bench_real_dev.py --model models/x --json
    python benchmarks/bench_real_dev.py --errors 20          # also list 20 misrouted rows
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABELS = HERE / "real_dev_check.csv"
_RELATIVE = Path("shared") / "data" / "teddycup2020" / "messages.csv"
COLUMNS = ("row", "lead", "co", "register", "note")
RECEIVED_AT = "2024-06-12 10:00"


def _find_data() -> Path:
    """The shared messages file: ``$SUJIAN_SHARED_DATA`` or the nearest ``shared/data`` above this file."""
    import os

    env = os.environ.get("SUJIAN_SHARED_DATA")
    if env:
        return Path(env) / _RELATIVE.relative_to("shared/data")
    for parent in HERE.parents:
        if (parent / _RELATIVE).is_file():
            return parent / _RELATIVE
    return HERE.parents[1] / _RELATIVE


DATA = _find_data()


def read_labels(path=LABELS, directory=None):
    """Read the label file; every role must be a role of the directory.

    Returns a list of dicts ``{row, lead (frozenset), co (frozenset), registers (tuple), note}``.
    """
    import pandas as pd

    df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: expected columns {list(COLUMNS)}, found {list(df.columns)}")
    known = set(directory.roles) if directory is not None else None
    out, seen = [], set()
    for i, rec in enumerate(df.to_dict("records"), start=2):
        row = int(rec["row"])
        if row in seen:
            raise ValueError(f"{path}, line {i}: row {row} is labelled twice")
        seen.add(row)
        lead = frozenset(r for r in rec["lead"].split("|") if r)
        co = frozenset(r for r in rec["co"].split("|") if r)
        if not lead:
            raise ValueError(f"{path}, line {i}: row {row} has no acceptable lead role")
        unknown = sorted((lead | co) - known) if known is not None else []
        if unknown:
            raise ValueError(f"{path}, line {i}: row {row} names roles not in the directory: {unknown}")
        registers = tuple(t.strip() for t in rec["register"].split(",") if t.strip()) or ("other",)
        out.append({"row": row, "lead": lead, "co": co, "registers": registers, "note": rec["note"]})
    return out


def read_texts(labels, data=DATA):
    """Return ``{row: text}`` for the labelled rows; refuse rows outside the train split."""
    import pandas as pd

    df = pd.read_csv(data, encoding="utf-8-sig", usecols=["row", "split", "text"]).set_index("row")
    rows = [lab["row"] for lab in labels]
    absent = [r for r in rows if r not in df.index]
    if absent:
        raise ValueError(f"{data}: labelled rows not found: {absent[:10]}")
    wrong_split = [r for r in rows if df.at[r, "split"] != "train"]
    if wrong_split:
        raise ValueError(f"labelled rows must come from the train split; test rows: {wrong_split[:10]}")
    return {r: str(df.at[r, "text"]) for r in rows}


def lead_role(decision, directory):
    """The directory role of a decision's lead unit (``None`` when it names no known unit)."""
    name = decision.lead_department
    if not name:
        return None
    try:
        return directory.unit(name).role
    except KeyError:
        return None


def judge(labels, decisions, directory):
    """One record per labelled message: the role the router chose and whether it is acceptable."""
    out = []
    for lab, d in zip(labels, decisions):
        role = lead_role(d, directory)
        out.append({
            "row": lab["row"], "registers": lab["registers"], "note": lab["note"],
            "role": role, "unit": d.lead_department, "item": d.item_name,
            "confidence": round(float(d.confidence), 4),
            "correct": role in lab["lead"], "lenient": role in (lab["lead"] | lab["co"]),
            "tier": getattr(d, "tier", None), "needs_review": bool(d.needs_review),
            "expected": sorted(lab["lead"]),
        })
    return out


def _share(records, n_all):
    n = len(records)
    acc = sum(r["correct"] for r in records) / n if n else None
    return {"n": n, "share": n / n_all if n_all else None, "accuracy": acc}


def summarise(judged):
    """Overall unit accuracy, the lenient figure, tiers, review split and registers."""
    n = len(judged)
    summary = {
        "n": n,
        "unit_accuracy": sum(r["correct"] for r in judged) / n if n else None,
        "lenient_accuracy": sum(r["lenient"] for r in judged) / n if n else None,
        "no_unit": sum(r["role"] is None for r in judged),
        "review": {k: _share([r for r in judged if r["needs_review"] is v], n)
                   for k, v in (("automatic", False), ("needs_review", True))},
    }
    if any(r["tier"] is not None for r in judged):
        tiers = defaultdict(list)
        for r in judged:
            tiers[str(r["tier"])].append(r)
        summary["tiers"] = {t: _share(rs, n) for t, rs in sorted(tiers.items())}
    registers = defaultdict(list)
    for r in judged:
        for tag in r["registers"]:
            registers[tag].append(r)
    summary["registers"] = {t: _share(rs, n) for t, rs in sorted(registers.items())}
    return summary


def run(model=None, labels_path=LABELS, data=DATA, district="福田区", street="福田街道"):
    """Route every labelled message and return ``(summary, judged)``."""
    from sujian_router import Router

    router = Router.load(model, progress=False)
    directory = router.catalog.departments
    labels = read_labels(labels_path, directory)
    texts = read_texts(labels, data)
    decisions = router.route_many([texts[lab["row"]] for lab in labels], district=district, street=street,
                                  received_at=RECEIVED_AT, explain=False)
    judged = judge(labels, decisions, directory)
    summary = summarise(judged)
    summary.update({"model": str(model or "default"), "district": district, "street": street})
    return summary, judged


def _fmt(x):
    return "-" if x is None else f"{x:.3f}"


def print_table(summary, judged, n_errors=0):
    """Print the summary as markdown tables (and optionally the first misrouted rows)."""
    print(f"model: {summary['model']}  place: {summary['district'] or '-'}/{summary['street'] or '-'}")
    print(f"unit accuracy {_fmt(summary['unit_accuracy'])} on {summary['n']} messages "
          f"(lenient, co roles too: {_fmt(summary['lenient_accuracy'])}; no unit: {summary['no_unit']})")
    sections = [("review split", summary["review"])]
    if "tiers" in summary:
        sections.append(("tier", summary["tiers"]))
    sections.append(("register", summary["registers"]))
    for title, block in sections:
        print(f"\n| {title} | n | share | unit accuracy |\n|---|---:|---:|---:|")
        for key, s in block.items():
            print(f"| {key} | {s['n']} | {_fmt(s['share'])} | {_fmt(s['accuracy'])} |")
    wrong = [r for r in judged if not r["correct"]][:n_errors]
    for r in wrong:
        print(f"row {r['row']} ({r['note']}): {r['role']} via {r['item']} @{r['confidence']:.2f}; "
              f"expected {'|'.join(r['expected'])}")


def data_missing(data) -> bool:
    """Say why the check is skipped and return True when the shared messages file is absent."""
    if Path(data).is_file():
        return False
    print(f"skipped: the real data are not available ({data} is absent); "
          "the check reads message text from the shared folder at run time", file=sys.stderr)
    return True


def emit(summary, judged, args, printer):
    """Print the summary as JSON (``--json``) or through ``printer(summary, judged, n_errors)``."""
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        printer(summary, judged, args.errors)


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--district", default="福田区")
    p.add_argument("--street", default="福田街道")
    p.add_argument("--no-place", action="store_true", help="route without any district or street")
    p.add_argument("--errors", type=int, default=0, help="list this many misrouted rows")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = p.parse_args(argv)
    if data_missing(args.data):
        return 0
    district, street = (None, None) if args.no_place else (args.district, args.street)
    summary, judged = run(args.model, args.labels, args.data, district, street)
    emit(summary, judged, args, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
