"""City-scale benchmark: route-file throughput and memory, and training time and memory.

Run on demand (not part of the test suite)::

    python benchmarks/bench_scale.py --route-rows 100000 1000000 2000000 --train-rows 100000 500000
    python benchmarks/bench_scale.py --quick        # 20k rows, a smoke run

Every configuration runs in its own subprocess so peak memory (ru_maxrss) is
measured per configuration: the main process and, for Dask, the worker
processes separately.  Exports are SYNTHETIC tickets (``iter_tickets``),
written once to ``benchmarks/results/`` (git-ignored) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

_ROUTE_CHILD = r"""
import json, resource, sys, time
from sujian_router import route_file
src, out, engine, chunk = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
if __name__ == "__main__":
    t0 = time.perf_counter()
    rep = route_file(src, out, router=None, chunk_size=chunk, resume=False, progress=False, engine=engine)
    dt = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"rows": rep.rows_written, "seconds": dt, "rss_main_mb": me, "rss_children_mb": kids}))
"""

_TRAIN_CHILD = r"""
import json, os, resource, sys, threading, time
from sujian_router import generate_tickets, load_catalog, train
n = int(sys.argv[1])
peak = [0.0]

def _pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("Pss:")) / 1024
    except (OSError, StopIteration):
        return 0.0

def _sample():  # proportional set size of this process and its forked workers: shared pages counted once
    me = os.getpid()
    while True:
        kids = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/stat") as fh:
                        if int(fh.read().rsplit(")", 1)[1].split()[1]) == me:
                            kids.append(int(p))
                except OSError:
                    pass
        peak[0] = max(peak[0], _pss(me) + sum(map(_pss, kids)))
        time.sleep(0.5)

if __name__ == "__main__":
    threading.Thread(target=_sample, daemon=True).start()
    cat = load_catalog()
    per_item = max(1, round(n / len(cat)))
    tickets = generate_tickets(cat, n_per_item=per_item, seed=11, split="train")
    gen_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    router = train(tickets, catalog=cat, seed=11, progress=False, refit=False, synthetic=True)
    dt = time.perf_counter() - t0
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # forked fit workers
    print(json.dumps({"rows": len(tickets), "seconds": dt, "rss_mb": me, "rss_after_generation_mb": gen_rss,
                      "rss_workers_mb": kids, "pss_total_mb": peak[0],
                      "val_accuracy": router.training_report.metrics.get("val_accuracy")}))
"""


def _export(n_rows: int) -> Path:
    """Write (once) a synthetic export of ``n_rows`` rows with Chinese column names."""
    from sujian_router._synth import iter_tickets, write_export

    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"export_{n_rows}.csv"
    if path.is_file():
        return path
    tmp = path.with_suffix(".tmp")
    first = True
    with open(tmp, "wb"):
        pass
    for chunk in iter_tickets(n_total=n_rows, seed=99, chunk_size=100_000):
        part = RESULTS / "chunk.csv"
        write_export(chunk, part, fmt="csv", encoding="utf-8" if not first else "utf-8-sig", columns="zh")
        data = part.read_bytes()
        if not first:
            data = data.split(b"\n", 1)[1]
        with open(tmp, "ab") as fh:
            fh.write(data)
        first = False
    (RESULTS / "chunk.csv").unlink(missing_ok=True)
    os.replace(tmp, path)
    return path


def _child(code: str, *args) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--route-rows", type=int, nargs="*", default=[100_000, 1_000_000, 2_000_000])
    p.add_argument("--train-rows", type=int, nargs="*", default=[100_000, 500_000, 1_000_000])
    p.add_argument("--engines", nargs="*", default=["local", "dask"])
    p.add_argument("--chunk-size", type=int, default=50_000)
    p.add_argument("--quick", action="store_true", help="20k rows, local and dask, 20k training rows")
    args = p.parse_args(argv)
    if args.quick:
        args.route_rows, args.train_rows = [20_000], [20_000]
    from sujian_router._default_model import ensure_default_model

    ensure_default_model(progress=True)  # built once, outside the timings
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print()
    print("| rows | engine | seconds | rows/s | peak RSS main (MB) | peak RSS workers (MB) |")
    print("|---:|---|---:|---:|---:|---:|")
    for n in args.route_rows:
        src = _export(n)
        for engine in args.engines:
            out = RESULTS / f"routed_{n}_{engine}.csv"
            r = _child(_ROUTE_CHILD, src, out, engine, args.chunk_size)
            workers = f"{r['rss_children_mb']:,.0f}" if engine == "dask" else "-"
            print(f"| {n:,} | {engine} | {r['seconds']:.1f} | {r['rows'] / r['seconds']:,.0f} | "
                  f"{r['rss_main_mb']:,.0f} | {workers} |", flush=True)
            out.unlink(missing_ok=True)
            Path(str(out) + ".progress.json").unlink(missing_ok=True)
    print()
    print(f"Training: train(refit=False, n_jobs=-1) on {os.cpu_count()} cores; the time excludes generating "
          "the synthetic tickets. Peak RSS of the main process and of the largest forked worker (RSS counts "
          "the pages a worker shares with the main process); peak total = the largest sum of the proportional "
          "set sizes (shared pages counted once), sampled every 0.5 s: the memory the training really used.")
    print()
    print("| training rows | seconds | peak RSS main (MB) | peak RSS worker (MB) | peak total PSS (MB) | "
          "validation top-1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.train_rows:
        r = _child(_TRAIN_CHILD, n)
        print(f"| {r['rows']:,} | {r['seconds']:.1f} | {r['rss_mb']:,.0f} | {r['rss_workers_mb']:,.0f} | "
              f"{r['pss_total_mb']:,.0f} | {r['val_accuracy']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
