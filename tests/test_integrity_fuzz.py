"""Issue #14: random mutations of a saved model directory (manifest rewritten to match each one).

Loading must either succeed, after which every route gives a finite confidence
in [0, 1] and no row error, or raise ``ModelFileError`` naming the file. The
mutations run in a child process, so a crash (a segfault in scipy) or a hang
fails the test instead of the test run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

N_MUTATIONS = 60
SEED = 20261204


@pytest.fixture(scope="module")
def tiny_model(catalog, tmp_path_factory):
    """A three-level model over a few dozen catalog items: quick to copy, load and route."""
    from sujian_router import Router, TextClassifier, generate_tickets

    items = [it.code for it in catalog.items if it.category_code in ("01", "08")][::8]
    tickets = generate_tickets(catalog, n_per_item=3, seed=3, items=items)
    groups = [catalog.get(c).category_code for c in tickets["label"]]
    subgroups = [catalog.get(c).subcategory_code for c in tickets["label"]]
    clf = TextClassifier(min_df=1, hierarchy="three-level").fit(tickets["text"].tolist(), tickets["label"].tolist(),
                                                                groups=groups, subgroups=subgroups)
    path = tmp_path_factory.mktemp("fuzz") / "model"
    Router(clf, catalog=catalog, review_threshold=0.3).save(path)
    return path


def test_fuzzed_model_directories_load_cleanly_or_are_refused_naming_the_file(tiny_model, tmp_path):
    script = Path(__file__).with_name("tamper.py")
    proc = subprocess.run([sys.executable, str(script), str(tiny_model), str(tmp_path), str(N_MUTATIONS), str(SEED)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the fuzzing process died (code {proc.returncode}): {proc.stderr[-2000:]}"
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == N_MUTATIONS
    bad = [r for r in results if r["outcome"] == "bad"]
    assert not bad, "\n".join(f"{r['what']}: {r['error']}" for r in bad)
    outcomes = {r["outcome"] for r in results}
    assert outcomes == {"ok", "refused"}  # the mutations reach both sides of the check
