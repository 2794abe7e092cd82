"""CPU time of routing: ``route_many`` throughput and ``Router.route`` percentiles.

Not a test. Wall-clock timings on a shared machine move with other jobs' load; the CPU time of the
routing process (``time.process_time``) moves much less, so two versions can be compared by running
this script alternately under each (``PYTHONPATH=OTHER/src python benchmarks/bench_route_cpu.py``).
Routes held-out synthetic tickets with a fixed receipt time and no district; ``route_many`` figures are
the best of three passes over ``--n`` tickets, ``route`` percentiles one pass over ``--n-single``::

    python benchmarks/bench_route_cpu.py                 # bundled default model, JSON line
    python benchmarks/bench_route_cpu.py --model models/x --n 5000
"""

from __future__ import annotations

import argparse
import json
import time

from bench_speed import route_percentiles  # this folder is on sys.path when run as a script

RECEIVED_AT = "2024-06-12 10:00"


def _best_cpu(fn, rounds=3):
    best = None
    for _ in range(rounds):
        start = time.process_time()
        fn()
        spent = time.process_time() - start
        best = spent if best is None else min(best, spent)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--n", type=int, default=2000, help="tickets per route_many pass")
    p.add_argument("--n-single", type=int, default=500, help="tickets routed one by one")
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args(argv)
    from sujian_router import Router, generate_tickets

    router = Router.load(args.model, progress=False)
    df = generate_tickets(router.catalog, n_per_item=1, seed=args.seed, split="heldout")
    texts = df.sample(min(args.n, len(df)), random_state=0)["text"].tolist()
    router.route_many(texts[:200])  # warm caches (tokenizer, rules, converters)
    full = _best_cpu(lambda: router.route_many(texts, received_at=RECEIVED_AT))
    bare = _best_cpu(lambda: router.route_many(texts, received_at=RECEIVED_AT, explain=False))
    out = {"route_many_rows_per_cpu_s": round(len(texts) / full),
           "route_many_bare_rows_per_cpu_s": round(len(texts) / bare)}
    p50, p99 = route_percentiles(router, texts[:args.n_single], RECEIVED_AT)
    out["route_p50_cpu_ms"], out["route_p99_cpu_ms"] = round(p50, 2), round(p99, 2)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
