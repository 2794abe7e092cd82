"""Adaptation benchmark: ``adapt`` on real unlabelled texts, scored on the real-text development check.

The bundled default model is adapted (``sujian_router.adapt``) with the TEXTS ONLY of the train
split of the Teddy Cup 2020 messages (``../shared/data/teddycup2020/messages.csv``; no label is
read), EXCLUDING the rows hand-labelled in ``benchmarks/real_dev_check.csv`` so the check is not
scored on texts the adaptation saw. The adapted model is written to a temporary directory and both
models are scored with ``bench_real_dev.run`` (same placeholder jurisdiction and time). The text is
read at run time, never copied; without the shared folder the benchmark stops with a message.
Usage::

    python benchmarks/bench_adapt.py            # table
    python benchmarks/bench_adapt.py --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_real_dev  # noqa: E402


def city_texts(data=bench_real_dev.DATA, labels=bench_real_dev.LABELS):
    """Train-split texts minus the rows of the development check; and how many were excluded."""
    import pandas as pd

    if not Path(data).is_file():
        raise SystemExit(f"the shared data is not available: {data} is absent")
    df = pd.read_csv(data, encoding="utf-8-sig", usecols=["row", "split", "text"])
    checked = set(pd.read_csv(labels, encoding="utf-8-sig", usecols=["row"])["row"].astype(int))
    train = df[df["split"] == "train"]
    keep = train[~train["row"].isin(checked)]
    return keep["text"].astype(str).tolist(), len(train) - len(keep)


def run(args):
    from sujian_router import Router, adapt

    texts, excluded = city_texts()
    base = Router.load()
    t0 = time.perf_counter()
    adapted = adapt(base, texts, min_unit_confidence=args.min_confidence, progress=not args.json)
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        adapted.save(Path(tmp) / "adapted")
        after, _ = bench_real_dev.run(Path(tmp) / "adapted")
    before, _ = bench_real_dev.run(None)
    keys = ("unit_accuracy", "lenient_accuracy", "tiers")
    return {"texts": len(texts), "excluded_check_rows": excluded, "seconds": round(seconds, 1),
            "report": adapted.adaptation_report.to_dict(),
            "before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--min-confidence", type=float, default=None,
                   help="unit confidence from which a text is pseudo-labelled (default: the auto threshold)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = run(args)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return 0
    r = res["report"]
    print(f"adapted on {res['texts']} train-split texts ({res['excluded_check_rows']} check rows excluded); "
          f"{r['pseudo_labelled']} pseudo-labelled; {r['new_terms']} new terms; {res['seconds']} s")
    for name in ("before", "after"):
        s = res[name]
        tiers = ", ".join(f"{t} {v['share']:.2f}/{v['accuracy'] if v['accuracy'] is None else round(v['accuracy'], 3)}"
                          for t, v in (s["tiers"] or {}).items())
        print(f"{name:6s}: unit accuracy {s['unit_accuracy']:.3f}, lenient {s['lenient_accuracy']:.3f}; "
              f"tiers (share/accuracy) {tiers}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
