"""The evaluation HTML report and its new plots: one headline table, labelled SVG plots, calibration, tiers, units."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sujian_router._evaluate import evaluate, reliability_table

from fakes import RANKS
from fakes import FakeModel as _FakeModel

TRUTH = ["a", "a", "b", "b", "c", "c", "b"]
HEADINGS = ("Tiers", "Coverage and calibration", "F1 per label", "F1 per unit", "Confusions", "Most confident errors")
AXIS_LABELS = ("share of tickets routed automatically", "accuracy of the automatic share",
               "confidence of the top prediction", "F1 (0 = never right, 1 = always right)", "predicted label",
               "true label", "share of tickets")


@pytest.fixture(scope="module")
def routed_report(router, heldout_tickets):
    return evaluate(router, heldout_tickets.head(120))


@pytest.fixture(scope="module")
def page(routed_report, tmp_path_factory):
    pytest.importorskip("matplotlib")
    path = tmp_path_factory.mktemp("eval") / "r.html"
    routed_report.to_html(path)
    return path.read_text(encoding="utf-8")


class TestHtml:
    def test_every_section_once(self, page):
        for heading in HEADINGS:
            assert page.count(f"<h2>{heading}</h2>") == 1

    def test_metrics_listed_once(self, page):
        assert "<pre>" not in page
        assert page.count("<td class=\"txt\">macro F1</td>") == 1
        assert page.count("<caption>Headline figures</caption>") == 1

    def test_six_plots_with_axis_labels(self, page):
        assert page.count("<svg") == 6
        svgs = "".join(re.findall(r"<svg.*?</svg>", page, flags=re.S))
        for label in AXIS_LABELS:
            assert label in svgs, label
        # nothing is fetched: no scripts, style sheets, images or links to other addresses
        assert "<script" not in page and "<link" not in page and "@import" not in page
        assert not re.search(r'(src|href)="https?://', page)

    def test_without_matplotlib_tables_remain(self, routed_report, tmp_path, monkeypatch):
        from sujian_router import _report_html

        monkeypatch.setattr(_report_html, "plots_available", lambda: False)
        path = tmp_path / "r.html"
        routed_report.to_html(path)
        text = path.read_text(encoding="utf-8")
        assert "<svg" not in text and text.count("install sujian-router[report]") == 6
        assert "<caption>Reliability bins</caption>" in text and "Tiers (accuracy" in text

    def test_long_tables_fold(self, page, routed_report):
        assert len(routed_report.per_class) > 40
        assert re.search(r"<details><summary>Per label: \d+ rows", page)


class TestWithoutMatplotlib:
    @pytest.mark.parametrize("method", ["plot_reliability", "plot_confusion", "plot_per_class_f1"])
    def test_plot_methods_name_the_extra(self, routed_report, monkeypatch, method):
        import sys

        monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
        with pytest.raises(ImportError, match=r"install sujian-router\[report\]"):
            getattr(routed_report, method)()


class TestReliability:
    def test_table_by_hand(self):
        t = reliability_table([0.05, 0.15, 0.95, 1.0], [False, True, True, False], bins=10)
        assert t["n"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
        assert t.loc[9, "accuracy"] == 0.5 and t.loc[9, "mean_confidence"] == pytest.approx(0.975)
        assert np.isnan(t.loc[2, "accuracy"])

    def test_calibration_error(self):
        df = pd.DataFrame({"text": list(RANKS), "label": TRUTH})
        rep = evaluate(_FakeModel(RANKS), df, top_k=2)
        t = rep.reliability[rep.reliability["n"] > 0]
        expected = float(((t["accuracy"] - t["mean_confidence"]).abs() * t["n"]).sum() / t["n"].sum())
        assert rep.expected_calibration_error == pytest.approx(expected)
        assert rep.to_dict()["expected_calibration_error"] == pytest.approx(expected)

    @pytest.mark.parametrize("bins", [0, -1])
    def test_bad_bins(self, bins):
        with pytest.raises(ValueError, match="bins must be at least 1"):
            reliability_table([0.5], [True], bins=bins)

    def test_plot(self, plt, routed_report):
        ax = routed_report.plot_reliability()
        used = routed_report.reliability[routed_report.reliability["n"] > 0]
        np.testing.assert_allclose(ax.lines[1].get_xdata(), used["mean_confidence"])
        np.testing.assert_allclose(ax.lines[1].get_ydata(), used["accuracy"])
        assert ax.get_xlabel() and ax.get_ylabel()


class TestTiersAndUnits:
    def test_tier_bars(self, plt, routed_report):
        ax = routed_report.plot_tiers()
        tiers = routed_report.tiers[routed_report.tiers["tier"] != "all"]
        assert [p.get_height() for p in ax.patches] == pytest.approx(tiers["share"].fillna(0).tolist())
        assert [t.get_text() for t in ax.get_xticklabels()] == ["auto", "suggest", "manual"]

    def test_per_unit_table_and_bars(self, plt, routed_report):
        units = routed_report.per_unit
        assert units["support"].sum() == 120
        assert list(units.columns) == ["unit", "precision", "recall", "f1", "support"]
        ax = routed_report.plot_per_unit_f1(top=5)
        assert [p.get_width() for p in ax.patches] == pytest.approx(units["f1"].head(5).tolist())
        assert ax.get_xlabel().startswith("F1")

    def test_no_units_without_routing(self, plt):
        rep = evaluate(_FakeModel(RANKS), pd.DataFrame({"text": list(RANKS), "label": TRUTH}), top_k=2)
        assert rep.per_unit is None and rep.tiers is None
        with pytest.raises(ValueError, match="no per-unit figures"):
            rep.plot_per_unit_f1()


class TestTopK:
    def test_deprecated_k_still_works(self):
        df = pd.DataFrame({"text": list(RANKS), "label": TRUTH})
        with pytest.warns(DeprecationWarning, match="use top_k"):
            old = evaluate(_FakeModel(RANKS), df, k=2)
        new = evaluate(_FakeModel(RANKS), df, top_k=2)
        assert old.top_k_accuracy == new.top_k_accuracy == new.top3_accuracy and old.k == 2

    @pytest.mark.parametrize("top_k, has_alias", [(3, True), (2, False)])
    def test_top3_key_only_when_three(self, top_k, has_alias):
        d = evaluate(_FakeModel(RANKS), pd.DataFrame({"text": list(RANKS), "label": TRUTH}), top_k=top_k).to_dict()
        assert d["top_k"] == top_k and ("top3_accuracy" in d) is has_alias

    def test_path_accepted(self, tmp_path):
        p = tmp_path / "t.csv"
        pd.DataFrame({"诉求内容": list(RANKS), "事项编码": TRUTH}).to_csv(p, index=False, encoding="gbk")
        rep = evaluate(_FakeModel(RANKS), p, top_k=2)
        assert rep.n == 7 and rep.worst_errors["source_row"].min() >= 2

    def test_bad_top_k(self):
        with pytest.raises(ValueError, match="top_k must be at least 1, got 0"):
            evaluate(_FakeModel(RANKS), pd.DataFrame({"text": ["t1"], "label": ["a"]}), top_k=0)
