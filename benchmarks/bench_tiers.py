"""Tiers, unit-level coverage and calibration per length bucket, on synthetic and real text.

Not a test. Routes two sets with a model and prints markdown tables:

* ``synthetic``: held-out-family synthetic tickets (``generate_tickets(split="heldout")``); the
  true unit is the lead unit the rules give the true item for the same text;
* ``keywords``: very short probes, one per item: the item's first catalog keyword alone (``噪音``,
  ``小广告``), labelled with that item; it measures how sure the model is of texts that short;
* ``real-dev``: the hand-labelled real messages of ``benchmarks/real_dev_check.csv`` (read from
  ``../shared/data`` at run time; skipped when absent), routed with the placeholder jurisdiction
  and receipt time of ``bench_real_dev.py``; a unit is right when its role is an accepted lead role.

For each set: unit accuracy, the share and accuracy of each tier (``suggest``: the share whose
right unit is among the three units shown), the coverage curve of the unit confidence (share at or
above a threshold and its accuracy) and, per bucket of informative characters
(``sujian_router._text.informative_chars``), the mean unit confidence against the accuracy (the
gap is the calibration error of that bucket)::

    python benchmarks/bench_tiers.py                        # default model, both sets
    python benchmarks/bench_tiers.py --model models/x --synthetic-per-item 0 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BUCKETS = ((0, 2), (3, 5), (6, 15), (16, 50), (51, 200), (201, 10**9))
TIER_NOTE = "tiers include the text rules: at most 2 informative characters manual, fewer than 6 never auto"
CURVE_AT = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def _synthetic(router, n_per_item, seed):
    """Decisions, hits and informative lengths on held-out-family synthetic tickets."""
    from sujian_router import generate_tickets
    from sujian_router._evaluate import unit_outcomes

    df = generate_tickets(router.catalog, n_per_item=n_per_item, seed=seed, split="heldout")
    decisions, correct, in_top = unit_outcomes(router, df)
    return decisions, correct, in_top, df["text"].tolist()


def _keywords(router):
    """Decisions, hits and lengths for one-keyword probes (the first keyword of every item)."""
    import pandas as pd

    from sujian_router._evaluate import unit_outcomes

    rows = [(next((k for k in it.keywords if len(k) >= 2), it.name), it.code) for it in router.catalog.items]
    df = pd.DataFrame(rows, columns=["text", "label"])
    decisions, correct, in_top = unit_outcomes(router, df)
    return decisions, correct, in_top, df["text"].tolist()


def _real_dev(router):
    """The same on the real development check (None when the shared data are absent)."""
    sys.path.insert(0, str(HERE))
    import bench_real_dev as dev

    if not dev.DATA.is_file():
        print(f"real-dev: skipped, {dev.DATA} is absent", file=sys.stderr)
        return None
    directory = router.catalog.departments
    labels = dev.read_labels(dev.LABELS, directory)
    texts = dev.read_texts(labels, dev.DATA)
    rows = [texts[lab["row"]] for lab in labels]
    decisions = router.route_many(rows, district="福田区", street="福田街道", received_at=dev.RECEIVED_AT,
                                  explain=False)

    def role(name):
        try:
            return directory.unit(name).role if name else None
        except KeyError:
            return None

    correct = np.array([role(d.lead_department) in lab["lead"] for d, lab in zip(decisions, labels)])
    in_top = np.array([any(role(u.unit) in lab["lead"] for u in d.unit_candidates[:3]) or ok
                       for d, lab, ok in zip(decisions, labels, correct)])
    return decisions, correct, in_top, rows


def _summary(decisions, correct, in_top, texts):
    from sujian_router._evaluate import _tier_frame
    from sujian_router._text import prepare_text

    conf = np.array([d.unit_confidence for d in decisions], dtype=float)
    tiers = np.array([d.tier for d in decisions], dtype=object)
    frame = _tier_frame(tiers, correct, in_top)
    curve = []
    for t in CURVE_AT:
        m = conf >= t
        curve.append({"threshold": t, "share": float(m.mean()),
                      "accuracy": float(correct[m].mean()) if m.any() else None})
    lengths = np.array([prepare_text(t).informative for t in texts])
    buckets = []
    for lo, hi in BUCKETS:
        m = (lengths >= lo) & (lengths <= hi)
        if m.any():
            buckets.append({"chars": f"{lo}-{hi}" if hi < 10**9 else f">{lo - 1}", "n": int(m.sum()),
                            "mean_confidence": float(conf[m].mean()), "accuracy": float(correct[m].mean())})
    return {"n": len(decisions), "unit_accuracy": float(correct.mean()),
            "item_confidence_mean": float(np.mean([d.confidence for d in decisions])),
            "tiers": frame.to_dict("records"), "curve": curve, "buckets": buckets}


def _fmt(x):
    return "-" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3f}"


def _print(name, s):
    print(f"\n### {name}: {s['n']} texts, unit accuracy {s['unit_accuracy']:.3f}\n")
    print("| tier | n | share | unit accuracy | right unit in top 3 |\n|---|---:|---:|---:|---:|")
    for r in s["tiers"]:
        print(f"| {r['tier']} | {r['n']} | {_fmt(r['share'])} | {_fmt(r['accuracy'])} | {_fmt(r['accuracy_top'])} |")
    print("\n| unit confidence >= | share | accuracy |\n|---:|---:|---:|")
    for r in s["curve"]:
        print(f"| {r['threshold']} | {_fmt(r['share'])} | {_fmt(r['accuracy'])} |")
    print("\n| informative chars | n | mean unit confidence | unit accuracy |\n|---|---:|---:|---:|")
    for r in s["buckets"]:
        print(f"| {r['chars']} | {r['n']} | {_fmt(r['mean_confidence'])} | {_fmt(r['accuracy'])} |")


def _target_sweep(router, targets, suggest_target=None):
    """For each ``auto`` target: the thresholds the default-model recipe would choose, and the dev tiers.

    The thresholds are chosen as ``build_default_model`` does (held-out-family synthetic tickets, one per
    item, seed = default seed + 101; ``suggest`` for ``suggest_target``, by default the default model's); the real development
    check is then routed with them.  Only the thresholds change, not the model.
    """
    from sujian_router import generate_tickets
    from sujian_router._evaluate import choose_suggest_threshold, choose_threshold, unit_outcomes
    from sujian_router._default_model import _TIER_SEED_OFFSET, DEFAULT_MODEL_SUGGEST_ACCURACY, DEFAULT_SEED

    suggest_target = DEFAULT_MODEL_SUGGEST_ACCURACY if suggest_target is None else suggest_target
    df = generate_tickets(router.catalog, n_per_item=1, seed=DEFAULT_SEED + _TIER_SEED_OFFSET, split="heldout")
    decisions, correct, in_top = unit_outcomes(router, df)
    conf = np.array([d.unit_confidence for d in decisions], dtype=float)
    out = []
    for target in targets:
        auto = float(choose_threshold(conf, correct, target_accuracy=target))
        suggest = float(choose_suggest_threshold(conf, in_top, auto=auto, target_accuracy=suggest_target))
        dev = _real_dev(router.with_thresholds(auto=auto, suggest=suggest))
        row = {"target": target, "auto": auto, "suggest": suggest}
        if dev is not None:
            row["tiers"] = _summary(*dev)["tiers"]
        out.append(row)
    return out


def _print_sweep(rows):
    print("\n### auto target on the synthetic threshold tickets -> real-dev tiers\n")
    print("| target | auto thr | suggest thr | auto share | auto acc | suggest share | suggest top-3 | manual share |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        t = {x["tier"]: x for x in r.get("tiers", [])}
        get = lambda name, key: _fmt(t.get(name, {}).get(key))  # noqa: E731
        print(f"| {r['target']} | {r['auto']:.3f} | {r['suggest']:.3f} | {get('auto', 'share')} | "
              f"{get('auto', 'accuracy')} | {get('suggest', 'share')} | {get('suggest', 'accuracy_top')} | "
              f"{get('manual', 'share')} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--synthetic-per-item", type=int, default=1, help="held-out synthetic tickets per item (0: none)")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic tickets")
    p.add_argument("--no-keywords", action="store_true", help="skip the one-keyword probes")
    p.add_argument("--auto-targets", default="",
                   help="comma-separated auto targets: thresholds chosen as for the default model, real-dev tiers")
    p.add_argument("--suggest-target", type=float, default=None,
                   help="suggest target of the sweep (default: the library's DEFAULT_SUGGEST_ACCURACY)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from sujian_router import Router

    router = Router.load(args.model, progress=False)
    out = {"model": str(args.model or "default"), "thresholds": router.thresholds.to_dict()}
    if args.synthetic_per_item > 0:
        out["synthetic"] = _summary(*_synthetic(router, args.synthetic_per_item, args.seed))
    if not args.no_keywords:
        out["keywords"] = _summary(*_keywords(router))
    dev = _real_dev(router)
    if dev is not None:
        out["real_dev"] = _summary(*dev)
    if args.auto_targets:
        out["target_sweep"] = _target_sweep(router, [float(x) for x in args.auto_targets.split(",")],
                                            args.suggest_target)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"model {out['model']}, thresholds {out['thresholds']}")
    for key in ("synthetic", "keywords", "real_dev"):
        if key in out:
            _print(key, out[key])
    if "target_sweep" in out:
        _print_sweep(out["target_sweep"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
