"""Evaluation metrics, coverage curve, threshold choice and reports."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sujian_router._evaluate import EvaluationReport, choose_threshold, coverage_curve, evaluate
from sujian_router.exceptions import TicketSchemaError

from fakes import FakeCatalog as _FakeCatalog
from fakes import RANKS
from fakes import FakeModel as _FakeModel

# texts t1..t6 of fakes.RANKS; hand-checked figures in TestMetrics
TRUTH = ["a", "a", "b", "b", "c", "c"]


LEADS = {"a": "区城管和综合执法局", "b": "区城管和综合执法局", "c": "区生态环境管理局"}


def FakeCatalog():
    return _FakeCatalog({c: f"事项{c}" for c in LEADS}, LEADS)


def FakeModel(catalog=None, review_threshold=0.55):
    return _FakeModel(RANKS, catalog=catalog, review_threshold=review_threshold)


@pytest.fixture
def tickets():
    return pd.DataFrame({"source_row": range(2, 8), "text": list(RANKS)[:6], "label": TRUTH})


class TestMetrics:
    def test_hand_computed(self, tickets):
        rep = evaluate(FakeModel(), tickets, top_k=2)
        assert rep.n == 6
        assert rep.accuracy == pytest.approx(4 / 6)
        # F1 per class: a 0.5, b 0.8, c 2/3; equal supports so weighted == macro
        assert rep.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
        assert rep.weighted_f1 == pytest.approx(rep.macro_f1)
        assert rep.top_k_accuracy == pytest.approx(5 / 6)
        assert rep.top_k == 2
        assert rep.department_accuracy is None  # free-label model
        assert rep.threshold == 0.55
        assert rep.automatic_share == pytest.approx(4 / 6)
        assert rep.accuracy_automatic == pytest.approx(3 / 4)

    def test_per_class(self, tickets):
        pc = evaluate(FakeModel(), tickets, top_k=2).per_class.set_index("label")
        assert pc.loc["a", "precision"] == pytest.approx(0.5)
        assert pc.loc["b", "precision"] == pytest.approx(2 / 3)
        assert pc.loc["b", "recall"] == pytest.approx(1.0)
        assert pc.loc["c", "f1"] == pytest.approx(2 / 3)
        assert pc["support"].tolist() == [2, 2, 2]
        assert "name" not in pc.columns

    def test_confusion_and_top_confusions(self, tickets):
        rep = evaluate(FakeModel(), tickets, top_k=2)
        assert rep.confusion.to_numpy().tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
        assert list(rep.confusion.index) == ["a", "b", "c"]
        assert rep.top_confusions.to_dict("records") == [
            {"true": "a", "predicted": "b", "count": 1},
            {"true": "c", "predicted": "a", "count": 1},
        ]

    def test_worst_errors_most_confident_first(self, tickets):
        worst = evaluate(FakeModel(), tickets, top_k=2).worst_errors
        assert worst["source_row"].tolist() == [3, 6]
        assert worst["predicted"].tolist() == ["b", "a"]
        assert worst["confidence"].tolist() == [0.8, 0.5]

    def test_department_accuracy_with_catalog(self, tickets):
        rep = evaluate(FakeModel(catalog=FakeCatalog()), tickets, top_k=2)
        # only t5 (true c, predicted a) changes lead department
        assert rep.department_accuracy == pytest.approx(5 / 6)
        assert rep.n_unknown_labels == 0
        assert rep.per_class.set_index("label").loc["c", "name"] == "事项c"

    def test_unknown_true_labels_counted_separately(self, tickets):
        tickets = tickets.assign(label=["a", "a", "b", "b", "zz", "c"])
        rep = evaluate(FakeModel(catalog=FakeCatalog()), tickets, top_k=2)
        assert rep.n_unknown_labels == 1
        assert rep.department_accuracy == pytest.approx(5 / 5)

    @pytest.mark.parametrize("threshold, share, acc", [(0.0, 1.0, 4 / 6), (0.85, 1 / 6, 1.0), (0.95, 0.0, None)])
    def test_threshold_share(self, tickets, threshold, share, acc):
        rep = evaluate(FakeModel(review_threshold=threshold), tickets, top_k=2)
        assert rep.automatic_share == pytest.approx(share)
        assert rep.accuracy_automatic == (None if acc is None else pytest.approx(acc))

    def test_target_accuracy_suggests_threshold(self, tickets):
        rep = evaluate(FakeModel(), tickets, top_k=2, target_accuracy=1.0)
        assert rep.suggested_threshold == 0.9
        assert evaluate(FakeModel(), tickets, top_k=2).suggested_threshold is None

    @pytest.mark.parametrize(
        "frame, match",
        [
            (pd.DataFrame({"text": ["t1"]}), r"expected columns \['text', 'label'\], found \['text'\]"),
            (pd.DataFrame({"text": ["t1", "t2"], "label": ["a", " "]}), r"1 ticket\(s\) have no label \(rows \[2\]\)"),
            (pd.DataFrame({"text": [], "label": []}), "no tickets"),
        ],
    )
    def test_bad_input(self, frame, match):
        with pytest.raises(TicketSchemaError, match=match):
            evaluate(FakeModel(), frame)


class TestCoverage:
    @pytest.fixture(params=[0, 1, 2])
    def data(self, request):
        rng = np.random.default_rng(request.param)
        conf = rng.choice(np.linspace(0.1, 1.0, 10), size=200)  # many ties
        correct = rng.random(200) < conf
        return conf, correct

    def test_matches_brute_force(self, data):
        conf, correct = data
        curve = coverage_curve(conf, correct)
        assert curve["threshold"].tolist() == sorted(set(conf.tolist()))
        for row in curve.itertuples():
            auto = conf >= row.threshold
            assert row.n_automatic == auto.sum()
            assert row.automatic_share == pytest.approx(auto.mean())
            assert row.accuracy_automatic == pytest.approx(correct[auto].mean())

    def test_monotone(self, data):
        curve = coverage_curve(*data)
        assert curve["threshold"].is_monotonic_increasing and curve["threshold"].is_unique
        assert curve["automatic_share"].is_monotonic_decreasing
        assert curve["n_automatic"].is_monotonic_decreasing
        assert curve["automatic_share"].iloc[0] == 1.0
        assert curve["accuracy_automatic"].between(0, 1).all()

    def test_empty(self):
        curve = coverage_curve([], [])
        assert curve.empty and list(curve.columns) == [
            "threshold", "automatic_share", "accuracy_automatic", "n_automatic"]

    @pytest.mark.parametrize("conf, correct", [([0.5, 0.6], [True]), ([np.nan], [True])])
    def test_invalid(self, conf, correct):
        with pytest.raises(ValueError):
            coverage_curve(conf, correct)


class TestChooseThreshold:
    @pytest.mark.parametrize("target", [0.5, 0.7, 0.8, 0.9, 0.95])
    def test_lowest_qualifying(self, target):
        rng = np.random.default_rng(7)
        conf = rng.random(300).round(2)
        correct = rng.random(300) < conf
        t = choose_threshold(conf, correct, target_accuracy=target)
        qualifying = [u for u in np.unique(conf) if correct[conf >= u].mean() >= target]
        assert t == (min(qualifying) if qualifying else 1.0)

    def test_unreachable_returns_one(self):
        assert choose_threshold([0.9, 0.8], [False, False], target_accuracy=0.5) == 1.0
        assert choose_threshold([], [], target_accuracy=0.5) == 1.0

    def test_min_share(self):
        conf, correct = [0.9, 0.8, 0.7, 0.6], [True, True, False, True]
        assert choose_threshold(conf, correct, target_accuracy=1.0) == 0.8
        assert choose_threshold(conf, correct, target_accuracy=0.75, min_share=0.75) == 0.6
        assert choose_threshold(conf, correct, target_accuracy=1.0, min_share=0.75) == 1.0

    @pytest.mark.parametrize("kwargs", [{"target_accuracy": 1.5}, {"min_share": -0.1}])
    def test_invalid(self, kwargs):
        with pytest.raises(ValueError, match="must be in"):
            choose_threshold([0.5], [True], **kwargs)


class TestReportOutput:
    REQUIRED = {"macro_f1", "accuracy", "top_k_accuracy", "n", "department_accuracy", "threshold",
                "automatic_share", "accuracy_automatic"}

    def test_to_dict_flat_and_json(self, tickets):
        d = evaluate(FakeModel(catalog=FakeCatalog()), tickets, top_k=2).to_dict()
        assert self.REQUIRED <= set(d)
        assert all(v is None or isinstance(v, (int, float)) for v in d.values())
        assert json.loads(json.dumps(d)) == d
        assert d["macro_f1"] == pytest.approx(0.6556, abs=1e-4)

    def test_summary(self, tickets):
        text = evaluate(FakeModel(), tickets, top_k=2).summary()
        assert "macro F1" in text and "0.6556" in text
        assert "top-2 accuracy" in text and "0.8333" in text

    def test_to_html_escapes_and_masks(self, tmp_path):
        ranks = {**RANKS, "<script>alert(1)</script> 电话13812345678": (("b", "a"), 0.99)}
        df = pd.DataFrame({"text": ["t1", "<script>alert(1)</script> 电话13812345678"], "label": ["a", "a"]})
        rep = evaluate(_FakeModel(ranks, catalog=FakeCatalog()), df, top_k=2)
        out = tmp_path / "report.html"
        rep.to_html(out)
        page = out.read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>")
        assert "<script>" not in page
        assert "&lt;script&gt;" in page
        assert "13812345678" not in page
        assert "Most confident errors" in page and "<svg" in page

    def test_report_is_frozen(self, tickets):
        rep = evaluate(FakeModel(), tickets, top_k=2)
        assert isinstance(rep, EvaluationReport)
        with pytest.raises(AttributeError):
            rep.accuracy = 1.0


class TestCli:
    def test_evaluate_command(self, tmp_path, monkeypatch, capsys):
        from sujian_router import _router
        from sujian_router._cli import main

        loaded = []

        def fake_load(path=None, **kwargs):
            loaded.append(path)
            return FakeModel()

        monkeypatch.setattr(_router.Router, "load", staticmethod(fake_load))
        rows = ["内容,分类,split"] + [f"{t},{y},test" for t, y in zip(RANKS, TRUTH)]
        rows += ["t1,a,train", ",a,test"]
        p = tmp_path / "tickets.csv"
        p.write_bytes("\n".join(rows).encode("gbk"))
        html_out = tmp_path / "r.html"
        code = main(["evaluate", "--tickets", str(p), "--label-column", "分类", "--filter", "split=test",
                     "--top-k", "2", "--json", "--report", str(html_out)])
        out = capsys.readouterr()
        assert code == 0
        d = json.loads(out.out)
        assert d["n"] == 6 and d["left_out"] == 1
        assert d["accuracy"] == pytest.approx(4 / 6)
        assert loaded == [None]  # --model omitted: the bundled default
        assert html_out.exists()
        assert "left out 1 row(s)" in out.err

    def test_bad_filter_column(self, tmp_path, capsys):
        from sujian_router._cli import main

        p = tmp_path / "t.csv"
        p.write_text("text,label\nt1,a\n", encoding="utf-8")
        code = main(["evaluate", "--model", str(tmp_path), "--tickets", str(p), "--filter", "split=test"])
        assert code == 1
        assert "expected a column 'split'" in capsys.readouterr().err
