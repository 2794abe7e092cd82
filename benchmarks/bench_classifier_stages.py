"""Per-stage CPU time of the classifier on real messages, for two source trees in one run.

Not a test. Reads up to ``--n`` messages of at most 300 characters from the
TeddyCup 2020 export at run time (never copied into the repository),
prepares them as the router does, then measures, in alternating
subprocesses for the reference tree (``--old-src``, e.g. the ``main``
checkout) and this tree, on the SAME saved model::

    python benchmarks/bench_classifier_stages.py --model models/default --old-src /work/main/src

Stages (CPU seconds per ``--n`` texts, best of ``--repeat`` inside each
process, median over ``--rounds`` processes per tree): ``segment`` (the raw
tokenizer over every text: the floor), ``featurise`` (texts to TF-IDF
rows), ``search`` (top-``k`` candidate search of the featurised rows),
``explain`` (terms behind the best label), ``top_k`` and
``top_k_explained`` (the whole public calls), and the p50/p99 CPU
milliseconds of ``top_k_explained`` on one text at a time (``--n-single``
texts). Prints a markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parents[1]
DEFAULT_CSV = _HERE.parents[1] / "shared" / "data" / "teddycup2020" / "messages.csv"
STAGES = ("segment", "featurise", "search", "explain", "top_k", "top_k_explained")


def _read_messages(path, n, max_chars=300):
    """The first ``n`` message texts of at most ``max_chars`` characters, prepared."""
    from sujian_router._text import prepare_text

    out = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            text = row.get("text") or ""
            if 0 < len(text) <= max_chars:
                out.append(prepare_text(text).text)
                if len(out) == n:
                    break
    return out


def _stage_functions(clf, texts, k):
    """``{stage: callable}`` for the classifier of either tree (old single module or new package)."""
    import numpy as np

    tok = clf.tokenizer
    feats = clf._transform(texts)
    fns = {"segment": lambda: [tok(t) for t in texts], "featurise": lambda: clf._transform(texts)}
    if hasattr(clf, "_scorer"):  # the package
        from sujian_router._classifier._search import Temperatures

        n_terms = len(clf.vocabulary_)
        temps = Temperatures.of(clf.temperatures_)
        fns["search"] = lambda: clf._scorer().search(feats.matrix(n_terms), k, temps, clf.exact_above)
        best = clf._perm[clf._scorer().search(feats.matrix(n_terms), 1, temps, clf.exact_above)[0][:, 0]]
        fns["explain"] = lambda: clf._explainer().contributions(feats, best, 5)
    else:  # the single module
        fns["search"] = lambda: clf._search(feats, k)
        best = clf._perm[clf._search(feats, 1)[0][:, 0]]
        _, rows, ids, vals = feats
        fns["explain"] = lambda: clf._contributions(rows, ids, vals, np.asarray(best), 5)
    fns["top_k"] = lambda: clf.top_k(texts, k=k)
    fns["top_k_explained"] = lambda: clf.top_k_explained(texts, k=k, n_terms=5)
    return fns


def _single_latency(clf, texts, k):
    """p50 and p99 CPU milliseconds of ``top_k_explained`` on one text at a time."""
    lat = []
    for text in texts:
        start = time.process_time()
        clf.top_k_explained([text], k=k, n_terms=5)
        lat.append(time.process_time() - start)
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return {"single_p50_ms": lat[len(lat) // 2] * 1000, "single_p99_ms": p99 * 1000}


def _child(args):
    from sujian_router import Router

    clf = Router.load(args.model, progress=False).classifier
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    clf.top_k_explained(texts[:100], k=args.k)  # warm-up: segmenter and derived helpers
    fns = _stage_functions(clf, texts, args.k)
    from bench_route_cpu import _best_cpu  # a sibling script: best CPU time of a few runs

    out = {name: _best_cpu(fns[name], rounds=args.repeat) for name in STAGES}
    out.update(_single_latency(clf, texts[:args.n_single], args.k))
    Path(args.out).write_text(json.dumps(out), encoding="utf-8")


def _run(src, args, texts_path, out_path):
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, __file__, "--child", "--model", str(args.model), "--texts", str(texts_path),
           "--out", str(out_path), "--k", str(args.k), "--repeat", str(args.repeat),
           "--n-single", str(args.n_single)]
    subprocess.run(cmd, env=env, check=True)
    return json.loads(Path(out_path).read_text(encoding="utf-8"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(_HERE / "models" / "default"))
    p.add_argument("--csv", default=str(DEFAULT_CSV), help="TeddyCup 2020 messages.csv")
    p.add_argument("--old-src", default="/work/main/src")
    p.add_argument("--new-src", default=str(_HERE / "src"))
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--k", type=int, default=10, help="candidates (the router asks for 10)")
    p.add_argument("--rounds", type=int, default=3, help="processes per tree, alternating")
    p.add_argument("--repeat", type=int, default=3, help="timed repeats per stage inside a process")
    p.add_argument("--n-single", type=int, default=500, help="texts classified one at a time for p50/p99")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--texts", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args)
        return 0
    if not Path(args.csv).is_file():
        print(f"no messages file at {args.csv}; pass --csv", file=sys.stderr)
        return 2
    runs = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.json"
        texts = _read_messages(args.csv, args.n)
        texts_path.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        for r in range(args.rounds):
            for name, src in (("old", args.old_src), ("new", args.new_src)):
                runs[name].append(_run(src, args, texts_path, Path(tmp) / f"{name}{r}.json"))
    keys = STAGES + ("single_p50_ms", "single_p99_ms")
    med = {name: {s: statistics.median(run[s] for run in runs[name]) for s in keys} for name in runs}
    print(f"{len(texts)} real messages (<= 300 characters), top-{args.k}, CPU s (median of {args.rounds})\n")
    print("| stage | old | new | new / old |\n|---|---:|---:|---:|")
    for s in keys:
        print(f"| {s} | {med['old'][s]:.3f} | {med['new'][s]:.3f} | {med['new'][s] / med['old'][s]:.2f} |")
    print(json.dumps({"n": len(texts), "k": args.k, "old": med["old"], "new": med["new"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
