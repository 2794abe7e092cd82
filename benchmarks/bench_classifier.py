"""Benchmark the duty-item classifier against a flat baseline on synthetic tickets.

Not a test. One run generates synthetic training and held-out tickets from the
bundled catalog, then trains and measures each model in its own subprocess
(so peak RSS is per model) and prints a markdown table::

    python benchmarks/bench_classifier.py                   # 20 tickets per item
    python benchmarks/bench_classifier.py --n-per-item 5 --backend jieba
    python benchmarks/bench_classifier.py --baseline none   # our model only
    python benchmarks/bench_classifier.py --n-jobs 2 --pecos-python /tmp/pecos/bin/python

Columns: fit time (tokenising + vocabulary + training), peak RSS of the
worker process (includes the ticket data, about the same for every model),
size of the saved model directory, load time (verify manifest + rebuild),
single-text predict p50/p99 (one ``top_k([text])`` call, tokenising included),
batch rows/s and its ratio to the raw tokenizer the model uses and to the raw
jieba reference tokenizer (interleaved rounds in the same worker), top-1/top-3 item accuracy and lead-department accuracy on the held-out
tickets. For our model two more rows give the batch throughput of the same
fitted model when every item is scored, and through ``Router.route_many``.

Models
------
``ours``  :class:`sujian_router._classifier.TextClassifier` with ``train()``'s parameters
          (``CATALOG_PARAMS``): three levels (categories, subcategories, items), pruned.
``sgd``   flat baseline: the same tokenizer and TF-IDF (scikit-learn
          ``TfidfVectorizer`` with our analyzer, ``min_df=2``), then
          ``SGDClassifier(loss="hinge")`` one-vs-rest over all items, weights
          stored Fortran-ordered (see anchors.md); size measured with joblib.
``pecos``  PECOS XR-Linear anchor (``--pecos-python``): the SGD baseline's
          TF-IDF features, the catalog categories as its label tree, beam 10.
          libpecos pins numpy<2 and scipy<1.14, so it runs in its own virtual
          environment, never the project's::

              python -m venv /tmp/pecos && /tmp/pecos/bin/pip install libpecos
              /tmp/pecos/bin/pip install --no-deps -e . && \
                  /tmp/pecos/bin/pip install jieba rjieba pyyaml tqdm "pandas<2.3" joblib
              python benchmarks/bench_classifier.py --pecos-python /tmp/pecos/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _make_data(args, workdir: Path) -> dict:
    import numpy as np
    import sujian_router
    from sujian_router._text import prepare_text

    catalog = sujian_router.load_catalog()
    items = list(catalog.items)
    if args.max_items:
        items = items[: args.max_items]
    codes = [it.code for it in items]
    t0 = time.perf_counter()
    gen = sujian_router.generate_tickets
    kw = {} if not args.max_items else {"items": codes}
    train = gen(catalog, n_per_item=args.n_per_item, seed=args.seed, split="train", **kw)
    held = gen(catalog, n_per_item=args.n_heldout_per_item, seed=args.seed + 1, split="heldout", **kw)
    gen_s = time.perf_counter() - t0
    data = {}
    for name, df in (("train", train), ("heldout", held)):
        data[name] = {
            "text": [prepare_text(t).text for t in df["text"].tolist()],
            "label": [str(v) for v in df["label"].tolist()],
            "category": [str(v) for v in df["category"].tolist()],
            "subcategory": [catalog.get(str(v)).subcategory_code for v in df["label"].tolist()],
        }
    words = set()
    for it in catalog.items:
        words.update(it.keywords)
    data["user_words"] = sorted(words)
    data["lead"] = {it.code: it.lead_department for it in catalog.items}
    path = workdir / "data.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    n_items = len(set(data["train"]["label"]))
    print(f"# data: {len(items)} catalog items, {n_items} labels, {len(data['train']['text'])} train / "
          f"{len(data['heldout']['text'])} held-out tickets, generated in {gen_s:.1f} s", file=sys.stderr)
    del np
    return {"path": str(path), "n_items": n_items, "n_train": len(data["train"]["text"]),
            "n_heldout": len(data["heldout"]["text"])}


def _measure_predict(top_k, texts, labels, lead, tok, batches=None, n_single=300, rounds=3, ref_tok=None):
    """Latency, accuracy and batch throughput of ``top_k``.

    Batch throughput is measured in ``rounds`` rounds that interleave the raw
    tokenizer (and ``ref_tok``, the jieba reference, when the model uses
    another backend) with each batch function (``top_k`` and ``batches``), so
    every ratio compares runs made seconds apart on the same (noisy) machine;
    the medians are reported.
    """
    import numpy as np

    times = []
    for t in texts[:n_single]:
        t0 = time.perf_counter()
        top_k([t])
        times.append(time.perf_counter() - t0)
    pred = top_k(texts)
    y = np.asarray(labels)
    pred = np.asarray(pred)
    fns = {"batch": top_k, **(batches or {})}
    toks = {"tokenizer": tok, "jieba": ref_tok or tok}
    rates = {name: [] for name in [*toks, *fns]}
    for _ in range(rounds):
        for name, raw in toks.items():
            t0 = time.perf_counter()
            for t in texts:
                raw(t)
            rates[name].append(len(texts) / (time.perf_counter() - t0))
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(texts)
            rates[name].append(len(texts) / (time.perf_counter() - t0))
    out = {
        "p50_ms": float(np.percentile(times, 50) * 1000),
        "p99_ms": float(np.percentile(times, 99) * 1000),
        "top1": float((pred[:, 0] == y).mean()),
        "top3": float((pred[:, :3] == y[:, None]).any(axis=1).mean()),
        "dept": float(np.mean([lead.get(p) == lead.get(t) for p, t in zip(pred[:, 0], y)])),
        "tokenizer_rows_s": float(np.median(rates["tokenizer"])),
        "jieba_rows_s": float(np.median(rates["jieba"])),
    }
    for name in fns:
        out[f"{name}_rows_s"] = float(np.median(rates[name]))
        out[f"{name}_ratio"] = float(np.median(np.divide(rates[name], rates["tokenizer"])))
        out[f"{name}_ratio_jieba"] = float(np.median(np.divide(rates[name], rates["jieba"])))
    return out


def _pecos_worker(args, data, tok, model_dir) -> dict:
    """PECOS XR-Linear on the same TF-IDF features as the SGD baseline, with the categories as its tree."""
    import numpy as np
    import scipy.sparse as sp
    from pecos.xmc.xlinear.model import XLinearModel
    from sklearn.feature_extraction.text import TfidfVectorizer

    from sujian_router._classifier import TextClassifier

    tr = data["train"]
    analyzer = TextClassifier(tokenizer=tok)._analyzer()
    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer=analyzer, min_df=2, sublinear_tf=True, dtype=np.float32)
    X = vec.fit_transform(tr["text"]).astype(np.float32).tocsr()
    labels = np.array(sorted(set(tr["label"])))
    y = np.searchsorted(labels, tr["label"])
    Y = sp.csc_matrix((np.ones(y.size, dtype=np.float32), (np.arange(y.size), y)), shape=(y.size, labels.size))
    cat_of = dict(zip(tr["label"], tr["category"]))
    cats = sorted(set(cat_of.values()))
    label_group = sp.csc_matrix((np.ones(labels.size, dtype=np.float32),
                                 (np.arange(labels.size), [cats.index(cat_of[lab]) for lab in labels])),
                                shape=(labels.size, len(cats)))
    model = XLinearModel.train(X, Y, C=label_group, nr_splits=max(32, len(cats)), threads=args.n_jobs)
    fit_s = time.perf_counter() - t0
    model.save(str(model_dir))
    t0 = time.perf_counter()
    model = XLinearModel.load(str(model_dir), is_predict_only=True)
    load_s = time.perf_counter() - t0

    def top_k(texts):
        P = model.predict(vec.transform(texts).astype(np.float32), beam_size=10, only_topk=5, threads=1).tocsr()
        out = []
        for r in range(P.shape[0]):
            a, b = P.indptr[r], P.indptr[r + 1]
            order = np.argsort(-P.data[a:b], kind="stable")
            row = list(labels[P.indices[a:b][order]])
            out.append((row + [""] * 5)[:5])
        return out

    return {"fit_s": fit_s, "load_s": load_s, "n_terms": len(vec.vocabulary_), "top_k": top_k}


def _worker(args) -> dict:
    import numpy as np

    from sujian_router._tokenize import DEFAULT_USER_WORDS, Tokenizer

    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    tr, ho, lead = data["train"], data["heldout"], data["lead"]
    tok = Tokenizer([*DEFAULT_USER_WORDS, *data["user_words"]], backend=args.backend)
    ref = None if args.backend == "jieba" else Tokenizer(tok.user_words, backend="jieba")
    out = {"model": args.worker}

    tok("预热")  # load the dictionary before anything is timed
    if ref is not None:
        ref("预热")
    batches = {}

    model_dir = Path(args.model_dir)
    if args.worker == "ours":
        from sujian_router._classifier import TextClassifier
        from sujian_router._persist import load_model_dir, save_model_dir
        from sujian_router._train import CATALOG_PARAMS

        t0 = time.perf_counter()
        clf = TextClassifier(tokenizer=tok, **{**CATALOG_PARAMS, "C": args.C},
                             max_weights_per_class=args.max_weights, random_state=args.seed, n_jobs=args.n_jobs)
        clf.fit(tr["text"], tr["label"], groups=tr["category"], subgroups=tr["subcategory"])
        out["fit_s"] = time.perf_counter() - t0
        half = len(ho["text"]) // 2  # calibrate on the first half, report on all
        clf.calibrate(ho["text"][:half], ho["label"][:half])
        out["calibration"] = clf.calibration_
        save_model_dir(model_dir, *clf.to_state(), "# benchmark model\n")
        t0 = time.perf_counter()
        clf2 = TextClassifier.from_state(*load_model_dir(model_dir))
        out["load_s"] = time.perf_counter() - t0
        out["n_terms"] = len(clf.vocabulary_)
        out["nnz"] = int(sum(W.nnz for W in (clf.W1_, clf.Ws_, clf.W2_) if W is not None))

        def top_k(texts):
            return clf2.top_k(texts, k=5)[0]

        def every_group(texts):  # scores all items (the path top_k took before the search)
            out = []
            for s in range(0, len(texts), 512):  # 512 rows at a time, as top_k did
                lp = clf2.predict_log_proba(texts[s:s + 512])
                part = np.argpartition(-lp, 4, axis=1)[:, :5]
                order = np.argsort(-np.take_along_axis(lp, part, axis=1), axis=1, kind="stable")
                out.append(clf2.classes_[np.take_along_axis(part, order, axis=1)])
            return np.vstack(out)

        from sujian_router import Router, load_catalog

        router = Router(clf2, catalog=load_catalog())
        when = "2024-06-12 10:00"
        batches = {"every_group": every_group,
                   "route_many": lambda texts: router.route_many(texts, received_at=when),
                   "route_many_bare": lambda texts: router.route_many(texts, received_at=when, explain=False)}
        times = []
        for t in ho["text"][:300]:
            t0 = time.perf_counter()
            router.route(t, received_at=when)
            times.append(time.perf_counter() - t0)
        out["route_p50_ms"] = float(np.percentile(times, 50) * 1000)
        out["route_p99_ms"] = float(np.percentile(times, 99) * 1000)

    elif args.worker == "sgd":
        import joblib
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier

        from sujian_router._classifier import TextClassifier

        analyzer = TextClassifier(tokenizer=tok)._analyzer()
        t0 = time.perf_counter()
        vec = TfidfVectorizer(analyzer=analyzer, min_df=2, sublinear_tf=True, dtype=np.float32)
        X = vec.fit_transform(tr["text"])
        sgd = SGDClassifier(loss="hinge", alpha=1e-5, max_iter=args.sgd_epochs, tol=None,
                            random_state=args.seed, n_jobs=args.n_jobs)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sgd.fit(X, tr["label"])
        sgd.coef_ = np.asfortranarray(sgd.coef_.astype(np.float32))
        out["fit_s"] = time.perf_counter() - t0
        model_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump((vec.vocabulary_, vec.idf_, sgd), model_dir / "baseline.joblib")
        t0 = time.perf_counter()
        vocab, idf, sgd2 = joblib.load(model_dir / "baseline.joblib")
        out["load_s"] = time.perf_counter() - t0
        out["n_terms"] = len(vocab)
        classes = sgd2.classes_

        def top_k(texts):
            res = []
            for s in range(0, len(texts), 512):
                D = sgd2.decision_function(vec.transform(texts[s:s + 512]))
                idx = np.argpartition(-D, 4, axis=1)[:, :5]
                order = np.argsort(-np.take_along_axis(D, idx, axis=1), axis=1)
                res.append(classes[np.take_along_axis(idx, order, axis=1)])
            return np.vstack(res)
    elif args.worker == "pecos":
        res = _pecos_worker(args, data, tok, model_dir)
        top_k = res.pop("top_k")
        out.update(res)
    else:
        raise SystemExit(f"unknown worker {args.worker!r}")

    out["size_mb"] = _dir_size(model_dir) / 1e6
    out.update(_measure_predict(top_k, ho["text"], ho["label"], lead, tok, batches, ref_tok=ref))
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


def _run_worker(kind, args, data_path, workdir):
    python = args.pecos_python if kind == "pecos" else sys.executable
    cmd = [python, __file__, "--worker", kind, "--data", data_path,
           "--model-dir", str(workdir / f"model_{kind}"), "--backend", args.backend,
           "--seed", str(args.seed), "--C", str(args.C), "--max-weights", str(args.max_weights),
           "--sgd-epochs", str(args.sgd_epochs), "--n-jobs", str(args.n_jobs)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"model": kind, "error": f"exit {proc.returncode}"}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"# {kind} done in {time.perf_counter() - t0:.0f} s: {json.dumps(res)}", file=sys.stderr)
    return res


_NAMES = {
    "ours": "TextClassifier three-level, pruned (best-first search)",
    "ours/every_group": "same model, every item scored",
    "ours/route_many": "same model, Router.route / route_many (rules, explanations)",
    "ours/route_many_bare": "same, route_many(explain=False) as route_file uses it",
    "pecos": "PECOS XR-Linear, category tree (separate venv)",
}


def _table(results, meta, args) -> str:
    names = {**_NAMES, "sgd": f"SGD hinge flat ({args.sgd_epochs} epochs)"}
    tok = [r["tokenizer_rows_s"] for r in results if "tokenizer_rows_s" in r]
    ref = [r["jieba_rows_s"] for r in results if "jieba_rows_s" in r]
    lines = [
        f"Synthetic tickets: {meta['n_items']} items, {meta['n_train']} train, {meta['n_heldout']} held-out; "
        f"tokenizer backend `{args.backend}`"
        + (f", {min(tok):,.0f}–{max(tok):,.0f} texts/s across the workers" if tok else "")
        + (f"; raw jieba {min(ref):,.0f}–{max(ref):,.0f} texts/s." if ref else "."),
        f"Fit with n_jobs={args.n_jobs}; prediction single-threaded. Batch rows/s and the ratios to the raw "
        "tokenizers (the model's own, and jieba, the reference) are medians of 3 rounds that alternate "
        "tokenizers and model on the same texts.",
        "",
        "| model | fit s | peak RSS MB | size MB | load s | p50 ms | p99 ms | batch rows/s | "
        "batch / own tokenizer | batch / jieba | top-1 | top-3 | dept | terms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {names.get(r['model'], r['model'])} | failed: {r['error']} |" + " |" * 12)
            continue
        lines.append(
            f"| {names.get(r['model'], r['model'])} | {r['fit_s']:.1f} | {r['peak_rss_mb']:,.0f} | "
            f"{r['size_mb']:.1f} | {r['load_s']:.2f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['batch_rows_s']:,.0f} | {r['batch_ratio']:.2f} | {r['batch_ratio_jieba']:.2f} | {r['top1']:.3f} | "
            f"{r['top3']:.3f} | {r['dept']:.3f} | {r.get('n_terms', 0):,} |"
        )
        for variant in ("every_group", "route_many", "route_many_bare"):
            if f"{variant}_rows_s" in r:
                lat = (f"{r['route_p50_ms']:.2f} | {r['route_p99_ms']:.2f}" if variant == "route_many"
                       and "route_p50_ms" in r else " | ")
                lines.append(f"| {names[r['model'] + '/' + variant]} | | | | | {lat} | "
                             f"{r[variant + '_rows_s']:,.0f} | {r[variant + '_ratio']:.2f} | "
                             f"{r[variant + '_ratio_jieba']:.2f} | | | | |")
    for r in results:
        if r.get("calibration"):
            c = r["calibration"]
            lines.append("")
            lines.append(
                f"Calibration ({c['n_rows']} held-out rows): temperatures {c['temperatures_before']} -> "
                f"{[round(t, 4) for t in c['temperatures']]}, NLL {c['nll_before']:.3f} -> {c['nll_after']:.3f}, "
                f"ECE {c['ece_before']:.3f} -> {c['ece_after']:.3f}."
            )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-per-item", type=int, default=20, help="training tickets per duty item")
    p.add_argument("--n-heldout-per-item", type=int, default=5, help="held-out tickets per duty item")
    p.add_argument("--max-items", type=int, default=0, help="use only the first N catalog items (0: all)")
    p.add_argument("--backend", choices=["jieba", "rjieba"], default="rjieba",
                   help="segmenter of the models (default rjieba, as sujian_router.train uses)")
    p.add_argument("--baseline", choices=["sgd", "none"], default="sgd")
    p.add_argument("--sgd-epochs", type=int, default=5)
    p.add_argument("--n-jobs", type=int, default=1,
                   help="workers for fitting: our n_jobs, SGD threads, PECOS threads (default 1)")
    p.add_argument("--C", type=float, default=1.0)
    p.add_argument("--max-weights", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pecos-python", metavar="PYTHON",
                   help="python of a virtual environment with libpecos and this project (see the module "
                        "docstring); adds the PECOS XR-Linear anchor")
    p.add_argument("--out", help="also write the markdown table to this file")
    # internal: run one model in a subprocess
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="sujian_bench_"))
    try:
        meta = _make_data(args, workdir)
        kinds = (["ours"] + ([] if args.baseline == "none" else [args.baseline])
                 + (["pecos"] if args.pecos_python else []))
        results = [_run_worker(k, args, meta["path"], workdir) for k in kinds]
        table = _table(results, meta, args)
        print(table)
        if args.out:
            Path(args.out).write_text(table + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
