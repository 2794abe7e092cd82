"""The department directory: districts, streets, place detection and role resolution."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from sujian_router import CatalogError, DepartmentDirectory, UnknownDepartmentError
from sujian_router._departments import Resolved, Unit

DISTRICTS = ("福田区", "罗湖区", "南山区", "宝安区", "龙岗区", "盐田区", "龙华区", "坪山区", "光明区", "大鹏新区", "深汕特别合作区")
ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
STREETS_CSV = Path(__file__).resolve().parents[2] / "shared" / "domain" / "shenzhen_streets.csv"


@pytest.fixture(scope="module")
def directory():
    return DepartmentDirectory.load()


def _architecture_roles():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = text.split("## Department roles", 1)[1].split("## Runtime objects", 1)[0]
    block = block.split("role vocabulary", 1)[1]
    return [r for r in re.findall(r"`([^`]+)`", block) if not r.isascii()]


# ---------------------------------------------------------------- structure
class TestStructure:
    def test_districts_in_fixed_order(self, directory):
        assert directory.districts == DISTRICTS

    def test_street_counts(self, directory):
        assert len(directory.streets) == 78  # 74 streets of 4403 + 4 towns of 深汕
        assert len(set(directory.streets)) == 78
        assert len(directory.streets_of("龙岗区")) == 11
        assert directory.streets_of("大鹏新区") == ("葵涌街道", "大鹏街道", "南澳街道")
        assert set(directory.streets_of("深汕特别合作区")) == {"鹅埠镇", "小漠镇", "鲘门镇", "赤石镇"}

    @pytest.mark.parametrize("street", ["葵涌街道", "大鹏街道", "南澳街道"])
    def test_dapeng_streets_not_under_longgang(self, directory, street):
        assert street not in directory.streets_of("龙岗区")
        assert directory.district_of_street(street) == "大鹏新区"

    @pytest.mark.skipif(not STREETS_CSV.is_file(), reason="shared domain files not mounted")
    def test_streets_match_nbs_list(self, directory):
        with open(STREETS_CSV, encoding="utf-8-sig") as fh:
            nbs = {r["street"] for r in csv.DictReader(fh) if r["street"].endswith("街道")}
        assert len(nbs) == 74
        assert nbs == {s for s in directory.streets if s.endswith("街道")}

    def test_every_architecture_role_exists(self, directory):
        roles = _architecture_roles()
        assert len(roles) == 80
        missing = [r for r in roles if r not in directory]
        assert missing == []

    def test_unit_names_unique_except_merged_bureaus(self, directory):
        seen, repeated = {}, set()
        for u in directory.units:
            if u.name in seen:
                repeated.add(u.name)
                assert (u.level, u.district) == (seen[u.name].level, seen[u.name].district), u.name
            seen.setdefault(u.name, u)
        # 大鹏新区's merged bureaus play several district roles
        assert repeated == {"大鹏新区公共事业局", "大鹏新区社会建设局"}
        assert all(isinstance(u, Unit) for u in directory.units)

    def test_levels(self, directory):
        assert directory.level_of("派出所") == "street"
        assert directory.level_of("流域管理中心") == "district"
        assert directory.level_of("市公安局") == "city"
        assert directory.level_of("港铁") == "utility"


# --------------------------------------------------------------- resolution
class TestResolve:
    @pytest.mark.parametrize(
        ("role", "district", "street", "expected"),
        [
            ("派出所", None, "坪山街道", "坪山派出所"),
            ("派出所", "坪山区", "坪山", "坪山派出所"),
            ("派出所", None, "黄贝街道", "黄贝派出所"),
            ("流域管理中心", "坪山区", None, "深圳市龙岗河坪山河流域管理中心"),
            ("流域管理中心", "宝安", None, "宝安区水务局"),  # two basins: unknown without the street
            ("流域管理中心", None, "松岗街道", "深圳市茅洲河流域管理中心"),
            ("流域管理中心", None, "西乡街道", "宝安区水务局"),  # 珠江口 rivers: no centre
            ("流域管理中心", None, "布吉街道", "深圳市深圳河湾流域管理中心"),  # 布吉河 drains to 深圳河
            ("流域管理中心", None, "南湾街道", "深圳市深圳河湾流域管理中心"),  # 沙湾河
            ("流域管理中心", None, "坂田街道", "深圳市龙岗河坪山河流域管理中心"),
            ("区教育局", "大鹏新区", None, "大鹏新区公共事业局"),
            ("区民政局", "大鹏新区", None, "大鹏新区社会建设局"),
            ("公安分局", "深汕", None, "深圳市公安局深汕特别合作区分局"),
            ("区消防救援大队", "坪山区", None, "深圳市坪山区消防救援大队"),
            ("水务集团", None, None, "深圳市环境水务集团"),
            ("流域管理中心", "光明区", None, "深圳市茅洲河流域管理中心"),
            ("流域管理中心", "龙华区", None, "深圳市观澜河流域管理中心"),
            ("流域管理中心", "罗湖区", None, "深圳市深圳河湾流域管理中心"),
            ("流域管理中心", None, "坪山街道", "深圳市龙岗河坪山河流域管理中心"),
            ("流域管理中心", "盐田区", None, "盐田区水务局"),
            ("流域管理中心", "大鹏新区", None, "大鹏新区水务局"),
            ("交警大队", "坪山区", None, "深圳市公安局交通警察局坪山大队"),
            ("区生态环境管理局", "深圳市坪山区", None, "深圳市生态环境局坪山管理局"),
            ("区交通运输管理局", "南山", None, "深圳市交通运输局南山管理局"),
            ("区市场监督管理局", "福田区", None, "深圳市市场监督管理局福田监管局"),
            ("区城管和综合执法局", None, "坪山街道", "坪山区城市管理和综合执法局"),
            ("街道办事处", None, "坪山街道", "坪山街道办事处"),
            ("区人民政府", "大鹏", None, "大鹏新区管理委员会"),
            ("市公安局", "坪山区", "坪山街道", "深圳市公安局"),
            ("港铁", "龙华区", None, "港铁(深圳)"),
            ("机场", None, None, "深圳机场"),
        ],
    )
    def test_known_units(self, directory, role, district, street, expected):
        assert directory.resolve(role, district, street) == expected

    def test_street_role_with_district_only_goes_to_district_parent(self, directory):
        r = directory.resolve_unit("派出所", district="坪山区")
        assert (r.name, r.role, r.exact) == ("深圳市公安局坪山分局", "公安分局", False)
        assert "未知街道" in r.note

    def test_nothing_known_goes_to_city(self, directory):
        r = directory.resolve_unit("派出所")
        assert (r.name, r.level, r.exact) == ("深圳市公安局", "city", False)
        assert r.note.startswith("未知区")

    def test_district_role_unknown_district(self, directory):
        r = directory.resolve_unit("区生态环境管理局", district="火星区")
        assert r.name == "深圳市生态环境局" and not r.exact
        assert "火星区" in r.note

    def test_unknown_street_never_crashes(self, directory):
        r = directory.resolve_unit("派出所", district="福田区", street="不存在街道")
        assert r.name == "深圳市公安局福田分局" and not r.exact
        assert "不存在街道" in r.note

    def test_exact_note_names_the_police_branch(self, directory):
        r = directory.resolve_unit("派出所", street="坪山街道")
        assert r == Resolved("坪山派出所", "派出所", "street", True,
                             "按街道坪山街道确定为坪山派出所（深圳市公安局坪山分局）")

    def test_street_office_without_street_goes_to_district_dispatch_not_government(self, directory):
        r = directory.resolve_unit("街道办事处", district="罗湖区")
        assert (r.name, r.exact) == ("罗湖区政务服务和数据管理局", False)
        assert directory.resolve_unit("街道办事处").name == "深圳市政务服务和数据管理局"

    def test_river_basin_beats_street(self, directory):
        r = directory.resolve_unit("流域管理中心", "宝安区", "西乡街道", basin="茅洲河")
        assert r.name == "深圳市茅洲河流域管理中心"
        r = directory.resolve_unit("流域管理中心", "龙岗区", "坂田街道", basin="深圳河湾")
        assert r.name == "深圳市深圳河湾流域管理中心"
        r = directory.resolve_unit("流域管理中心", "盐田区", basin="大鹏湾")
        assert r.name == "盐田区水务局" and "大鹏湾" in r.note

    @pytest.mark.parametrize("basin, expected", [
        ("茅洲河", "深圳市茅洲河流域管理中心"),
        ("深圳河湾", "深圳市深圳河湾流域管理中心"),
        ("珠江口", "深圳市水务局"),  # no centre and no district: the city bureau
        (None, "深圳市水务局"),
    ])
    def test_river_basin_without_district(self, directory, basin, expected):
        assert directory.resolve_unit("流域管理中心", basin=basin).name == expected


class TestCommunityWorkstations:
    @pytest.mark.parametrize(
        ("street", "community", "expected", "exact"),
        [
            ("桂园街道", "桂木园", "桂园街道桂木园社区工作站", True),
            ("平湖街道", "山厦", "平湖街道山厦社区工作站", True),
            ("桂园街道", None, "桂园街道办事处", False),
            ("桂园街道", "山厦", "桂园街道办事处", False),  # not a community of that street
        ],
    )
    def test_resolution(self, directory, street, community, expected, exact):
        r = directory.resolve_unit("社区工作站", street=street, community=community)
        assert (r.name, r.exact) == (expected, exact)
        if not exact:
            assert "转所属社区" in r.note

    def test_one_unit_per_community(self, directory):
        units = directory.units_of("社区工作站")
        assert len(units) == 783
        assert len({u.name for u in units}) == 783
        assert all(u.level == "community" and u.parent.endswith("办事处") for u in units)


class TestOperatorGroups:
    @pytest.mark.parametrize(
        ("role", "text", "expected"),
        [
            ("通信运营商", "电信宽带断了三天", "中国电信股份有限公司深圳分公司"),
            ("通信运营商", "中国移动营业厅乱收费", "中国移动通信集团广东有限公司深圳分公司"),
            ("通信运营商", "联通的信号太差", "中国联合网络通信有限公司深圳市分公司"),
            ("通信运营商", "办了广电卡没信号", "中国广电深圳网络有限公司"),
            ("通信运营商", "小区手机信号太差", "深圳市通信管理局"),
            ("通信运营商", "接到电信诈骗电话", "深圳市通信管理局"),
            ("巴士集团", "西部公汽的司机态度差", "深圳市西部公共汽车有限公司"),
            ("巴士集团", "公交车司机开得太快", "深圳市交通运输局宝安管理局"),
            ("公交运营商", "东部公交的车不准点", "深圳东部公共交通公司"),
        ],
    )
    def test_operator_from_text(self, directory, role, text, expected):
        assert directory.resolve(role, district="宝安区", text=text) == expected

    def test_regulator_lists_the_candidates(self, directory):
        r = directory.resolve_unit("通信运营商", text="信号差")
        assert not r.exact
        for company in ("中国电信", "中国移动", "中国联合网络通信", "中国广电"):
            assert company in r.note

    def test_bus_regulator_without_district_is_municipal(self, directory):
        assert directory.resolve("公交运营商", text="公交车不准点") == "深圳市交通运输局"

    def test_unknown_role(self, directory):
        with pytest.raises(UnknownDepartmentError, match="unknown department role '警察局'.*known roles"):
            directory.resolve("警察局", "坪山区")

    @pytest.mark.parametrize("district", DISTRICTS)
    def test_every_role_in_every_district(self, directory, district):
        for role in directory.roles:
            r = directory.resolve_unit(role, district=district)
            assert r.name
            if directory.level_of(role) not in ("street", "community") and directory.operator_group(role) is None:
                assert r.exact, (role, district, r.note)

    def test_street_roles_unique_per_street(self, directory):
        street_roles = [r for r in directory.roles if directory.level_of(r) == "street"]
        assert set(street_roles) == {"街道办事处", "派出所", "街道综合行政执法队"}
        for role in street_roles:
            names = [directory.resolve_unit(role, street=s) for s in directory.streets]
            assert all(r.exact and r.name for r in names)
            assert len({r.name for r in names}) == len(directory.streets)

    def test_district_roles_unique_per_district(self, directory):
        for role in directory.roles:
            if directory.level_of(role) != "district" or role == "流域管理中心":
                continue
            names = {directory.resolve(role, d) for d in DISTRICTS}
            assert len(names) == len(DISTRICTS), role


# ------------------------------------------------------------ place names
class TestPlaces:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [("坪山", "坪山区"), ("坪山区", "坪山区"), ("深圳市坪山区", "坪山区"), (" 大鹏新区 ", "大鹏新区"),
         ("大鹏", "大鹏新区"), ("深汕合作区", "深汕特别合作区"), ("火星区", None), ("", None), (None, None)],
    )
    def test_normalize_district(self, directory, name, expected):
        assert directory.normalize_district(name) == expected

    @pytest.mark.parametrize(
        ("name", "district", "expected"),
        [
            ("坪山街道", None, "坪山街道"),
            ("坪山", None, None),  # ambiguous with 坪山区
            ("坪山", "坪山区", "坪山街道"),
            ("龙华", "龙华区", "龙华街道"),
            ("黄贝", None, "黄贝街道"),
            ("鹅埠", None, "鹅埠镇"),
            ("坪山区坪山街道", None, "坪山街道"),
            ("坪山", "福田区", None),
            ("不存在", None, None),
        ],
    )
    def test_normalize_street(self, directory, name, district, expected):
        assert directory.normalize_street(name, district=district) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("晚上10点后坪山街道坪联路过河大桥下广场舞噪声", ("坪山区", "坪山街道")),
            ("深圳市坪山区坪山街道某小区", ("坪山区", "坪山街道")),
            ("南山区科技园附近", ("南山区", None)),
            ("南山公园旁边坪山河边很吵", (None, None)),
            ("大鹏新区葵涌街道的海边", ("大鹏新区", "葵涌街道")),
            ("葵涌街道", ("大鹏新区", "葵涌街道")),
            ("龙岗区龙城街道", ("龙岗区", "龙城街道")),
            ("", (None, None)),
        ],
    )
    def test_find_places(self, directory, text, expected):
        assert directory.find_places(text) == expected


# ---------------------------------------------------------------- loading
class TestLoad:
    def test_bundled_load_is_cached(self):
        assert DepartmentDirectory.load() is DepartmentDirectory.load()

    def test_missing_column(self, tmp_path):
        path = tmp_path / "d.csv"
        path.write_text("unit_id,name,role\nU1,x,y\n", encoding="utf-8")
        with pytest.raises(CatalogError, match=r"expected columns \[.*\], found \['unit_id', 'name', 'role'\]"):
            DepartmentDirectory.load(path)

    def test_bad_level_names_row(self, tmp_path):
        path = tmp_path / "d.csv"
        path.write_text(
            "unit_id,name,role,level,district,street,covers,parent\nU1,深圳市公安局,市公安局,city,,,,\n"
            "U2,某局,某局,province,,,,\n",
            encoding="utf-8",
        )
        with pytest.raises(CatalogError, match="row 3: level 'province'"):
            DepartmentDirectory.load(path)

    def test_to_frame(self, directory):
        frame = directory.to_frame()
        assert list(frame.columns) == ["unit_id", "name", "role", "level", "district", "street", "covers", "parent",
                                       "community", "keywords"]
        assert len(frame) == len(directory.units)
