"""The real-data figure, reproduced through the CLI: Teddy Cup 2020, fixed split, free labels.

Needs ``../shared/data/teddycup2020/messages.csv``; skipped with the reason when it is absent.
"""

from __future__ import annotations

import json

import pytest

from sujian_router._cli import main

pytestmark = pytest.mark.shared_data


def test_free_label_model_reaches_093_macro_f1_on_the_test_split(teddy_path, tmp_path, capsys):
    model = tmp_path / "teddy"
    assert main(["train", "--tickets", str(teddy_path), "--filter", "split=train", "--free-labels",
                 "--out", str(model), "--quiet", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_in"] == 7341
    assert report["rows_in"] == report["rows_used"] + report["rows_quarantined"]
    assert main(["evaluate", "--model", str(model), "--tickets", str(teddy_path), "--filter", "split=test",
                 "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 1869
    assert metrics["macro_f1"] >= 0.93, metrics
