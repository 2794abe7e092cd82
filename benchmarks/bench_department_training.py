"""Department-only training benchmark: unit labels (主办单位) against item codes, same tickets.

``--n`` synthetic tickets (default 100,000; all template families, seeded) get, besides their item
code, the unit the rules give for that item in the ticket's district and street: what a
department-only export holds. The unit names are then spelt as exports spell them: a share
(``--alias-share``) in short forms (``福田区住建局``, ``深圳市福田区住房和建设局``), a share without the
place (``区住建局``), a few misspelt (``福甜区住房和建设局``) and a few unknown (``某某临时指挥部``).

Two models are trained on the same tickets with the same seed:

* ``item``: ``train(df)`` with the item codes;
* ``department``: ``train(df, label_kind="department")`` with the unit names only (weak
  supervision ranked by the bundled default model).

Both route a held-out-family test set (``--test-per-item`` tickets per item, another seed), and the
lead unit is compared with the unit the rules give for the true item. The target is a gap of at
most 3 points. The unmapped-name report of the department run is printed. Usage::

    python benchmarks/bench_department_training.py --n 100000 --json
    python benchmarks/bench_department_training.py --n 20000          # a quicker look
"""

from __future__ import annotations

import argparse
import json
import time

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_corrections import _truth as _units  # noqa: E402  the rules' lead unit for each row's true item


_SHORT = (("住房和建设局", "住建局"), ("城市管理和综合执法局", "城管局"), ("市场监督管理局", "市场监管局"),
          ("人力资源局", "人社局"), ("交通运输局", "交通局"), ("卫生健康局", "卫健局"), ("街道办事处", "街道办"))


def _export_names(units, directory, seed, alias_share):
    """Spell the true units as an export would: short forms, no place, misspelt, unknown."""
    rng = np.random.default_rng(seed)
    out = []
    for u in units:
        r = rng.random()
        name = u
        if r < alias_share:
            for full, short in _SHORT:
                name = name.replace(full, short)
            if name == u and not name.startswith("深圳"):
                name = "深圳市" + name
        elif r < alias_share + 0.03:
            name = directory.unit(u).role  # e.g. 区住房和建设局: the role, no place
        elif r < alias_share + 0.035:
            name = name[:-3] + "某" + name[-2:] if len(name) > 4 else name + "某"  # a misspelling
        elif r < alias_share + 0.04:
            name = f"某某临时指挥部{int(rng.integers(1, 4))}"  # unknown to the directory
        out.append(name)
    return out


def _unit_accuracy(router, test, truth):
    routed = np.asarray([d.lead_department for d in router.route_many(test, explain=False)], dtype=object)
    return float((routed == truth).mean())


def run(args):
    import pandas as pd

    from sujian_router import Router, generate_tickets, load_catalog, train
    from sujian_router._synth import iter_tickets

    catalog = load_catalog()
    base = Router.load(catalog=catalog)
    t0 = time.perf_counter()
    df = pd.concat(list(iter_tickets(catalog, n_total=args.n, seed=args.seed, split="all")), ignore_index=True)
    truth_units = _units(base, df)
    df["department"] = _export_names(truth_units, catalog.departments, args.seed, args.alias_share)
    test = generate_tickets(catalog, n_per_item=args.test_per_item, seed=args.seed + 1, split="heldout")
    test_truth = _units(base, test)
    prep = time.perf_counter() - t0
    common = dict(catalog=catalog, seed=args.seed, progress=not args.json, refit=False, n_jobs=args.n_jobs)
    t1 = time.perf_counter()
    item_model = train(df.drop(columns=["department"]), **common)
    t_item = time.perf_counter() - t1
    t2 = time.perf_counter()
    dept_model = train(df.drop(columns=["label"]), label_kind="department", base_router=base, **common)
    t_dept = time.perf_counter() - t2
    acc_item = _unit_accuracy(item_model, test, test_truth)
    acc_dept = _unit_accuracy(dept_model, test, test_truth)
    mapping = dept_model.training_report.department_mapping
    return {
        "n": len(df), "seed": args.seed, "test_rows": len(test), "alias_share": args.alias_share,
        "unit_accuracy_item_labels": acc_item, "unit_accuracy_department_only": acc_dept,
        "gap_points": 100 * (acc_item - acc_dept), "base_model_unit_accuracy": _unit_accuracy(base, test, test_truth),
        "department_mapping": mapping, "seconds_prepare": round(prep, 1), "seconds_train_item": round(t_item, 1),
        "seconds_train_department": round(t_dept, 1),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="training tickets")
    p.add_argument("--test-per-item", type=int, default=1)
    p.add_argument("--alias-share", type=float, default=0.3, help="share of names in a short or prefixed form")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=515)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    res = run(args)
    if args.json:
        print(json.dumps(res, ensure_ascii=False))
        return
    m = res["department_mapping"]
    print(f"{res['n']} tickets; test {res['test_rows']} held-out-family tickets")
    print(f"unit accuracy, item labels:      {res['unit_accuracy_item_labels']:.2%} ({res['seconds_train_item']} s)")
    print(f"unit accuracy, department only:  {res['unit_accuracy_department_only']:.2%} "
          f"({res['seconds_train_department']} s); gap {res['gap_points']:.2f} points (target <= 3)")
    print(f"(bundled default model, no training on these tickets: {res['base_model_unit_accuracy']:.2%})")
    print(f"names: {m['how']}; unmapped rows {m['rows_unmapped']}: {m['unmapped']}")


if __name__ == "__main__":
    main()
