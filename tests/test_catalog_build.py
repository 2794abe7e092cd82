"""Seeds -> CSVs: expansion rules, validation messages, determinism, committed files up to date."""

from __future__ import annotations

import argparse
import json
import shutil
import textwrap
from importlib import resources
from pathlib import Path

import pytest

from sujian_router import CatalogError, load_catalog
from sujian_router._catalog import CATALOG_COLUMNS
from sujian_router._catalog_build import build_catalog, check_catalog
from sujian_router._cli import catalog as catalog_cli

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "src" / "sujian_router" / "data" / "seeds"

NOISE = """\
category_code: "08"
category: 噪声污染
items_target: {target}
subcategories:
  - code: "01"
    name: 施工噪声
    lead: 区生态环境管理局
    co: [街道办事处]
    urgency: 一般
    legal_basis: 《中华人民共和国噪声污染防治法》
    items:
      - name: 房屋建筑工程夜间施工噪声
        scope: 房屋建筑工地夜间施工；不含市政工程。
        keywords: [夜间施工]
        phrasings: [半夜还在打桩]
        urgency: 紧急
  - code: "02"
    name: 社会生活噪声
    lead: 派出所
    matrix:
      objects:
        - name: 广场
          keywords: [广场]
        - name: 桥下
          keywords: [桥下]
          co: [流域管理中心]
      aspects:
        - name: 广场舞噪声
          scope: "{{object}}跳广场舞音响过大"
          keywords: [广场舞]
          phrasings: ["{{object}}跳舞太吵"]
        - name: 卡拉OK噪声
          template: "{{object}}露天{{aspect}}"
          scope: "{{object}}露天唱卡拉OK扰民。"
          keywords: [卡拉OK]
          lead: 街道办事处
        - name: 喇叭叫卖噪声
          scope: "{{object}}商贩用喇叭叫卖；不含店铺广播。"
          keywords: [喇叭]
      exclude: ["桥下|喇叭叫卖噪声"]
      overrides:
        "桥下|广场舞噪声": {{disputed: true, urgency: 紧急}}
"""


