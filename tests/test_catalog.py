"""The duty catalog: counts, uniqueness, lookup, search, user catalogs and validation."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest

from sujian_router import CatalogError, DutyCatalog, DutyItem, UnknownDutyError, load_catalog
from sujian_router._catalog import CATALOG_COLUMNS, CATEGORIES

HEADER = ",".join(CATALOG_COLUMNS)
GOOD_ROWS = [
    "08-01-001,08,噪声污染,08-01,建筑施工噪声,夜间施工噪声,工地夜间施工。,夜间施工|打桩,半夜打桩,区生态环境管理局,街道办事处,紧急,,0,0",
    "08-01-002,08,噪声污染,08-01,建筑施工噪声,日间超时施工噪声,工地午间施工。,午休施工,中午还在施工,区生态环境管理局,,一般,,0,0",
    "08-02-001,08,噪声污染,08-02,社会生活噪声,广场舞噪声,广场舞音响过大。,广场舞,跳舞太吵,派出所,流域管理中心|街道办事处,一般,,1,0",
]


def _write(path, lines, encoding="utf-8"):
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


# --------------------------------------------------------- bundled catalog
class TestBundledCounts:
    def test_total(self, catalog):
        assert len(catalog) == 4315

    def test_eighteen_categories_in_code_order(self, catalog):
        assert catalog.categories == tuple(CATEGORIES.values())

    def test_noise_has_35_items_over_10_lead_roles(self, catalog):
        noise = catalog.items_in("噪声污染")
        assert len(noise) == 35
        assert len({i.lead_department for i in noise}) == 10

    @pytest.mark.parametrize("code", [c for c in CATEGORIES if c != "08"])
    def test_other_categories_have_at_least_100_items(self, catalog, code):
        assert len(catalog.items_in(code)) >= 100

    def test_codes_and_names_unique(self, catalog):
        codes = Counter(i.code for i in catalog)
        names = Counter(i.name for i in catalog)
        assert [c for c, n in codes.items() if n > 1] == []
        assert [c for c, n in names.items() if n > 1] == []

    def test_bundled_catalog_validates(self, catalog):
        assert catalog.validate() is catalog
        assert catalog.problems() == []

    def test_every_role_known(self, catalog):
        roles = set(catalog.departments.roles)
        used = {i.lead_department for i in catalog} | {r for i in catalog for r in i.co_departments}
        assert used <= roles

    def test_codes_sequential_within_subcategory(self, catalog):
        seen = Counter()
        for item in catalog:
            seen[item.subcategory_code] += 1
            assert item.code == f"{item.subcategory_code}-{seen[item.subcategory_code]:03d}"


class TestBundledApi:
    def test_load_is_fast_and_cached(self):
        from sujian_router._catalog import _bundled_catalog

        _bundled_catalog.cache_clear()
        start = time.process_time()  # CPU time: robust to other processes on the machine
        first = load_catalog()
        elapsed = time.process_time() - start
        assert elapsed < 0.5
        assert load_catalog() is first

    def test_items_are_frozen(self, catalog):
        item = catalog.items[0]
        assert isinstance(item, DutyItem)
        with pytest.raises(AttributeError):
            item.name = "x"

    def test_get_and_contains(self, catalog):
        item = catalog.items[-1]
        assert catalog.get(item.code) is item
        assert item.code in catalog
        assert "nope" not in catalog
        assert catalog.category_of(item.code) == item.category
        assert list(catalog) == list(catalog.items)

    def test_unknown_code_hints_close_match(self, catalog):
        code = catalog.items[0].code
        typo = code[:-3] + "999"
        with pytest.raises(UnknownDutyError, match=rf"unknown duty item code '{typo}'.*did you mean"):
            catalog.get(typo)

    def test_unknown_code_is_keyerror(self, catalog):
        with pytest.raises(KeyError):
            catalog.get("xx")

    def test_items_in(self, catalog):
        item = catalog.items[0]
        sub = catalog.items_in(subcategory=item.subcategory_code)
        assert item in sub
        assert all(i.subcategory_code == item.subcategory_code for i in sub)
        assert catalog.items_in(item.category, item.subcategory) == catalog.items_in(
            item.category_code, item.subcategory_code
        )
        assert catalog.items_in() == catalog.items

    def test_search_finds_item_by_its_name_and_phrasing(self, catalog):
        for item in catalog.items[:: max(1, len(catalog) // 20)]:
            hits = catalog.search(item.name, limit=5)
            assert hits[0][0] is item
            assert all(hits[i][1] >= hits[i + 1][1] for i in range(len(hits) - 1))

    def test_search_empty_and_limit(self, catalog):
        assert catalog.search("") == []
        assert catalog.search("   ") == []
        assert len(catalog.search(catalog.items[0].keywords[0], limit=3)) <= 3

    def test_search_is_fast(self, catalog):
        catalog.search("预热")
        start = time.process_time()
        catalog.search("晚上工地施工太吵了 睡不着")
        assert time.process_time() - start < 0.5

    def test_streets_and_departments(self, catalog):
        assert "坪山街道" in catalog.streets
        assert catalog.departments.resolve("派出所", street="坪山街道") == "坪山派出所"

    def test_fingerprint_stable_and_sensitive(self, catalog):
        fp = catalog.fingerprint
        assert len(fp) == 64 and fp == DutyCatalog(catalog.items).fingerprint
        changed = list(catalog.items)
        from dataclasses import replace

        changed[0] = replace(changed[0], urgency="紧急" if changed[0].urgency == "一般" else "一般")
        assert DutyCatalog(changed).fingerprint != fp

    def test_to_frame_column_order(self, catalog):
        frame = catalog.to_frame()
        assert list(frame.columns) == list(CATALOG_COLUMNS)
        assert len(frame) == len(catalog)
        assert frame["code"].tolist() == [i.code for i in catalog]

    def test_vocabulary(self, catalog):
        vocab = catalog.vocabulary()
        item = catalog.items[0]
        assert set(item.keywords) <= vocab
        assert item.name not in vocab  # long official names would block segmentation
        assert {"坪山街道", "坪山", "坪山区", "坪山派出所", "深圳市龙岗河坪山河流域管理中心"} <= vocab
        assert all(w and not any(c.isspace() for c in w) for w in vocab)

    def test_to_dict_round_trip(self, catalog):
        item = catalog.items[0]
        d = item.to_dict()
        assert DutyItem(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}) == item


# ------------------------------------------------------------ user catalogs
class TestUserCatalog:
    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
    def test_encodings(self, tmp_path, encoding):
        path = _write(tmp_path / "c.csv", [HEADER, *GOOD_ROWS], encoding=encoding)
        catalog = load_catalog(path)
        assert len(catalog) == 3
        assert catalog.get("08-02-001").co_departments == ("流域管理中心", "街道办事处")
        assert catalog.get("08-02-001").disputed is True
        assert catalog.categories == ("噪声污染",)

    def test_optional_columns_default(self, tmp_path):
        lines = [
            "code,category,subcategory,name,scope,keywords,lead_department,urgency",
            "08-01-001,噪声污染,建筑施工噪声,夜间施工噪声,工地夜间施工。,夜间施工,区生态环境管理局,紧急",
            "08-02-001,噪声污染,社会生活噪声,广场舞噪声,广场舞。,广场舞,派出所,一般",
        ]
        catalog = load_catalog(_write(tmp_path / "c.csv", lines))
        item = catalog.get("08-02-001")
        assert (item.category_code, item.subcategory_code) == ("08", "08-02")
        assert item.phrasings == () and item.co_departments == ()
        assert (item.legal_basis, item.disputed, item.gap) == ("", False, False)

    def test_column_mapping(self, tmp_path):
        lines = [
            "事项编码,大类,小类,事项名称,范围,关键词,主办,紧急程度",
            "08-01-001,噪声污染,建筑施工噪声,夜间施工噪声,工地夜间施工。,夜间施工|打桩,区生态环境管理局,紧急",
        ]
        mapping = {"事项编码": "code", "大类": "category", "小类": "subcategory", "事项名称": "name",
                   "范围": "scope", "关键词": "keywords", "主办": "lead_department", "紧急程度": "urgency"}
        catalog = load_catalog(_write(tmp_path / "c.csv", lines), column_mapping=mapping)
        assert catalog.get("08-01-001").keywords == ("夜间施工", "打桩")

    def test_missing_columns_message(self, tmp_path):
        path = _write(tmp_path / "c.csv", ["code,name", "08-01-001,x"])
        with pytest.raises(CatalogError, match=r"expected columns \['code', .*\], found \['code', 'name'\]"):
            load_catalog(path)

    def test_mapping_names_absent_column(self, tmp_path):
        path = _write(tmp_path / "c.csv", [HEADER, *GOOD_ROWS])
        with pytest.raises(CatalogError, match="column_mapping names column"):
            load_catalog(path, column_mapping={"编号": "code"})

    def test_bad_rows_are_all_named(self, tmp_path):
        rows = [
            *GOOD_ROWS,
            # row 5: duplicate code and duplicate name
            "08-01-001,08,噪声污染,08-01,建筑施工噪声,夜间施工噪声,x。,a,,区生态环境管理局,,一般,,0,0",
            # row 6: unknown lead role and bad urgency
            "08-01-003,08,噪声污染,08-01,建筑施工噪声,某噪声,x。,a,,噪声办,,特急,,0,0",
            # row 7: bad code format, unknown co role, bad disputed flag
            "8-1-1,08,噪声污染,08-01,建筑施工噪声,另一噪声,x。,a,,派出所,居委会,一般,,maybe,0",
            # row 8: empty name and scope; code not matching category code
            "07-01-004,08,噪声污染,08-01,建筑施工噪声,,,a,,派出所,,一般,,0,0",
        ]
        path = _write(tmp_path / "c.csv", [HEADER, *rows])
        with pytest.raises(CatalogError) as info:
            load_catalog(path)
        message = str(info.value)
        for expected in [
            "row 5: duplicate code '08-01-001' (first at row 2)",
            "row 5: duplicate name '夜间施工噪声' (first at row 2)",
            "row 6: unknown lead_department role '噪声办'",
            "row 6: urgency '特急'",
            "row 7: code '8-1-1' is not of the form CC-SS-III",
            "row 7: unknown co_departments role(s) ['居委会']",
            "row 7: disputed 'maybe'",
            "row 8: empty name",
            "row 8: empty scope",
            "row 8: code '07-01-004' does not match category_code '08'",
            "row 8: code '07-01-004' does not match subcategory_code '08-01'",
        ]:
            assert expected in message
        assert str(path) in message
        assert len(info.value.problems) == 11

    def test_validate_false_loads_bad_rows(self, tmp_path):
        path = _write(tmp_path / "c.csv", [HEADER, *GOOD_ROWS, GOOD_ROWS[0]])
        catalog = load_catalog(path, validate=False)
        assert len(catalog) == 4
        with pytest.raises(CatalogError, match="row 5: duplicate code"):
            catalog.validate()

    def test_blank_lines_skipped_row_numbers_kept(self, tmp_path):
        path = _write(tmp_path / "c.csv", [HEADER, GOOD_ROWS[0], "", GOOD_ROWS[0]])
        with pytest.raises(CatalogError, match="row 4: duplicate code"):
            load_catalog(path)


def test_custom_directory_checks_roles(tmp_path):
    directory = tmp_path / "d.csv"
    directory.write_text(
        "unit_id,name,role,level,district,street,covers,parent\n"
        "U1,深圳市公安局,市公安局,city,,,,\nU2,深圳市生态环境局,市生态环境局,city,,,,\n",
        encoding="utf-8",
    )
    path = _write(tmp_path / "c.csv", [HEADER, GOOD_ROWS[0]])
    with pytest.raises(CatalogError, match="row 2: unknown lead_department role '区生态环境管理局'"):
        load_catalog(path, departments=directory)


# --------------------------------------------------------------------- CLI
@pytest.fixture()
def cli():
    import argparse

    from sujian_router._cli import catalog as catalog_cli

    parser = argparse.ArgumentParser()
    catalog_cli.build_parser(parser.add_subparsers())

    def run(*argv):
        args = parser.parse_args(["catalog", *argv])
        return args.func(args)

    return run


class TestCli:
    def test_stats_json(self, cli, capsys, catalog):
        import json

        assert cli("stats", "--json") == 0
        out = json.loads(capsys.readouterr().out)
        assert out["items"] == len(catalog)
        assert sum(r["items"] for r in out["by_category"]) == len(catalog)
        assert out["fingerprint"] == catalog.fingerprint

    def test_show_table_resolves_units(self, cli, capsys, catalog):
        item = next(i for i in catalog if i.lead_department == "派出所")
        assert cli("show", item.code, "--street", "坪山街道") == 0
        out = capsys.readouterr().out
        assert item.name in out and "坪山派出所" in out

    def test_show_unknown_code_raises(self, cli):
        with pytest.raises(UnknownDutyError):
            cli("show", "99-99-999")

    def test_search_json(self, cli, capsys, catalog):
        import json

        item = catalog.items[0]
        assert cli("search", item.name, "--limit", "2", "--json") == 0
        hits = json.loads(capsys.readouterr().out)
        assert hits[0]["code"] == item.code and len(hits) <= 2

    def test_validate_bad_file_json_names_rows(self, cli, capsys, tmp_path):
        import json

        path = _write(tmp_path / "c.csv", [HEADER, *GOOD_ROWS, GOOD_ROWS[1]])
        assert cli("validate", str(path), "--json") == 1
        out = json.loads(capsys.readouterr().out)
        assert out["ok"] is False
        assert any(p.startswith("row 5: duplicate code") for p in out["problems"])

    def test_validate_column_map(self, cli, capsys, tmp_path):
        lines = [HEADER.replace("lead_department", "主办单位"), *GOOD_ROWS]
        path = _write(tmp_path / "c.csv", lines)
        assert cli("validate", str(path), "--column-map", "主办单位=lead_department") == 0
        assert "OK" in capsys.readouterr().out

    def test_dispatcher_exit_code(self, tmp_path, capsys):
        from sujian_router._cli import main

        path = _write(tmp_path / "c.csv", ["code,name", "1,x"])
        assert main(["catalog", "validate", str(path)]) == 1
        assert "expected columns" in capsys.readouterr().err


class TestDispatchPatterns:
    """Catalog-wide patterns a Shenzhen dispatcher relies on (issue #18, second round)."""

    #: Place names that are the duty itself (a port, a checkpoint, a metro line), not where it happens.
    _INTRINSIC_PLACES = {"盐田港", "蛇口码头", "福永码头", "深圳湾口岸", "莲塘口岸", "皇岗口岸", "龙华线"}

    def test_no_keyword_is_a_place_name(self, catalog):
        from sujian_router import Gazetteer

        names = {k for k in Gazetteer.load()._names if len(k) >= 2}
        found = [(i.code, kw) for i in catalog.items for kw in i.keywords
                 if kw not in self._INTRINSIC_PLACES and any(n in kw for n in names)]
        assert found == []

    @pytest.mark.parametrize("subcategory", ["01-01", "01-11", "01-14", "01-26"])
    def test_street_enforcement_team_leads_street_front_line_duties(self, catalog, subcategory):
        leads = Counter(i.lead_department for i in catalog.items if i.subcategory_code == subcategory)
        assert set(leads) == {"街道综合行政执法队"}, leads

    @pytest.mark.parametrize("code", ["16-04-006", "16-11-009", "09-21-003"])
    def test_theft_of_utility_facilities_goes_to_the_police(self, catalog, code):
        item = catalog.get(code)
        assert "被盗" in item.name or "偷盗" in item.name
        assert item.lead_department == "派出所" and len(item.co_departments) == 1

    def test_outdoor_night_rowdiness_has_its_own_police_item(self, catalog):
        items = [i for i in catalog.items_in("08") if "喧哗" in i.name]
        assert [i.lead_department for i in items] == ["派出所"]
