"""Golden routings through the bundled default model (built once per session, on synthetic tickets).

The cases in ``tests/golden/routing_cases.yaml`` were checked by hand against the catalog and
the department directory; a failure means routing behaviour changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

GOLDEN = Path(__file__).parent / "golden" / "routing_cases.yaml"
CASES = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))["cases"]
_KEYS = {"item", "item_top3", "category", "lead", "co_includes", "no_unit_contains", "urgency", "joint_review",
         "arbitration", "flags_include", "needs_review", "reason_contains"}


@pytest.fixture(scope="session")
def default_router():
    """The default model, built into the session's private SUJIAN_ROUTER_HOME on first use."""
    from sujian_router import Router

    return Router.load(progress=False)


def test_golden_file_is_well_formed():
    assert len(CASES) >= 20
    assert len({c["id"] for c in CASES}) == len(CASES)
    for case in CASES:
        assert set(case["expect"]) <= _KEYS, case["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_routing(default_router, case):
    d = default_router.route(case["text"], district=case.get("district"), street=case.get("street"),
                             received_at=case.get("at"))
    e = case["expect"]
    if "item" in e:
        assert d.item_code == e["item"], (d.item_code, d.item_name, d.candidates[:3])
    if "item_top3" in e:
        assert e["item_top3"] in [c.code for c in d.candidates[:3]], (d.item_code, d.item_name, d.candidates[:3])
    if "category" in e:
        assert d.category == e["category"], (d.item_code, d.item_name)
    if "lead" in e:
        assert d.lead_department == e["lead"], d.reasons
    for unit in e.get("co_includes", ()):
        assert unit in d.co_departments, d.co_departments
    if "no_unit_contains" in e:
        assert not any(e["no_unit_contains"] in u for u in d.departments), d.departments
    for key in ("urgency", "joint_review", "arbitration", "needs_review"):
        if key in e:
            assert getattr(d, key) == e[key], (key, d.reasons)
    for flag in e.get("flags_include", ()):
        assert flag in d.flags
    if "reason_contains" in e:
        assert any(e["reason_contains"] in r for r in d.reasons), d.reasons
