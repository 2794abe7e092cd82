"""Hot issues: place mentions, grouping, the surge model, the heat index, ranking, JSON schema, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sujian_router import HotspotReport, TicketSchemaError, find_hotspots
from sujian_router._hotspots._group import group_tickets, merge_named_groups, split_by_gap
from sujian_router._hotspots._heat import explain, heat_parts
from sujian_router._hotspots._mentions import extract_places, locate, merge_aliases, place_key
from sujian_router._hotspots._surge import Periods, surge_table

SEED = 16


# --------------------------------------------------------------------------- fixtures


def _planted_frame(seed=SEED):
    """A routed, seeded ticket frame: background noise plus two planted same-place clusters."""
    rng = np.random.default_rng(seed)
    rows = []
    places = [a + b + "苑" for a in "东南西北中金银玉" for b in "湖山河林海泉石松"]
    problems = [("08-01-001", "夜间施工噪音扰民"), ("01-02-003", "垃圾清运不及时"), ("09-01-002", "下水道堵塞"),
                ("04-01-001", "公交车站牌不清楚"), ("07-09-001", "餐饮油烟扰民")]
    for i in range(300):
        code, words = problems[rng.integers(len(problems))]
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 180)))
        place = places[rng.integers(len(places))]
        rows.append((f"B{i:04d}", f"{place}{words}", code, day, f"u{i}", 0, "福田区", ""))
    for i in range(14):  # a new cluster: one compound, one problem, two weeks
        day = pd.Timestamp("2024-05-06") + pd.Timedelta(hours=int(rng.integers(0, 24 * 14)))
        rows.append((f"S{i:02d}", f"丽景新城小区旁搅拌站夜间噪音扰民，电话1380013800{i % 10}",
                     "08-01-001", day, f"s{i % 11}", int(rng.integers(0, 5)), "龙岗区", "布吉街道"))
    for i in range(6):
        day = pd.Timestamp("2024-03-01") + pd.Timedelta(days=i)
        rows.append((f"C{i:02d}", f"58车贷案件立案后毫无进展{i}", "18-10-003", day, f"c{i}", 100, "", ""))
    return pd.DataFrame(rows, columns=["ticket_id", "text", "item_code", "received_at", "caller", "support",
                                       "district", "street"])


@pytest.fixture(scope="session")
def planted():
    return _planted_frame()


@pytest.fixture(scope="session")
def planted_report(planted):
    return find_hotspots(planted)


# --------------------------------------------------------------------------- place mentions


class TestPlaceMentions:
    @pytest.mark.parametrize("text, name, kind", [
        ("投诉A2区丽发新城小区旁搅拌站噪音扰民", "丽发新城", "compound"),
        ("翠竹花园楼下烧烤摊", "翠竹花园", "compound"),
        ("东四路与东六路交汇处红绿灯太短", "东四路", "road"),
        ("科技园小学门口违停", "科技园小学", "school"),
        ("投诉华为技术有限公司拖欠工资", "华为技术有限公司", "company"),
        ("承办58车贷案的警官", "58车贷", "company"),
        ("洪山公园夜间施工", "洪山公园", "facility"),
        ("泉塘街道施工扰民", "泉塘街道", "street"),
    ])
    def test_finds_the_place_and_its_kind(self, text, name, kind):
        found = [(m.name, m.kind) for m in extract_places(text)]
        assert (name, kind) in found

    def test_directory_streets_and_districts_are_recognised(self, catalog):
        found = {(m.name, m.kind) for m in extract_places("坪山区坪山街道六联社区", catalog.departments)}
        assert ("坪山街道", "street") in found and ("坪山区", "district") in found

    @pytest.mark.parametrize("text", ["物业公司不作为", "本小区电梯坏了", "2019年3月5日停水", "反映小区问题"])
    def test_generic_words_make_no_place(self, text):
        assert place_key(extract_places(text)) is None

    def test_sites_come_before_roads_and_the_first_site_wins(self):
        assert place_key(extract_places("东四路旁泉星公园施工，影响碧海苑")) == "泉星公园"

    def test_locate_prefers_given_district_and_street(self):
        mentions = extract_places("A7县泉塘街道东四路")
        assert locate(mentions) == ("A7县", "泉塘街道")
        assert locate(mentions, district="坪山区", street="坪山街道") == ("坪山区", "坪山街道")

    def test_aliases_map_to_the_shortest_specific_suffix(self):
        alias = merge_aliases(["万科魅力之城", "魅力之城", "辉煌国际城", "国际城", "滨河苑", "伊景园滨河苑"])
        assert alias["万科魅力之城"] == "魅力之城" and alias["伊景园滨河苑"] == "滨河苑"
        assert alias["辉煌国际城"] == "辉煌国际城"  # a generic suffix absorbs nothing

    @pytest.mark.parametrize("text", ["", "。。。", "a" * 5000, "\x00\ud800"])
    def test_odd_text_never_raises(self, text):
        assert isinstance(extract_places(text), tuple)


# --------------------------------------------------------------------------- grouping


def _times(n, start="2024-01-01"):
    return (np.datetime64(start, "ns") + np.arange(n) * np.timedelta64(1, "D")).astype("datetime64[ns]")


class TestGrouping:
    def test_same_place_same_problem_groups_and_other_problems_stay_out(self):
        texts = ["搅拌站噪音扰民", "搅拌站噪音很大扰民", "搅拌站夜间噪音", "楼板开裂"]
        keys = np.array(["丽发新城"] * 4)
        labels = group_tickets(texts, keys, np.array([""] * 4), _times(4))
        assert labels.tolist() == [0, 0, 0, -1]

    def test_two_places_never_join_even_with_identical_text(self):
        texts = ["搅拌站噪音扰民"] * 6
        keys = np.array(["丽发新城"] * 3 + ["碧海苑"] * 3)
        labels = group_tickets(texts, keys, np.array([""] * 6), _times(6))
        assert len(set(labels[:3])) == 1 and len(set(labels[3:])) == 1 and labels[0] != labels[3]

    def test_near_duplicates_without_a_place_group(self):
        texts = ["58车贷案件立案后毫无进展"] * 3 + ["公交车绕路"]
        labels = group_tickets(texts, np.array([""] * 4), np.array([""] * 4), _times(4))
        assert labels.tolist() == [0, 0, 0, -1]

    def test_small_groups_are_dropped(self):
        labels = group_tickets(["搅拌站噪音"] * 2, np.array(["甲苑"] * 2), np.array([""] * 2), _times(2),
                               min_size=3)
        assert labels.tolist() == [-1, -1]

    def test_a_long_gap_cuts_a_group_in_two(self):
        t = np.array(["2024-01-01", "2024-01-02", "2024-06-01", "2024-06-02"], dtype="datetime64[ns]")
        assert split_by_gap(np.zeros(4, int), t, np.timedelta64(30, "D")).tolist() == [0, 0, 1, 1]

    @pytest.mark.parametrize("big, small, merged", [("滨河苑", "广铁集团", True), ("东六路", "郝家坪小学", False)])
    def test_a_group_that_mostly_names_a_larger_site_joins_it_but_not_a_road(self, big, small, merged):
        texts = [f"{big}捆绑车位"] * 4 + [f"{small}问题 {big}"] * 2 + [f"{small}问题"]
        keys = np.array([big] * 4 + [small] * 3)
        t = np.array([f"2024-01-0{i}" for i in (1, 3, 5, 7, 2, 4, 6)], dtype="datetime64[ns]")
        labels = merge_named_groups(np.array([0] * 4 + [1] * 3), texts, keys, t)
        assert (len(set(labels.tolist())) == 1) is merged

    def test_order_of_input_does_not_change_the_groups(self):
        rng = np.random.default_rng(SEED)
        texts = ["搅拌站噪音扰民", "搅拌站噪音很大", "楼板开裂", "楼板墙面开裂", "楼板严重开裂", "搅拌站夜间噪音"]
        keys = np.array(["丽发新城"] * 6)
        base = group_tickets(texts, keys, np.array([""] * 6), _times(6), min_size=2)
        perm = rng.permutation(6)
        shuffled = group_tickets([texts[i] for i in perm], keys[perm], np.array([""] * 6), _times(6)[perm],
                                 min_size=2)
        groups = lambda labels, ids: sorted(sorted(ids[labels == g].tolist()) for g in set(labels) - {-1})  # noqa: E731
        assert groups(base, np.arange(6)) == groups(shuffled, perm)


# --------------------------------------------------------------------------- surge model


def _series(rng, n_periods, rate, season=0.0):
    """Cells 0..9 with Poisson counts around ``rate`` (times an annual-like season), as ticket arrays."""
    cells, periods = [], []
    for p in range(n_periods):
        factor = 1.0 + season * np.sin(2 * np.pi * p / 52)
        for c in range(10):
            k = rng.poisson(rate * factor)
            cells += [c] * k
            periods += [p] * k
    return np.array(cells), np.array(periods)


class TestSurgeModel:
    def test_a_jump_over_the_baseline_is_flagged_in_its_period_only(self):
        rng = np.random.default_rng(SEED)
        cells, periods = _series(rng, 40, 3.0)
        cells = np.r_[cells, [4] * 20]
        periods = np.r_[periods, [30] * 20]
        t = surge_table(cells, periods)
        flagged = set(zip(t["cell"][t["flagged"]].tolist(), t["period"][t["flagged"]].tolist()))
        assert flagged == {(4, 30)}

    @pytest.mark.parametrize("season", [0.0, 0.6])
    def test_no_false_alarms_on_a_seasonal_baseline_without_a_jump(self, season):
        rng = np.random.default_rng(SEED + 1)
        cells, periods = _series(rng, 104, 4.0, season=season)
        assert int(surge_table(cells, periods)["flagged"].sum()) == 0

    def test_a_new_cluster_of_15_in_one_week_is_found(self):
        rng = np.random.default_rng(SEED + 2)
        cells, periods = _series(rng, 20, 2.0)
        cells = np.r_[cells, [10] * 15]  # a cell never seen before
        periods = np.r_[periods, [19] * 15]
        t = surge_table(cells, periods)
        row = (t["cell"] == 10) & (t["period"] == 19)
        assert bool(t["flagged"][row][0]) and t["p_value"][row][0] < 1e-10

    @pytest.mark.parametrize("spec, expected", [("7D", "7D"), ("1w", "1W"), ("M", "1M"), ("24H", "24H")])
    def test_period_specs(self, spec, expected):
        assert Periods.parse(spec).spec == expected

    @pytest.mark.parametrize("spec", ["", "0D", "7X", "week"])
    def test_bad_period_is_a_clear_error(self, spec):
        with pytest.raises(ValueError, match="period must look like"):
            Periods.parse(spec)

    def test_months_are_calendar_months(self):
        p = Periods.parse("M")
        idx = p.index(np.array(["2024-01-31", "2024-02-01"], dtype="datetime64[ns]"))
        assert idx[1] - idx[0] == 1 and str(p.start(idx[1])) == "2024-02-01 00:00:00"


# --------------------------------------------------------------------------- heat


class TestHeat:
    T = np.array(["2024-01-01", "2024-01-05", "2024-01-09"], dtype="datetime64[ns]")

    @pytest.mark.parametrize("part, args_low, args_high", [
        ("callers", (1, 0, 0, 0), (3, 0, 0, 0)),
        ("support", (3, 0, 0, 0), (3, 500, 0, 0)),
        ("urgency", (3, 0, 0, 0), (3, 0, 1.0, 0)),
        ("surge", (3, 0, 0, 0), (3, 0, 0, 20)),
    ])
    def test_each_part_raises_the_heat(self, part, args_low, args_high):
        low, high = heat_parts(self.T, *args_low), heat_parts(self.T, *args_high)
        assert high[part] > low[part] and sum(high.values()) > sum(low.values())

    def test_a_short_burst_is_hotter_than_the_same_tickets_spread_over_a_year(self):
        spread = np.array(["2024-01-01", "2024-06-01", "2024-12-31"], dtype="datetime64[ns]")
        assert heat_parts(self.T, 3, 0, 0, 0)["concentration"] > heat_parts(spread, 3, 0, 0, 0)["concentration"]

    def test_explanation_names_the_largest_part(self):
        parts = heat_parts(self.T, 3, 5000, 0, 0)
        assert "点赞/附议多" in explain(parts, 1).split("主要因为")[1].split("、")[0]


# --------------------------------------------------------------------------- find_hotspots


class TestFindHotspots:
    def test_planted_clusters_are_found_and_ranked(self, planted_report):
        top = planted_report.hotspots
        assert top[0].place == "丽景新城" and top[0].n_tickets == 14
        assert {h.item_code for h in top[:2]} == {"08-01-001", "18-10-003"}
        assert top[0].surge["flagged"] and top[0].surge["count"] >= 5

    def test_one_ticket_in_at_most_one_hot_issue(self, planted_report):
        ids = [t for h in planted_report.hotspots for t in h.ticket_ids]
        assert len(ids) == len(set(ids))

    def test_ranking_is_deterministic_under_row_order(self, planted):
        a = find_hotspots(planted).to_dict()["hotspots"]
        b = find_hotspots(planted.sample(frac=1.0, random_state=SEED).reset_index(drop=True)).to_dict()["hotspots"]
        def key(hs):
            return [(h["rank"], h["place"], h["n_tickets"], sorted(h["ticket_ids"]), h["heat"]) for h in hs]

        assert key(a) == key(b)

    def test_json_schema(self, planted_report):
        d = json.loads(planted_report.to_json())
        required = {"rank": int, "title": str, "item_code": str, "item_name": str, "lead_department": str,
                    "co_departments": list, "place": (str, type(None)), "district": (str, type(None)),
                    "street": (str, type(None)), "start": str, "end": str, "n_tickets": int, "n_callers": int,
                    "support": (int, float), "heat": (int, float), "surge": (dict, type(None)),
                    "ticket_ids": list}
        assert d["hotspots"]
        for h in d["hotspots"]:
            for key, typ in required.items():
                assert isinstance(h[key], typ), (key, h[key])
            assert h["n_tickets"] == len(h["ticket_ids"])
        assert [h["rank"] for h in d["hotspots"]] == list(range(1, len(d["hotspots"]) + 1))
        assert all(isinstance(c["rank"], int) for c in d["top_classes"])

    def test_callers_and_support_are_counted(self, planted_report):
        h = next(h for h in planted_report.hotspots if h.place == "丽景新城")
        assert h.n_callers == 11 and h.support >= 0
        c = next(h for h in planted_report.hotspots if h.item_code == "18-10-003")
        assert c.support == 600 and c.n_callers == 6

    def test_ticket_ids_are_row_numbers_without_a_ticket_id_column(self, planted):
        report = find_hotspots(planted.drop(columns=["ticket_id"]))
        rows = set(planted.index[planted["ticket_id"].str.startswith("S")].astype(str))
        assert set(report.hotspots[0].ticket_ids) == rows

    def test_ten_hottest_classes_per_period(self, planted_report):
        by_period = {}
        for c in planted_report.top_classes:
            by_period.setdefault(c.period_start, []).append(c)
        assert all(len(v) <= 10 and [c.rank for c in v] == list(range(1, len(v) + 1)) for v in by_period.values())
        assert all(v[i].n_tickets >= v[i + 1].n_tickets for v in by_period.values() for i in range(len(v) - 1))

    def test_lead_is_the_coordinator_when_duties_are_split(self, planted):
        frame = planted[planted["ticket_id"].str.startswith("S")].copy()
        frame["lead_department"] = ["深圳市生态环境局", "深圳市住房和建设局", "深圳市交通运输局"] * 4 + ["x", "y"]
        h = find_hotspots(frame).hotspots[0]
        assert h.lead_department == "龙岗区政务服务和数据管理局"
        assert "深圳市生态环境局" in h.co_departments

    def test_routed_file_without_text_finds_surges(self, planted):
        report = find_hotspots(planted.drop(columns=["text"]), surge_area="district")
        assert report.hotspots and report.hotspots[0].item_code == "08-01-001"
        assert any("no text" in n for n in report.notes)

    def test_unrouted_tickets_are_routed_with_the_given_router(self, router, planted):
        report = find_hotspots(planted.drop(columns=["item_code"]), router=router)
        assert report.hotspots[0].place == "丽景新城" and report.hotspots[0].item_code

    @pytest.mark.parametrize("frame, note", [
        (pd.DataFrame({"text": ["丽发新城搅拌站噪音扰民"] * 4, "item_code": ["99-99-999"] * 4,
                       "received_at": ["2024-01-01"] * 4}), "not in the catalog (no name or units): 99-99-999"),
        (pd.DataFrame({"text": ["丽发新城搅拌站噪音扰民"] * 4, "item_code": ["08-01-001"] * 4,
                       "received_at": ["yesterday", "2024-01-01", "", None]}), "3 ticket(s) without a readable"),
    ])
    def test_bad_rows_are_kept_and_noted(self, frame, note):
        report = find_hotspots(frame)
        assert report.hotspots[0].n_tickets == 4 and any(note in n for n in report.notes)

    def test_empty_input_gives_an_empty_report(self):
        report = find_hotspots(pd.DataFrame({"item_code": [], "received_at": []}))
        assert report.n_tickets == 0 and report.hotspots == () and "<svg" in report.to_html()

    def test_dask_engine_routes_chunks_on_a_cluster_with_the_same_result(self, saved_router, planted):
        pytest.importorskip("dask.distributed")
        frame = planted.drop(columns=["item_code"])
        local = find_hotspots(frame, router=str(saved_router), chunk_size=150)
        on_dask = find_hotspots(frame, router=str(saved_router), chunk_size=150, engine="dask")
        assert on_dask.to_dict()["hotspots"] == local.to_dict()["hotspots"]

    def test_missing_columns_name_the_problem(self, tmp_path):
        p = tmp_path / "x.csv"
        p.write_text("a,b\n1,2\n", encoding="utf-8")
        with pytest.raises(TicketSchemaError, match="expected a 'text' column"):
            find_hotspots(p)

    @pytest.mark.parametrize("kwargs, match", [
        ({"period": "7X"}, "period must look like"), ({"top": 0}, "top must be"),
        ({"min_tickets": 1}, "min_tickets"), ({"surge_area": "city"}, "surge_area"),
        ({"max_gap": "soon"}, "max_gap"), ({"chunk_size": 0}, "chunk_size"), ({"engine": "spark"}, "engine"),
    ])
    def test_bad_parameters_are_clear_errors(self, planted, kwargs, match):
        with pytest.raises(ValueError, match=match):
            find_hotspots(planted, **kwargs)

    def test_chunked_reading_of_a_gbk_file_gives_the_same_report(self, planted, planted_report, tmp_path):
        p = tmp_path / "export.csv"
        planted.to_csv(p, index=False, encoding="gb18030")
        report = find_hotspots(p, chunk_size=37)
        assert [h.ticket_ids for h in report.hotspots] == [h.ticket_ids for h in planted_report.hotspots]

    def test_html_has_timelines_axes_and_masked_samples(self, planted_report, tmp_path):
        html = planted_report.to_html(tmp_path / "r.html")
        assert (tmp_path / "r.html").read_text(encoding="utf-8") == html
        assert html.count("<svg") > min(len(planted_report.hotspots), 30) and "工单数" in html and "周期起始日期" in html
        assert "PHONEMASK" in html and "13800138000" not in html
        assert "每个周期最热的 10 类诉求" in html and "按区、街道统计" in html

    def test_report_type_and_leads_from_the_catalog(self, planted_report):
        assert isinstance(planted_report, HotspotReport)
        assert all(h.lead_department for h in planted_report.hotspots)


class TestCommandLine:
    def test_hotspots_json_and_html(self, planted, tmp_path, capsys):
        from sujian_router._cli import main

        p = tmp_path / "export.csv"
        planted.rename(columns={"ticket_id": "编号", "support": "likes"}).to_csv(p, index=False)
        out = tmp_path / "report.html"
        rc = main(["hotspots", str(p), "--column-map", "编号=ticket_id", "likes=support", "--top", "3",
                   "--out", str(out), "--json", "--quiet"])
        assert rc == 0
        d = json.loads(capsys.readouterr().out)
        assert len(d["hotspots"]) <= 3 and d["hotspots"][0]["ticket_ids"][0].startswith("S")
        assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    def test_bad_input_is_a_one_line_error(self, tmp_path, capsys):
        from sujian_router._cli import main

        p = tmp_path / "x.csv"
        p.write_text("a\n1\n", encoding="utf-8")
        assert main(["hotspots", str(p), "--quiet"]) == 1
        assert "expected a 'text' column" in capsys.readouterr().err
