"""Golden comparison: the routing answers of this tree against another tree's (``main`` by default).

Not a test (the small version is ``tests/test_router_golden_compare.py``). The parent process builds
the inputs once: 20,000 seeded synthetic tickets (``generate_tickets``) with their districts,
streets and receipt times deliberately mixed (kept, dropped, swapped for a street of another
district, misspelt), plus up to 2,000 real messages of at most 300 characters read at run time
from ``--messages``. Each tree then routes the same inputs in its own subprocess
(``PYTHONPATH=<tree>/src``), once through ``route_many`` and, for the first ``--n-single`` rows,
through ``Router.route``, and dumps one JSON line per decision; the parent compares the dumps::

    python benchmarks/golden_route.py                        # this tree vs /work/main
    python benchmarks/golden_route.py --other /path/to/tree --n-synth 2000

Compared exactly: item codes, candidate codes, lead and co-handling units, unit candidates,
urgency, deadlines, tier, review flag, jurisdiction and flags; confidences (item, candidate, unit)
to ``--tol``. Rows without a readable time are received "now" in each run, so a comparison whose two runs
straddle the edge of a rule's time window (22:00, 06:00...) may differ on them. Reasons are counted separately (the one intended difference: a district that
contradicts its street is explained once instead of twice).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DEFAULT_MESSAGES = Path("/work/shared/data/teddycup2020/messages.csv")
EXACT = ("item_code", "candidate_codes", "lead_department", "co_departments", "unit_names", "unit_items",
         "urgency", "dispatch_deadline", "contact_deadline", "tier", "needs_review", "arbitration",
         "joint_review", "district", "street", "flags")
NUMERIC = ("confidence", "candidate_scores", "unit_confidence", "unit_probabilities")


# ----------------------------------------------------------------------------- inputs
def _mix_context(df, directory, seed):
    """Keep, drop, contradict or misspell each row's district and street (seeded)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    streets = list(directory.streets)
    rows = []
    for text, district, street, when in zip(df["text"], df["district"], df["street"], df["received_at"]):
        roll = rng.random()
        if roll < 0.3:
            district, street = None, None
        elif roll < 0.45:
            street = None
        elif roll < 0.55:
            street = streets[int(rng.integers(len(streets)))]  # often another district's street
        elif roll < 0.6:
            district = "火星区" if rng.random() < 0.5 else district
            street = "不存在街道" if district != "火星区" else street
        hour = int(rng.integers(24))
        roll = rng.random()
        when = str(when)[:10] + f" {hour:02d}:{int(rng.integers(60)):02d}" if roll < 0.9 else (
            None if roll < 0.97 else "昨天晚上")
        rows.append({"text": text, "district": district, "street": street, "received_at": when})
    return rows


def _real_messages(path, limit):
    """Up to ``limit`` real messages of at most 300 characters, in file order (text read at run time)."""
    import pandas as pd

    if not Path(path).is_file():
        return []
    texts = pd.read_csv(path, encoding="utf-8-sig")["text"].astype(str)
    return [{"text": t, "district": None, "street": None, "received_at": "2024-06-12 10:00"}
            for t in texts[texts.str.len() <= 300].head(limit)]


