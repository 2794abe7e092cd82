"""Dispatch check (#18): route the 100 hand-written complaints of
``tests/golden/dispatch_cases.yaml`` with the bundled default model and report

- department accuracy: the decision's lead unit is one of the case's acceptable units;
- the same on the place-only cases (the text names only a community, landmark, road or
  river; no district or street is given), and on those of them whose duty is handled at
  street level (street office, street enforcement team or police station);
- how many decisions name more than three units.

The default model is built on first use (synthetic tickets from the catalog; about a
minute). Usage::

    python benchmarks/bench_dispatch_check.py [--cases a|b] [--json] [--misses]

``--cases b`` routes the 40 held-out cases of ``tests/golden/dispatch_cases_b.yaml``
(written before the second round of catalog fixes was measured on them).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "golden"
CASE_FILES = {"a": GOLDEN / "dispatch_cases.yaml", "b": GOLDEN / "dispatch_cases_b.yaml"}


def _share(rows):
    return round(sum(r["ok"] for r in rows) / len(rows), 3) if rows else None


def run(cases):
    """Route every case; return one row per case (id, ok, lead, acceptable, place_only, street_level)."""
    from sujian_router import Router

    router = Router.load(progress=True)
    rows = []
    for case in cases:
        d = router.route(case["text"], district=case.get("district"), street=case.get("street"),
                         received_at=case.get("at"))
        rows.append({
            "id": case["id"], "ok": d.lead_department in case["lead"], "lead": d.lead_department,
            "acceptable": case["lead"], "item": f"{d.item_code} {d.item_name}",
            "place_only": bool(case.get("place_only")), "street_level": bool(case.get("role")),
            "units": len(d.departments),
        })
    return rows


def summary(rows, seconds):
    place = [r for r in rows if r["place_only"]]
    street = [r for r in place if r["street_level"]]
    return {
        "cases": len(rows),
        "department_accuracy": _share(rows),
        "place_only_cases": len(place),
        "place_only_accuracy": _share(place),
        "place_only_street_level_cases": len(street),
        "place_only_street_level_accuracy": _share(street),
        "decisions_over_3_units": sum(r["units"] > 3 for r in rows),
        "seconds": round(seconds, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", choices=sorted(CASE_FILES), default="a",
                        help="a: the 100-case check (default); b: the 40 held-out cases")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--misses", action="store_true", help="list the cases whose lead is not acceptable")
    args = parser.parse_args(argv)
    cases = yaml.safe_load(CASE_FILES[args.cases].read_text(encoding="utf-8"))["cases"]
    start = time.perf_counter()
    rows = run(cases)
    result = summary(rows, time.perf_counter() - start)
    if args.misses:
        result["misses"] = [r for r in rows if not r["ok"]]
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    for key, value in result.items():
        if key != "misses":
            print(f"{key}: {value}")
    for r in result.get("misses", ()):
        print(f"MISS {r['id']}: {r['lead']} not in {r['acceptable']} ({r['item']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
