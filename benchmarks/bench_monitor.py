"""The routing monitor on a synthetic export with weeks, re-dispatches and drift.

Not a test. Builds an export from held-out template families (``generate_tickets(split="heldout")``)
spread over ``--weeks`` weeks: from the middle week on, one category's tickets are drawn three
times as often (drift). A simulated dispatcher re-dispatches every ticket the model routed to
the wrong unit (改派次数 1) and a third of those are also returned (退单); a few dates are bad. The
export is written as GBK CSV (主办单位 holds the true unit), routed with ``route_file`` and the
routed file is monitored joined with its export::

    python benchmarks/bench_monitor.py --out /tmp/monitor.html
    python benchmarks/bench_monitor.py --model models/x --items 200 --per-item 6 --json
    python benchmarks/bench_monitor.py --real --out /tmp/real.html   # the real message board instead

``--real`` monitors ``../shared/data/teddycup2020/hotspot_messages.csv`` (read at run time; no
labels, so no accuracy): real citizens' text against the model's vocabulary and tiers, per week.

It prints the seconds of each step and the weekly table, and checks what the simulation fixes:
the re-dispatch rate equals 1 - dispatch accuracy every week, and the category drift of the
drifted weeks exceeds that of the weeks before.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def build_export(router, *, items, per_item, weeks, seed):
    """Held-out synthetic tickets with dates, true unit, re-dispatch and return columns."""
    from sujian_router import generate_tickets
    from sujian_router._evaluate import tier_outcomes

    rng = np.random.default_rng(seed)
    codes = sorted(rng.choice([it.code for it in router.catalog.items], size=items, replace=False))
    pool = generate_tickets(router.catalog, n_per_item=per_item, seed=seed, split="heldout", items=codes)
    cats = [router.catalog.get(c).category for c in pool["label"]]
    drifted = pd.Series(cats).value_counts().index[0]
    half = weeks // 2
    week = rng.integers(0, weeks, size=len(pool))
    # drift: from the middle week on, tickets of one category are three times as likely to be kept
    keep = (week < half) | np.array([c == drifted for c in cats]) | (rng.random(len(pool)) < 1 / 3)
    frame = pool[keep].reset_index(drop=True)
    week = week[keep]
    when = pd.Timestamp("2024-06-03 08:00") + pd.to_timedelta(week * 7 + rng.integers(0, 7, size=len(frame)), unit="D")
    frame["received_at"] = when.strftime("%Y-%m-%d %H:%M")
    out = tier_outcomes(router, frame)
    wrong = ~out.correct
    bad = rng.choice(len(frame), size=3, replace=False)
    frame.loc[bad, "received_at"] = ["", "2024-02-30", "上周"]
    return pd.DataFrame({
        "工单编号": [f"T{i:06d}" for i in range(len(frame))], "诉求内容": frame["text"], "受理时间": frame["received_at"],
        "区": frame["district"], "街道": frame["street"],
        "主办单位": [u or "" for u in out.true_units], "改派次数": wrong.astype(int),
        "退单": np.where(wrong & (rng.random(len(frame)) < 1 / 3), "是", "否"),
    }), drifted


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "teddycup2020" / "hotspot_messages.csv"
REAL_COLUMNS = {"posted_at": "received_at", "detail": "text", "title": "title", "message_id": "ticket_id"}


def run_real(router, out):
    """Monitor the real message board routed on the fly; print its overall and drift figures."""
    from sujian_router import monitor

    if not REAL.is_file():
        raise SystemExit(f"real data not available: {REAL} is absent")
    t0 = time.perf_counter()
    rep = monitor(REAL, router=router, column_mapping=REAL_COLUMNS)
    seconds = time.perf_counter() - t0
    if out:
        rep.to_html(out)
    tiers = rep.tiers[rep.tiers["week"] == "all"].set_index("tier")["share"]
    weekly = rep.weekly[rep.weekly["week"] != "undated"]
    return {"rows": rep.n, "weeks": len(weekly), "bad_dates": len(rep.bad_dates), "seconds": seconds,
            "tier_shares": {k: float(v) for k, v in tiers.items()},
            "oov_share_median_week": float(weekly["oov_share"].median()),
            "category_drift_median_week": float(weekly["category_drift"].median()),
            "drift_baseline": rep.drift_baseline}


def main(argv=None):
    """Build, route and monitor the synthetic export; print timings and the weekly table."""
    from sujian_router import Router, monitor, route_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model directory (default: the bundled model)")
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--per-item", type=int, default=8)
    ap.add_argument("--weeks", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the HTML report here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--real", action="store_true", help="monitor the real message board instead")
    args = ap.parse_args(argv)
    router = Router.load(args.model)
    if args.real:
        print(json.dumps(run_real(router, args.out), ensure_ascii=False, indent=1))
        return
    times = {}
    t0 = time.perf_counter()
    export, drifted = build_export(router, items=args.items, per_item=args.per_item, weeks=args.weeks, seed=args.seed)
    times["build export (routes once to simulate the dispatcher)"] = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        src, routed = Path(tmp) / "export.csv", Path(tmp) / "routed.csv"
        export.to_csv(src, index=False, encoding="gbk")
        t0 = time.perf_counter()
        route_file(src, routed, router=router, progress=False)
        times["route_file"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rep = monitor(routed, router=router, tickets=src)
        times["monitor (routed file joined with its export)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if args.out:
            rep.to_html(args.out)
            times["HTML report"] = time.perf_counter() - t0
    weekly = rep.weekly[rep.weekly["week"] != "undated"]
    gap = float((weekly["redispatch_rate"] - (1 - weekly["accuracy"])).abs().max())
    half = args.weeks // 2
    drift_before = float(weekly["category_drift"].iloc[args.weeks // 4 if args.weeks >= 4 else 0:half].mean())
    drift_after = float(weekly["category_drift"].iloc[half:].mean())
    result = {"rows": rep.n, "bad_dates": len(rep.bad_dates), "accuracy": rep.accuracy,
              "automatic_share": rep.automatic_share, "drifted_category": drifted,
              "max_gap_redispatch_vs_errors": gap, "oov_share_median_week": float(weekly["oov_share"].median()), "drift_before": drift_before, "drift_after": drift_after,
              "seconds": times}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
        return
    print(f"{rep.n} rows over {len(weekly)} weeks, {len(rep.bad_dates)} with a bad date; drifted category {drifted}")
    for step, s in times.items():
        print(f"{step}: {s:.1f} s")
    print(rep.weekly.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else rep.weekly.to_string())
    print(f"largest weekly gap between re-dispatch rate and 1 - accuracy: {gap:.4f} (the simulation makes it 0)")
    print(f"mean category drift: weeks before the change {drift_before:.3f}, after {drift_after:.3f}")


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
