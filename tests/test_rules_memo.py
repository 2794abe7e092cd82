"""Steps (3)-(8) of ``RuleSet.apply`` are memoised: a warm rule set must answer exactly as a cold one."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from sujian_router import DepartmentDirectory, load_catalog
from sujian_router._catalog import DutyItem
from sujian_router._rules import RoutingContext, load_rules

from test_rules_golden import CASES, _item, _when


@pytest.fixture(scope="module")
def env():
    return DepartmentDirectory.load(), {it.code: it for it in load_catalog()}


def _context(case):
    ctx = case.get("context") or {}
    return RoutingContext(district=ctx.get("district"), street=ctx.get("street"),
                          received_at=_when(ctx.get("received_at")), location=ctx.get("location"))


def _operator_item(code="99-01-001"):
    return DutyItem(code, "99", "", code[:5], "", "通信服务", "", (), (), "通信运营商", (), "一般", "", False, False)


class TestWarmEqualsCold:
    def test_every_golden_case_twice_in_shuffled_order(self, env):
        directory, items = env
        warm, cold = load_rules(directory=directory), load_rules(directory=directory)
        cases = [c for c in CASES] * 2
        random.Random(3).shuffle(cases)
        for case in cases:
            item = _item(case["item"], items)
            cold._later_cache.clear()
            expected = cold.apply(item, case["text"], _context(case), directory)
            assert warm.apply(item, case["text"], _context(case), directory) == expected, case["id"]
        assert len(warm._later_cache) > 0

    def test_the_memo_is_used(self, env):
        directory, items = env
        rules = load_rules(directory=directory)
        item = items["08-04-003"]
        for hour in (9, 10, 11):
            rules.apply(item, "楼下广场舞太吵", RoutingContext(district="福田区", received_at=datetime(2024, 6, 1, hour)),
                        directory)
        assert len(rules._later_cache) == 1


class TestWhatTheMemoKeysOn:
    @pytest.mark.parametrize("first, second, unit", [
        ("联通宽带断网三天", "电信宽带断网三天", "中国电信股份有限公司深圳分公司"),
        ("电信宽带断网三天", "联通宽带断网三天", "中国联合网络通信有限公司深圳市分公司"),
    ])
    def test_a_role_whose_unit_the_text_names_is_resolved_per_text(self, env, first, second, unit):
        directory, _ = env
        rules, item = load_rules(directory=directory), _operator_item()
        rules.apply(item, first, RoutingContext(district="福田区"), directory)
        assert rules.apply(item, second, RoutingContext(district="福田区"), directory).lead_department == unit

    def test_deadlines_follow_the_exact_time_and_a_missing_time_is_noted(self, env):
        directory, items = env
        rules, item = load_rules(directory=directory), items["08-04-003"]
        a = rules.apply(item, "楼下广场舞太吵", RoutingContext(district="福田区", received_at=datetime(2024, 6, 1, 9, 7)),
                        directory)
        b = rules.apply(item, "楼下广场舞太吵", RoutingContext(district="福田区", received_at=datetime(2024, 6, 1, 9, 41)),
                        directory)
        c = rules.apply(item, "楼下广场舞太吵", RoutingContext(district="福田区"), directory)
        assert (b.dispatch_deadline - a.dispatch_deadline).seconds == 34 * 60
        assert c.dispatch_deadline is None and "未提供受理时间，无法计算分拨和联系时限" in c.reasons
        assert "未提供受理时间，无法计算分拨和联系时限" not in a.reasons
