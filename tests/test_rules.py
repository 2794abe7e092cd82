"""Tests of the declarative rules layer (``_rules.py`` + ``data/rules.yaml``) and the noise seed."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from importlib import resources

import pytest
import yaml

from sujian_router import DepartmentDirectory, RulesError, load_catalog
from sujian_router._catalog import DutyItem
from sujian_router._rules import Resolution, RoutingContext, RuleSet, load_rules
from sujian_router.exceptions import UnknownDepartmentError

PINGSHAN_TEXT = "晚上10点后经常有人在坪联路过河大桥下跳广场舞，噪声比较大，影响了我的休息。"


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def noise():
    """The 35 noise items of the bundled catalog."""
    items = {it.code: it for it in load_catalog() if it.code.startswith("08-")}
    assert len(items) == 35
    return items


@pytest.fixture(scope="session")
def directory():
    return DepartmentDirectory.load()


@pytest.fixture(scope="session")
def rules(directory):
    return load_rules(directory=directory)


def make_item(code="01-07-003", name="井盖松动移位", lead="区城管和综合执法局", co=(), urgency="一般",
              disputed=False, gap=False):
    cc, ss, _ = code.split("-")
    return DutyItem(code, cc, "类", f"{cc}-{ss}", "小类", name, "范围；不含其他。", ("词",), (), lead,
                    tuple(co), urgency, "", disputed, gap)


def ruleset(*rules, **extra):
    data = {"places": {"river": ["河道", "过河"], "school": ["学校"]}, "rules": list(rules), **extra}
    return RuleSet.from_dict(data)


def rule(rid, priority=10, when=None, then=None, **kw):
    return {"id": rid, "description": f"规则{rid}", "priority": priority,
            "when": when or {"categories": ["01"]}, "then": then or {"note": "说明"}, **kw}


class FakeDirectory:
    """The smallest object honouring the directory contract."""

    def resolve_unit(self, role, district=None, street=None):
        from sujian_router._departments import Resolved

        if role == "没有这个":
            raise UnknownDepartmentError(role)
        name = f"{district or '市'}{street or ''}{role}"
        return Resolved(name, role, "district", district is not None, f"指定为{name}")

    def find_places(self, text):
        return ("甲区", "乙街道") if "甲区" in text else (None, None)

    def normalize_district(self, name):
        return name

    def normalize_street(self, name, district=None):
        return name


# ------------------------------------------------------------------ the noise seed
class TestNoiseSeed:
    def test_exactly_35_items_over_10_lead_roles(self, noise):
        leads = Counter(it.lead_department for it in noise.values())
        assert len(noise) == 35
        assert len(leads) == 10
        assert {"区城管和综合执法局", "派出所"} <= set(leads)
        assert {"区交通运输管理局", "市交通运输局"} & set(leads)

    @pytest.mark.parametrize(
        "name, lead",
        [
            ("房屋建筑工程夜间施工噪声", "区生态环境管理局"),
            ("污水管网工程夜间施工噪声", "区水务局"),
            ("污水泵站设备运行噪声", "区水务局"),
            ("机动车改装炸街噪声", "交警大队"),
            ("机动车违规鸣笛噪声", "交警大队"),
            ("广场舞噪声", "派出所"),
            ("邻里生活噪声", "派出所"),
            ("露天卡拉OK与街头音响噪声", "街道办事处"),
            ("民航飞机起降噪声", "机场"),
            ("地铁运营噪声", "市交通运输局"),
            ("高速公路快速路交通噪声", "区人民政府"),
            ("住宅电梯运行噪声", "区住房和建设局"),
            ("新建住房噪声状况未公示", "区住房和建设局"),
        ],
    )
    def test_shenzhen_evidenced_lead(self, noise, name, lead):
        by_name = {it.name: it for it in noise.values()}
        assert by_name[name].lead_department == lead

    def test_helicopter_is_the_monitoring_gap(self, noise):
        gaps = [it.name for it in noise.values() if it.gap]
        assert gaps == ["直升机与低空飞行器噪声"]

    def test_items_are_well_formed(self, noise, directory):
        for it in noise.values():
            assert "；不含" in it.scope, it.name
            assert 2 <= len(it.phrasings) <= 5, it.name
            assert "噪声污染防治法" in it.legal_basis and "深圳经济特区" in it.legal_basis, it.name
            assert it.lead_department in directory, it.name
            assert all(c in directory for c in it.co_departments), it.name
            assert it.lead_department not in it.co_departments, it.name

    def test_codes_follow_production_order(self, noise):
        assert sorted(noise)[0] == "08-01-001" and sorted(noise)[-1] == "08-08-001"
        assert noise["08-04-003"].name == "广场舞噪声"


# ------------------------------------------------------------------ validation
class TestValidation:
    def test_bundled_rules_validate_against_directory(self, directory):
        rs = load_rules(directory=directory)
        assert len(rs) >= 60
        ids = [r.id for r in rs]
        assert len(ids) == len(set(ids))

    @pytest.mark.parametrize(
        "bad, pattern",
        [
            ({"priority": "high"}, r"rule #1 \(id='r1'\) priority: expected an integer"),
            ({"priority": True}, r"id='r1'\) priority"),
            ({"when": {"time": "noon"}}, r"id='r1'\) when\.time: unknown time window 'noon'"),
            ({"when": {"time": {"from": "25:00", "to": "06:00"}}}, r"id='r1'\) when\.time\.from: time '25:00'"),
            ({"when": {"place": ["moon"]}}, r"id='r1'\) when\.place: unknown place type 'moon'"),
            ({"when": {"items": ["8-1-1"]}}, r"id='r1'\) when\.items: code '8-1-1'"),
            ({"when": {"subcategories": ["08"]}}, r"when\.subcategories: code '08'"),
            ({"when": {"colour": ["red"]}}, r"id='r1'\) when\.colour: unknown condition"),
            ({"when": {}}, r"id='r1'\) when: needs at least one condition"),
            ({"then": {"urgency": "很急"}}, r"id='r1'\) then\.urgency: '很急'"),
            ({"then": {"lead": ""}}, r"id='r1'\) then\.lead"),
            ({"then": {"arbitration": "yes"}}, r"id='r1'\) then\.arbitration: expected true or false"),
            ({"then": {"escalate": True}}, r"then\.escalate: unknown action"),
            ({"description": ""}, r"id='r1'\) description: missing"),
            ({"when": {"no_item": True, "categories": ["01"]}}, r"when\.no_item: cannot be combined"),
        ],
    )
    def test_bad_field_is_named(self, bad, pattern):
        raw = rule("r1")
        raw.update(bad)
        with pytest.raises(RulesError, match=pattern):
            ruleset(raw)

    def test_all_problems_reported_at_once(self):
        with pytest.raises(RulesError) as info:
            ruleset(rule("a", priority="x"), rule("b", then={"urgency": "?"}), rule("a"))
        msg = str(info.value)
        assert "3 problem(s)" in msg
        assert "rule #1 (id='a') priority" in msg
        assert "rule #2 (id='b') then.urgency" in msg
        assert "rule #3 (id='a') id: duplicate id (also rule #1)" in msg

    def test_unknown_role_checked_against_directory(self, directory, tmp_path):
        path = tmp_path / "rules.yaml"
        path.write_text(
            yaml.safe_dump({"rules": [rule("x1", then={"co": ["区城管和综合执法局", "区扫地局"]})]},
                           allow_unicode=True),
            encoding="utf-8",
        )
        with pytest.raises(RulesError, match=r"(?s)rules\.yaml: 1 problem.*id='x1'\) then\.co: unknown department role '区扫地局'"):
            load_rules(path, directory=directory)
        with pytest.raises(RulesError, match="区扫地局"):  # without a directory: the bundled one (#14 item 17)
            load_rules(path)

    def test_bundled_rule_codes_exist_in_bundled_catalog(self):
        catalog = load_catalog()
        present = {it.category_code for it in catalog}
        codes = {it.code for it in catalog}
        subs = {it.subcategory_code for it in catalog}
        for r in load_rules():
            # only categories already built are checked (the catalog is assembled per category)
            assert {c for c in r.items if c[:2] in present} <= codes, r.id
            assert {c for c in r.subcategories if c[:2] in present} <= subs, r.id
        assert "08" in present

    def test_unknown_district_in_condition(self, directory):
        data = {"rules": [rule("d1", when={"districts": ["火星区"]})]}
        with pytest.raises(RulesError, match=r"id='d1'\) when\.districts: unknown district '火星区'"):
            RuleSet.from_dict(data, directory=directory)

    def test_codes_checked_against_catalog(self):
        catalog = [make_item("01-07-003")]
        data = {"rules": [rule("c1", when={"items": ["01-07-999"], "categories": ["01"]})]}
        with pytest.raises(RulesError, match=r"id='c1'\) when\.items: code '01-07-999' is not in the catalog"):
            RuleSet.from_dict(data, catalog=catalog)

    @pytest.mark.parametrize(
        "content, pattern",
        [("rules: [unclosed", r"invalid YAML"), ("- just a list", r"expected a mapping"), ("rules: []", r"non-empty list")],
    )
    def test_malformed_files(self, tmp_path, content, pattern):
        path = tmp_path / "r.yaml"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(RulesError, match=pattern):
            load_rules(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(RulesError, match=r"nope\.yaml: cannot read"):
            load_rules(tmp_path / "nope.yaml")

    def test_disabled_rule_is_skipped(self):
        rs = ruleset(rule("on"), rule("off", enabled=False))
        assert [r.id for r in rs] == ["on"]


# ------------------------------------------------------------------ order and conflicts
class TestOrderAndConflicts:
    item = make_item()

    def apply(self, rs, text="井盖", item=item, **ctx):
        return rs.apply(item, text, RoutingContext(**ctx), FakeDirectory())

    def test_higher_priority_lead_overrides(self):
        rs = ruleset(rule("late", 50, then={"lead": "乙局"}), rule("early", 10, then={"lead": "甲局"}))
        res = self.apply(rs)
        assert res.lead_role == "乙局"
        assert res.fired_rules == ("early", "late")
        assert res.arbitration is False

    def test_same_priority_conflict_first_in_file_wins(self):
        rs = ruleset(rule("a", 20, then={"lead": "甲局"}), rule("b", 20, then={"lead": "乙局"}))
        res = self.apply(rs)
        assert res.lead_role == "甲局"
        assert res.arbitration is True
        assert any("规则a" in r and "规则b" in r and "冲突" in r for r in res.reasons)
        assert self.apply(rs) == res  # deterministic

    def test_same_priority_same_lead_is_no_conflict(self):
        rs = ruleset(rule("a", 20, then={"lead": "甲局"}), rule("b", 20, then={"lead": "甲局"}))
        assert self.apply(rs).arbitration is False

    def test_lower_priority_conflict_is_settled_by_higher_rule(self):
        rs = ruleset(rule("a", 20, then={"lead": "甲局"}), rule("b", 20, then={"lead": "乙局"}),
                     rule("c", 30, then={"lead": "丙局"}))
        res = self.apply(rs)
        assert (res.lead_role, res.arbitration) == ("丙局", False)

    def test_co_roles_accumulate_without_duplicates_or_lead(self):
        item = make_item(co=("丙局", "甲局"))
        rs = ruleset(rule("a", 10, then={"co": ["丙局", "丁局"]}), rule("b", 20, then={"lead": "甲局", "co": ["丁局"]}))
        res = self.apply(rs, item=item)
        assert res.lead_role == "甲局"
        assert res.co_roles == ("丙局", "丁局")
        assert res.lead_department not in res.co_departments
        assert len(set(res.co_departments)) == len(res.co_departments)

    def test_co_units_deduplicated_by_unit_name(self, directory):
        # 流域管理中心 of 盐田区 falls back to 区水务局: the same unit is listed once
        item = make_item(co=("区水务局",))
        rs = ruleset(rule("a", then={"co": ["流域管理中心"]}))
        res = rs.apply(item, "x", RoutingContext(district="盐田区"), directory)
        assert res.co_departments == ("盐田区水务局",)

    @pytest.mark.parametrize(
        "cond, text, fires",
        [
            ({"text_any": ["井盖", "窨井"]}, "窨井响", True),
            ({"text_any": ["井盖"]}, "路灯", False),
            ({"text_all": ["井盖", ["响", "吵"]]}, "井盖很吵", True),
            ({"text_all": ["井盖", ["响", "吵"]]}, "井盖松了", False),
            ({"text_none": ["没有"]}, "井盖没有响", False),
            ({"place": ["river"]}, "过河桥下", True),
            ({"place": ["school"]}, "过河桥下", False),
        ],
    )
    def test_text_and_place_conditions(self, cond, text, fires):
        rs = ruleset(rule("r", when={"categories": ["01"], **cond}))
        assert (self.apply(rs, text=text).fired_rules == ("r",)) is fires

    def test_targeting_by_item_subcategory_category(self):
        rs = ruleset(
            rule("i", when={"items": ["01-07-003"]}), rule("s", when={"subcategories": ["01-07"]}),
            rule("c", when={"categories": ["01"]}), rule("other", when={"categories": ["02"]}),
            rule("any", when={"text_any": ["井"]}), rule("none", when={"no_item": True}),
        )
        assert set(self.apply(rs).fired_rules) == {"i", "s", "c", "any"}
        assert set(self.apply(rs, item=None).fired_rules) == {"any", "none"}

    def test_district_and_street_conditions(self, directory, noise):
        rs = ruleset(rule("d", when={"categories": ["08"], "districts": ["盐田"]}),
                     rule("s", when={"categories": ["08"], "streets": ["航城街道"]}))
        item = noise["08-06-007"]
        assert rs.apply(item, "x", RoutingContext(district="盐田区"), directory).fired_rules == ("d",)
        assert rs.apply(item, "x", RoutingContext(street="航城街道"), directory).fired_rules == ("s",)
        assert rs.apply(item, "x", RoutingContext(), directory).fired_rules == ()


# ------------------------------------------------------------------ time windows
class TestTime:
    @pytest.mark.parametrize(
        "hhmm, night, outside",
        [
            ("21:59", False, False), ("22:00", True, False), ("23:00", True, True), ("00:00", True, True),
            ("05:59", True, True), ("06:00", False, True), ("06:59", False, True), ("07:00", False, False),
            ("11:59", False, False), ("12:00", False, True), ("13:59", False, True), ("14:00", False, False),
            ("22:59", True, False),
        ],
    )
    def test_named_windows_wrap_midnight(self, hhmm, night, outside):
        h, m = map(int, hhmm.split(":"))
        rs = ruleset(rule("night", when={"categories": ["01"], "time": "night"}),
                     rule("out", when={"categories": ["01"], "time": "outside_construction_hours"}))
        fired = make_and_apply(rs, datetime(2024, 6, 12, h, m))
        assert ("night" in fired) is night
        assert ("out" in fired) is outside

    @pytest.mark.parametrize("hour, fires", [(22, False), (23, True), (1, True), (5, False), (12, False)])
    def test_explicit_window(self, hour, fires):
        rs = ruleset(rule("w", when={"categories": ["01"], "time": {"from": "23:00", "to": "05:00"}}))
        assert ("w" in make_and_apply(rs, datetime(2024, 1, 1, hour))) is fires

    def test_time_list_is_any_of(self):
        rs = ruleset(rule("w", when={"categories": ["01"], "time": ["night", {"from": "12:00", "to": "13:00"}]}))
        assert "w" in make_and_apply(rs, datetime(2024, 1, 1, 12, 30))
        assert "w" not in make_and_apply(rs, datetime(2024, 1, 1, 13, 30))

    def test_aware_datetime_uses_shenzhen_clock(self):
        rs = ruleset(rule("n", when={"categories": ["01"], "time": "night"}))
        utc_afternoon = datetime(2024, 6, 12, 15, 0, tzinfo=timezone.utc)  # 23:00 in Shenzhen
        assert "n" in make_and_apply(rs, utc_afternoon)

    def test_no_time_never_matches_time_rules(self):
        rs = ruleset(rule("n", when={"categories": ["01"], "time": "night"}))
        assert make_and_apply(rs, None) == ()

    def test_file_can_redefine_windows(self):
        rs = ruleset(rule("n", when={"categories": ["01"], "time": "night"}),
                     time_windows={"night": [{"from": "21:00", "to": "07:00"}]})
        assert "n" in make_and_apply(rs, datetime(2024, 1, 1, 21, 30))


def make_and_apply(rs, when):
    return rs.apply(make_item(), "x", RoutingContext(received_at=when), FakeDirectory()).fired_rules


# ------------------------------------------------------------------ places and jurisdiction
class TestPlaces:
    @pytest.mark.parametrize(
        "text, expected",
        [
            (PINGSHAN_TEXT, {"river", "bridge"}),
            ("学校门口的工地太吵", {"school", "building_site"}),
            ("莲花山公园里唱歌", {"park"}),
            ("城中村握手楼里打麻将", {"village"}),
            ("小区旁边的高速公路车很吵", {"residential", "expressway"}),
            ("今天天气不错", set()),
        ],
    )
    def test_detect_places(self, rules, text, expected):
        assert rules.detect_places(text) == expected

    def test_location_may_be_a_place_type_or_an_address(self, rules):
        assert "river" in rules.detect_places("跳舞", location="river")
        assert "school" in rules.detect_places("跳舞", location="某某小学东门")

    def test_district_and_street_found_in_text(self, rules, directory, noise):
        res = rules.apply(noise["08-04-001"], "坪山区坪山街道某小区楼上很吵", RoutingContext(), directory)
        assert (res.district, res.street) == ("坪山区", "坪山街道")
        assert res.lead_department == "坪山派出所"
        assert any("从诉求内容识别事发地" in r for r in res.reasons)

    def test_street_found_in_text_only_within_known_district(self, rules, directory, noise):
        ctx = RoutingContext(district="福田区")
        res = rules.apply(noise["08-04-001"], "坪山街道某小区楼上很吵", ctx, directory)
        assert (res.district, res.street) == ("福田区", None)

    def test_jurisdiction_cache_is_per_directory(self, rules, directory, noise):
        ctx = RoutingContext(district="坪山区", street="坪山街道")
        first = rules.apply(noise["08-04-001"], "楼上吵", ctx, directory).lead_department
        other = rules.apply(noise["08-04-001"], "楼上吵", ctx, FakeDirectory()).lead_department
        again = rules.apply(noise["08-04-001"], "楼上吵", ctx, directory).lead_department
        assert (first, other, again) == ("坪山派出所", "坪山区坪山街道派出所", "坪山派出所")

    def test_unrecognised_street_falls_back_to_text(self, rules, directory, noise):
        ctx = RoutingContext(district="南山区", street="不存在街道")
        res = rules.apply(noise["08-04-001"], "南头街道某小区楼上吵", ctx, directory)
        assert res.street == "南头街道"
        assert any("未识别的街道“不存在街道”" in r for r in res.reasons)

    def test_unknown_district_resolves_to_municipal_units(self, rules, directory, noise):
        res = rules.apply(noise["08-01-001"], "工地半夜打桩", RoutingContext(), directory)
        assert res.district is None
        assert res.lead_department == "深圳市生态环境局"
        assert any("事发区不明" in r for r in res.reasons)
        assert any("按市级指定" in r for r in res.reasons)

    def test_unrecognised_district_is_reported(self, rules, directory, noise):
        res = rules.apply(noise["08-01-001"], "工地", RoutingContext(district="火星区"), directory)
        assert res.district is None
        assert any("未识别的区“火星区”" in r for r in res.reasons)


# ------------------------------------------------------------------ urgency and deadlines
class TestUrgency:
    @pytest.mark.parametrize(
        "text",
        [
            "楼道里闻到很浓的燃气味",
            "隔壁厨房起火了冒出浓烟",
            "有人被困在电梯里",
            "工地围墙倒塌了",
            "大风把电线刮断了电线掉下来在路上",
            "地下车库水浸有人被困出不来",
            "路口有人被车撞倒在流血",
            "小孩爬到窗台上很危险",
            "工厂发生爆炸",
        ],
    )
    def test_emergencies_are_urgent_with_30_minutes(self, rules, directory, noise, text):
        received = datetime(2024, 6, 12, 10, 0)
        res = rules.apply(noise["08-04-001"], text, RoutingContext(district="南山区", received_at=received), directory)
        assert res.urgency == "紧急"
        assert res.dispatch_deadline == received + timedelta(minutes=30)
        assert res.contact_deadline == received + timedelta(hours=24)
        assert any(r.startswith("紧急诉求") for r in res.reasons)

    @pytest.mark.parametrize(
        "text", ["车撞了护栏，没有人受伤", "炸街的摩托车太吵", "消防通道被占了，有火灾隐患", "烧烤摊冒出浓烟", "工厂烟囱冒浓烟"]
    )
    def test_negated_or_harmless_phrases_are_not_urgent(self, rules, directory, noise, text):
        res = rules.apply(noise["08-06-001"], text, RoutingContext(received_at=datetime(2024, 1, 1, 9)), directory)
        assert res.urgency == "一般"
        assert res.dispatch_deadline == datetime(2024, 1, 1, 11)

    def test_item_default_urgency(self, rules, directory, noise):
        res = rules.apply(noise["08-08-001"], "考试期间楼下有人唱歌", RoutingContext(), directory)
        assert res.urgency == "紧急"

    def test_no_received_at_gives_no_deadlines_and_a_reason(self, rules, directory, noise):
        res = rules.apply(noise["08-04-001"], "楼上吵", RoutingContext(), directory)
        assert res.dispatch_deadline is None and res.contact_deadline is None and res.received_at is None
        assert any("未提供受理时间" in r for r in res.reasons)


# ------------------------------------------------------------------ mechanisms
class TestMechanisms:
    def test_first_responsible_when_no_rule_names_a_lead(self, directory):
        rs = ruleset(rule("note-only"))
        item = make_item(lead="区城管和综合执法局")
        res = rs.apply(item, "井盖", RoutingContext(district="龙华区"), directory)
        assert res.lead_department == "龙华区城市管理和综合执法局"
        assert any(r.startswith("首接负责") and "井盖松动移位" in r for r in res.reasons)

    def test_disputed_item_goes_to_arbitration(self, rules, directory, noise):
        res = rules.apply(noise["08-05-003"], "井盖晚上一直响", RoutingContext(district="罗湖区"), directory)
        assert res.arbitration is True
        assert any(r.startswith("争议事项快速裁决") for r in res.reasons)

    def test_rule_can_ask_for_arbitration(self, rules, directory, noise):
        res = rules.apply(noise["08-06-006"], "高铁很吵", RoutingContext(district="龙华区"), directory)
        assert res.arbitration is True and "N30-铁路" in res.fired_rules

    def test_gap_item_goes_to_joint_review_led_by_district_coordinator(self, rules, directory, noise):
        res = rules.apply(noise["08-06-009"], "直升机天天盘旋", RoutingContext(district="南山区"), directory)
        assert res.joint_review is True
        assert res.lead_department == "南山区政务服务和数据管理局"
        assert res.co_departments[0] == "深圳市生态环境局南山管理局"  # the item's lead is kept as co
        assert any(r.startswith("监管空白点会商研判") for r in res.reasons)

    def test_no_item_goes_to_joint_review_led_by_city_when_district_unknown(self, rules, directory):
        res = rules.apply(None, "这个事情不知道找谁", RoutingContext(), directory)
        assert res.joint_review is True
        assert res.lead_role == "市政务服务和数据管理局"
        assert res.lead_department == "深圳市政务服务和数据管理局"
        assert res.co_departments == ()

    def test_joint_review_keeps_rule_lead_and_item_lead_as_co(self):
        rs = ruleset(rule("a", then={"lead": "甲局"}), rule("b", then={"joint_review": True}))
        res = rs.apply(make_item(lead="乙局", co=("丙局",)), "x", RoutingContext(district="某区"), FakeDirectory())
        assert res.lead_role == "区政务服务和数据管理局"
        assert res.co_roles == ("甲局", "乙局", "丙局")

    def test_rule_can_ask_for_joint_review(self, rules, directory, noise):
        res = rules.apply(noise["08-06-008"], "每天有直升机从头顶飞过", RoutingContext(district="宝安区"), directory)
        assert res.joint_review is True and res.lead_department == "宝安区政务服务和数据管理局"
        assert "深圳机场" in res.co_departments

    def test_resolution_to_dict_is_json_friendly(self, rules, directory, noise):
        import json

        res = rules.apply(noise["08-04-003"], PINGSHAN_TEXT,
                          RoutingContext("坪山区", "坪山街道", datetime(2024, 6, 12, 22, 30)), directory)
        data = json.loads(json.dumps(res.to_dict(), ensure_ascii=False))
        assert data["dispatch_deadline"] == "2024-06-13T00:30:00"
        assert isinstance(res, Resolution) and res.departments[0] == "坪山派出所"


# ------------------------------------------------------------------ departments are data
class TestDepartmentsAreData:
    def test_changing_the_item_lead_changes_the_unit(self, rules, directory, noise):
        item = noise["08-07-001"]
        ctx = RoutingContext(district="罗湖区")
        before = rules.apply(item, "电梯很吵", ctx, directory).lead_department
        after = rules.apply(replace(item, lead_department="区市场监督管理局", co_departments=()), "电梯很吵", ctx,
                            directory).lead_department
        assert before == "罗湖区住房和建设局"
        assert after == "深圳市市场监督管理局罗湖监管局"

    def test_changing_a_rules_file_changes_the_unit(self, directory, noise, tmp_path):
        ref = resources.files("sujian_router") / "data" / "rules.yaml"
        text = ref.read_text(encoding="utf-8-sig")
        assert "then:\n      lead: 派出所\n      co: [流域管理中心]" in text
        path = tmp_path / "rules.yaml"
        path.write_text(text.replace("then:\n      lead: 派出所\n      co: [流域管理中心]",
                                     "then:\n      lead: 街道办事处\n      co: [流域管理中心]"), encoding="utf-8")
        edited = load_rules(path, directory=directory)
        ctx = RoutingContext("坪山区", "坪山街道", datetime(2024, 6, 12, 22, 30))
        res = edited.apply(noise["08-04-003"], PINGSHAN_TEXT, ctx, directory)
        assert res.lead_department == "坪山街道办事处"

    def test_works_with_any_object_honouring_the_directory_contract(self, rules, noise):
        res = rules.apply(noise["08-04-003"], "甲区有人跳广场舞", RoutingContext(), FakeDirectory())
        assert (res.district, res.street) == ("甲区", "乙街道")
        assert res.lead_department == "甲区乙街道派出所"

    def test_unknown_role_at_apply_time_raises(self):
        rs = ruleset(rule("r", then={"lead": "没有这个"}))
        with pytest.raises(UnknownDepartmentError):
            rs.apply(make_item(), "x", RoutingContext(), FakeDirectory())

    def test_apply_needs_a_directory(self, rules):
        with pytest.raises(TypeError, match="directory"):
            rules.apply(None, "x", RoutingContext())


# ------------------------------------------------------------------ coverage and speed
def test_every_noise_item_is_matched_by_a_rule(rules, directory, noise):
    for code, item in noise.items():
        targeting = [r for r in rules.rules_for(item) if r.targeted]
        res = rules.apply(item, item.phrasings[0], RoutingContext(district="福田区"), directory)
        fired_targeting = set(res.fired_rules) & {r.id for r in targeting}
        assert fired_targeting, f"{code} {item.name}: no rule targeting it fired"


def test_apply_is_fast(rules, directory, noise):
    items = list(noise.values())
    ctx = RoutingContext("坪山区", "坪山街道", datetime(2024, 6, 12, 22, 30))
    for it in items:  # warm caches
        rules.apply(it, PINGSHAN_TEXT, ctx, directory)
    n = 20 * len(items)
    start = time.perf_counter()
    for i in range(n):
        rules.apply(items[i % len(items)], PINGSHAN_TEXT, ctx, directory)
    per_call_ms = (time.perf_counter() - start) / n * 1e3
    assert per_call_ms < 1.0  # typical ~0.1 ms; generous bound for a loaded CI machine
