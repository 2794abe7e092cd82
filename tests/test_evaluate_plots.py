"""Plots of an EvaluationReport: per-label F1 bars, confusion heatmap, coverage curve."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from sujian_router._evaluate import evaluate

from fakes import FakeCatalog as _FakeCatalog
from fakes import RANKS
from fakes import FakeModel as _FakeModel

# texts t1..t7 of fakes.RANKS; truth below gives a: 1/2, b: 2/2, c: 1/2 correct
TRUTH = ["a", "a", "b", "b", "c", "c", "b"]


NAMES = {"a": "噪声扰民", "b": "占道经营", "c": "非常长的一个事项名称用来测试截断是否生效了吗"}


def FakeCatalog():
    return _FakeCatalog(NAMES, dict.fromkeys(NAMES, "区城管和综合执法局"))


def FakeModel(catalog=None, review_threshold=0.55):
    return _FakeModel(RANKS, catalog=catalog, review_threshold=review_threshold)


@pytest.fixture(autouse=True)
def _close_figures(plt):
    yield
    plt.close("all")


@pytest.fixture
def report():
    tickets = pd.DataFrame({"text": list(RANKS), "label": TRUTH})
    return evaluate(FakeModel(), tickets, top_k=2)


@pytest.fixture
def named_report():
    tickets = pd.DataFrame({"text": list(RANKS), "label": TRUTH})
    return evaluate(FakeModel(catalog=FakeCatalog()), tickets, top_k=2)


class TestPerClassF1:
    def test_one_bar_per_label_with_f1_widths(self, plt, report):
        ax = report.plot_per_class_f1()
        assert len(ax.patches) == 3
        # per_class is sorted by support: b (3), then a, c (2 each)
        expected = report.per_class["f1"].tolist()
        assert [p.get_width() for p in ax.patches] == pytest.approx(expected)
        assert report.per_class["label"].tolist()[0] == "b"
        assert [t.get_text() for t in ax.get_yticklabels()] == report.per_class["label"].tolist()

    @pytest.mark.parametrize("top, bars", [(1, 1), (2, 2), (10, 3)])
    def test_top_limits_bars(self, plt, report, top, bars):
        assert len(report.plot_per_class_f1(top=top).patches) == bars

    def test_uses_given_axes(self, plt, report):
        _fig, ax = plt.subplots()
        assert report.plot_per_class_f1(ax=ax) is ax

    def test_names_shown_and_truncated(self, plt, named_report):
        ticks = [t.get_text() for t in named_report.plot_per_class_f1().get_yticklabels()]
        assert ticks[0] == "b 占道经营"
        long = [t for t in ticks if t.startswith("c ")][0]
        assert long.endswith("…") and len(long) == 2 + 16

    def test_bad_top(self, plt, report):
        with pytest.raises(ValueError, match="top must be at least 1"):
            report.plot_per_class_f1(top=0)


class TestConfusion:
    def test_normalized_rows(self, plt, report):
        ax = report.plot_confusion()
        data = np.asarray(ax.images[0].get_array())
        assert data.shape == (3, 3)
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == ["b", "a", "c"]  # most true tickets first
        np.testing.assert_allclose(data.sum(axis=1), 1.0)
        # true a: one right (t1), one predicted b (t2)
        assert data[labels.index("a"), labels.index("a")] == pytest.approx(0.5)
        assert data[labels.index("b"), labels.index("b")] == pytest.approx(1.0)

    def test_counts_and_chosen_labels(self, plt, report):
        ax = report.plot_confusion(labels=["c", "a"], normalize=False)
        data = np.asarray(ax.images[0].get_array())
        assert data.shape == (2, 2)
        # true c: t5 predicted a, t6 predicted c
        np.testing.assert_array_equal(data, [[1, 1], [0, 1]])
        assert [t.get_text() for t in ax.get_xticklabels()] == ["c", "a"]
        # every cell annotated with its count
        assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "1", "1"]

    def test_unknown_label(self, plt, report):
        with pytest.raises(ValueError, match=r"\['zz'\]"):
            report.plot_confusion(labels=["a", "zz"])


class TestCoverage:
    def test_curve_and_threshold_point(self, plt, report):
        ax = report.plot_coverage()
        curve, point = ax.lines[0], ax.lines[1]
        np.testing.assert_allclose(curve.get_xdata(), report.coverage["automatic_share"])
        np.testing.assert_allclose(curve.get_ydata(), report.coverage["accuracy_automatic"])
        # threshold 0.55: t1..t4 automatic, 3 of them right
        assert list(point.get_xdata()) == pytest.approx([4 / 7])
        assert list(point.get_ydata()) == pytest.approx([3 / 4])
        assert "0.550" in ax.get_legend().get_texts()[1].get_text()

    def test_no_point_when_nothing_is_automatic(self, plt):
        tickets = pd.DataFrame({"text": list(RANKS), "label": TRUTH})
        rep = evaluate(FakeModel(review_threshold=0.95), tickets, top_k=2)
        ax = rep.plot_coverage()
        assert len(ax.lines) == 1
        assert len(ax.lines[0].get_xdata()) == len(rep.coverage) == 7


class TestChineseFont:
    @pytest.mark.parametrize("family, expected", [("DejaVu Sans", ["DejaVu Sans", "sans-serif"]), (None, None)])
    def test_chinese_ticks_get_cjk_font_when_installed(self, plt, named_report, monkeypatch, family, expected):
        from sujian_router import _report_html

        monkeypatch.setattr(_report_html, "cjk_family", lambda: family)
        ax = named_report.plot_confusion()
        chinese = [t for t in ax.get_yticklabels() if not t.get_text().isascii()]
        assert len(chinese) == 3
        for tick in chinese:
            if expected is None:
                assert tick.get_fontfamily() == plt.rcParams["font.family"]
            else:
                assert tick.get_fontfamily() == expected
