"""Held-out synthetic accuracy of a model, overall and per template family.

Not a test.  Generates ``--n-per-item`` synthetic tickets per catalog item from the HELD-OUT template
families only (families the default model never sees in training; ALWAYS synthetic) and reports
item top-1 / top-3 of the model, overall and per family, so that a family added in one register can
be judged on its own.  Usage::

    python benchmarks/bench_synth_heldout.py                  # bundled default model, 3 per item
    python benchmarks/bench_synth_heldout.py --model models/x --n-per-item 5 --json
    python benchmarks/bench_synth_heldout.py --train-per-item 20 --n-per-item 5 --seed 0

``--train-per-item N`` first trains a fresh model with ``train()`` on N training-family tickets per item
(generator seed ``--seed``, ``refit=False``) and measures it on held-out tickets drawn with seed + 1: the
protocol of ``bench_classifier.py`` (20 and 5 per item, seed 0) without its timing runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def _fresh_router(n_per_item, seed):
    from sujian_router import generate_tickets, load_catalog, train

    catalog = load_catalog()
    tickets = generate_tickets(catalog, n_per_item=n_per_item, seed=seed, split="train")
    t0 = time.perf_counter()
    router = train(tickets, catalog=catalog, seed=seed, refit=False, progress=False, synthetic=True)
    print(f"trained on {len(tickets)} synthetic tickets in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return router


def measure(model=None, n_per_item=3, seed=None, train_per_item=0):
    """Return ``{"overall": {...}, "families": {name: {...}}}`` with n, top-1 and top-3."""
    import numpy as np

    from sujian_router import Router, generate_tickets
    from sujian_router._default_model import DEFAULT_SEED

    if train_per_item:
        seed = 0 if seed is None else seed
        router = _fresh_router(train_per_item, seed)
        seed, model = seed + 1, f"train() on {train_per_item} per item"
    else:
        router = Router.load(model, progress=False)
        seed = DEFAULT_SEED + 1 if seed is None else seed
    df = generate_tickets(router.catalog, n_per_item=n_per_item, seed=seed, split="heldout")
    t0 = time.perf_counter()
    labels, _probs = router.rank(df["text"].tolist(), top_k=3)
    seconds = time.perf_counter() - t0
    truth = df["label"].to_numpy(dtype=object)
    top1 = labels[:, 0] == truth
    top3 = (labels == truth[:, None]).any(axis=1)
    fams = df["template_family"].to_numpy(dtype=object)

    def block(mask):
        return {"n": int(mask.sum()), "top1": float(top1[mask].mean()), "top3": float(top3[mask].mean())}

    return {
        "model": str(model or "default"), "seed": seed, "n_per_item": n_per_item, "seconds": round(seconds, 1),
        "overall": block(np.ones(len(df), dtype=bool)),
        "families": {f: block(fams == f) for f in sorted(set(fams))},
    }


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--n-per-item", type=int, default=3)
    p.add_argument("--seed", type=int, default=None, help="generator seed (default: the default model's + 1)")
    p.add_argument("--train-per-item", type=int, default=0,
                   help="train a fresh model on this many training-family tickets per item first")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = measure(args.model, args.n_per_item, args.seed, args.train_per_item)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    o = result["overall"]
    print(f"held-out synthetic ({result['n_per_item']} per item, seed {result['seed']}, model {result['model']}): "
          f"top-1 {o['top1']:.3f}, top-3 {o['top3']:.3f} on {o['n']} tickets")
    print("\n| held-out family | n | top-1 | top-3 |\n|---|---:|---:|---:|")
    for name, b in result["families"].items():
        print(f"| {name} | {b['n']} | {b['top1']:.3f} | {b['top3']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
