"""Compare the "jieba" and "rjieba" backends of sujian_router's Tokenizer.

Not a test. Measures characters per second of each backend on the same
prepared texts, and the share of texts both backends segment identically.
Both use the user dictionary that :func:`sujian_router.train` gives a new
model (the catalog's keywords, places and units; ``--stock-words`` for the
short built-in list only).
Texts come from the TeddyCup 2020 message board export when it is present
(read at run time only, never copied) and from the project's synthetic
tickets otherwise::

    python benchmarks/bench_tokenizer.py
    python benchmarks/bench_tokenizer.py --csv /path/messages.csv --limit 5000
    python benchmarks/bench_tokenizer.py --synthetic --limit 20000
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "teddycup2020" / "messages.csv"


def _texts(args):
    from sujian_router._text import prepare_text

    if not args.synthetic and Path(args.csv).is_file():
        with open(args.csv, encoding="utf-8-sig", newline="") as f:
            rows = [r.get("text") or "" for r in csv.DictReader(f)]
        source = f"{args.csv} ({len(rows)} messages)"
    else:
        import sujian_router

        df = sujian_router.generate_tickets(sujian_router.load_catalog(), n_per_item=3, seed=0)
        rows = df["text"].tolist()
        source = f"synthetic tickets ({len(rows)})"
    texts = [prepare_text(t).text for t in rows[: args.limit]]
    return [t for t in texts if t], source


def _time(fn, texts, repeat):
    fn(texts[0])  # build the segmenter outside the timing
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = [fn(t) for t in texts]
        best = min(best, time.perf_counter() - t0)
    return out, best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--csv", default=str(DEFAULT_CSV))
    p.add_argument("--synthetic", action="store_true", help="use synthetic tickets")
    p.add_argument("--limit", type=int, default=3000)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--hmm", action="store_true", help="segment with the HMM for unknown words")
    p.add_argument("--stock-words", action="store_true",
                   help="only the built-in user words, not the catalog's (as older models)")
    args = p.parse_args(argv)

    from sujian_router._tokenize import Tokenizer

    texts, source = _texts(args)
    n_chars = sum(map(len, texts))
    results = {}
    if args.stock_words:
        from sujian_router._tokenize import DEFAULT_USER_WORDS as words
    else:
        from sujian_router import load_catalog
        from sujian_router._train import _tokenizer_for

        words = _tokenizer_for(load_catalog()).user_words
    for backend in ("jieba", "rjieba"):
        try:
            tok = Tokenizer(words, backend=backend, hmm=args.hmm)
            seg = tok._get_segmenter()  # the raw segmenter, before our filtering
        except ImportError as exc:
            print(f"# {backend} unavailable: {exc}", file=sys.stderr)
            continue
        raw, t_raw = _time(seg, texts, args.repeat)
        ours, t_ours = _time(tok, texts, args.repeat)
        results[backend] = {"raw": raw, "ours": ours, "t_raw": t_raw, "t_ours": t_ours}

    print(f"Texts: {source}; {len(texts)} non-empty prepared texts, {n_chars:,} characters; "
          f"HMM {'on' if args.hmm else 'off'}; {len(words):,} user words.\n")
    print("| backend | raw segmenter chars/s | Tokenizer (filtering included) chars/s | texts/s |")
    print("|---|---|---|---|")
    for b, r in results.items():
        print(f"| {b} | {n_chars / r['t_raw']:,.0f} | {n_chars / r['t_ours']:,.0f} | "
              f"{len(texts) / r['t_ours']:,.0f} |")
    if len(results) == 2:
        a, b = results["jieba"], results["rjieba"]
        same_raw = sum(x == y for x, y in zip(a["raw"], b["raw"])) / len(texts)
        same = sum(x == y for x, y in zip(a["ours"], b["ours"])) / len(texts)
        ta = sum(len(x) for x in a["ours"])
        tb = sum(len(x) for x in b["ours"])
        print(f"\nIdentical segmentation, raw segmenters: {same_raw:.1%} of texts; "
              f"after Tokenizer filtering: {same:.1%}. Tokens: jieba {ta:,}, rjieba {tb:,}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