def build_inputs(n_synth, n_real, messages, seed):
    """The rows both trees route: synthetic tickets with mixed context, then real messages."""
    from sujian_router import generate_tickets, load_catalog

    catalog = load_catalog()
    per_item = max(1, -(-n_synth // len(catalog)))
    df = generate_tickets(catalog, n_per_item=per_item, seed=seed, split="all")
    df = df.sample(n=min(n_synth, len(df)), random_state=seed)
    return _mix_context(df, catalog.departments, seed) + _real_messages(messages, n_real)


# ----------------------------------------------------------------------------- dumping
def _record(d):
    """The compared fields of one decision, JSON-ready."""
    def after(value):  # minutes after receipt: rows without a readable time are received "now"
        return None if value is None or d.received_at is None else (value - d.received_at).total_seconds() / 60

    return {
        "item_code": d.item_code, "candidate_codes": [c.code for c in d.candidates],
        "lead_department": d.lead_department, "co_departments": list(d.co_departments),
        "unit_names": [u.unit for u in d.unit_candidates], "unit_items": [list(u.items) for u in d.unit_candidates],
        "urgency": d.urgency, "dispatch_deadline": after(d.dispatch_deadline),
        "contact_deadline": after(d.contact_deadline), "tier": d.tier, "needs_review": d.needs_review,
        "arbitration": d.arbitration, "joint_review": d.joint_review, "district": d.district,
        "street": d.street, "flags": sorted(d.flags), "confidence": d.confidence,
        "candidate_scores": [c.score for c in d.candidates], "unit_confidence": d.unit_confidence,
        "unit_probabilities": [u.probability for u in d.unit_candidates], "reasons": list(d.reasons),
    }


def _readable(when):
    """A time ``route()`` accepts (it raises on an unreadable one, where ``route_many`` flags the row)."""
    return when if when and when[0].isdigit() else "2024-06-12 10:00"


def dump(inputs_path, out_path, model, n_single):
    """Route the inputs with the ``sujian_router`` on ``sys.path``; one JSON line per decision."""
    import pandas as pd

    from sujian_router import Router

    rows = json.loads(Path(inputs_path).read_text(encoding="utf-8"))
    router = Router.load(model, progress=False)
    decisions = router.route_many(pd.DataFrame(rows))
    singles = [router.route(r["text"], district=r["district"], street=r["street"],
                            received_at=_readable(r["received_at"]))
               for r in rows[:n_single]]
    with open(out_path, "w", encoding="utf-8") as fh:
        for kind, batch in (("many", decisions), ("single", singles)):
            for i, d in enumerate(batch):
                fh.write(json.dumps({"kind": kind, "row": i, **_record(d)}, ensure_ascii=False) + "\n")


# ----------------------------------------------------------------------------- comparing
def _close(a, b, tol):
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    return abs(float(a) - float(b)) <= tol


def _without_repeated_conflict(reasons):
    """The old reasons less the second statement of a district/street contradiction (the intended change)."""
    return [r for r in reasons if not r.startswith("事发地有误：辖区矛盾")]


def compare(old_lines, new_lines, tol=1e-6):
    """Count the rows whose compared fields differ; return a JSON-ready summary with examples."""
    if len(old_lines) != len(new_lines):
        return {"rows_old": len(old_lines), "rows_new": len(new_lines), "identical": False}
    field_diffs = {f: 0 for f in EXACT + NUMERIC}
    reason_diffs, conflict_once, examples, worst = 0, 0, [], 0.0
    for old, new in zip(old_lines, new_lines):
        bad = [f for f in EXACT if old[f] != new[f]] + [f for f in NUMERIC if not _close(old[f], new[f], tol)]
        for f in bad:
            field_diffs[f] += 1
        if old["confidence"] is not None and new["confidence"] is not None:
            worst = max(worst, abs(old["confidence"] - new["confidence"]))
        if old["reasons"] != new["reasons"]:
            if _without_repeated_conflict(old["reasons"]) == new["reasons"]:
                conflict_once += 1
            else:
                reason_diffs += 1
        if bad and len(examples) < 5:
            examples.append({"kind": old["kind"], "row": old["row"], "fields": bad,
                             "old": {f: old[f] for f in bad}, "new": {f: new[f] for f in bad}})
    differing = {f: n for f, n in field_diffs.items() if n}
    return {"rows": len(old_lines), "identical": not differing, "field_differences": differing,
            "max_confidence_difference": worst, "rows_with_conflict_explained_once": conflict_once, "rows_with_other_reasons": reason_diffs,
            "examples": examples}


def _run_tree(src, inputs, out, model, n_single):
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--dump", str(inputs), "--out", str(out),
           "--n-single", str(n_single)] + (["--model", model] if model else [])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"routing with {src} failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in Path(out).read_text(encoding="utf-8").splitlines()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--other", default="/work/main", help="the reference tree (its src/ is put on PYTHONPATH)")
    p.add_argument("--other-model", default=None, help="model of the reference tree (default: its models/default)")
    p.add_argument("--model", default=None, help="model of this tree (default: the bundled default model)")
    p.add_argument("--n-synth", type=int, default=20_000)
    p.add_argument("--n-real", type=int, default=2_000)
    p.add_argument("--n-single", type=int, default=500, help="rows also routed one by one with route()")
    p.add_argument("--messages", default=str(DEFAULT_MESSAGES))
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--tol", type=float, default=1e-6)
    p.add_argument("--dump", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.dump:
        dump(args.dump, args.out, args.model, args.n_single)
        return 0
    other_model = args.other_model or str(Path(args.other) / "models" / "default")
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "inputs.json"
        inputs.write_text(json.dumps(build_inputs(args.n_synth, args.n_real, args.messages, args.seed),
                                     ensure_ascii=False), encoding="utf-8")
        old = _run_tree(Path(args.other) / "src", inputs, Path(tmp) / "old.jsonl", other_model, args.n_single)
        new = _run_tree(HERE / "src", inputs, Path(tmp) / "new.jsonl", args.model, args.n_single)
    summary = compare(old, new, args.tol)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    return 0 if summary.get("identical") else 1


if __name__ == "__main__":
    raise SystemExit(main())
