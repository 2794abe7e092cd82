"""Place mentions in complaint text: compounds, roads, schools, companies, facilities, streets, districts.

Hot issues are "many people, one place": to group tickets by place the text
must name it. This module finds place *mentions* generically, from the shape
of Chinese place names (a name body followed by a typing suffix such as
``小区``, ``花园``, ``路``, ``小学`` or ``公司``), plus the district and street
the directory's gazetteer infers (a community, a landmark, a street written
without ``街道``). It does not know which community an arbitrary compound
belongs to; :func:`locate` turns the mentions into one district and street.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._places import locate as locate_jurisdiction

__all__ = ["ADMIN_NAMES", "ROAD_SUFFIXES", "PlaceMention", "extract_places", "place_key", "locate", "merge_aliases", "KIND_ORDER"]

#: Kinds of mention, most specific first.
KIND_ORDER = ("compound", "company", "school", "facility", "road", "street", "district")

_CJK = "\u4e00-\u9fff"
_BODY = f"[{_CJK}A-Za-z0-9]"

# suffix -> kind; longer suffixes first so "花园" wins over "园"
_SUFFIXES = {
    "compound": ("小区", "花园", "家园", "新村", "公寓", "公馆", "山庄", "华庭", "雅居", "名苑", "苑", "城", "大厦"),
    "company": ("有限公司", "公司", "集团", "工厂", "厂", "银行", "酒店", "宾馆", "超市", "商场"),
    "school": ("幼儿园", "小学", "中学", "大学", "学院", "学校"),
    "facility": ("公园", "医院", "卫生院", "市场", "菜市场", "地铁站", "车站", "垃圾站", "搅拌站", "广场",
                 "体育馆", "图书馆", "物流园", "产业园", "工业园", "停车场", "加油站", "充电站"),
    "road": ("大道", "路", "街", "巷", "高速", "立交", "大桥"),
}
#: Suffixes that make a name a road.
ROAD_SUFFIXES = _SUFFIXES["road"]
_SUFFIX_KIND = {s: k for k, ss in _SUFFIXES.items() for s in ss}
_SUFFIX_RE = "|".join(sorted(_SUFFIX_KIND, key=lambda s: (-len(s), s)))
# a brand or organisation written with Latin letters or digits ("58车贷", "ofo单车"), not a quantity
_BRAND = re.compile(r"(?<![A-Za-z0-9.])([A-Za-z0-9]{1,6})([\u4e00-\u9fff]{2})")
_UNIT_CHARS = frozenset("年月日号栋幢楼层室元万千百个期次岁人户路条天届分秒点时周米吨公平里余多至后前名家位辆台厘毫克斤度倍")
_NOT_BRANDS = frozenset("车道 公里 小时 分钟 年前 个月 多个 以上 以下 左右 余人 多人 万元 平米".split())
_NAME = re.compile(f"({_BODY}{{2,7}}?)({_SUFFIX_RE})(?!道|办|口|市)")

# Words that end a name body: a name never spans them.
_BREAK_WORDS = (
    "关于", "反映", "投诉", "举报", "咨询", "请问", "建议", "希望", "要求", "恳请", "请求", "位于", "附近",
    "旁边", "门口", "对面", "周边", "里面", "内部", "以及", "还有", "业主", "居民", "市民", "村民", "我们",
    "开发商", "经过", "造成", "自己", "任由", "作为", "因为", "距离", "亦无",
    "旁", "的", "在", "和", "与", "及", "对", "向", "从", "把", "被", "给", "让", "是", "了", "于", "到", "至",
)
# pseudonymised units such as "A市", "A2区", "西地省"
_PSEUDO_ADMIN = re.compile(f"[A-Z]\\d{{0,2}}(?:市|区|县)|[{_CJK}]{{2}}省")
#: Pseudonymised administrative names (``A市``, ``A2区``, ``西地省``), removed before comparing texts.
ADMIN_NAMES = _PSEUDO_ADMIN
# a pseudonymised city or county, or a lettered district with a number: a text from another city
# ("B区" alone may be a block of a Shenzhen compound)
_OTHER_CITY = re.compile(r"[A-Z]\d{0,2}[市县]|[A-Z]\d{1,2}区")
_GENERIC_STREET = re.compile(f"([{_CJK}]{{2,4}}?)(街道|镇)(?!府)")
_BREAK = re.compile(
    "[^" + _CJK + "A-Za-z0-9]+|" + "|".join(_BREAK_WORDS)
)
# Name bodies too generic to identify one place.
_GENERIC_BODIES = frozenset(
    "物业 开发 房地产 建筑 建设 装修 中介 培训 保险 快递 电力 供电 燃气 自来水 公交 出租 运营 施工 安置 "
    "一期 二期 三期 四期 五期 老旧 城区 县城 市区 主城 新城 老城 全城 进城 商业 步行 这个 那个 一个 整个 "
    "地产 房产 农贸 国家中心 水泥 国际 公交线 有限 中心 人民 实验 职业技术 理工 本小 该小 我小 附近小 "
    "地下 地上 属下 大型 小型 民办 公办 私立 公立 国有 私营 某某 相关 有关 当地 本地 外地".split()
)
_BAD_PREFIX = ("本", "该", "我", "这", "此", "某", "各", "每", "全", "那", "其", "其他", "所有", "一家", "一所")
_GENERIC_NAMES = frozenset("国际城 新城 花园 家园 小区 公寓 广场 大厦 市场 公园 医院 学校".split())


@dataclass(frozen=True)
class PlaceMention:
    """One place named in a text.

    Attributes
    ----------
    name : str
        The name as written, with a trailing ``小区`` dropped when the rest is
        itself a compound name (``丽发新城小区`` -> ``丽发新城``).
    kind : str
        One of :data:`KIND_ORDER`.
    start : int
        Offset of the mention in the text it was found in.
    """

    name: str
    kind: str
    start: int

    def to_dict(self) -> dict:
        """Return the mention as a JSON-ready dict."""
        return {"name": self.name, "kind": self.kind, "start": self.start}


def _segments(text):
    """Yield (offset, segment) pieces of ``text`` between breaks (punctuation, function words)."""
    pos = 0
    for m in _BREAK.finditer(text):
        if m.start() > pos:
            yield pos, text[pos:m.start()]
        pos = m.end()
    if pos < len(text):
        yield pos, text[pos:]


def _clean_name(body, suffix):
    """Return the normalised name, or None when it is too generic to name one place."""
    for p in _BAD_PREFIX:
        if body.startswith(p):
            return None
    if body in _GENERIC_BODIES or body.isdigit():
        return None
    name = body + suffix
    if suffix == "小区" and len(body) >= 3 and any(body.endswith(s) for s in _SUFFIXES["compound"][1:]):
        name = body  # "丽发新城小区" names the compound "丽发新城"
    if name in _GENERIC_NAMES:
        return None
    return name


def _admin_mentions(text, directory):
    """Districts and streets: the directory's gazetteer, pseudonymised units and generic 街道/镇.

    The gazetteer (:func:`sujian_router.places.locate`) also turns a community
    (``桂木园社区``), a landmark (``世界之窗``) or a street written without
    ``街道`` (``在坂田``) into its street and district, so tickets that name
    only such a place still get one. A text that names a pseudonymised city,
    county or numbered district (``A市``, ``A3区``) comes from elsewhere: its
    ``新村``, ``桂园`` or ``北站`` are not Shenzhen's, so the gazetteer is not asked.
    """
    found = []
    if directory is not None and not _OTHER_CITY.search(text):
        where = locate_jurisdiction(directory, text)
        at = _evidence_start(text, where.match.evidence)
        if where.street:
            found.append(PlaceMention(where.street, "street", _name_start(text, where.street, at)))
        if where.district:
            found.append(PlaceMention(where.district, "district", _name_start(text, where.district, at)))
    for m in _PSEUDO_ADMIN.finditer(text):
        if m.group(0)[-1] in "区县":
            found.append(PlaceMention(m.group(0), "district", m.start()))
    return found


def _evidence_start(text, evidence):
    """Offset of the first place name the gazetteer used (``地标世界之窗`` -> where ``世界之窗`` is), else 0."""
    for item in evidence:
        for cut in range(0, min(2, len(item) - 1) + 1):
            pos = text.find(item[cut:])
            if pos >= 0:
                return pos
    return 0


def _name_start(text, name, default):
    """Offset of ``name`` (or its first two characters) in ``text``, else ``default``."""
    for probe in (name, name[:2]):
        pos = text.find(probe)
        if pos >= 0:
            return pos
    return default


def extract_places(text, directory=None):
    """Find the places a complaint names, in text order.

    Parameters
    ----------
    text : str
        The complaint (title and body).
    directory : DepartmentDirectory, optional
        Its districts and streets are recognised as well (``坪山街道``).

    Returns
    -------
    tuple of PlaceMention
        Specific places (compounds, companies, schools, facilities, roads)
        and administrative ones (streets, districts), ordered by position.

    Examples
    --------
    >>> [(m.name, m.kind) for m in extract_places("投诉A2区丽发新城小区旁搅拌站噪音扰民")]
    [('A2区', 'district'), ('丽发新城', 'compound')]
    >>> [(m.name, m.kind) for m in extract_places("东四路与东六路交汇处红绿灯太短，泉塘街道")]
    [('东四路', 'road'), ('东六路', 'road'), ('泉塘街道', 'street')]
    """
    if not isinstance(text, str) or not text:
        return ()
    found = _admin_mentions(text, directory)
    plain = _PSEUDO_ADMIN.sub(lambda m: "，" * len(m.group(0)), text)
    for m in found:  # a known street or district is never part of another name ("坪山区坪山街道")
        plain = plain.replace(m.name, "，" * len(m.name))
    seen_streets = {m.name for m in found}
    for off, seg in _segments(plain):
        for m in _GENERIC_STREET.finditer(seg):
            name = m.group(0)
            if name not in seen_streets and m.group(1) not in _GENERIC_BODIES:
                seen_streets.add(name)
                found.append(PlaceMention(name, "street", off + m.start()))
        seg = _GENERIC_STREET.sub(lambda m: "，" * len(m.group(0)), seg)
        found.extend(_brands(seg, off))
        for m in _NAME.finditer(seg):
            name = _clean_name(m.group(1), m.group(2))
            if name:
                found.append(PlaceMention(name, _SUFFIX_KIND[m.group(2)], off + m.start()))
    return tuple(sorted(found, key=lambda x: (x.start, KIND_ORDER.index(x.kind), x.name)))


def _brands(seg, off):
    """Brand-like names: Latin letters or digits followed by two Chinese characters that are no unit."""
    out = []
    for m in _BRAND.finditer(seg):
        latin, han = m.group(1), m.group(2)
        if han[0] in _UNIT_CHARS or han in _NOT_BRANDS or latin.isdigit() and len(latin) >= 4:
            continue
        if any(c.isdigit() for c in latin) or len(latin) >= 2:
            out.append(PlaceMention(latin.lower() + han, "company", off + m.start()))
    return out


def place_key(mentions):
    """Return the primary place of a ticket: its first named site, else its first road.

    Sites (compounds, companies, schools, facilities) come before roads
    because a road is often only the way to find the site; among sites the
    first one named wins, as titles name the place they are about first.
    Administrative mentions (streets, districts) never make a key: a whole
    street is too wide for "one place".

    Examples
    --------
    >>> place_key(extract_places("A7县泉塘街道东四路口，泉星公园施工"))
    '泉星公园'
    >>> place_key(extract_places("涉外经济学院寒假组织学生去电子厂打工"))
    '涉外经济学院'
    >>> place_key(extract_places("A7县泉塘街道施工扰民")) is None
    True
    """
    best = None
    for m in mentions:
        if m.kind in ("street", "district"):
            continue
        tier = 1 if m.kind == "road" else 0
        if best is None or tier < best[0]:
            best = (tier, m.name)
    return None if best is None else best[1]


def locate(mentions, *, district=None, street=None):
    """Turn a ticket's mentions (and its given district/street) into (district, street).

    A district or street given with the ticket wins over the text. This is
    the one step a gazetteer of compounds and landmarks can refine later
    (resolving ``丽发新城`` to its street).

    Examples
    --------
    >>> locate(extract_places("A7县泉塘街道东四路"))
    ('A7县', '泉塘街道')
    >>> locate((), district="坪山区")
    ('坪山区', None)
    """
    d = district or next((m.name for m in mentions if m.kind == "district"), None)
    s = street or next((m.name for m in mentions if m.kind == "street"), None)
    return d, s


def merge_aliases(keys):
    """Map each place key to the shortest other key it ends with (``万科魅力之城`` -> ``魅力之城``).

    Only a key of at least three characters that is not a generic name can
    absorb longer ones; each key maps to the shortest such suffix, so the
    result does not depend on input order.

    Parameters
    ----------
    keys : iterable of str

    Returns
    -------
    dict
        key -> canonical key (keys without an alias map to themselves).

    Examples
    --------
    >>> merge_aliases(["万科魅力之城", "魅力之城", "伊景园滨河苑", "滨河苑", "辉煌国际城", "国际城"])["万科魅力之城"]
    '魅力之城'
    >>> merge_aliases(["辉煌国际城", "国际城"])["辉煌国际城"]
    '辉煌国际城'
    """
    keys = sorted(set(k for k in keys if k))
    canon = set(k for k in keys if len(k) >= 3 and k not in _GENERIC_NAMES)
    out = {}
    for k in keys:
        best = k
        for n in range(3, len(k)):
            tail = k[len(k) - n:]
            if tail in canon:
                best = tail
                break
        out[k] = best
    return out
