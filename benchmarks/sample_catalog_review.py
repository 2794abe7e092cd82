"""Draw a random review sample of the duty catalog, as issue #18 judges it.

Six categories (not the noise category 08) are drawn at random, 40 items from
each, plus all 35 noise items: 275 items. Each row shows what a dispatcher
reads to judge the item (name, scope, lead and co units, keywords,
phrasings); the reviewer marks it ``realistic``, ``odd`` (plausible but odd)
or ``nonsense`` in the ``verdict`` column of the written CSV.

The seed is printed (and chosen at random when not given), so a sample can be
drawn again. Usage::

    python benchmarks/sample_catalog_review.py                 # new random seed
    python benchmarks/sample_catalog_review.py --seed 4711 --out review.csv
    python benchmarks/sample_catalog_review.py --tally docs/catalog_review/seed_708999.csv [--column verdict_after]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import Counter

NOISE = "08"
CATEGORIES, PER_CATEGORY = 6, 40
VERDICTS = ("realistic", "odd", "nonsense")


def draw(catalog, seed):
    """The sampled items in catalog order: 6 random categories x 40 items, then all noise items."""
    rng = random.Random(seed)
    by_cat = {}
    for item in catalog.items:
        by_cat.setdefault(item.category_code, []).append(item)
    cats = sorted(rng.sample(sorted(c for c in by_cat if c != NOISE), CATEGORIES))
    sample = []
    for c in cats:
        sample += sorted(rng.sample(by_cat[c], min(PER_CATEGORY, len(by_cat[c]))), key=lambda i: i.code)
    return cats, sample + by_cat.get(NOISE, [])


def _row(item):
    return {"code": item.code, "name": item.name, "scope": item.scope, "lead": item.lead_department,
            "co": "|".join(item.co_departments), "keywords": "|".join(item.keywords),
            "phrasings": "|".join(item.phrasings), "verdict": "", "note": ""}


def tally(path, column="verdict"):
    """Count the verdicts in ``column`` of a filled-in review CSV (overall and per category)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [r["code"] for r in rows if r.get(column) not in VERDICTS]
    if bad:
        raise SystemExit(f"{path}: rows without a {column} in {VERDICTS}: {bad[:10]}")
    total = Counter(r[column] for r in rows)
    per_cat = {}
    for r in rows:
        per_cat.setdefault(r["code"][:2], Counter())[r[column]] += 1
    return len(rows), total, per_cat


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="sample seed (random when absent; always printed)")
    parser.add_argument("--out", default=None, help="write the review sheet to this CSV (else print it)")
    parser.add_argument("--tally", default=None, help="count the verdicts of a filled-in sheet instead")
    parser.add_argument("--column", default="verdict", help="the verdict column to count (e.g. verdict_after)")
    args = parser.parse_args(argv)
    if args.tally:
        n, total, per_cat = tally(args.tally, args.column)
        print(f"{n} items: " + ", ".join(f"{v} {total[v]} ({total[v] / n:.1%})" for v in VERDICTS))
        for cat, c in sorted(per_cat.items()):
            print(f"  {cat}: " + ", ".join(f"{v} {c[v]}" for v in VERDICTS))
        return 0
    from sujian_router import load_catalog

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    cats, sample = draw(load_catalog(), seed)
    print(f"seed {seed}: categories {', '.join(cats)} x {PER_CATEGORY} + {NOISE} (all): {len(sample)} items",
          file=sys.stderr)
    fh = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout
    writer = csv.DictWriter(fh, fieldnames=list(_row(sample[0])))
    writer.writeheader()
    writer.writerows(_row(i) for i in sample)
    if args.out:
        fh.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
