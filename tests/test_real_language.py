"""The confidently wrong examples of issue #20, through the bundled default model.

Each was routed automatically to a wrong unit (or not flagged at all) before
unit-level tiers, vague-text handling and traditional-character normalisation.
"""

from __future__ import annotations

import pytest

#: text -> lead units a dispatcher would accept (no district given: city-level units)
CONFIDENTLY_WRONG = {
    "楼道里贴满了小广告，清理了又有人贴": {"深圳市城市管理和综合执法局"},
    "噪音扰民": set(),  # no source named: no unit is right without asking
    "噪音": set(),
    "12345": set(),
}
VAGUE = ["噪音", "12345", "你好", "投诉"]
TWINS = [
    ("福田區華強北街道有人在路邊燒垃圾，煙很大", "福田区华强北街道有人在路边烧垃圾，烟很大"),
    ("羅湖區東門街道的井蓋壞了，晚上很危險", "罗湖区东门街道的井盖坏了，晚上很危险"),
    ("樓下燒烤店油煙很大，窗戶都不敢開", "楼下烧烤店油烟很大，窗户都不敢开"),
]


@pytest.fixture(scope="module")
def default_router():
    from sujian_router import Router

    return Router.load(progress=False)


@pytest.mark.parametrize("text", list(CONFIDENTLY_WRONG))
def test_no_confidently_wrong_example_is_auto_with_a_wrong_unit(default_router, text):
    d = default_router.route(text)
    assert d.tier != "auto" or d.lead_department in CONFIDENTLY_WRONG[text], (d.tier, d.lead_department)
    assert d.needs_review == (d.tier != "auto")


@pytest.mark.parametrize("text", VAGUE)
def test_vague_examples_are_manual(default_router, text):
    d = default_router.route(text)
    assert d.tier == "manual" and "vague_text" in d.flags


@pytest.mark.parametrize("traditional, simplified", TWINS)
def test_traditional_text_routes_like_its_simplified_twin(default_router, traditional, simplified):
    a, b = default_router.route(traditional), default_router.route(simplified)
    assert (a.item_code, a.lead_department, a.district, a.street, a.tier) == \
        (b.item_code, b.lead_department, b.district, b.street, b.tier)
    assert a.unit_confidence == pytest.approx(b.unit_confidence)


def test_the_issue_traditional_example_finds_its_district(default_router):
    d = default_router.route("福田區華強北街道有人在路邊燒垃圾，煙很大")
    assert d.district == "福田区" and d.item_name == "焚烧垃圾和杂物"
