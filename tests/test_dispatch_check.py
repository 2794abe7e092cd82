"""The #18 dispatch check: 100 hand-written complaints with their acceptable lead units.

These tests need no model: they check the file itself and, for the complaints that
name only a community, landmark or road, that the places layer picks the right
street's unit for the duty's role. ``benchmarks/bench_dispatch_check.py`` routes
the same cases through the default model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sujian_router import DepartmentDirectory
from sujian_router.places import locate

GOLDEN = Path(__file__).parent / "golden" / "dispatch_cases.yaml"
CASES = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))["cases"]
PLACE_ROLE_CASES = [c for c in CASES if c.get("place_only") and c.get("role")]
#: The held-out second file, written before the second round of catalog fixes was measured on it.
CASES_B = yaml.safe_load((Path(__file__).parent / "golden" / "dispatch_cases_b.yaml").read_text(encoding="utf-8"))["cases"]
PLACE_ROLE_CASES_B = [c for c in CASES_B if c.get("place_only") and c.get("role")]
_KEYS = {"id", "text", "district", "street", "at", "lead", "place_only", "role"}


@pytest.fixture(scope="module")
def directory():
    return DepartmentDirectory.load()


class TestFile:
    def test_hundred_unique_cases(self):
        assert len(CASES) == 100
        assert len({c["id"] for c in CASES}) == 100
        assert all(set(c) <= _KEYS for c in CASES), [c["id"] for c in CASES if not set(c) <= _KEYS]

    def test_at_least_thirty_place_only_street_level_cases(self):
        assert len(PLACE_ROLE_CASES) >= 30
        for case in PLACE_ROLE_CASES:
            assert "district" not in case and "street" not in case, case["id"]

    @pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
    def test_acceptable_units_exist(self, directory, case):
        unknown = [name for name in case["lead"] if name not in {u.name for u in directory.units}]
        assert unknown == []


class TestJurisdictionFromPlace:
    @pytest.mark.parametrize("case", PLACE_ROLE_CASES, ids=[c["id"] for c in PLACE_ROLE_CASES])
    def test_role_resolves_to_the_right_streets_unit(self, directory, case):
        loc = locate(directory, case["text"])
        unit = directory.resolve_unit(case["role"], loc.district, loc.street, community=loc.community)
        assert unit.name in case["lead"], (loc.to_dict(), unit.note)

    @pytest.mark.parametrize("case", PLACE_ROLE_CASES[:5], ids=[c["id"] for c in PLACE_ROLE_CASES[:5]])
    def test_the_inference_is_stated(self, directory, case):
        loc = locate(directory, case["text"])
        assert any(note.startswith("从诉求内容识别事发地为") for note in loc.notes), loc.notes

    def test_without_a_place_the_police_duty_goes_to_the_city(self, directory):
        loc = locate(directory, "楼上邻居半夜跺脚")
        assert (loc.district, loc.street) == (None, None)
        assert directory.resolve_unit("派出所", loc.district, loc.street).name == "深圳市公安局"


class TestHeldOutFile:
    def test_forty_unique_cases_with_known_keys(self):
        assert len(CASES_B) == 40
        assert len({c["id"] for c in CASES_B}) == 40
        assert not {c["id"] for c in CASES_B} & {c["id"] for c in CASES}
        assert all(set(c) <= _KEYS for c in CASES_B), [c["id"] for c in CASES_B if not set(c) <= _KEYS]

    @pytest.mark.parametrize("case", CASES_B, ids=[c["id"] for c in CASES_B])
    def test_acceptable_units_exist(self, directory, case):
        assert [n for n in case["lead"] if n not in {u.name for u in directory.units}] == []

    @pytest.mark.parametrize("case", PLACE_ROLE_CASES_B, ids=[c["id"] for c in PLACE_ROLE_CASES_B])
    def test_role_resolves_to_the_right_streets_unit(self, directory, case):
        loc = locate(directory, case["text"])
        unit = directory.resolve_unit(case["role"], loc.district, loc.street, community=loc.community)
        assert unit.name in case["lead"], (loc.to_dict(), unit.note)
        assert any(note.startswith("从诉求内容识别事发地为") for note in loc.notes), loc.notes
