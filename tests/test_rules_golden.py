"""Golden routings of the rules layer: hand-checked cases in ``tests/golden/rules_cases.yaml``.

The file fails loudly when behaviour changes; update it deliberately, never by copying output.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from sujian_router import DepartmentDirectory, load_catalog
from sujian_router._catalog import DutyItem
from sujian_router._rules import RoutingContext, load_rules

GOLDEN = Path(__file__).parent / "golden" / "rules_cases.yaml"
CASES = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))["cases"]
_EXPECT_KEYS = {
    "lead", "lead_role", "co_includes", "co_excludes", "co_exact", "urgency", "arbitration", "joint_review",
    "dispatch_deadline", "contact_deadline", "fired_includes", "fired_excludes", "no_unit_contains",
    "district", "street", "reason_contains",
}


@pytest.fixture(scope="module")
def env():
    directory = DepartmentDirectory.load()
    items = {it.code: it for it in load_catalog()}
    return load_rules(directory=directory), directory, items


def _item(spec, items):
    if spec is None:
        return None
    if isinstance(spec, str):
        return items[spec]
    cc, ss, _ = spec["code"].split("-")
    return DutyItem(
        spec["code"], cc, "", f"{cc}-{ss}", "", spec["name"], "", (), (), spec["lead"], tuple(spec.get("co", ())),
        spec.get("urgency", "一般"), "", bool(spec.get("disputed", False)), bool(spec.get("gap", False)),
    )


def _when(value):
    if value is None:
        return None
    text = str(value)
    return datetime.strptime(text, "%Y-%m-%d %H:%M") if len(text) == 16 else datetime.fromisoformat(text)


def test_golden_file_is_large_and_covers_every_noise_item(env):
    _, _, items = env
    assert len(CASES) >= 80
    assert len({c["id"] for c in CASES}) == len(CASES)
    covered = {c["item"] for c in CASES if isinstance(c["item"], str)}
    noise = {code for code in items if code.startswith("08-")}
    assert len(noise) == 35
    assert covered >= noise, sorted(noise - covered)
    for case in CASES:
        assert set(case["expect"]) <= _EXPECT_KEYS, case["id"]
        assert {"lead", "urgency", "arbitration", "joint_review"} <= set(case["expect"]), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_case(env, case):
    rules, directory, items = env
    ctx_spec = dict(case.get("context") or {})
    ctx = RoutingContext(
        district=ctx_spec.get("district"), street=ctx_spec.get("street"),
        received_at=_when(ctx_spec.get("received_at")), location=ctx_spec.get("location"),
    )
    res = rules.apply(_item(case["item"], items), case["text"], ctx, directory)
    exp = case["expect"]
    where = f"{case['id']}: fired={res.fired_rules} lead={res.lead_department} co={res.co_departments}"

    assert res.lead_department == exp["lead"], where
    assert res.urgency == exp["urgency"], where
    assert res.arbitration is exp["arbitration"], where
    assert res.joint_review is exp["joint_review"], where
    if "lead_role" in exp:
        assert res.lead_role == exp["lead_role"], where
    if "co_exact" in exp:
        assert list(res.co_departments) == exp["co_exact"], where
    missing = set(exp.get("co_includes", ())) - set(res.co_departments)
    assert not missing, f"{where}; missing co {missing}"
    assert not set(exp.get("co_excludes", ())) & set(res.co_departments), where
    assert res.lead_department not in res.co_departments, where
    assert len(set(res.co_departments)) == len(res.co_departments), where
    for key in ("dispatch_deadline", "contact_deadline"):
        if key in exp:
            assert getattr(res, key) == _when(exp[key]) or (
                exp[key] is not None and getattr(res, key).replace(tzinfo=None) == _when(exp[key])
            ), where
    assert set(exp.get("fired_includes", ())) <= set(res.fired_rules), where
    assert not set(exp.get("fired_excludes", ())) & set(res.fired_rules), where
    if "no_unit_contains" in exp:
        assert all(exp["no_unit_contains"] not in u for u in res.departments), where
    for key in ("district", "street"):
        if key in exp:
            assert getattr(res, key) == exp[key], where
    if "reason_contains" in exp:
        assert any(exp["reason_contains"] in r for r in res.reasons), f"{where}; reasons={res.reasons}"
