"""Operator metrics over time: weeks, bad dates, accuracy per unit and tier, re-dispatch, confusions, drift, reports."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sujian_router import MonitorReport, monitor
from sujian_router.exceptions import TicketSchemaError

#: A router stand-in for routed files: nothing to route, no vocabulary, no catalog.
BARE = SimpleNamespace(classifier=None, catalog=None, metadata={})

# Mon 2024-06-03 .. Sun 06-09 is one week; 06-10 starts the next.
ROUTED = pd.DataFrame({
    "source_row": [2, 3, 4, 5, 6, 7, 8],
    "received_at": ["2024-06-03 09:00", "2024-06-09 23:59", "2024-06-10 00:00", "2024-06-12", "2024-06-12",
                    "", "2024-02-30"],
    "lead_department": ["甲局", "乙局", "甲局", "乙局", "丙局", "甲局", "乙局"],
    "needs_review": ["False", "True", "False", "False", "True", "False", "False"],
    "category": ["城建", "城建", "环境", "环境", "环境", "城建", "城建"],
    "department": ["甲局", "甲局", "甲局", "乙　局", "乙局", "甲局", ""],
})


def routed(**extra):
    return ROUTED.assign(**extra)


class TestWeeks:
    def test_iso_weeks_and_undated_rows_kept(self):
        rep = monitor(ROUTED, router=BARE)
        assert rep.weekly["week"].tolist() == ["2024-06-03", "2024-06-10", "undated"]
        assert rep.weekly["n"].tolist() == [2, 3, 2]
        assert rep.n == 7 == rep.weekly["n"].sum()

    def test_bad_dates_listed_with_reason(self):
        bad = monitor(ROUTED, router=BARE).bad_dates
        assert bad["source_row"].tolist() == [7, 8]
        assert bad["reason"].tolist() == ["missing date", "unreadable date"]
        assert bad["value"].tolist()[1] == "2024-02-30"

    def test_no_model_loaded_when_nothing_needs_it(self, monkeypatch):
        from sujian_router import _router

        def refuse(*args, **kwargs):
            raise AssertionError("a model was loaded")

        monkeypatch.setattr(_router.Router, "load", staticmethod(refuse))
        assert monitor(ROUTED).accuracy == pytest.approx(4 / 6)
        with pytest.raises(AssertionError, match="a model was loaded"):
            monitor(routed(text=["噪音"] * 7))

    def test_missing_date_column(self):
        with pytest.raises(TicketSchemaError, match=r"expected a date column 'received_at'.*found \[.*lead_department"):
            monitor(ROUTED.drop(columns="received_at"), router=BARE)


class TestAccuracy:
    def test_weekly_accuracy_by_hand(self):
        rep = monitor(ROUTED, router=BARE)
        w = rep.weekly.set_index("week")
        # week 1: 甲局 right, 乙局 wrong; week 2: 甲局 right, 乙局 right (spaces ignored), 丙局 wrong
        assert w.loc["2024-06-03", "accuracy"] == pytest.approx(0.5)
        assert w.loc["2024-06-10", "accuracy"] == pytest.approx(2 / 3)
        # undated: one right, one without truth
        assert w.loc["undated", "n_with_truth"] == 1 and w.loc["undated", "accuracy"] == 1.0
        assert rep.accuracy == pytest.approx(4 / 6)
        assert rep.truth == "unit column department" and rep.source == "routed file"

    def test_tiers_from_needs_review(self):
        rep = monitor(ROUTED, router=BARE)
        t = rep.tiers.set_index(["week", "tier"])
        assert set(rep.tiers["tier"]) == {"auto", "review"}
        assert t.loc[("all", "auto"), "n"] == 5 and t.loc[("all", "review"), "n"] == 2
        assert t.loc[("2024-06-10", "auto"), "accuracy"] == pytest.approx(1.0)
        assert t.loc[("2024-06-10", "review"), "accuracy"] == pytest.approx(0.0)
        assert rep.automatic_share == pytest.approx(5 / 7)
        assert rep.weekly.set_index("week").loc["2024-06-03", "automatic_accuracy"] == 1.0

    def test_tier_column_wins(self):
        rep = monitor(routed(tier=["auto", "suggest", "manual", "auto", "auto", "suggest", "auto"]), router=BARE)
        assert rep.tiers.query("week == 'all'")["tier"].tolist() == ["auto", "suggest", "manual"]

    def test_units_and_confused_pairs(self):
        rep = monitor(ROUTED, router=BARE)
        units = rep.units.set_index("unit")
        assert units.loc["甲局", "n"] == 4 and units.loc["甲局", "accuracy"] == pytest.approx(0.75)
        pairs = rep.confused_units
        assert pairs[["unit_a", "unit_b", "a_to_b", "b_to_a", "total"]].values.tolist() == [
            ["丙局", "乙局", 0, 1, 1], ["乙局", "甲局", 0, 1, 1]]

    def test_no_truth_means_no_accuracy(self):
        rep = monitor(ROUTED.drop(columns="department"), router=BARE)
        assert rep.accuracy is None and rep.truth == "none"
        assert rep.weekly["accuracy"].isna().all()
        assert any("no true unit" in n for n in rep.notes)


class TestRedispatch:
    @pytest.mark.parametrize("column", ["改派次数", "redispatch_count"])
    def test_counts_and_flags(self, column):
        rep = monitor(routed(**{column: ["0", "2", "", "1", "是", "0", "否"], "退单": ["否", "是", "否", "否", "否", "?", "1"]}),
                      router=BARE)
        w = rep.weekly.set_index("week")
        assert w.loc["2024-06-03", "redispatch_rate"] == pytest.approx(0.5)
        assert w.loc["2024-06-10", "redispatch_rate"] == pytest.approx(2 / 3)
        # "?" is unreadable: left out of the rate, not counted as no
        assert w.loc["undated", "return_rate"] == pytest.approx(1.0)
        assert rep.redispatch_columns == ("redispatch_count", "returned")

    def test_mapped_column(self, tmp_path):
        path = tmp_path / "routed.csv"
        routed(转派次数=["1", "0", "0", "0", "0", "0", "0"]).to_csv(path, index=False, encoding="gbk")
        rep = monitor(path, router=BARE, column_mapping={"转派次数": "redispatch_count"})
        assert rep.weekly.set_index("week").loc["2024-06-03", "redispatch_rate"] == pytest.approx(0.5)

    def test_xlsx_export(self, tmp_path):
        path = tmp_path / "routed.xlsx"
        routed(退单=["是", "否", "否", "否", "否", "否", "否"]).to_excel(path, index=False)
        rep = monitor(path, router=BARE)
        assert rep.weekly.set_index("week").loc["2024-06-03", "return_rate"] == pytest.approx(0.5)
        assert rep.accuracy == pytest.approx(4 / 6)

    def test_absent_columns_noted(self):
        rep = monitor(ROUTED, router=BARE)
        assert rep.weekly["redispatch_rate"].isna().all()
        assert any("re-dispatch" in n for n in rep.notes)


class TestDrift:
    def test_sparse_start_is_extended(self):
        rep = monitor(ROUTED, router=BARE, baseline_weeks=1)
        assert rep.drift_baseline == "first 2 week(s) of the file (2024-06-03 to 2024-06-10, 5 tickets)"

    def test_first_weeks_baseline(self, monkeypatch):
        from sujian_router import _monitor

        monkeypatch.setattr(_monitor, "MIN_BASELINE_ROWS", 2)
        rep = monitor(ROUTED, router=BARE, baseline_weeks=1)
        assert rep.drift_baseline.startswith("first 1 week(s) of the file (2024-06-03")
        w = rep.weekly.set_index("week")
        assert w.loc["2024-06-03", "category_drift"] == pytest.approx(0.0)
        assert w.loc["2024-06-10", "category_drift"] == pytest.approx(1.0)  # all 环境 against all 城建
        assert rep.category_mix.loc["baseline", "城建"] == 1.0

    def test_training_mix_when_the_model_carries_it(self, catalog):
        codes = [catalog.items[0].code]
        model = SimpleNamespace(classifier=None, catalog=catalog,
                                metadata={"training": {"label_counts": {codes[0]: 10}}})
        cat = catalog.get(codes[0]).category
        rep = monitor(routed(category=[cat] * 7), router=model)
        assert rep.drift_baseline == "training data"
        assert rep.weekly["category_drift"].dropna().tolist() == [0.0, 0.0]

    def test_oov_share_against_the_vocabulary(self, router, fixture_tickets):
        seen = fixture_tickets["text"].iloc[0]
        frame = routed(text=[seen] * 3 + ["乌拉呱啦叽里咕噜"] * 4)
        rep = monitor(frame, router=router)
        w = rep.weekly.set_index("week")
        assert w.loc["undated", "oov_share"] > w.loc["2024-06-03", "oov_share"]
        assert 0.0 <= w["oov_share"].min() and w["oov_share"].max() <= 1.0

    def test_bad_baseline(self):
        with pytest.raises(ValueError, match="baseline_weeks must be at least 1"):
            monitor(ROUTED, router=BARE, baseline_weeks=0)


@pytest.fixture(scope="module")
def dated_tickets(heldout_tickets):
    df = heldout_tickets.head(80).reset_index(drop=True)
    days = np.random.default_rng(0).integers(0, 21, size=len(df))
    when = [str(pd.Timestamp("2024-06-03 09:00") + pd.Timedelta(days=int(d))) for d in days]
    when[0] = "不是日期"
    return df.assign(received_at=when, source_row=np.arange(2, len(df) + 2))


class TestLabelledTickets:
    def test_routed_on_the_fly_agrees_with_evaluate(self, router, dated_tickets):
        from sujian_router import evaluate

        rep = monitor(dated_tickets, router=router)
        assert rep.source == "routed on the fly" and rep.truth == "item label"
        assert rep.accuracy == pytest.approx(evaluate(router, dated_tickets).unit_accuracy)
        assert len(rep.bad_dates) == 1 and rep.n == len(dated_tickets)

    def test_route_file_output_joined_with_its_export(self, router, saved_router, dated_tickets, tmp_path):
        from sujian_router import route_file

        export = tmp_path / "export.csv"
        dated_tickets.drop(columns="source_row").to_csv(export, index=False, encoding="gbk")
        out = tmp_path / "routed.csv"
        route_file(export, out, router=str(saved_router), progress=False)
        joined = monitor(out, router=router, tickets=export)
        direct = monitor(export, router=router)
        assert joined.source == "routed file"
        assert joined.accuracy == pytest.approx(direct.accuracy)
        assert joined.weekly["n"].tolist() == direct.weekly["n"].tolist()

    def test_join_needs_a_key(self, router):
        with pytest.raises(TicketSchemaError, match="expected a common column 'source_row' or 'ticket_id'"):
            monitor(ROUTED.drop(columns="source_row"), router=BARE, tickets=pd.DataFrame({"text": ["x"]}))

    def test_unmatched_rows_noted(self):
        export = pd.DataFrame({"source_row": [2, 3], "text": ["a", "b"]})
        rep = monitor(ROUTED, router=BARE, tickets=export)
        assert any("5 routed row(s) have no match" in n for n in rep.notes)

    @pytest.mark.parametrize("frame, match", [
        (pd.DataFrame({"received_at": ["2024-06-03"], "label": ["x"]}), "expected a routed column 'lead_department'"),
        (ROUTED.drop(columns="needs_review"), "needs a 'tier' or 'needs_review' column"),
        (ROUTED.head(0), "no rows"),
    ])
    def test_bad_input(self, router, frame, match):
        with pytest.raises(TicketSchemaError, match=match):
            monitor(frame, router=router)


class TestOutputs:
    def test_to_dict_is_json(self):
        rep = monitor(routed(改派次数=["1"] * 7), router=BARE)
        assert isinstance(rep, MonitorReport)
        d = json.loads(json.dumps(rep.to_dict()))
        assert d["n"] == 7 and d["n_weeks"] == 2 and d["n_bad_dates"] == 2
        assert d["weekly"][0]["redispatch_rate"] == 1.0
        assert d["weekly"][0]["return_rate"] is None

    def test_summary_lists_weeks(self):
        text = monitor(ROUTED, router=BARE).summary()
        assert "2024-06-03" in text and "undated" in text and "rows with a bad date 2" in text

    def test_html_structure(self, tmp_path, router):
        pytest.importorskip("matplotlib")
        frame = routed(text=["噪音<script>"] * 7, 改派次数=["0", "1", "0", "1", "0", "0", "0"],
                       department=["<b>甲局</b>", "甲局", "甲局", "乙局", "乙局", "甲局", ""])
        path = tmp_path / "m.html"
        monitor(frame, router=router).to_html(path)
        page = path.read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and "<script" not in page
        assert "&lt;b&gt;甲局" in page
        for heading in ("Week by week", "Tiers", "Units", "Units most confused with each other", "Drift",
                        "Rows with a bad date"):
            assert f"<h2>{heading}</h2>" in page
        assert page.count("<svg") == 6
        for label in ("week (its Monday)", "share of the week's tickets", "true unit",
                      "tickets routed to the other unit of the pair"):
            assert label in page

    def test_empty_table_says_none(self, tmp_path, monkeypatch):
        from sujian_router import _report_html

        monkeypatch.setattr(_report_html, "plots_available", lambda: False)
        path = tmp_path / "m.html"
        monitor(ROUTED.head(5), router=BARE).to_html(path)
        page = path.read_text(encoding="utf-8")
        assert "Rows whose date is missing or unreadable (kept, in week &#x27;undated&#x27;)</strong>: none." in page

    def test_html_without_matplotlib(self, tmp_path, monkeypatch):
        from sujian_router import _report_html

        monkeypatch.setattr(_report_html, "plots_available", lambda: False)
        path = tmp_path / "m.html"
        monitor(ROUTED, router=BARE).to_html(path)
        page = path.read_text(encoding="utf-8")
        assert "<svg" not in page and page.count("install sujian-router[report]") == 6
        assert "<caption>Per week</caption>" in page


class TestCli:
    def test_json_and_html(self, saved_router, dated_tickets, tmp_path, capsys):
        from sujian_router._cli import main

        export = tmp_path / "t.csv"
        dated_tickets.drop(columns="source_row").rename(columns={"received_at": "受理时间"}).to_csv(
            export, index=False, encoding="gbk")
        html = tmp_path / "r.html"
        assert main(["monitor", str(export), "--model", str(saved_router), "--out", str(html), "--json"]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["n"] == len(dated_tickets) and d["n_bad_dates"] == 1 and d["source"] == "routed on the fly"
        assert html.read_text(encoding="utf-8").count("<h2>") >= 5

    def test_missing_date_column_is_one_line(self, saved_router, tmp_path, capsys):
        from sujian_router._cli import main

        p = tmp_path / "t.csv"
        p.write_text("text,label\n噪音,x\n", encoding="utf-8")
        assert main(["monitor", str(p), "--model", str(saved_router)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("sujian-router: error: monitor: expected a date column 'received_at'")
