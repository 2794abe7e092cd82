"""The places layer: communities, landmarks, roads and rivers in complaint text -> jurisdiction."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest

from sujian_router import CatalogError, DepartmentDirectory, Gazetteer, PlaceMatch, check_jurisdiction
from sujian_router._catalog import DutyItem
from sujian_router._places import _read_communities, gazetteer_for, locate
from sujian_router._rules import RoutingContext, load_rules

SHARED_COMMUNITIES = Path(__file__).resolve().parents[2] / "shared" / "domain" / "shenzhen_communities.csv"
SHARED_COMMUNITIES_ALT = Path("/work/shared/domain/shenzhen_communities.csv")


@pytest.fixture(scope="module")
def directory():
    return DepartmentDirectory.load()


@pytest.fixture(scope="module")
def gazetteer():
    return Gazetteer.load()


def _item(lead, co=(), code="99-01-001"):
    return DutyItem(code, "99", "测试", "99-01", "测试", "测试事项", "测试。", ("测试",), (), lead, tuple(co),
                    "一般", "", False, False)


class TestFind:
    @pytest.mark.parametrize(
        ("text", "district", "street", "community"),
        [
            ("桂木园社区楼下夜市很吵", "罗湖区", "桂园街道", "桂木园"),
            ("我家在桂木园，楼下很吵", "罗湖区", "桂园街道", "桂木园"),  # bare short name, 3 characters, one street
            ("山厦社区有人半夜喝酒", "龙岗区", "平湖街道", "山厦"),
            ("名海社区篮球场", "南山区", "粤海街道", "名海"),
            ("坂田社区里面有人乱搭建", "龙岗区", "坂田街道", "坂田围"),  # parent community of a residents' committee
            ("世界之窗门口跳广场舞", "南山区", "沙河街道", None),
            ("坂田华为基地附近放烟花", "龙岗区", "坂田街道", None),
            ("东门老街摆摊", "罗湖区", "东门街道", None),
            ("大芬油画村有人打架", "龙岗区", "布吉街道", None),
            ("在坂田这边", "龙岗区", "坂田街道", None),
            ("葵涌的海边", "大鹏新区", "葵涌街道", None),
            ("鹅埠那边", "深汕特别合作区", "鹅埠镇", None),
            ("皇岗路上有坑", "福田区", None, None),  # a road in one district: district only
            ("在宝安这边的城中村", "宝安区", None, None),  # a bare district name: the weakest clue
            ("从福田过来，在世界之窗门口", "南山区", "沙河街道", None),  # it never overrides a precise place
            ("深汕那边的工地", "深汕特别合作区", None, None),
        ],
    )
    def test_place_names(self, gazetteer, text, district, street, community):
        m = gazetteer.find(text)
        assert (m.district, m.street, m.community) == (district, street, community)

    @pytest.mark.parametrize("text", ["深南大道上有个大坑", "招商银行门口很吵", "今天天气很好", "", "凤凰卫视",
                                      "深圳湾附近的海边", "光明高新区的工厂"])
    def test_no_place(self, gazetteer, text):
        m = gazetteer.find(text)
        assert (m.district, m.street) == (None, None)

    def test_shared_short_name_is_ambiguous(self, gazetteer):
        m = gazetteer.find("凤凰社区有人乱倒垃圾")
        assert (m.street, m.ambiguous) == (None, ("凤凰社区",))

    @pytest.mark.parametrize(("district", "street"), [("光明区", "凤凰街道"), ("盐田区", "沙头角街道")])
    def test_known_district_narrows_an_ambiguous_name(self, gazetteer, district, street):
        m = gazetteer.find("凤凰社区有人乱倒垃圾", district=district)
        assert m.street == street and m.inferred == ("street", "community")

    def test_known_district_with_two_candidate_streets_stays_ambiguous(self, gazetteer):
        # 龙岗区 has 凤凰社区 in 布吉 and the 凤凰社区 of 平湖墟 in 平湖
        assert gazetteer.find("凤凰社区", district="龙岗区").street is None

    def test_given_street_is_kept_and_text_names_the_community(self, gazetteer):
        m = gazetteer.find("桂木园社区楼下", district="罗湖区", street="桂园街道")
        assert (m.street, m.community, m.inferred) == ("桂园街道", "桂木园", ("community",))

    def test_place_outside_the_given_district_is_ignored(self, gazetteer):
        m = gazetteer.find("世界之窗门口", district="福田区")
        assert (m.district, m.street) == ("福田区", None)

    def test_full_street_beats_landmark(self, gazetteer):
        assert gazetteer.find("世界之窗附近，其实是在粤海街道").street == "粤海街道"

    @pytest.mark.parametrize(
        ("text", "river", "basin", "district"),
        [
            ("布吉河里有死鱼", "布吉河", "深圳河湾", None),
            ("西乡河发黑发臭", "西乡河", "珠江口", "宝安区"),
            ("新圳河边", "新圳河", "珠江口", "宝安区"),
            ("茅洲河漂浮垃圾", "茅洲河", "茅洲河", None),
            ("坪山河边跳舞", "坪山河", "龙岗河坪山河", "坪山区"),
        ],
    )
    def test_rivers(self, gazetteer, text, river, basin, district):
        m = gazetteer.find(text)
        assert (m.river, m.basin, m.district) == (river, basin, district)

    def test_reason_and_to_dict(self, gazetteer):
        m = gazetteer.find("世界之窗门口")
        assert m.reason() == "从诉求内容识别事发地为南山区沙河街道（依据：地标世界之窗）"
        assert m.to_dict()["evidence"] == ["地标世界之窗"]
        assert PlaceMatch().reason() == ""


class TestData:
    def test_communities_file(self):
        rows = _read_communities()
        assert len(rows) == 783
        assert {r["district"] for r in rows if r["street"] in ("葵涌街道", "大鹏街道", "南澳街道")} == {"大鹏新区"}

    @pytest.mark.skipif(not (SHARED_COMMUNITIES.is_file() or SHARED_COMMUNITIES_ALT.is_file()),
                        reason="shared domain folder not mounted")
    def test_communities_match_the_nbs_list(self):
        path = SHARED_COMMUNITIES if SHARED_COMMUNITIES.is_file() else SHARED_COMMUNITIES_ALT
        with open(path, encoding="utf-8-sig") as fh:
            nbs = {r["community_code"]: r for r in csv.DictReader(fh)}
        ours = {r["code"]: r for r in _read_communities()}
        assert set(ours) <= set(nbs) and len(nbs) - len(ours) == 5
        assert all(ours[c]["official_name"] == nbs[c]["community"] for c in ours)
        assert all(ours[c]["street"] == nbs[c]["street"] for c in ours)

    def test_gazetteer_size(self, gazetteer):
        assert len(gazetteer) > 1200

    def test_bad_landmark_street_is_an_error(self, directory):
        doc = {"landmarks": [{"name": "火星基地", "street": "火星街道"}], "roads": [], "rivers": []}
        with pytest.raises(CatalogError, match="火星基地"):
            Gazetteer(directory, _read_communities(), doc)

    def test_a_smaller_user_directory_skips_unknown_places(self, tmp_path, directory):
        keep = [u for u in directory.units if u.district in ("", "坪山区") or u.level in ("city", "utility")]
        small = DepartmentDirectory([u for u in keep if u.level != "group"], source="small")
        gaz = gazetteer_for(small)
        assert gaz.skipped and not any("'坪山街道'" in s or "'马峦街道'" in s for s in gaz.skipped)
        assert gaz.find("世界之窗门口").street is None
        assert gaz.find("坪山河边").basin == "龙岗河坪山河"
        assert locate(small, "马峦山脚下").street == "马峦街道"


class TestLocate:
    def test_conflicting_district_and_street_are_flagged(self, directory):
        loc = locate(directory, "楼上很吵", district="福田区", street="坪山街道")
        assert (loc.district, loc.street, loc.flags) == ("坪山区", "坪山街道", ("jurisdiction_conflict",))
        assert "辖区矛盾" in loc.notes[0]

    @pytest.mark.parametrize(("district", "street"), [("坪山区", "坪山街道"), (None, "坪山街道"), ("坪山区", None)])
    def test_check_jurisdiction_quiet_when_consistent(self, district, street):
        assert check_jurisdiction(district, street) is None

    def test_unknown_street_is_reported_and_the_text_used(self, directory):
        loc = locate(directory, "世界之窗门口很吵", district="南山区", street="不存在街道")
        assert loc.street == "沙河街道"
        assert any("未识别的街道“不存在街道”" in n for n in loc.notes)

    def test_location_is_searched_after_the_text(self, directory):
        loc = locate(directory, "楼下广场舞太吵", location="桂木园社区3栋")
        assert (loc.street, loc.community) == ("桂园街道", "桂木园")


@pytest.fixture(scope="module")
def rules(directory):
    """The bundled rules on the bundled directory."""
    return load_rules(directory=directory)


@pytest.fixture(scope="module")
def shared_directory():
    """One directory for the property test's many examples."""
    return DepartmentDirectory.load()


