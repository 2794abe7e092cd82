"""Catalog versions and the old-code -> new-code crosswalk."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import pytest

from sujian_router import CatalogCrosswalk, CatalogError, UnknownDutyError, load_catalog
from sujian_router._cli import catalog as catalog_cli
from sujian_router._crosswalk import CROSSWALK_COLUMNS, build_crosswalk, catalog_version_info

OLD = "code,name\n01-01-001,甲\n01-01-002,乙\n01-01-003,丙\n01-02-001,丁\n"


def _new(*items):
    return [{"code": c, "name": n, "formerly": list(f)} for c, n, f in items]


class TestBuild:
    def test_change_kinds(self):
        new = _new(("01-01-001", "甲", ()), ("01-01-002", "丙", ()), ("01-01-003", "合并后的事项", ("01-01-002",)))
        cw = build_crosswalk(OLD, new, from_version="1.0", to_version="2.0")
        got = {e.old_code: (e.new_code, e.change) for e in cw.entries}
        assert got == {
            "01-01-001": ("01-01-001", "unchanged"),
            "01-01-002": ("01-01-003", "merged"),
            "01-01-003": ("01-01-002", "renumbered"),
            "01-02-001": ("", "retired"),
        }
        assert cw.counts() == {"unchanged": 1, "renumbered": 1, "merged": 1, "split": 0, "retired": 1}

    def test_split_points_at_the_first_claimant(self):
        new = _new(("01-01-001", "新一", ("01-01-002",)), ("01-01-002", "新二", ("01-01-002",)))
        entry = build_crosswalk(OLD, new, from_version="1", to_version="2").get("01-01-002")
        assert (entry.new_code, entry.change, entry.other_new_codes) == ("01-01-001", "split", ("01-01-002",))

    def test_surviving_name_wins_over_formerly(self):
        new = _new(("01-01-001", "甲", ()), ("01-01-002", "新", ("01-01-001",)))
        cw = build_crosswalk(OLD, new, from_version="1", to_version="2")
        assert cw.get("01-01-001").change == "unchanged"

    def test_bad_formerly(self):
        new = _new(("01-01-001", "新", ("09-09-999",)))
        with pytest.raises(CatalogError, match="formerly '09-09-999' is not a code of the previous catalog"):
            build_crosswalk(OLD, new, from_version="1", to_version="2")

    def test_csv_round_trip(self, tmp_path):
        new = _new(("01-01-001", "甲", ()), ("01-01-002", "合并", ("01-01-002", "01-01-003")))
        cw = build_crosswalk(OLD, new, from_version="1.0", to_version="2.0")
        path = tmp_path / "cw.csv"
        path.write_bytes(cw.to_csv_bytes())
        again = CatalogCrosswalk.load(path)
        assert again.entries == cw.entries and (again.from_version, again.to_version) == ("1.0", "2.0")


class TestLoad:
    def test_missing_columns(self, tmp_path):
        path = tmp_path / "cw.csv"
        path.write_text("old_code,new_code\n01-01-001,01-01-001\n", encoding="utf-8")
        with pytest.raises(CatalogError, match=r"expected columns \[.*\], found \['old_code', 'new_code'\]"):
            CatalogCrosswalk.load(path)

    def test_bad_rows_are_named(self, tmp_path):
        path = tmp_path / "cw.csv"
        path.write_text(",".join(CROSSWALK_COLUMNS) + "\n01-01-001,甲,,,moved,,1,2\n01-01-002,乙,,,merged,,1,2\n",
                        encoding="utf-8")
        with pytest.raises(CatalogError, match=r"(?s)row 2: change 'moved'.*row 3: 01-01-002: only retired"):
            CatalogCrosswalk.load(path)

    def test_missing_file(self, tmp_path):
        with pytest.raises(CatalogError, match="cannot read crosswalk"):
            CatalogCrosswalk.load(tmp_path / "nope.csv")


@pytest.fixture(scope="module")
def cw():
    """A small crosswalk: one item kept, two merged, one retired."""
    new = _new(("01-01-001", "甲", ()), ("01-01-002", "合并", ("01-01-002", "01-01-003")))
    return build_crosswalk(OLD, new, from_version="1", to_version="2")


class TestRemap:

    @pytest.mark.parametrize(
        ("policy", "expected"),
        [("none", ["01-01-001", "01-01-002", "01-01-002", None]),
         ("keep", ["01-01-001", "01-01-002", "01-01-002", "01-02-001"])],
    )
    def test_one_output_per_input(self, cw, policy, expected):
        assert cw.remap(["01-01-001", "01-01-002", "01-01-003", "01-02-001"], on_retired=policy) == expected

    def test_retired_error(self, cw):
        with pytest.raises(UnknownDutyError, match="01-02-001"):
            cw.remap(["01-02-001"], on_retired="error")

    def test_unknown_code(self, cw):
        with pytest.raises(UnknownDutyError, match="99-99-999"):
            cw.remap(["99-99-999"])

    def test_bad_policy(self, cw):
        with pytest.raises(ValueError, match=r"on_retired must be one of \['none', 'keep', 'error'\], got 'drop'"):
            cw.remap([], on_retired="drop")


class TestBundled:
    def test_version_and_crosswalk_agree(self):
        catalog, info = load_catalog(), catalog_version_info()
        assert catalog.version == info["version"] == catalog.crosswalk.to_version
        assert catalog.crosswalk.from_version == info["previous_version"]
        assert len(catalog.crosswalk) == 4315  # every code of the previous catalog

    def test_crosswalk_points_at_current_items(self):
        """Fails when the seeds changed and the crosswalk was not regenerated (`sujian-router catalog crosswalk`)."""
        catalog = load_catalog()
        missing = [e.new_code for e in catalog.crosswalk.entries if e.new_code and e.new_code not in catalog]
        assert missing == []
        stale = [e.new_code for e in catalog.crosswalk.entries if e.new_code and catalog.get(e.new_code).name != e.new_name]
        assert stale == []

    def test_user_catalog_is_unversioned(self, tmp_path):
        catalog = load_catalog()
        path = tmp_path / "c.csv"
        catalog.to_frame().head(3).to_csv(path, index=False)
        mine = load_catalog(path)
        assert mine.version == f"unversioned-{mine.fingerprint[:12]}" and mine.crosswalk is None
        with pytest.raises(CatalogError, match="has no crosswalk"):
            mine.remap(["01-01-001"])

    def test_cli_check_with_a_previous_file(self, tmp_path, capsys):
        # the previous catalog is the one the seeds' `formerly` lists refer to: read it from git
        rev = catalog_version_info()["previous_rev"]
        repo = Path(__file__).resolve().parents[1]
        proc = subprocess.run(["git", "show", f"{rev}:src/sujian_router/data/duty_catalog.csv"], cwd=repo,
                              capture_output=True)
        if proc.returncode != 0:
            pytest.skip(f"the previous catalog ({rev}) is not in this checkout's git history")
        previous = tmp_path / "previous.csv"
        previous.write_bytes(proc.stdout)
        parser = argparse.ArgumentParser()
        catalog_cli.build_parser(parser.add_subparsers())
        out = tmp_path / "cw.csv"
        args = parser.parse_args(["catalog", "crosswalk", "--previous", str(previous), "--out", str(out), "--json"])
        assert args.func(args) == 0
        counts = json.loads(capsys.readouterr().out)["counts"]
        assert sum(counts.values()) == 4315
        args = parser.parse_args(["catalog", "crosswalk", "--previous", str(previous), "--out", str(out), "--check"])
        assert args.func(args) == 0
