"""Real-text category check: does the router put real messages in a category a dispatcher would accept?

800 messages are drawn (``--seed``, default 20) from the TRAIN split of the Teddy Cup 2020 data
(``../shared/data/teddycup2020/messages.csv``), leaving out the rows of the unit-level development
check (``real_dev_check.csv``).  Each message carries one of the challenge's 7 first-level labels; the
table ``LABEL_CATEGORIES`` below maps each label to the catalog categories (two-digit codes of
``duty_catalog.csv``) a dispatcher would accept for a message of that label:

* ``primary``: the categories whose duties make up the bulk of the label (its level-2 topics in the
  challenge's ``taxonomy.csv``);
* ``also``: categories that own a level-2 or level-3 topic the challenge files under the label
  (e.g. 城乡建设 lists 燃气供应/电力供应 → 16, 安全生产 → 17, 公共汽车/地铁城铁 → 04, 住房公积金 → 18;
  劳动和社会保障 lists 职工医疗/生育保险 and 新农合 → 12, 住房公积金 → 18, 劳动安全 → 17).

A message counts as *accepted* when the category of the router's item (``item_code``'s first two
digits) is in ``primary | also`` or its subcategory is listed for the label in
``LABEL_SUBCATEGORIES``; the *primary* figure counts ``primary`` only.  The label says
nothing about the unit, so this check complements the unit-level one.

Message text is read from the shared folder at run time and never copied; when the folder is absent
the check is skipped with a message.  Every message is routed with the same placeholder jurisdiction
and receipt time as ``bench_real_dev.py``.  Usage::

    python benchmarks/bench_real_category.py                 # bundled default model, table
    python benchmarks/bench_real_category.py --json
    python benchmarks/bench_real_category.py --errors 30     # also list 30 rejected messages
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_real_dev as dev  # noqa: E402

N_MESSAGES = 800
SEED = 20

#: Teddy Cup first-level label -> (primary categories, also-acceptable categories).
LABEL_CATEGORIES = {
    # 住房保障与房地产, 征收与补偿, 城乡规划, 城市建设和市政管理 (环卫, 城管, 园林, 自来水), 建筑市场, 工程质量
    "城乡建设": (("01", "02", "03", "09"), ("04", "16", "17", "18")),
    # 劳动关系, 工资福利, 社会保险, 退休待遇, 就业培训; 医疗/生育保险, 公积金, 劳动安全
    "劳动和社会保障": (("11",), ("12", "17", "18")),
    # 教育体制/收费/行政管理/考试招生, 教师; 文化, 体育, 文物
    "教育文体": (("13", "15"), ()),
    # 市场监管, 质监检验检疫 (特种设备, 产品质量), 旅游管理, 商业贸易/进出口
    "商贸旅游": (("10", "15", "18"), ()),
    # 环境污染 (大气, 水, 噪音, 固体, 辐射), 环保管理, 建设项目审批; 水污染 of rivers, waste, chemicals
    "环境保护": (("07", "08"), ("01", "09", "17")),
    # 医政监管, 医患纠纷, 公共卫生, 人口计生; 食品药品监管
    "卫生计生": (("12", "10"), ()),
    # 出租车, 客货运输, 建设管理 (公路, 收费); 邮政管理; 道路交通安全
    "交通运输": (("04",), ("05", "16")),
}

#: Subcategories (``CC-SS``) accepted in addition for a label: a topic the challenge files under the
#: label that the catalog keeps inside another category (lifts are 特种设备, a 商贸旅游 topic, but the
#: catalog's residential-lift duties sit with housing; 传销 is a 商贸旅游 topic the police also own).
LABEL_SUBCATEGORIES = {
    "商贸旅游": ("02-10", "06-15"),
}

CATEGORY_CODES = tuple(f"{i:02d}" for i in range(1, 19))


def check_mapping(mapping=LABEL_CATEGORIES):
    """Refuse a mapping naming an unknown category or listing one twice for a label."""
    for label, (primary, also) in mapping.items():
        unknown = sorted((set(primary) | set(also)) - set(CATEGORY_CODES))
        if unknown or not primary:
            raise ValueError(f"LABEL_CATEGORIES[{label!r}]: unknown categories {unknown} or no primary one")
        if set(primary) & set(also):
            raise ValueError(f"LABEL_CATEGORIES[{label!r}]: {sorted(set(primary) & set(also))} listed twice")


def sample_rows(data=dev.DATA, labels_path=dev.LABELS, n=N_MESSAGES, seed=SEED, split="train"):
    """Draw ``n`` rows of ``split`` outside the development check; returns a frame ``row, label, text_source, text``.

    ``split="test"`` is the held-out split: run it once, at the end, never to choose anything.
    """
    import pandas as pd

    df = pd.read_csv(data, encoding="utf-8-sig", usecols=["row", "label", "split", "text_source", "text"])
    excluded = set(pd.read_csv(labels_path, encoding="utf-8-sig", usecols=["row"])["row"].astype(int))
    pool = df[(df["split"] == split) & ~df["row"].isin(excluded)]
    unknown = sorted(set(pool["label"]) - set(LABEL_CATEGORIES))
    if unknown:
        raise ValueError(f"{data}: labels without a category mapping: {unknown}")
    return pool.sample(n=min(n, len(pool)), random_state=seed).sort_values("row").reset_index(drop=True)


def judge(rows, decisions):
    """One record per message: the routed category and whether the label accepts it."""
    out = []
    for rec, d in zip(rows.to_dict("records"), decisions):
        primary, also = LABEL_CATEGORIES[rec["label"]]
        cat = d.item_code[:2] if d.item_code else None
        extra = bool(d.item_code) and d.item_code[:5] in LABEL_SUBCATEGORIES.get(rec["label"], ())
        out.append({
            "row": int(rec["row"]), "label": rec["label"], "source": rec["text_source"],
            "category": cat, "item": d.item_name, "unit": d.lead_department,
            "tier": getattr(d, "tier", None), "confidence": round(float(d.confidence), 4),
            "primary": cat in primary, "accepted": cat in primary or cat in also or extra,
        })
    return out


def _rate(records, key):
    return sum(r[key] for r in records) / len(records) if records else None


def summarise(judged):
    """Accepted and primary shares overall, per label, per text source and per tier."""
    groups = {"label": defaultdict(list), "source": defaultdict(list), "tier": defaultdict(list)}
    for r in judged:
        for key, block in groups.items():
            block[str(r[key])].append(r)
    summary = {"n": len(judged), "accepted": _rate(judged, "accepted"), "primary": _rate(judged, "primary")}
    for key, block in groups.items():
        summary[key] = {k: {"n": len(rs), "accepted": _rate(rs, "accepted"), "primary": _rate(rs, "primary")}
                        for k, rs in sorted(block.items())}
    summary["confusion"] = {
        label: dict(Counter(r["category"] for r in judged if r["label"] == label and not r["accepted"]).most_common(5))
        for label in LABEL_CATEGORIES
    }
    return summary


def run(model=None, data=dev.DATA, labels_path=dev.LABELS, n=N_MESSAGES, seed=SEED, split="train"):
    """Route the sampled messages and return ``(summary, judged)``."""
    from sujian_router import Router

    check_mapping()
    rows = sample_rows(data, labels_path, n, seed, split)
    router = Router.load(model, progress=False)
    decisions = router.route_many(rows["text"].astype(str).tolist(), district="福田区", street="福田街道",
                                  received_at=dev.RECEIVED_AT, explain=False)
    judged = judge(rows, decisions)
    summary = summarise(judged)
    summary.update({"model": str(model or "default"), "seed": seed})
    return summary, judged


def print_table(summary, judged, n_errors=0):
    """Print the summary as markdown tables (and optionally the first rejected messages)."""
    print(f"model: {summary['model']}  seed: {summary['seed']}")
    print(f"accepted category {dev._fmt(summary['accepted'])} on {summary['n']} messages "
          f"(primary categories only: {dev._fmt(summary['primary'])})")
    for key in ("label", "source", "tier"):
        print(f"\n| {key} | n | accepted | primary |\n|---|---:|---:|---:|")
        for k, s in summary[key].items():
            print(f"| {k} | {s['n']} | {dev._fmt(s['accepted'])} | {dev._fmt(s['primary'])} |")
    print("\nrejected categories per label (most frequent):")
    for label, counts in summary["confusion"].items():
        print(f"  {label}: {counts}")
    for r in [r for r in judged if not r["accepted"]][:n_errors]:
        print(f"row {r['row']} ({r['label']}): {r['category']} {r['item']} @{r['confidence']:.2f} -> {r['unit']}")


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--data", type=Path, default=dev.DATA)
    p.add_argument("--labels", type=Path, default=dev.LABELS, help="development-check rows to leave out")
    p.add_argument("-n", type=int, default=N_MESSAGES, help="number of messages")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--errors", type=int, default=0, help="list this many rejected messages")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--split", choices=("train", "test"), default="train",
                   help="draw from the train split (development) or, once at the end, the held-out test split")
    args = p.parse_args(argv)
    if dev.data_missing(args.data):
        return 0
    summary, judged = run(args.model, args.data, args.labels, args.n, args.seed, args.split)
    dev.emit(summary, judged, args, print_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