class TestRouting:
    """Through the rules: the inferred place decides the units."""

    @pytest.mark.parametrize(
        ("text", "lead_role", "expected"),
        [
            ("世界之窗门口每晚跳广场舞", "派出所", "沙河派出所"),
            ("坂田华为基地附近放烟花", "派出所", "坂田派出所"),
            ("桂木园社区有人乱贴小广告", "社区工作站", "桂园街道桂木园社区工作站"),
            ("东门老街有人占道", "街道综合行政执法队", "东门街道综合行政执法队"),
            ("小区附近有人乱贴小广告", "街道办事处", "深圳市政务服务和数据管理局"),
        ],
    )
    def test_lead_from_place(self, rules, directory, text, lead_role, expected):
        res = rules.apply(_item(lead_role), text, RoutingContext(received_at=datetime(2024, 6, 1, 10, 0)), directory)
        assert res.lead_department == expected, res.reasons

    def test_river_in_text_picks_its_basin_centre(self, rules, directory):
        item = _item("区城管和综合执法局", co=("流域管理中心",))
        res = rules.apply(item, "布吉河边堆满垃圾", RoutingContext(district="龙岗区", street="坂田街道"), directory)
        assert "深圳市深圳河湾流域管理中心" in res.co_departments, res.reasons

    def test_operator_named_in_text(self, rules, directory):
        res = rules.apply(_item("通信运营商"), "联通宽带断网三天", RoutingContext(district="福田区"), directory)
        assert res.lead_department == "中国联合网络通信有限公司深圳市分公司"

    def test_conflict_flag_reaches_the_decision(self, router):
        d = router.route("楼上邻居半夜吵闹", district="福田区", street="坪山街道", received_at="2024-06-01 23:00")
        assert "jurisdiction_conflict" in d.flags and d.street == "坪山街道"

    def test_conflict_flag_reaches_the_resolution(self, rules, directory):
        res = rules.apply(_item("派出所"), "楼上吵", RoutingContext(district="福田区", street="坪山街道"), directory)
        assert res.flags == ("jurisdiction_conflict",) and res.lead_department == "坪山派出所"


