"""Corrections benchmark: 30 days of a dispatcher correcting every wrong unit, learnt each evening.

A simulated city sends complaints about a fixed set of catalog items (``--items``, chosen with a
seed, Zipf-distributed: a few items are frequent, most rare), written in the HELD-OUT template
families of the generator (wordings the default model never saw). Every day:

1. the day's tickets (``--per-day``) are routed by the current router;
2. a ticket whose lead unit differs from the unit the rules give for its true item is a
   re-dispatch: the dispatcher writes a correction (text, routed unit, correct unit, time);
3. in the evening ``router.learn(corrections)`` returns the next day's router.

Reported: the re-dispatch rate of days 1-10 and of days 21-30 (the target is at most half), and
the unit accuracy on tickets the corrections should not touch: held-out-family tickets about
catalog items OUTSIDE the city's set, routed by the first and by the last router (the target is a
drop of at most 0.5 points). Usage::

    python benchmarks/bench_corrections.py                 # bundled default model
    python benchmarks/bench_corrections.py --per-day 300 --items 600 --json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _truth(router, df):
    """The lead unit the rules give for each ticket's TRUE item in its context."""
    from sujian_router import RoutingContext

    cat = router.catalog
    out = []
    for row in df.itertuples(index=False):
        ctx = RoutingContext(district=row.district, street=row.street, received_at=row.received_at)
        out.append(router.rules.apply(cat.get(row.label), row.text, ctx, cat.departments).lead_department)
    return np.asarray(out, dtype=object)


def _routed(router, df):
    return np.asarray([d.lead_department for d in router.route_many(df, explain=False)], dtype=object)


def _city(catalog, n_items, seed):
    """The city's items and their Zipf weights; the other items are the untouched pool."""
    rng = np.random.default_rng(seed)
    codes = np.asarray([it.code for it in catalog.items], dtype=object)
    chosen = rng.choice(len(codes), size=n_items, replace=False)
    city = codes[np.sort(chosen)]
    weights = 1.0 / np.arange(1, n_items + 1) ** 1.1
    weights = weights[rng.permutation(n_items)]
    others = np.setdiff1d(codes, city)
    return list(city), weights / weights.sum(), list(others)


def _day(catalog, city, weights, per_day, seed, day):
    """One day's tickets: held-out families, items drawn by weight (repeats allowed)."""
    from sujian_router import generate_tickets

    rng = np.random.default_rng([seed, day])
    draws = rng.choice(len(city), size=per_day, p=weights)
    reps = int(np.bincount(draws, minlength=len(city)).max())
    pool = generate_tickets(catalog, n_per_item=reps, seed=seed * 1000 + day, split="heldout",
                            items=[city[i] for i in np.unique(draws)])
    by_item = {code: grp for code, grp in pool.groupby("label", sort=False)}
    taken = {}
    rows = []
    for i in draws:
        code = city[i]
        k = taken.get(code, 0)
        taken[code] = k + 1
        rows.append(by_item[code].iloc[k])
    import pandas as pd

    day_df = pd.DataFrame(rows).reset_index(drop=True)
    day_df["received_at"] = pd.Timestamp("2024-06-01 09:00") + pd.Timedelta(days=day - 1)
    return day_df


def run(args):
    import pandas as pd

    from sujian_router import Router, generate_tickets

    router = Router.load(args.model)
    catalog = router.catalog
    city, weights, others = _city(catalog, args.items, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    untouched = generate_tickets(catalog, n_per_item=1, seed=args.seed + 7, split="heldout",
                                 items=list(rng.choice(others, size=min(args.untouched, len(others)), replace=False)))
    untouched_truth = _truth(router, untouched)
    acc_before = float((_routed(router, untouched) == untouched_truth).mean())
    first = router
    daily = []
    t0 = time.perf_counter()
    for day in range(1, args.days + 1):
        df = _day(catalog, city, weights, args.per_day, args.seed, day)
        truth = _truth(router, df)
        routed = _routed(router, df)
        wrong = routed != truth
        daily.append({"day": day, "tickets": len(df), "redispatched": int(wrong.sum()),
                      "rate": float(wrong.mean()),
                      "without_learning": int((_routed(first, df) != truth).sum()) if day > 20 else None})
        if wrong.any():
            corrections = pd.DataFrame({"text": df["text"][wrong].values, "routed": routed[wrong],
                                        "correct": truth[wrong], "time": str(df["received_at"].iloc[0])})
            router = router.learn(corrections, similarity=args.similarity)
        if args.fold_every and day % args.fold_every == 0 and day < args.days:
            from sujian_router._adapt import fold_corrections

            router = fold_corrections(router, progress=False)  # the periodic full retrain
        if not args.json:
            print(f"day {day:2d}: {int(wrong.sum()):4d}/{len(df)} re-dispatched ({wrong.mean():.1%})", flush=True)
    acc_after = float((_routed(router, untouched) == untouched_truth).mean())
    rate = lambda a, b: float(sum(d["redispatched"] for d in daily[a:b]) / sum(d["tickets"] for d in daily[a:b]))
    return {
        "model": str(args.model or "default"), "items": args.items, "per_day": args.per_day, "days": args.days,
        "seed": args.seed, "similarity": args.similarity, "fold_every": args.fold_every,
        "redispatch_days_1_10": rate(0, 10), "redispatch_days_21_30": rate(20, 30),
        "untouched_tickets": len(untouched), "untouched_accuracy_before": acc_before,
        "untouched_accuracy_after": acc_after, "corrections_held": router.metadata["corrections"]["count"],
        "redispatch_days_21_30_without_learning": float(
            sum(d["without_learning"] for d in daily[20:30]) / sum(d["tickets"] for d in daily[20:30])),
        "seconds": round(time.perf_counter() - t0, 1), "daily": daily,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--items", type=int, default=400, help="catalog items the simulated city complains about")
    p.add_argument("--per-day", type=int, default=200, help="tickets per day")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--untouched", type=int, default=1500, help="items outside the city's set, one ticket each")
    p.add_argument("--similarity", type=float, default=None, help="memory similarity (default: the library's)")
    p.add_argument("--fold-every", type=int, default=0,
                   help="every N days also retrain with the corrections folded in (slow: a full retrain each)")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = run(args)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return
    print(f"re-dispatch rate days 1-10:  {res['redispatch_days_1_10']:.2%}")
    print(f"re-dispatch rate days 21-30: {res['redispatch_days_21_30']:.2%} "
          f"(ratio {res['redispatch_days_21_30'] / max(res['redispatch_days_1_10'], 1e-12):.2f}; target <= 0.50)")
    print(f"(days 21-30 routed by the first router, no learning: {res['redispatch_days_21_30_without_learning']:.2%})")
    print(f"untouched tickets ({res['untouched_tickets']}): unit accuracy {res['untouched_accuracy_before']:.2%} -> "
          f"{res['untouched_accuracy_after']:.2%} (drop {100 * (res['untouched_accuracy_before'] - res['untouched_accuracy_after']):.2f} points; "
          f"target <= 0.5)")
    print(f"corrections held: {res['corrections_held']}; {res['seconds']} s")


if __name__ == "__main__":
    main()
