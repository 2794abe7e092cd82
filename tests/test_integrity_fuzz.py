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

N_MUTATIONS = 40
SEED = 20261204


def test_fuzzed_model_directories_load_cleanly_or_are_refused_naming_the_file(tiny_saved_router, tmp_path):
    script = Path(__file__).with_name("tamper.py")
    proc = subprocess.run([sys.executable, str(script), str(tiny_saved_router), str(tmp_path), str(N_MUTATIONS), str(SEED)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the fuzzing process died (code {proc.returncode}): {proc.stderr[-2000:]}"
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == N_MUTATIONS
    bad = [r for r in results if r["outcome"] == "bad"]
    assert not bad, "\n".join(f"{r['what']}: {r['error']}" for r in bad)
    outcomes = {r["outcome"] for r in results}
    assert outcomes == {"ok", "refused"}  # the mutations reach both sides of the check