class TestProperties:
    def test_locate_never_raises_and_names_known_places(self, shared_directory):
        from hypothesis import given, settings
        from hypothesis import strategies as st

        alphabet = st.sampled_from(list("桂木园社区世界之窗坂田华为基地深南大道宝安福田街道河凤凰 ，。a1\n"))

        @settings(max_examples=200, deadline=None, derandomize=True)
        @given(st.text(alphabet=alphabet, max_size=60) | st.text(max_size=60))
        def check(text):
            loc = locate(shared_directory, text)
            assert loc.district is None or loc.district in shared_directory.districts
            assert loc.street is None or shared_directory.district_of_street(loc.street) == loc.district
            assert loc.community is None or loc.street is not None

        check()


class TestHotspotMentions:
    """The hot-issue place step names the street the gazetteer infers (communities, landmarks, short streets)."""

    @pytest.mark.parametrize("text, district, street", [
        ("桂木园社区楼下夜市摊档太吵", "罗湖区", "桂园街道"),
        ("世界之窗门口每天晚上广场舞", "南山区", "沙河街道"),
        ("在坂田这边，楼下空地上有人半夜打牌", "龙岗区", "坂田街道"),
        ("坪山区坪山街道六联社区路灯不亮", "坪山区", "坪山街道"),
    ])
    def test_place_only_text_gets_its_street(self, directory, text, district, street):
        from sujian_router._hotspots._mentions import extract_places, locate as locate_mentions

        mentions = extract_places(text, directory)
        assert locate_mentions(mentions) == (district, street)

    def test_a_known_street_is_not_read_as_part_of_a_longer_name(self, directory):
        from sujian_router._hotspots._mentions import extract_places

        names = [m.name for m in extract_places("坪山区坪山街道六联社区", directory) if m.kind == "street"]
        assert names == ["坪山街道"]

    def test_pseudonymised_units_still_count_without_the_gazetteer(self, directory):
        from sujian_router._hotspots._mentions import extract_places, locate as locate_mentions

        assert locate_mentions(extract_places("A7县泉塘街道东四路", directory)) == ("A7县", "泉塘街道")


class TestCommunityPlaceForms:
    """城中村 and metro stations named after a community resolve to its street; shared names stay ambiguous."""

    @pytest.mark.parametrize("text, street", [
        ("新洲村里一家网吧通宵营业", "沙头街道"),
        ("上沙村里有间出租屋", "沙头街道"),
        ("岗厦地铁站出口有人拉客", "福田街道"),
    ])
    def test_village_and_station_forms(self, gazetteer, text, street):
        m = gazetteer.find(text)
        assert m.street == street and m.evidence and "社区" not in m.evidence[0]

    def test_a_shared_community_name_with_village_suffix_picks_no_street(self, gazetteer):
        # 岗头 is a community of both 坂田街道 and 观湖街道
        assert gazetteer.find("岗头村有人乱倒垃圾").street is None


class TestHotspotMentionsElsewhere:
    @pytest.mark.parametrize("text", ["A市A3区新村社区门口垃圾成堆", "A7县东门菜市场占道经营", "A市北站出站口黑车拉客"])
    def test_other_city_texts_get_no_shenzhen_street(self, directory, text):
        from sujian_router._hotspots._mentions import extract_places

        names = {m.name for m in extract_places(text, directory) if m.kind in ("street", "district")}
        assert not names & (set(directory.streets) | set(directory.districts))

    def test_a_block_letter_does_not_hide_the_gazetteer(self, directory):
        from sujian_router._hotspots._mentions import extract_places, locate as locate_mentions

        assert locate_mentions(extract_places("世界之窗旁边小区B区楼下广场舞", directory))[1] == "沙河街道"
