"""Real-data benchmark: Teddy Cup 2020 messages (7 labels), fixed train/test split.

Runs, in one go:

1. the library through its CLI, exactly as a data team would::

       sujian-router train --tickets messages.csv --filter split=train --free-labels --out MODEL
       sujian-router evaluate --model MODEL --tickets messages.csv --filter split=test --json

2. the plain baseline on the same split: jieba words, TF-IDF, LinearSVC (scikit-learn defaults).

and prints both macro-F1 figures.  The data are read from ``../shared/data`` at run time and never
copied.  Usage::

    python benchmarks/bench_real_data.py [--data PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "teddycup2020" / "messages.csv"


def _cli(*args) -> str:
    code = "import sys; from sujian_router._cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return proc.stdout


def baseline(path: Path) -> dict:
    """Plain jieba TF-IDF + LinearSVC, trained on split == train, scored on split == test."""
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.svm import LinearSVC

    from sujian_router import read_tickets

    df = read_tickets(path, required=("text", "label"))
    train, test = df[df["split"] == "train"], df[df["split"] == "test"]
    vec = TfidfVectorizer(tokenizer=jieba.lcut, token_pattern=None, lowercase=False)
    t0 = time.perf_counter()
    X = vec.fit_transform(train["text"])
    clf = LinearSVC(random_state=0).fit(X, train["label"])
    pred = clf.predict(vec.transform(test["text"]))
    return {"macro_f1": f1_score(test["label"], pred, average="macro"), "accuracy": accuracy_score(test["label"], pred),
            "n": len(test), "seconds": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT)
    args = p.parse_args(argv)
    if not args.data.is_file():
        print(f"data not found: {args.data}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "teddy-model"
        t0 = time.perf_counter()
        _cli("train", "--tickets", str(args.data), "--filter", "split=train", "--free-labels", "--out", str(model),
             "--quiet", "--json")
        fit_s = time.perf_counter() - t0
        ours = json.loads(_cli("evaluate", "--model", str(model), "--tickets", str(args.data),
                               "--filter", "split=test", "--json"))
    base = baseline(args.data)
    print("| pipeline | test macro-F1 | test accuracy | test rows | train+save seconds |")
    print("|---|---:|---:|---:|---:|")
    print(f"| sujian_router CLI (`train --free-labels`, defaults) | {ours['macro_f1']:.4f} | {ours['accuracy']:.4f} | "
          f"{ours['n']} | {fit_s:.0f} |")
    print(f"| baseline: jieba TF-IDF + LinearSVC | {base['macro_f1']:.4f} | {base['accuracy']:.4f} | {base['n']} | "
          f"{base['seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
