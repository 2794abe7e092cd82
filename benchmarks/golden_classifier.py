"""Golden comparison: the classifier of another source tree against this one, on the same saved model.

Not a test (it needs a built model and another checkout). It generates seeded
synthetic complaints with :func:`sujian_router.generate_tickets`, prepares
them once, then runs the classifier of each source tree in its own
subprocess (``PYTHONPATH=<tree>/src``) on the SAME saved model directory and
compares what they return::

    python benchmarks/golden_classifier.py --model models/default --old-src /work/main/src
    python benchmarks/golden_classifier.py --model models/default --old-src /work/main/src --n 2000
    python benchmarks/golden_classifier.py --csv ../shared/data/teddycup2020/messages.csv --n 9210

Compared, row by row: the top-``k`` labels (identical, in order), their
probabilities (to ``--atol``, default 1e-6) and the explanation terms of the
best label (identical terms, contributions to ``--atol``). When the new tree
has ``TextClassifier.predict_batch`` its answers are compared too. Exit code
0 when everything matches, 1 otherwise (the first differences are printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parents[1]


def _make_texts(n, seed, path, csv_path=None):
    """Seeded synthetic complaints (or the first ``n`` real messages of ``csv_path``), prepared as the
    router prepares them, written as JSON."""
    import sujian_router
    from sujian_router._text import prepare_text

    if csv_path:
        import pandas as pd

        raw = pd.read_csv(csv_path, encoding="utf-8-sig")["text"].dropna().astype(str).tolist()[:n]
        texts = [prepare_text(t).text for t in raw]
        Path(path).write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        return len(texts)

    catalog = sujian_router.load_catalog()
    per_item = max(1, -(-n // len(catalog.items)))
    df = sujian_router.generate_tickets(catalog, n_per_item=per_item, seed=seed, split="heldout")
    df = df.sample(n=min(n, len(df)), random_state=seed)
    texts = [prepare_text(t).text for t in df["text"].tolist()]
    Path(path).write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    return len(texts)


def _dump(model, texts_path, out_path, k):
    """Child process: classify the texts with the importable ``sujian_router`` and save the answers."""
    import numpy as np
    from sujian_router import Router

    clf = Router.load(model, progress=False).classifier
    texts = json.loads(Path(texts_path).read_text(encoding="utf-8"))
    clf.top_k_explained(texts[:50], k=k, n_terms=5)  # warm-up: segmenter and derived helpers
    t0 = time.perf_counter()
    labels, probs, terms = clf.top_k_explained(texts, k=k, n_terms=5)
    seconds = time.perf_counter() - t0
    out = {"labels": np.asarray(labels).tolist(), "probs": np.asarray(probs).tolist(),
           "terms": [[list(p) for p in row] for row in terms], "seconds": seconds}
    if hasattr(clf, "predict_batch"):
        t0 = time.perf_counter()
        batch = clf.predict_batch(texts, top_k=k, explain=5)
        out["batch_seconds"] = time.perf_counter() - t0
        out["batch_labels"] = np.asarray(batch.labels).tolist()
        out["batch_probs"] = np.asarray(batch.probabilities).tolist()
        out["batch_terms"] = [[list(p) for p in row] for row in batch.terms]
    Path(out_path).write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")


def _run_child(src, model, texts_path, out_path, k):
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, __file__, "--child", "--model", str(model), "--texts", str(texts_path),
           "--out", str(out_path), "--k", str(k)]
    subprocess.run(cmd, env=env, check=True)
    return json.loads(Path(out_path).read_text(encoding="utf-8"))


def _diff_rows(name, old_labels, old_probs, new_labels, new_probs, atol):
    """Messages for rows whose labels differ or whose probabilities differ by more than ``atol``."""
    import numpy as np

    bad = []
    lo, ln = np.asarray(old_labels), np.asarray(new_labels)
    po, pn = np.asarray(old_probs), np.asarray(new_probs)
    if lo.shape != ln.shape:
        return [f"{name}: shapes differ, {lo.shape} against {ln.shape}"]
    for r in np.flatnonzero((lo != ln).any(axis=1)):
        bad.append(f"{name}: row {r} labels {lo[r].tolist()} against {ln[r].tolist()}")
    worst = float(np.abs(po - pn).max()) if po.size else 0.0
    if worst > atol:
        r = int(np.abs(po - pn).max(axis=1).argmax())
        bad.append(f"{name}: probabilities differ by up to {worst:.3g} (row {r})")
    return bad


def _diff_terms(name, old, new, atol):
    bad = []
    for r, (a, b) in enumerate(zip(old, new)):
        if [t for t, _ in a] != [t for t, _ in b] or any(abs(x - y) > atol for (_, x), (_, y) in zip(a, b)):
            bad.append(f"{name}: row {r} explanation {a} against {b}")
    if len(old) != len(new):
        bad.append(f"{name}: {len(old)} explanations against {len(new)}")
    return bad


def compare(old, new, atol):
    """Every difference between the old and new answers, as messages (empty: identical)."""
    bad = _diff_rows("top_k", old["labels"], old["probs"], new["labels"], new["probs"], atol)
    bad += _diff_terms("terms", old["terms"], new["terms"], atol)
    if "batch_labels" in new:
        bad += _diff_rows("predict_batch", old["labels"], old["probs"], new["batch_labels"],
                          new["batch_probs"], atol)
        bad += _diff_terms("predict_batch terms", old["terms"], new["batch_terms"], atol)
    return bad


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(_HERE / "models" / "default"), help="saved model directory")
    p.add_argument("--old-src", default="/work/main/src", help="src/ of the reference tree")
    p.add_argument("--new-src", default=str(_HERE / "src"), help="src/ of the tree under test")
    p.add_argument("--n", type=int, default=20000, help="synthetic texts")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csv", help="real messages (a CSV with a text column, e.g. TeddyCup 2020 messages.csv) "
                                 "instead of synthetic ones; read at run time, never stored")
    p.add_argument("--k", type=int, default=10, help="candidates compared per text")
    p.add_argument("--atol", type=float, default=1e-6)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--texts", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _dump(args.model, args.texts, args.out, args.k)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.json"
        n = _make_texts(args.n, args.seed, texts_path, args.csv)
        old = _run_child(args.old_src, args.model, texts_path, Path(tmp) / "old.json", args.k)
        new = _run_child(args.new_src, args.model, texts_path, Path(tmp) / "new.json", args.k)
    bad = compare(old, new, args.atol)
    print(f"{n} texts, top-{args.k}: old {old['seconds']:.2f} s, new {new['seconds']:.2f} s"
          + (f", new predict_batch {new['batch_seconds']:.2f} s" if "batch_seconds" in new else ""))
    for line in bad[:20]:
        print(line)
    print("IDENTICAL" if not bad else f"{len(bad)} DIFFERENCES")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
