"""Routing speed against the raw segmenter, old tree and new tree in one run.

Not a test. On the same real messages (the first ``--n`` of at most 300 characters, read at run
time from ``--messages``), one run measures:

* the raw rjieba segmenter (``rjieba.cut``), messages per CPU second;
* ``route_many`` messages per CPU second (with and without explanations) and ``Router.route``
  p50/p99 CPU milliseconds after warm-up, for the reference tree (``--other``, ``main`` by default)
  and for this tree, each in its own subprocess with ``PYTHONPATH=<tree>/src``;
* each subprocess's peak RSS and the size of the model directory it loaded.

The machine is shared and noisy: every figure is the median of ``--repeats`` passes of CPU time
(``time.process_time``), which moves much less with other jobs' load than wall-clock time::

    python benchmarks/bench_speed.py                    # JSON, then a Markdown table
    python benchmarks/bench_speed.py --n 500 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DEFAULT_MESSAGES = Path("/work/shared/data/teddycup2020/messages.csv")
RECEIVED_AT = "2024-06-12 10:00"


def _messages(path, n):
    import pandas as pd

    texts = pd.read_csv(path, encoding="utf-8-sig")["text"].astype(str)
    return texts[texts.str.len() <= 300].head(n).tolist()


def _median_cpu(fn, repeats):
    spent = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        spent.append(time.process_time() - start)
    return statistics.median(spent)


def _dir_mb(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def segmenter(texts, repeats):
    """Messages per CPU second of the raw rjieba segmenter."""
    import rjieba

    for t in texts[:200]:
        rjieba.cut(t)
    return len(texts) / _median_cpu(lambda: [rjieba.cut(t) for t in texts], repeats)


def route_percentiles(router, texts, received_at):
    """p50 and p99 CPU milliseconds of ``Router.route``, one call per text."""
    lat = []
    for t in texts:
        start = time.process_time()
        router.route(t, received_at=received_at)
        lat.append(time.process_time() - start)
    lat.sort()
    return lat[len(lat) // 2] * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000


def child(args):
    """Measure the ``sujian_router`` on ``sys.path``; print one JSON line."""
    import resource

    from sujian_router import Router

    texts = _messages(args.messages, args.n)
    router = Router.load(args.model, progress=False)
    model = args.model
    if model is None:
        try:
            from sujian_router._train import default_model_dir

            model = default_model_dir()
        except ImportError:  # the default model's home moved: the parent measures the usual place
            model = None
    router.route_many(texts[:200], received_at=RECEIVED_AT)  # warm caches (tokenizer, rules, converters)
    full = _median_cpu(lambda: router.route_many(texts, received_at=RECEIVED_AT), args.repeats)
    bare = _median_cpu(lambda: router.route_many(texts, received_at=RECEIVED_AT, explain=False), args.repeats)
    for t in texts[:50]:
        router.route(t, received_at=RECEIVED_AT)
    p50, p99 = route_percentiles(router, texts[:args.n_single], RECEIVED_AT)
    out = {
        "route_many_per_s": len(texts) / full, "route_many_no_explain_per_s": len(texts) / bare,
        "route_p50_ms": p50, "route_p99_ms": p99,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "model_mb": _dir_mb(model) if model else None, "module": __import__("sujian_router").__file__,
    }
    print(json.dumps(out))


def _run_tree(src, model, args):
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--messages", str(args.messages),
           "--n", str(args.n), "--n-single", str(args.n_single), "--repeats", str(args.repeats)]
    if model:
        cmd += ["--model", str(model)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark with {src} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _table(seg, old, new):
    rows = [("raw rjieba segmenter, messages/s", f"{seg:,.0f}", "", "")]
    for key, label in (("route_many_per_s", "`route_many` messages/s (explanations on)"),
                       ("route_many_no_explain_per_s", "`route_many` messages/s (`explain=False`)")):
        rows.append((label, f"{old[key]:,.0f}", f"{new[key]:,.0f}", f"{new[key] / old[key]:.2f}x"))
        rows.append((f"  ratio to the segmenter", f"{old[key] / seg:.3f}x", f"{new[key] / seg:.3f}x", ""))
    for key, label in (("route_p50_ms", "`Router.route` p50, CPU ms"), ("route_p99_ms", "`Router.route` p99, CPU ms"),
                       ("peak_rss_mb", "peak RSS, MB"), ("model_mb", "model directory, MB")):
        o, n = old.get(key), new.get(key)
        rows.append((label, "-" if o is None else f"{o:.2f}", "-" if n is None else f"{n:.2f}", ""))
    lines = ["| measure | main | this tree | new/old |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--other", default="/work/main", help="the reference tree (its src/ is put on PYTHONPATH)")
    p.add_argument("--other-model", default=None, help="model of the reference tree (default: its models/default)")
    p.add_argument("--model", default=None, help="model of this tree (default: the bundled default model)")
    p.add_argument("--messages", default=str(DEFAULT_MESSAGES))
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--n-single", type=int, default=1000, help="messages routed one by one for the percentiles")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if not Path(args.messages).is_file():
        raise SystemExit(f"bench_speed: no messages file at {args.messages}")
    texts = _messages(args.messages, args.n)
    seg = segmenter(texts, args.repeats)
    old = _run_tree(Path(args.other) / "src", args.other_model or Path(args.other) / "models" / "default", args)
    new = _run_tree(HERE / "src", args.model, args)
    new["model_mb"] = new["model_mb"] or _dir_mb(HERE / "models" / "default")
    print(json.dumps({"messages": len(texts), "segmenter_per_s": seg, "old": old, "new": new}, indent=1))
    print()
    print(_table(seg, old, new))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
