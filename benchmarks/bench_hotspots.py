"""Hot-issue benchmarks on SYNTHETIC routed tickets (never real data, never routed texts).

Two measurements:

``--surges``  planted surges: weekly ticket counts per (item, street) drawn from Poisson baselines with a
              seasonal swing per item over two years; in the second year, surges are planted (one street, one
              item, one week, ``--jump`` extra tickets). Reports recall (planted weeks flagged) and false
              alarms (flagged weeks not planted) per period, for several jump sizes.
``--scale N`` N routed tickets (``route-file``-like columns plus district, street and received_at) written to
              a CSV, then ``find_hotspots`` on that file in chunks, in a fresh process: wall time and peak RSS.
              ``--with-text`` adds a short synthetic complaint text per ticket (the grouping path).

Usage::

    python benchmarks/bench_hotspots.py --surges
    python benchmarks/bench_hotspots.py --scale 100000 --scale 1000000
    python benchmarks/bench_hotspots.py --scale 100000 --with-text
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

SEED = 2026
WEEKS = 104
ORIGIN = pd.Timestamp("2024-01-01")  # a Monday, so weeks line up with find_hotspots' 7D periods


def _world(n_items, seed):
    """Items (with names and leads) from the bundled catalog and every street with its district."""
    from sujian_router import load_catalog

    cat = load_catalog()
    rng = np.random.default_rng(seed)
    items = [cat.items[i] for i in sorted(rng.choice(len(cat.items), n_items, replace=False))]
    d = cat.departments
    streets = [(dist, s) for dist in d.districts for s in d.streets_of(dist)]
    return cat, items, streets


def _frame(cells_item, cells_street, weeks, items, streets, rng, start_id=0):
    """Tickets for the given (item, street, week) triples, at random times within their week."""
    n = len(weeks)
    when = ORIGIN + pd.to_timedelta(weeks * 7 * 86400 + rng.integers(0, 7 * 86400, n), unit="s")
    return pd.DataFrame({
        "ticket_id": [f"T{start_id + i:08d}" for i in range(n)],
        "item_code": [items[i].code for i in cells_item],
        "item_name": [items[i].name for i in cells_item],
        "lead_department": [items[i].lead_department for i in cells_item],
        "district": [streets[s][0] for s in cells_street],
        "street": [streets[s][1] for s in cells_street],
        "received_at": when.strftime("%Y-%m-%d %H:%M"),
    })


def _background(items, streets, rng):
    """Poisson counts per (item, street, week) around a seasonal baseline."""
    n_i, n_s = len(items), len(streets)
    base = rng.gamma(1.0, 0.35, size=(n_i, n_s))
    amp = rng.uniform(0.0, 0.6, size=n_i)
    phase = rng.uniform(0, 52, size=n_i)
    ci, cs, cw = [], [], []
    for w in range(WEEKS):
        season = 1.0 + amp * np.sin(2 * np.pi * (w - phase) / 52)
        counts = rng.poisson(base * season[:, None])
        i, s = np.nonzero(counts)
        k = counts[i, s]
        ci.append(np.repeat(i, k))
        cs.append(np.repeat(s, k))
        cw.append(np.full(k.sum(), w))
    return np.concatenate(ci), np.concatenate(cs), np.concatenate(cw)


def bench_surges(jumps, n_planted, n_items):
    """Recall and false alarms of the surge model for each jump size."""
    from sujian_router import find_hotspots

    _, items, streets = _world(n_items, SEED)
    rows = []
    for jump in jumps:
        rng = np.random.default_rng(SEED + jump)
        bi, bs, bw = _background(items, streets, rng)
        planted = {(int(rng.integers(len(items))), int(rng.integers(len(streets))), int(rng.integers(52, WEEKS)))
                   for _ in range(n_planted)}
        pi = np.array([p[0] for p in planted for _ in range(jump)])
        ps = np.array([p[1] for p in planted for _ in range(jump)])
        pw = np.array([p[2] for p in planted for _ in range(jump)])
        frame = _frame(np.r_[bi, pi], np.r_[bs, ps], np.r_[bw, pw], items, streets, rng)
        t0 = time.perf_counter()
        report = find_hotspots(frame, period="7D")
        seconds = time.perf_counter() - t0
        want = {(items[i].code, streets[s][1], (ORIGIN + pd.Timedelta(weeks=w)).to_pydatetime())
                for i, s, w in planted}
        got = {(s.item_code, s.street, s.period_start) for s in report.surges}
        hits = len(want & got)
        false = len(got - want)
        rows.append({"jump": jump, "planted": len(want), "found": hits, "recall": hits / len(want),
                     "false_alarms": false, "false_alarms_per_period": false / WEEKS,
                     "cells": len(items) * len(streets), "tickets": len(frame), "seconds": round(seconds, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _write_routed(path, n, with_text, chunk=200_000):
    """Write ``n`` synthetic routed tickets to ``path`` in chunks (background only; seeded)."""
    _, items, streets = _world(60, SEED)
    rng = np.random.default_rng(SEED)
    places = [a + b + c for a in "东南西北中金银玉华新" for b in "湖山河林海泉石松竹梅" for c in ("苑", "花园", "大厦")]
    problems = ["夜间施工噪音扰民", "垃圾清运不及时", "下水道堵塞反味", "路灯不亮", "餐饮油烟扰民", "违章停车堵路"]
    written = 0
    while written < n:
        m = min(chunk, n - written)
        frame = _frame(rng.integers(len(items), size=m), rng.integers(len(streets), size=m),
                       rng.integers(0, WEEKS, size=m), items, streets, rng, start_id=written)
        if with_text:
            frame["text"] = [places[p] + problems[q] + f"，编号{k}" for k, p, q in
                             zip(range(written, written + m), rng.integers(len(places), size=m),
                                 rng.integers(len(problems), size=m))]
        frame.to_csv(path, mode="a", header=written == 0, index=False, encoding="utf-8")
        written += m


_CHILD = """
import json, resource, sys, time
from sujian_router import find_hotspots
t0 = time.perf_counter()
r = find_hotspots(sys.argv[1], chunk_size=50_000, top=50)
s = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": round(s, 1), "peak_rss_mb": round(rss),
                  "hotspots": len(r.hotspots), "surges": len(r.surges), "tickets": r.n_tickets}))
"""


def bench_scale(n, with_text):
    """find_hotspots on an n-row routed CSV in a fresh process: time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "routed.csv")
        _write_routed(path, n, with_text)
        out = subprocess.run([sys.executable, "-c", _CHILD, path], capture_output=True, text=True, check=True)
        row = {"rows": n, "with_text": with_text, "csv_mb": round(os.path.getsize(path) / 2**20),
               **json.loads(out.stdout.strip().splitlines()[-1])}
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--surges", action="store_true", help="planted-surge recall and false alarms")
    p.add_argument("--jump", type=int, action="append", help="extra tickets of a planted surge (repeatable)")
    p.add_argument("--planted", type=int, default=50, help="surges planted per run")
    p.add_argument("--items", type=int, default=40, help="items in the synthetic world")
    p.add_argument("--scale", type=int, action="append", default=[], help="rows for the scale run (repeatable)")
    p.add_argument("--with-text", action="store_true", help="add short synthetic texts in the scale run")
    args = p.parse_args(argv)
    if args.surges:
        bench_surges(args.jump or [6, 10, 15], args.planted, args.items)
    for n in args.scale:
        bench_scale(n, args.with_text)


if __name__ == "__main__":
    main()