def _seed_dir(tmp_path, target=6, extra=None):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(SEEDS / "departments.yaml", seeds / "departments.yaml")
    shutil.copy(SEEDS / "communities.csv", seeds / "communities.csv")
    (seeds / "08_噪声污染.yaml").write_text(NOISE.format(target=target), encoding="utf-8")
    for name, text in (extra or {}).items():
        (seeds / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return seeds


@pytest.fixture()
def built(tmp_path):
    seeds = _seed_dir(tmp_path)
    result = build_catalog(seeds, tmp_path / "out", strict=False)
    catalog = load_catalog(result.catalog_path)
    return result, catalog


# -------------------------------------------------------------- expansion
class TestExpansion:
    def test_counts_and_codes(self, built):
        result, catalog = built
        assert result.n_items == 6 and result.counts == {"08": 6}
        assert [i.code for i in catalog] == [
            "08-01-001", "08-02-001", "08-02-002", "08-02-003", "08-02-004", "08-02-005"]

    def test_object_major_order_templates_and_exclude(self, built):
        _, catalog = built
        assert [i.name for i in catalog.items_in(subcategory="08-02")] == [
            "广场广场舞噪声", "广场露天卡拉OK噪声", "广场喇叭叫卖噪声", "桥下广场舞噪声", "桥下露天卡拉OK噪声"]

    def test_scope_gets_siblings_unless_it_has_buhan(self, built):
        _, catalog = built
        by_name = {i.name: i for i in catalog}
        assert by_name["广场广场舞噪声"].scope == "广场跳广场舞音响过大；不含卡拉OK噪声、喇叭叫卖噪声。"
        assert by_name["桥下广场舞噪声"].scope == "桥下跳广场舞音响过大；不含卡拉OK噪声。"
        assert by_name["广场喇叭叫卖噪声"].scope == "广场商贩用喇叭叫卖；不含店铺广播。"
        assert by_name["房屋建筑工程夜间施工噪声"].scope == "房屋建筑工地夜间施工；不含市政工程。"

    def test_keywords_phrasings_filled(self, built):
        _, catalog = built
        item = catalog.get("08-02-004")
        assert item.keywords == ("桥下", "广场舞")
        assert item.phrasings == ("桥下跳舞太吵",)

    def test_override_precedence(self, built):
        _, catalog = built
        by_name = {i.name: i for i in catalog}
        assert by_name["房屋建筑工程夜间施工噪声"].urgency == "紧急"
        assert by_name["房屋建筑工程夜间施工噪声"].legal_basis == "《中华人民共和国噪声污染防治法》"
        assert by_name["广场露天卡拉OK噪声"].lead_department == "街道办事处"  # aspect
        assert by_name["桥下广场舞噪声"].co_departments == ("流域管理中心",)  # object
        assert by_name["桥下广场舞噪声"].disputed and by_name["桥下广场舞噪声"].urgency == "紧急"  # pair
        assert not by_name["广场广场舞噪声"].disputed

    def test_csv_format(self, built):
        result, _ = built
        raw = Path(result.catalog_path).read_bytes()
        assert raw.startswith("\ufeff".encode("utf-8"))
        assert b"\r\n" not in raw
        assert raw.decode("utf-8-sig").splitlines()[0] == ",".join(CATALOG_COLUMNS)

    def test_deterministic(self, tmp_path):
        seeds = _seed_dir(tmp_path)
        a = build_catalog(seeds, tmp_path / "a", strict=False)
        b = build_catalog(seeds, tmp_path / "b", strict=False)
        for name in ("duty_catalog.csv", "departments.csv"):
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        assert a.warnings == b.warnings


# ------------------------------------------------------------- validation
class TestValidation:
    def test_items_target_mismatch_names_file_and_counts(self, tmp_path):
        seeds = _seed_dir(tmp_path, target=7)
        with pytest.raises(CatalogError, match=r"08_噪声污染\.yaml: items_target 7 but the seed yields 6"):
            build_catalog(seeds, tmp_path / "out", strict=True)
        result = build_catalog(seeds, tmp_path / "out", strict=False)
        assert any("items_target 7" in w for w in result.warnings)

    def test_strict_reports_missing_files_and_total(self, tmp_path):
        seeds = _seed_dir(tmp_path)
        with pytest.raises(CatalogError) as info:
            build_catalog(seeds, tmp_path / "out", strict=True)
        text = str(info.value)
        assert "missing category seed file(s)" in text and "01_城市管理与市容环卫.yaml" in text
        assert "08_噪声污染.yaml'" not in text
        assert "catalog has 6 items, expected 4315" in text
        assert not (tmp_path / "out" / "duty_catalog.csv").exists()

    def test_duplicate_names_across_files(self, tmp_path):
        other = """\
        category_code: "07"
        category: 生态环境
        items_target: 1
        subcategories:
          - code: "03"
            name: 噪声相关
            lead: 区生态环境管理局
            items:
              - name: 房屋建筑工程夜间施工噪声
                scope: 重复。
                keywords: [施工]
        """
        seeds = _seed_dir(tmp_path, extra={"07_生态环境.yaml": other})
        with pytest.raises(CatalogError) as info:
            build_catalog(seeds, tmp_path / "out", strict=False)
        msg = str(info.value)
        assert "duplicate item name '房屋建筑工程夜间施工噪声'" in msg
        assert "07_生态环境.yaml" in msg and "08_噪声污染.yaml" in msg

    def test_bad_item_fields_named(self, tmp_path):
        bad = """\
        category_code: "07"
        category: 生态环境
        items_target: 2
        subcategories:
          - code: "01"
            name: 大气
            lead: 环保局
            urgency: 特急
            items:
              - name: 烟囱冒黑烟
                scope: 工厂烟囱冒黑烟。
                keywords: [黑烟]
                co: [居委会]
              - name: 无范围
                scope: ""
                keywords: []
                lead_department: 派出所
        """
        seeds = _seed_dir(tmp_path, extra={"07_生态环境.yaml": bad})
        with pytest.raises(CatalogError) as info:
            build_catalog(seeds, tmp_path / "out", strict=False)
        msg = str(info.value)
        where = "07_生态环境.yaml: subcategory 01 大气: item #1 烟囱冒黑烟"
        assert f"{where}: unknown lead role '环保局'" in msg
        assert f"{where}: unknown co role(s) ['居委会']" in msg
        assert f"{where}: urgency '特急'" in msg
        assert "item #2 无范围: empty scope" in msg
        assert "item #2 无范围: no keywords" in msg
        assert "item #2 无范围: unknown key(s) ['lead_department']" in msg

    def test_wrong_category_name_and_bad_exclude(self, tmp_path):
        bad = """\
        category_code: "07"
        category: 环境保护
        items_target: 1
        subcategories:
          - code: "01"
            name: 大气
            lead: 区生态环境管理局
            matrix:
              objects: [{name: 工厂, keywords: [工厂]}]
              aspects: [{name: 黑烟, scope: "{object}冒黑烟"}]
              exclude: ["工厂|白烟"]
        """
        seeds = _seed_dir(tmp_path, extra={"07_生态环境.yaml": bad})
        with pytest.raises(CatalogError) as info:
            build_catalog(seeds, tmp_path / "out", strict=False)
        msg = str(info.value)
        assert "category '环境保护' should be '生态环境'" in msg
        assert "exclude '工厂|白烟' names no object|aspect pair" in msg

    def test_invalid_yaml_names_file(self, tmp_path):
        seeds = _seed_dir(tmp_path, extra={"07_生态环境.yaml": "category_code: [\n"})
        with pytest.raises(CatalogError, match=r"07_生态环境\.yaml: invalid YAML"):
            build_catalog(seeds, tmp_path / "out", strict=False)


# ------------------------------------------------- the committed package data
class TestCommitted:
    def test_committed_csvs_match_seeds(self):
        assert check_catalog(strict=True) == []

    def test_cli_build_check(self, capsys):
        parser = argparse.ArgumentParser()
        catalog_cli.build_parser(parser.add_subparsers())
        args = parser.parse_args(["catalog", "build", "--check", "--json"])
        code = args.func(args)
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and out == {"ok": True, "differ": []}

    def test_departments_csv_matches_seed(self, tmp_path):
        # independent of the category seeds: the directory must always be current
        seeds = tmp_path / "seeds"
        seeds.mkdir()
        shutil.copy(SEEDS / "departments.yaml", seeds / "departments.yaml")
        shutil.copy(SEEDS / "communities.csv", seeds / "communities.csv")
        build_catalog(seeds, tmp_path, strict=False)
        committed = resources.files("sujian_router") / "data" / "departments.csv"
        assert committed.read_bytes() == (tmp_path / "departments.csv").read_bytes()

    @pytest.mark.parametrize("name", ["duty_catalog.csv", "departments.csv", "seeds"])
    def test_top_level_symlinks(self, name):
        link = REPO / "data" / name
        assert link.is_symlink()
        assert not Path(link.readlink()).is_absolute()
        assert link.resolve() == (REPO / "src" / "sujian_router" / "data" / name).resolve()
