"""Synthetic labelled tickets for tests, benchmarks and the bundled default model.

Every frame this module returns has ``synthetic == True`` on every row and every
ticket id starts with ``SYN-``: synthetic tickets must never be mistaken for
real citizens' complaints.

A ticket is built from one duty item (its ``phrasings`` first, then its
``keywords``, ``name`` and ``subcategory``; in training families also the
words of its ``scope``), a place in Shenzhen (district, street, an invented but
plausible landmark, sometimes a village or town), a time, an impact, a demand
and a *template family* that decides structure and register (polite, angry,
terse, an operator's summary, a speech transcript, a letter to an official, a
list of several problems, a question quoting the item's law, pinyin and
English mixed in...). A quarter to a third of the families are held out of
training (``split="train"`` never uses them), in the same registers as the
training families, so that figures measured on ``split="heldout"`` tickets
are not flattered by templates the model has already seen.

The generator only reads attributes of the items (``code``, ``name``,
``category``, ``subcategory``, ``keywords``, ``phrasings`` and, when present,
``scope`` and ``legal_basis``), so any iterable of objects with those
attributes can stand in for the real catalog.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .exceptions import CatalogError, TicketSchemaError, UnknownDutyError

__all__ = [
    "TEMPLATE_FAMILIES",
    "TemplateFamily",
    "generate_tickets",
    "iter_tickets",
    "write_export",
]

#: Canonical columns of a synthetic ticket frame, in order.
COLUMNS = (
    "ticket_id",
    "text",
    "label",
    "category",
    "district",
    "street",
    "received_at",
    "template_family",
    "synthetic",
)

_SPLITS = ("train", "heldout", "all")
_EXPORT_FORMATS = ("csv", "xlsx")
_EXPORT_COLUMNS = ("zh", "canonical")
_XLSX_MAX_ROWS = 1_048_575  # one row is the header

# ---------------------------------------------------------------------------
# Random stream: all randomness comes from one numpy Generator, drawn in blocks
# so that per-ticket choices stay cheap Python operations.
# ---------------------------------------------------------------------------


class _Stream:
    """Uniform numbers from a numpy ``Generator``, consumed one at a time.

    ``u()`` is a C-level ``next`` over blocks of ``rng.random`` (no Python frame
    per draw), which keeps the generator at tens of microseconds per ticket.
    """

    __slots__ = ("u",)

    def __init__(self, rng, block=16384):
        def blocks():
            while True:
                yield rng.random(block).tolist()

        self.u = functools.partial(next, itertools.chain.from_iterable(blocks()))

    def pick(self, seq):
        return seq[int(self.u() * len(seq))]

    def chance(self, p):
        return self.u() < p

    def randint(self, lo, hi):
        """Integer in ``[lo, hi]`` (both included)."""
        return lo + int(self.u() * (hi - lo + 1))

    def weighted(self, seq, cum):
        return seq[min(bisect.bisect_right(cum, self.u() * cum[-1]), len(seq) - 1)]


def _cumulative(weights):
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


# ---------------------------------------------------------------------------
# Places. District and street names are the official ones (74 streets of the
# 9 coded districts plus 大鹏新区, and the 4 towns of 深汕特别合作区); roads and
# metro stations are a few well-known ones per district; estates, villages,
# industrial parks and shops are invented by small generators.
# ---------------------------------------------------------------------------

# (district, short name, relative ticket weight ~ population, streets)
_DISTRICTS = (
    ("福田区", "福田", 1.6, ("南园街道", "园岭街道", "福田街道", "沙头街道", "香蜜湖街道", "梅林街道",
                           "莲花街道", "华富街道", "福保街道", "华强北街道")),
    ("罗湖区", "罗湖", 1.1, ("桂园街道", "黄贝街道", "东门街道", "翠竹街道", "南湖街道", "笋岗街道",
                           "东湖街道", "莲塘街道", "东晓街道", "清水河街道")),
    ("南山区", "南山", 1.8, ("南头街道", "南山街道", "沙河街道", "蛇口街道", "招商街道", "粤海街道",
                           "桃源街道", "西丽街道")),
    ("宝安区", "宝安", 4.5, ("新安街道", "西乡街道", "航城街道", "福永街道", "福海街道", "沙井街道",
                           "新桥街道", "松岗街道", "燕罗街道", "石岩街道")),
    ("龙岗区", "龙岗", 4.0, ("平湖街道", "坪地街道", "南湾街道", "坂田街道", "布吉街道", "龙城街道",
                           "龙岗街道", "横岗街道", "吉华街道", "宝龙街道", "园山街道")),
    ("盐田区", "盐田", 0.25, ("梅沙街道", "盐田街道", "沙头角街道", "海山街道")),
    ("龙华区", "龙华", 2.5, ("观湖街道", "民治街道", "龙华街道", "大浪街道", "福城街道", "观澜街道")),
    ("坪山区", "坪山", 0.6, ("坪山街道", "马峦街道", "碧岭街道", "石井街道", "坑梓街道", "龙田街道")),
    ("光明区", "光明", 1.1, ("光明街道", "公明街道", "新湖街道", "凤凰街道", "玉塘街道", "马田街道")),
    ("大鹏新区", "大鹏", 0.15, ("葵涌街道", "大鹏街道", "南澳街道")),
    ("深汕特别合作区", "深汕", 0.08, ("鹅埠镇", "小漠镇", "鲘门镇", "赤石镇")),
)
_DISTRICT_CUM = _cumulative(d[2] for d in _DISTRICTS)

_ROADS = {
    "福田": ("深南大道", "滨河大道", "红荔路", "彩田路", "福华路", "新洲路", "皇岗路", "北环大道"),
    "罗湖": ("深南东路", "东门中路", "人民南路", "布心路", "沿河北路", "爱国路", "太宁路"),
    "南山": ("南海大道", "科苑路", "沙河西路", "后海大道", "南山大道", "留仙大道", "深南大道"),
    "宝安": ("宝安大道", "新安六路", "西乡大道", "107国道", "松白路", "航城大道", "创业一路"),
    "龙岗": ("龙岗大道", "布龙路", "深惠路", "吉华路", "坂雪岗大道", "龙翔大道", "爱联路"),
    "盐田": ("沙头角路", "深盐路", "海景二路", "盐田路", "北山道"),
    "龙华": ("民治大道", "梅观路", "人民路", "东环二路", "观澜大道", "梅龙大道", "布龙路"),
    "坪山": ("坪山大道", "深汕路", "金牛路", "东纵路", "丹梓大道", "锦龙大道"),
    "光明": ("光明大道", "公明南环大道", "华夏路", "松白路", "光侨路", "观光路"),
}
_METRO = {
    "福田": ("车公庙", "会展中心", "岗厦北", "华强北", "购物公园", "景田", "香蜜湖"),
    "罗湖": ("老街", "国贸", "大剧院", "黄贝岭", "翠竹", "布心"),
    "南山": ("科苑", "深大", "后海", "西丽", "桃园", "蛇口港"),
    "宝安": ("宝安中心", "西乡", "坪洲", "固戍", "碧海湾", "福永", "沙井", "松岗"),
    "龙岗": ("布吉", "大运", "龙城广场", "双龙", "坂田", "南联", "横岗", "木棉湾"),
    "盐田": ("沙头角", "海山", "盐田路"),
    "龙华": ("民治", "红山", "深圳北站", "龙华", "清湖", "观澜"),
    "坪山": ("坪山围", "坪山广场", "坪山中心"),
    "光明": ("光明大街", "公明广场", "凤凰城"),
}
_NICE = "金碧翠锦华龙御海星景福万富丽阳光天润桃香城湾宝泰和嘉怡康安瑞祥鸿雅凯美恒信盛荔枫松"
_ESTATE_SUFFIX = ("花园", "苑", "华庭", "家园", "名苑", "豪庭", "雅居", "新村", "公馆", "嘉园", "山庄",
                  "大厦", "公寓", "小区", "花园二期", "城", "府")
_SURNAMES = "黄李陈张罗吴郑刘曾何钟叶梁邓王林蔡赖潘麦"
_VILLAGE_SUFFIX = ("屋村", "围村", "坑村", "田村", "岗村", "贝村", "湖村", "老村", "新村")
_NUM = ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十")
_SPOT = ("门口", "对面", "旁边", "附近", "楼下", "后面", "路口", "边上", "里面", "")
_HOURS = ("十二", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十", "十一")


def _two(s):
    return s.pick(_NICE) + s.pick(_NICE)


def _estate(s):
    name = _two(s) + s.pick(_ESTATE_SUFFIX)
    r = s.u()
    if r < 0.3:
        name += f"{s.randint(1, 28)}栋"
    elif r < 0.4:
        name += f"{s.pick('ABCDE')}座"
    elif r < 0.5:
        name += f"{s.randint(1, 15)}栋{s.randint(1, 4)}单元"
    return name


def _place(s, short, street_short):
    """A landmark phrase such as ``"金华苑3栋门口"`` or ``"西乡地铁站附近"``."""
    r = s.u()
    if r < 0.34:
        return _estate(s) + s.pick(("", "", "楼下", "门口", "里面", "地下车库", "小区里"))
    if r < 0.52:
        roads = _ROADS.get(short)
        if roads and s.chance(0.6):
            road = s.pick(roads)
        else:
            road = _two(s) + s.pick(("路", "路", "街", "大道", f"{s.pick(_NUM[:5])}路"))
        if s.chance(0.25):
            other = _two(s) + "路"
            return f"{road}与{other}交叉口"
        return road + s.pick(("", "边上", "附近", f"{s.randint(2, 388)}号", "人行道上", "公交站"))
    if r < 0.64:
        return s.pick(_SURNAMES) + s.pick(_VILLAGE_SUFFIX) + s.pick(("", "城中村", "里面", "巷子里"))
    if r < 0.72:
        r2 = s.u()
        if r2 < 0.4:
            park = _two(s) + s.pick(("工业园", "科技园", "产业园"))
        elif r2 < 0.7:
            park = f"{street_short}第{s.pick(_NUM)}工业区"
        else:
            park = f"{street_short}{s.pick(('工业区', '物流园', '工业园'))}"
        return park + s.pick(("", "里面", "门口", f"{s.pick('ABCDEF')}栋"))
    if r < 0.80:
        stations = _METRO.get(short)
        if stations:
            return s.pick(stations) + s.pick(("地铁站", "站")) + s.pick(
                ("", f"{s.pick('ABCD')}出口", "附近", "出口那里"))
        return _two(s) + "公交站" + s.pick(("", "附近"))
    kind = s.u()
    if kind < 0.25:
        base = _two(s) + s.pick(("公园", "广场", "文体中心"))
    elif kind < 0.45:
        base = (street_short if s.chance(0.5) else _two(s)) + s.pick(("小学", "中学", "幼儿园", "实验学校"))
    elif kind < 0.65:
        base = _two(s) + s.pick(("市场", "农贸市场", "菜市场"))
    elif kind < 0.85:
        base = _two(s) + s.pick(("购物中心", "商业街", "广场", "天地"))
    else:
        base = f"{short}" + s.pick(("人民医院", "中医院", "妇幼保健院")) if s.chance(0.5) else \
            f"{street_short}社康中心"
    return base + s.pick(_SPOT)


def _area(s, district, short, street, street_short):
    """How the citizen names the district and street (often not at all)."""
    r = s.u()
    if r < 0.25:
        return f"{district}{street}"
    if r < 0.42:
        return f"{short}{street_short}" if short != street_short else f"{district}{street}"
    if r < 0.55:
        return street
    if r < 0.63:
        return district
    return ""


# ---------------------------------------------------------------------------
# Register lexicons
# ---------------------------------------------------------------------------

_WHEN_DAY = ("最近", "这段时间", "这几天", "从上个月开始", "已经一个多月了，", "每天", "天天", "昨天下午",
             "今天早上", "周末", "好几天了，", "近半年来", "今年以来", "从年初到现在", "前两天", "", "", "")
_IMPACT = ("严重影响居民正常生活", "大家意见都很大", "给生活带来很大不便", "存在安全隐患", "老人小孩都受影响",
           "影响很不好", "周边居民苦不堪言", "真的很影响生活", "对我们影响很大", "有损城市形象")
_IMPACT_TOPIC = {
    "noise": ("晚上根本睡不着觉", "孩子没法写作业", "老人心脏不好被吵得受不了", "吵得人神经衰弱", "白天上班晚上还休息不好"),
    "traffic": ("出行很不方便", "差点撞到人", "早晚高峰堵得要命", "小孩上学过马路很危险", "车都开不进去"),
    "water": ("家里没法正常用水", "一下雨就淹", "臭味熏得窗户都不敢开", "蚊子苍蝇特别多"),
    "money": ("钱到现在都没拿到", "损失好几千块", "一家人生活都成问题", "维权无门"),
    "danger": ("随时可能出事", "万一出事谁负责", "已经有人差点受伤", "住在这里提心吊胆"),
}
_DEMAND = ("请相关部门尽快处理", "希望有关部门管一管", "麻烦派人来看一下", "请尽快解决", "希望政府重视",
           "请给个说法", "请相关部门核实处理", "希望能彻底解决", "请尽快安排人员处理并回复", "恳请领导重视",
           "希望尽快整改", "请依法处理")
_DEMAND_TOPIC = {
    "money": ("要求退款", "希望帮忙追回", "要求赔偿损失", "希望帮忙协调解决"),
    "danger": ("请马上派人排查", "请尽快消除隐患", "请立即处理"),
}
_HISTORY = ("之前打过12345好几次都没解决", "已经投诉过三次了", "物业说不归他们管", "社区说管不了",
            "找过街道办，说会处理，结果没下文", "上次回复说已处理，其实根本没变化", "反映了半年了",
            "打电话给相关单位也没人接")
_ANGRY = ("到底有没有人管", "你们是干什么吃的", "太过分了", "再不处理我就找媒体曝光", "我要投诉到市里",
          "简直无法无天", "气死人了", "能不能管一管啊", "真的忍无可忍了")
_OPEN_POLITE = ("您好，", "你好，", "您好！", "领导您好，", "12345您好，", "你好，我想反映一个问题，",
                "您好，麻烦帮忙看一下，")
_OPEN_COLLOQ = ("反映一下，", "跟你们说个事，", "喂，", "哎，", "你好，", "我说一下啊，", "")
_PARTICLE = ("啊", "呀", "啦", "哈", "嘛", "")
_DANGER = ("随时可能出事", "已经有人受伤了", "非常危险", "情况很急", "周围都是居民")
_EVIDENCE = ("我有照片和视频", "附近居民都可以作证", "我拍了视频", "已经存了证据", "")
_FILLERS = ("那个", "就是", "嗯", "就是说", "然后", "呃")
_EMOJI = ("😡", "🙏", "😤", "😭")

# Topic detection (once per item) picks the impact/demand pools that fit:
# first from the category name, then from narrow cues in name and subcategory.
_TOPIC_BY_CATEGORY = (
    ("noise", ("噪声",)),
    ("traffic", ("交通",)),
    ("water", ("水务", "排水")),
    ("danger", ("安全生产", "消防")),
    ("money", ("消费", "劳动", "社会保障", "医保", "税务", "公积金", "金融")),
)
_TOPIC_CUES = (
    ("noise", ("噪", "吵", "鸣笛", "广场舞", "喇叭")),
    ("danger", ("燃气", "火灾", "危险", "隐患", "倒塌", "坍塌", "触电", "消防")),
    ("water", ("积水", "内涝", "漏水", "停水", "水压", "下水道", "化粪池", "污水")),
    ("traffic", ("停车", "公交", "地铁", "交通", "红绿灯", "驾驶")),
    ("money", ("工资", "欠薪", "退款", "押金", "收费", "社保", "价格", "消费")),
)

# Typos: homophone / look-alike confusions seen in hand-typed and dictated text.
_TYPOS = (("反映", "反应"), ("已经", "以经"), ("在", "再"), ("的", "得"), ("处理", "处里"),
          ("噪音", "燥音"), ("投诉", "投述"), ("严重", "严肿"), ("部门", "步门"), ("马上", "马尚"),
          ("麻烦", "麻凡"), ("安全", "按全"), ("管理", "管里"), ("到底", "倒底"), ("现在", "线在"),
          ("这个", "这各"), ("没有", "没用"), ("辛苦", "幸苦"))
_LAW_NAME = re.compile(r"《[^》]{2,40}》(第[一二三四五六七八九十百零]+条)?")
_PUNCT = re.compile(r"[，。！？；：,.!?;:\s]+")
_TRAIL = "，。！？；、,.!?; "


# ---------------------------------------------------------------------------
# Items
# ---------------------------------------------------------------------------


def _as_list(value):
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split("|") if v.strip())
    return tuple(str(v).strip() for v in value if str(v).strip())


class _Profile:
    """What the generator needs from one duty item, computed once."""

    __slots__ = ("code", "name", "category", "subcategory", "keywords", "phrasings", "topic", "plate_rate", "law",
                 "scope")

    def __init__(self, item, position):
        try:
            self.code = str(item.code)
            self.name = str(item.name)
        except AttributeError as exc:
            raise CatalogError(
                [f"item {position} ({item!r:.60}): missing attribute {exc.name!r}"],
                source="catalog passed to the synthetic ticket generator",
            ) from None
        self.category = str(getattr(item, "category", "") or "")
        self.subcategory = str(getattr(item, "subcategory", "") or "")
        self.keywords = _as_list(getattr(item, "keywords", None))
        self.phrasings = tuple(p.rstrip(_TRAIL) for p in _as_list(getattr(item, "phrasings", None)))
        self.topic = next((t for t, cues in _TOPIC_BY_CATEGORY if any(c in self.category for c in cues)), None)
        if self.topic is None:
            blob = self.name + self.subcategory
            self.topic = next((t for t, cues in _TOPIC_CUES if any(c in blob for c in cues)), None)
        self.plate_rate = 0.12 if self.topic == "traffic" else 0.01
        law = _LAW_NAME.match(str(getattr(item, "legal_basis", "") or ""))
        self.law = law.group(0) if law else ""
        # what the item covers, without its exclusions (``…；不含…``): the catalog's own description
        self.scope = re.split(r"[；;]\s*不含", str(getattr(item, "scope", "") or ""))[0].strip(_TRAIL)


def _profiles(catalog):
    if catalog is None:
        from . import load_catalog  # imported lazily: the catalog is read on first use

        catalog = load_catalog()
    if isinstance(catalog, Mapping):
        catalog = catalog.values()
    profiles = [_Profile(item, i) for i, item in enumerate(catalog)]
    if not profiles:
        raise CatalogError(["no duty items"], source="catalog passed to the synthetic ticket generator")
    seen = {}
    for i, p in enumerate(profiles):
        if p.code in seen:
            raise CatalogError(
                [f"item {i}: duplicate code {p.code!r} (first at item {seen[p.code]})"],
                source="catalog passed to the synthetic ticket generator",
            )
        seen[p.code] = i
    return profiles


def _select(profiles, items, where):
    if items is None:
        return profiles
    items = [items] if isinstance(items, str) else list(items)
    wanted = set(items)
    known = {p.code for p in profiles}
    for code in items:
        if code not in known:
            raise UnknownDutyError(code, where=f"`items` argument of {where}")
    return [p for p in profiles if p.code in wanted]


# How a citizen frames a keyword or the official name. Training and held-out
# families use disjoint framings, so held-out figures also test wording the
# model has not seen around the item signal.
_FRAMES = {
    False: {
        "suffix": ("，{kw}问题很严重", "，就是{kw}", "，属于{kw}吧", "，{kw}太厉害了"),
        "keyword": ("有{kw}的情况", "{kw}的问题一直没解决", "存在{kw}现象", "发现有{kw}", "{kw}很严重",
                    "{kw}、{kw2}问题突出"),
        "name": ("{name}问题", "存在{name}的情况", "{name}的事没人管"),
        "sub": "{sub}方面有问题，具体是{kw}",
    },
    True: {
        "suffix": ("，这种{kw}谁来管", "，{kw}越来越多了", "，典型的{kw}"),
        "keyword": ("碰到{kw}这种事", "{kw}这个事情", "{kw}搞了好久了", "这里{kw}和{kw2}都有", "又出现{kw}了"),
        "name": ("遇到{name}", "{name}这种情况", "关于{name}"),
        "sub": "是{sub}的事，{kw}",
    },
}


#: Share of training-family tickets that describe the problem in the words of the item's scope
#: (held-out families never do, so held-out figures are not flattered by the catalog's wording).
_SCOPE_RATE = 0.15
_SCOPE_FRAMES = ("{scope}", "存在{scope}的问题", "{scope}，这种情况")


def _core(s, p, heldout=False):
    """The problem itself, in the citizen's words (the item signal)."""
    frames = _FRAMES[heldout]
    kws = p.keywords or (p.name,)
    phr = p.phrasings
    if not heldout and p.scope and s.chance(_SCOPE_RATE):
        return s.pick(_SCOPE_FRAMES).format(scope=p.scope)
    r = s.u()
    if phr and r < 0.5:
        return s.pick(phr)
    if phr and r < 0.63:
        return s.pick(phr) + s.pick(frames["suffix"]).format(kw=s.pick(kws))
    if phr and r < 0.68 and len(phr) > 1:
        a = s.pick(phr)
        b = s.pick(phr)
        return a if a == b else f"{a}，而且{b}"
    if r < 0.86:
        kw = s.pick(kws)
        kw2 = s.pick(kws)
        frame = s.pick(frames["keyword"])
        if kw2 == kw and "{kw2}" in frame:
            frame = frames["keyword"][0]
        return frame.format(kw=kw, kw2=kw2)
    if r < 0.94 or not p.subcategory:
        return s.pick(frames["name"]).format(name=p.name)
    return frames["sub"].format(sub=p.subcategory, kw=s.pick(kws))


def _phone(s):
    digits = s.pick(("13", "13", "15", "18", "17", "19")) + str(s.randint(0, 9)) + "".join(
        str(s.randint(0, 9)) for _ in range(8))
    r = s.u()
    if r < 0.15:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if r < 0.25:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if r < 0.33:  # typed with a full-width keyboard: normalisation must undo it before masking
        return digits.translate(_FULL_WIDTH_DIGITS)
    return digits


_FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def _plate(s):
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    city = "B" if s.chance(0.8) else s.pick("ADEFLS")
    if s.chance(0.3):
        tail = s.pick("DF") + "".join(str(s.randint(0, 9)) for _ in range(5))
    else:
        tail = "".join(s.pick(letters) if s.chance(0.3) else str(s.randint(0, 9)) for _ in range(5))
    return f"粤{city}{'·' if s.chance(0.15) else ''}{tail}"


def _pii(s, p):
    """``(kind, clause)``: the citizen's phone, an offending car's plate, or nothing."""
    if s.chance(p.plate_rate):
        return "plate", s.pick(("车牌号", "车牌", "一辆")) + _plate(s) + s.pick(("的车", "", "的小车"))
    if s.chance(0.06):
        return "phone", s.pick(("我的电话是", "联系电话：", "有事打我电话", "电话", "回电")) + _phone(s)
    return "", ""


class _Ctx:
    """The parts of one ticket; template families arrange them."""

    __slots__ = ("core", "extra", "place", "area", "when", "impact", "demand", "history", "pii", "pii_kind", "kw",
                 "other_kws", "law")


def _when(s, hour):
    if (hour >= 22 or hour < 6) and s.chance(0.35):
        prefix = "凌晨" if hour < 6 else "晚上"
        return s.pick((f"现在都{prefix}{_HOURS[hour % 12]}点多了，", f"{prefix}{_HOURS[hour % 12]}点了还",
                       "大半夜的，", "这么晚了，"))
    return s.pick(_WHEN_DAY)


def _context(s, p, others, hour, district, short, street, street_short, multi_rate, fam):
    heldout = fam.heldout
    c = _Ctx()
    c.core = _core(s, p, heldout)
    c.kw = s.pick(p.keywords) if p.keywords else p.name
    c.law = p.law
    c.extra = ""
    c.other_kws = ()
    if fam.register == "multi":  # a multi-problem family: the other problems are named, not appended
        if others and s.chance(min(1.0, multi_rate * _MULTI_FAMILY_BOOST)):
            c.other_kws = tuple(s.pick(o.keywords) if o.keywords else o.name for o in others)
    elif others and s.chance(multi_rate):
        c.extra = s.pick(("另外还有个事，", "顺便反映一下，", "还有，", "另外，")) + _core(s, others[0], heldout)
    c.place = _place(s, short, street_short)
    c.area = _area(s, district, short, street, street_short)
    c.when = _when(s, hour)
    topic = _IMPACT_TOPIC.get(p.topic)
    c.impact = s.pick(topic) if topic and s.chance(0.5) else s.pick(_IMPACT)
    dem = _DEMAND_TOPIC.get(p.topic)
    c.demand = s.pick(dem) if dem and s.chance(0.4) else s.pick(_DEMAND)
    c.history = s.pick(_HISTORY)
    c.pii_kind, c.pii = _pii(s, p)
    return c


def _x(c, sep="，"):
    """The second problem (if any) as a clause ending with ``sep``."""
    return f"{c.extra}{sep}" if c.extra else ""


def _pii_clause(c, sep="，"):
    return f"{c.pii}{sep}" if c.pii else ""


# ---------------------------------------------------------------------------
# Template families
# ---------------------------------------------------------------------------


def _f_polite(s, c):
    who = s.pick((f"我是{c.area}{c.place}的居民，", f"本人住在{c.area}{c.place}，", f"我在{c.area}{c.place}上班，",
                  f"{c.area}{c.place}，"))
    end = s.pick(("谢谢！", "辛苦了。", "谢谢。", "麻烦了！"))
    return (f"{s.pick(_OPEN_POLITE)}{who}{c.when}{c.core}，{c.impact}。{_x(c, '。')}"
            f"{_pii_clause(c)}{c.demand}，{end}")


def _f_colloquial(s, c):
    q = s.pick(_PARTICLE)
    tail = s.pick(("真的是", "搞得", "弄得", "")) + c.impact
    return (f"{s.pick(_OPEN_COLLOQ)}{c.area}{c.place}这边{q}，{c.when}{c.core}，{tail}，{_x(c)}"
            f"{_pii_clause(c)}{c.demand}{s.pick(_PARTICLE)}")


def _f_angry(s, c):
    bang = s.pick(("！", "！！", "！！！", "!!!"))
    emoji = s.pick(_EMOJI) if s.chance(0.08) else ""
    hist = f"{c.history}，" if s.chance(0.6) else ""
    return (f"{s.pick(('投诉！', '我要投诉', '气死了，', '投诉', ''))}{c.area}{c.place}{c.when}{c.core}{bang}"
            f"{hist}{_x(c)}{s.pick(_ANGRY)}{bang}{emoji}{_pii_clause(c)}{c.demand}{bang}")


def _f_terse(s, c):
    r = s.u()
    if r < 0.3:
        body = f"{c.place}{c.core}"
    elif r < 0.55:
        body = f"{c.core}，{c.area}{c.place}"
    elif r < 0.75:
        body = c.core
    else:
        body = f"{c.area}{c.place}：{c.core}。请处理"
    if c.extra:
        body += f"；{c.extra}"
    if c.pii:
        body += f" {c.pii}"
    return body


def _f_report(s, c):
    ev = s.pick(_EVIDENCE)
    ev = f"{ev}，" if ev else ""
    return (f"{s.pick(('我要举报：', '实名举报，', '举报：', '我要举报，'))}{c.area}{c.place}{c.when}{c.core}，"
            f"{_pii_clause(c)}{ev}{_x(c)}{s.pick(('要求依法查处。', '请相关部门依法查处！', '请尽快查处。'))}")


def _f_inquiry(s, c):
    r = s.u()
    if r < 0.4:
        q = f"请问{c.area}{c.place}{c.core}，这个归哪个部门管？"
    elif r < 0.7:
        q = f"想咨询一下，{c.core}应该找谁处理？地点在{c.area}{c.place}。"
    else:
        q = f"请问{c.kw}的问题可以投诉吗？我这边{c.area}{c.place}{c.core}。"
    return q + _x(c, "。") + _pii_clause(c, "。") + s.pick(("", "麻烦告知一下。", c.demand + "。"))


def _f_narrative(s, c):
    years = s.randint(2, 15)
    back = s.pick((f"我在{c.area}{c.place}住了{years}年了。", f"我们是{c.area}{c.place}的租户。",
                   f"我家就在{c.area}{c.place}。", f"我每天上下班都要经过{c.area}{c.place}。"))
    more = s.pick((f"关键是{c.kw}这个问题不是第一次了。", f"说白了就是{c.kw}，", "一开始以为过几天就好了，结果越来越严重。",
                   "我们也跟对方沟通过，对方根本不理。"))
    hist = f"{c.history}。" if s.chance(0.7) else ""
    sep = "\n" if s.chance(0.3) else ""
    return (f"{s.pick(_OPEN_POLITE)}{back}{c.when}{c.core}。{more}{sep}{hist}{c.impact}，"
            f"{s.pick(_IMPACT)}。{_x(c, '。')}{sep}{_pii_clause(c)}{c.demand}，{s.pick(('谢谢！', '盼复。', '感谢！'))}")


def _f_urgent(s, c):
    return (f"{s.pick(('紧急！', '紧急！！', '急！', '求助！'))}{c.area}{c.place}{c.core}，{s.pick(_DANGER)}，"
            f"{_x(c)}{_pii_clause(c)}{s.pick(('请马上派人过来！', '请立即处理！', '快来人看看！'))}")


def _f_operator(s, c):
    caller = s.pick(("市民来电反映：", "来电人反映：", "市民反映：", "来电人称："))
    loc = f"{c.area}{c.place}" or "辖区"
    phone = f"（{c.pii}）" if c.pii_kind == "phone" else ""
    plate = f"涉事车辆：{c.pii}。" if c.pii_kind == "plate" else ""
    return (f"{caller}{loc}{c.when}{c.core}，{c.impact}。{plate}{_x(c, '。')}"
            f"市民诉求：{c.demand}。{phone}")


def _f_message_board(s, c):
    title = s.pick((f"关于{c.area}{c.place}{c.kw}问题的反映", f"{c.place}{c.kw}的问题", f"反映{c.kw}问题",
                    f"{c.area}{c.kw}问题何时能解决？"))
    greet = s.pick(("尊敬的领导：\n您好！", "尊敬的领导您好：", "各位领导好，"))
    return (f"{title}\n{greet}我是{c.area}{c.place}的一名居民，{c.when}{c.core}。{c.impact}。"
            f"{_x(c, '。')}{_pii_clause(c, '。')}{c.demand}，望早日答复。")


def _f_voice(s, c):
    def bare(text):
        return _PUNCT.sub(" " if s.chance(0.3) else "", text).strip()

    f1, f2 = s.pick(_FILLERS), s.pick(_FILLERS)
    extra = f"{f2}{bare(c.extra)}" if c.extra else ""
    pii = bare(c.pii) if c.pii else ""
    return (f"{s.pick(('喂你好', '喂', '你好', '诶你好'))}{f1}我想反映一下{c.area}{c.place}"
            f"{bare(c.when)}{bare(c.core)}{f2}{bare(c.impact)}{extra}{pii}"
            f"{s.pick(('你们能不能派人来看一下', '帮忙处理一下', '麻烦处理一下好吧', '就这个事'))}")


def _f_follow_up(s, c):
    ref = f"（原工单号{s.randint(2023, 2024)}{s.randint(1, 12):02d}{s.randint(10000, 99999)}）" if s.chance(0.3) else ""
    return (f"{s.pick(('再次反映！', '第二次反映，', '又来反映了，', '重复投诉：'))}{ref}{c.area}{c.place}{c.core}"
            f"，{s.pick(('到现在还没解决', '一直没人处理', '还是老样子'))}，{c.history}，{c.impact}。{_x(c, '。')}{_pii_clause(c)}"
            f"{s.pick(('这次必须给个说法！', '请领导督办！', '希望这次能真正解决。'))}")


# ---------------------------------------------------------------------------
# Citizens' registers seen on public message boards: letters to officials with
# a background story, several problems in one message, questions about who is
# responsible, quotes of regulations, villages and towns, pinyin and English
# mixed in, typos of complaint words, very short texts. Each register has a
# training family and a held-out family worded differently.
# ---------------------------------------------------------------------------

_OFFICIAL = ("局长", "书记", "市长", "区长", "主任", "处长", "街道书记", "主任")
_ROLE_SELF = ("普通居民", "业主", "退休职工", "外来务工人员", "租户", "上班族", "学生家长", "个体户")
_YEARS = ("两", "三", "五", "七", "八", "十", "十几", "二十多")
_BACKGROUND = (
    "我们一家{years}年前搬到这里，本来环境挺好的。",
    "我们小区建成已经{years}年了，住着一千多户人家。",
    "平时工作很忙，本来不想麻烦领导，但实在是没有办法了。",
    "家里有老人和小孩，老人身体不好，孩子还在上学。",
    "深圳是全国文明城市，不应该出现这样的情况。",
    "我在深圳生活了{years}年，一直觉得这是一座讲规矩的城市。",
    "这件事情说来话长，要从{years}年前说起。",
    "我们也多次找过有关单位，都说不归他们管，互相推来推去。",
)
_BACKGROUND_HELD = (
    "先说一下情况：我们这里原来是一片空地，后来慢慢住满了人。",
    "本人{years}年前来到深圳，勤勤恳恳工作，从来没给政府添过麻烦。",
    "我们村的老人大多七八十岁了，年轻人都在外面打工。",
    "事情的经过是这样的，去年下半年就开始有苗头了。",
)
_LETTER_ASK = ("恳请{title}在百忙之中关注此事，责成相关部门尽快处理。", "希望领导能为我们老百姓做主。",
               "请领导督促有关部门依法处理，还我们一个公道。", "望领导重视，尽快解决为盼！",
               "恳请领导过问，给群众一个满意的答复。")
_SIGN = ("一位普通市民", "{place}全体业主", "{sur}先生", "知情群众", "{sur}女士", "一名老党员")
_TOWN_SUFFIX = ("镇", "乡", "街道")
_RURAL_UNIT = ("村", "村委会", "社区", "居委会", "村民小组")
_VILLAGE_ROLE = ("村民", "村民代表", "居民", "老村民", "村里的党员")
_RURAL_HISTORY = ("村委会说管不了", "找过镇上几次都没结果", "村干部一直拖着不办", "社区工作站让我们去找街道",
                  "村里开会说了好几次也没用")
_LAW_FALLBACK = ("相关法律法规", "国家的有关规定", "深圳市的有关规定")
_LAW_FRAME = ("根据{law}的规定，", "{law}明确规定，", "按照{law}，", "依据{law}相关条款，")
_LAW_FRAME_HELD = ("国家早就出台了{law}，", "我查过{law}，", "{law}写得清清楚楚，")
_ASK_LAW = ("请问这种情况合法吗？", "这合不合法？应该向哪个部门投诉？", "有没有相关规定？我们该怎么维权？",
            "请问这个归哪个部门管，怎么处理？", "想咨询一下这种情况能不能处罚？")
_ASK_WHO = ("到底找哪个部门？", "到底归谁管？", "难道就没有人管了吗？", "要等出了事才有人管吗？",
            "为什么反映了这么多次还是没人管？", "这个事情到底该找谁？")
_PINYIN = ("zf", "cg", "wy", "jc", "gov", "sb物业", "yyds", "xswl", "nb")
_ENGLISH = ("OK", "APP", "wifi", "bug", "help", "please", "thanks", "sorry", "WTF", "emmm", "orz", "PPT", "low")
_CHAT_END = ("thx", "pls", "thanks!!", "急急急", "help!!!", "在线等", "谢谢orz")

# Typos of the complaint words themselves, as typed with a pinyin keyboard.
_WORD_TYPOS = (("井盖", "井该"), ("垃圾", "拉圾"), ("噪音", "躁音"), ("拖欠", "托欠"), ("违章", "违张"),
               ("扰民", "扰明"), ("油烟", "油湮"), ("漏水", "露水"), ("占道", "站道"), ("物业", "物叶"),
               ("工资", "工支"), ("赔偿", "陪偿"), ("投诉", "投拆"), ("污染", "污然"), ("施工", "施公"),
               ("停车", "亭车"), ("违建", "违见"), ("退款", "退欵"), ("臭味", "臭未"), ("积水", "集水"))


def _word_typo(s, text):
    """Replace one complaint word by its keyboard typo (``井盖`` → ``井该``), when one occurs."""
    hits = [(a, b) for a, b in _WORD_TYPOS if a in text]
    if not hits:
        return text
    a, b = s.pick(hits)
    return text.replace(a, b, 1)


def _sur(s):
    return s.pick(_SURNAMES)


def _date(s):
    return f"{s.randint(2019, 2024)}年{s.randint(1, 12)}月{s.randint(1, 28)}日"


def _rural(s, street):
    """A village or town the citizen lives in: ``葵涌街道黄屋村``, ``金华镇李家村委会``..."""
    r = s.u()
    village = s.pick(_SURNAMES) + s.pick(_VILLAGE_SUFFIX) if r < 0.5 else _two(s) + s.pick(_RURAL_UNIT)
    if s.chance(0.4):
        return f"{street}{village}"
    if s.chance(0.5):
        return f"{_two(s)}{s.pick(_TOWN_SUFFIX)}{village}"
    return village + (f"{s.pick(_NUM[:8])}组" if s.chance(0.4) else "")


def _title_line(s, c, pool):
    return s.pick(pool).format(area=c.area, place=c.place, kw=c.kw) + "\n"


def _law(s, c, frames):
    return s.pick(frames).format(law=c.law or s.pick(_LAW_FALLBACK))


def _f_official_letter(s, c):
    title = s.pick(_OFFICIAL)
    sur = _sur(s)
    head = _title_line(s, c, ("{area}{place}{kw}问题", "投诉{place}{kw}", "{kw}问题亟待解决", "{area}{kw}严重"))
    greet = s.pick((f"尊敬的{sur}{title}：\n您好！", f"{sur}{title}，你好！", f"尊敬的{title}：您好！",
                    f"{title}：你好！", "尊敬的领导："))
    me = s.pick((f"我是{c.area}{c.place}的一名{s.pick(_ROLE_SELF)}，", f"本人住在{c.area}{c.place}，",
                 f"我们是{c.area}{c.place}的住户，"))
    back = s.pick(_BACKGROUND).format(years=s.pick(_YEARS))
    ask = s.pick(_LETTER_ASK).format(title=title)
    sign = ""
    if s.chance(0.4):
        sign = "\n" + s.pick(_SIGN).format(place=c.place, sur=sur) + (_date(s) if s.chance(0.5) else "")
    return (f"{head if s.chance(0.7) else ''}{greet}{me}{back}{c.when}{c.core}，{c.impact}。{_x(c, '。')}"
            f"{_pii_clause(c)}{ask}{s.pick(('此致敬礼！', '谢谢！', '盼复！', ''))}{sign}")


def _numbered(s, c, points):
    marks = s.pick((("1、", "2、", "3、"), ("一、", "二、", "三、"), ("（1）", "（2）", "（3）"), ("第一，", "第二，", "第三，")))
    return "".join(f"{m}{p}；" for m, p in zip(marks, points))


def _f_numbered_problems(s, c):
    head = _title_line(s, c, ("反映{place}存在的几个问题", "{area}{place}问题多多", "{kw}等问题"))
    if c.other_kws:  # the main problem in full, the side issues named briefly
        side = [s.pick(("{0}的问题", "还有{0}", "{0}也没人管")).format(kw) for kw in c.other_kws]
        points = [f"{c.core}，{c.impact}", *side]
    else:
        points = [c.core, c.impact, c.history]
    lead = s.pick(("领导好，", "您好，", "")) + s.pick((f"{c.area}{c.place}存在以下问题：", "现反映几个问题：",
                                                     f"我们{c.place}的问题主要有："))
    close = s.pick(("其中第一个问题最严重，", "尤其是第一个问题，", "以上问题，"))
    return f"{head if s.chance(0.6) else ''}{lead}{_numbered(s, c, points)}{close}{c.demand}。"


def _f_legal_question(s, c):
    r = s.u()
    if r < 0.4:
        body = f"{c.area}{c.place}{c.core}，{_law(s, c, _LAW_FRAME)}{c.kw}是不允许的，{s.pick(_ASK_LAW)}"
    elif r < 0.7:
        body = f"{s.pick(_OPEN_POLITE)}{c.core}。{s.pick(_ASK_LAW)}{_law(s, c, _LAW_FRAME)}应该依法处理吧？"
    else:
        body = f"请问{c.kw}到底归谁管？我们{c.area}{c.place}{c.core}，{s.pick(_ASK_LAW)}"
    return body + _x(c, "。") + _pii_clause(c, "。")


def _f_villager(s, c):
    home = _rural(s, c.area or "")
    me = s.pick((f"我是{home}的{s.pick(_VILLAGE_ROLE)}，", f"我们{home}这里，", f"{home}这边，"))
    back = s.pick(_BACKGROUND).format(years=s.pick(_YEARS)) if s.chance(0.5) else ""
    return (f"{s.pick(('领导好，', '您好！', ''))}{me}{back}{c.when}{c.core}，{c.impact}，"
            f"{s.pick(_RURAL_HISTORY)}，{_x(c)}{_pii_clause(c)}{c.demand}。")


def _mix(s, text):
    """Put one pinyin abbreviation or English word into a clause."""
    if s.chance(0.5):
        word = s.pick(_PINYIN)
        return f"{text}，{word}{s.pick(('管不管', '也不管', '在干嘛', ''))}"
    return f"{text} {s.pick(_ENGLISH)}"


def _f_code_mixed(s, c):
    r = s.u()
    if r < 0.35:
        body = f"{c.area}{c.place}{_mix(s, c.core)}，{c.demand}"
    elif r < 0.7:
        body = f"在{s.pick(('APP', '微信公众号', 'i深圳'))}上反映了{s.randint(2, 9)}次，{c.core}，{_mix(s, c.impact)}"
    else:
        body = f"{s.pick(('物业', '社区', 'wy', '街道'))}说OK会处理，结果{c.place}还是{c.core}，{s.pick(_ENGLISH)}"
    return body + ("，" + _x(c, "") if c.extra else "")


def _f_title_only(s, c):
    short = c.core if len(c.core) <= 20 or s.chance(0.5) else c.kw
    return s.pick((short, f"{short}扰民", f"{c.place}{short}", f"{short}问题", f"{short}没人管", f"反映{short}",
                   f"{c.area}{short}"))


def _f_petition(s, c):
    sur, title = _sur(s), s.pick(_OFFICIAL)
    home = _rural(s, c.area or "") if s.chance(0.5) else f"{c.area}{c.place}"
    back = s.pick(_BACKGROUND_HELD).format(years=s.pick(_YEARS))
    head = s.pick((f"致{sur}{title}的一封信\n", f"{sur}{title}同志：\n", f"关于{c.kw}的紧急请示\n{title}："))
    return (f"{head}我们是{home}的{s.pick(_VILLAGE_ROLE + _ROLE_SELF)}，现将有关情况报告如下。{back}"
            f"{c.core}。{_law(s, c, _LAW_FRAME_HELD)}可现实却是这样。{c.history}。{_x(c, '。')}"
            f"为此，我们强烈要求：{c.demand}。\n{s.pick(_SIGN).format(place=home, sur=sur)}{_date(s)}")


def _f_buried_main(s, c):
    if c.other_kws:  # side issues are named in passing; the main one is told at length
        before = s.pick(("{0}的事就不说了", "{0}也反映过了", "{0}的问题之前说过")).format("、".join(c.other_kws))
    else:
        before = c.history
    head = f"{c.kw}何时能解决？\n" if s.chance(0.5) else ""
    again = s.pick((f"说到底就是{c.kw}的问题，", f"{c.kw}这个事拖不得了，", ""))
    return (f"{head}{s.pick(('说几个事。', '反映点情况。', ''))}{before}，这些先放一边。"
            f"{s.pick(('今天主要想反映的是：', '最严重的是', '最让人受不了的是'))}{c.core}，{c.impact}。"
            f"{again}{c.demand}。")


def _f_who_to_ask(s, c):
    r = s.u()
    if r < 0.4:
        body = f"{c.core}。打了好多电话，这个说找那个，那个说找这个，{s.pick(_ASK_WHO)}"
    elif r < 0.7:
        body = f"为什么{c.area}{c.place}{c.core}{s.pick(_ASK_WHO)}"
    else:
        body = f"{c.kw}这种事{s.pick(_ASK_WHO)}{c.place}{c.core}，谁来管管？"
    return body + _x(c, "。")


def _f_chat(s, c):
    short = c.core
    r = s.u()
    if r < 0.35:
        return f"help!!{c.place}{short} 已经{s.randint(2, 30)}天了 有没有人管啊 {s.pick(_CHAT_END)}"
    if r < 0.7:
        return f"{short}!!! {c.place} pls处理一下"
    return f"@12345 {short} {s.pick(_PINYIN)}不管吗 {s.pick(_CHAT_END)}"


@dataclass(frozen=True)
class TemplateFamily:
    """One structure/register in which synthetic tickets are written.

    Parameters
    ----------
    name : str
        Stable identifier, stored in the ``template_family`` column.
    description : str
        What tickets of this family look like.
    heldout : bool
        ``True`` for the families kept out of ``split="train"``.
    weight : float
        Relative frequency among the families of a split.
    build : callable
        ``build(stream, context) -> str`` (private).
    register : str
        The citizens' register the family imitates (``"letter"``, ``"multi"``,
        ``"question"``, ``"rural"``, ``"mixed"``, ``"short"``, ``"spoken"``...).
        Every register of real messages that has a training family also has a
        held-out one, so held-out figures measure the register, not the
        wording. A ``"multi"`` family lists two or three problems and is
        labelled with the first, main one.

    Examples
    --------
    >>> from sujian_router._synth import TEMPLATE_FAMILIES
    >>> len(TEMPLATE_FAMILIES), sum(f.heldout for f in TEMPLATE_FAMILIES)
    (22, 7)
    >>> sorted({f.register for f in TEMPLATE_FAMILIES if f.heldout})
    ['letter', 'mixed', 'multi', 'plain', 'question', 'spoken']
    """

    name: str
    description: str
    heldout: bool
    weight: float
    build: Callable = None
    register: str = "plain"

    def to_dict(self):
        """Plain-data view (without the builder)."""
        return {"name": self.name, "description": self.description, "heldout": self.heldout,
                "weight": self.weight, "register": self.register}


def _family(name, description, heldout, weight, build, register="plain"):
    return TemplateFamily(name, description, heldout, weight, build, register)


#: Every template family; those marked ``heldout=True`` never appear in ``split="train"``.
TEMPLATE_FAMILIES = (
    _family("polite", "您好 + resident + problem + impact + demand + thanks", False, 1.2, _f_polite),
    _family("colloquial", "spoken register with particles (啊/嘛/哈)", False, 1.2, _f_colloquial, "spoken"),
    _family("angry", "投诉！ + history + exclamations, sometimes an emoji", False, 1.0, _f_angry),
    _family("terse", "one line: place + problem, or the problem only", False, 1.0, _f_terse, "short"),
    _family("report", "我要举报 + evidence + 要求依法查处", False, 0.8, _f_report),
    _family("inquiry", "请问…归哪个部门管 (consultation)", False, 0.8, _f_inquiry, "question"),
    _family("narrative", "long, several sentences, background and history", False, 0.8, _f_narrative),
    _family("urgent", "紧急！ + danger + 请马上派人", False, 0.5, _f_urgent),
    _family("operator", "operator's summary: 市民来电反映…市民诉求…", False, 1.5, _f_operator, "operator"),
    _family("official_letter", "title + 尊敬的X局长/X书记，你好 + who I am + background story + problem + "
            "恳请领导… + signature", False, 1.0, _f_official_letter, "letter"),
    _family("numbered_problems", "several problems listed 1、2、3、, the main one first", False, 0.6,
            _f_numbered_problems, "multi"),
    _family("legal_question", "problem + a quote of the item's law (根据《…》) + 这合法吗？找哪个部门？", False, 0.8,
            _f_legal_question, "question"),
    _family("villager", "a villager of a 村/镇/乡, background, 村委会说管不了", False, 0.6, _f_villager, "rural"),
    _family("code_mixed", "pinyin abbreviations (zf, cg, wy) and English words (OK, APP, help) mixed in", False,
            0.5, _f_code_mixed, "mixed"),
    _family("title_only", "a very short text: the keyword or a title of a few characters", False, 0.6,
            _f_title_only, "short"),
    _family("message_board", "web message: title line + 尊敬的领导 + body", True, 1.0, _f_message_board, "letter"),
    _family("voice", "speech-to-text: fillers, no punctuation, more typos", True, 1.0, _f_voice, "spoken"),
    _family("follow_up", "再次反映 + earlier ticket + not solved", True, 1.0, _f_follow_up),
    _family("petition", "致X书记的一封信 / X局长同志：village or estate + 情况报告如下 + quoted law + "
            "强烈要求 + signature and date", True, 0.8, _f_petition, "letter"),
    _family("buried_main", "other problems first, then 最严重的是 + the main problem", True, 0.6, _f_buried_main,
            "multi"),
    _family("who_to_ask", "rhetorical questions: 到底找哪个部门？为什么没人管？", True, 0.8, _f_who_to_ask, "question"),
    _family("chat", "chat style: help!! / @12345 / pls, pinyin and English, very short", True, 0.6, _f_chat,
            "mixed"),
)
_TYPO_RATE = {"voice": 0.25}
_DEFAULT_TYPO_RATE = 0.05
#: Families whose complaint words are mistyped (``井盖`` → ``井该``) in a quarter of their tickets.
_WORD_TYPO_FAMILIES = frozenset({"official_letter", "villager", "code_mixed", "title_only", "petition",
                                 "who_to_ask", "chat"})
_WORD_TYPO_RATE = 0.25
#: A multi-problem family lists other problems in ``multi_problem_rate`` × this share of its tickets.
_MULTI_FAMILY_BOOST = 12


def _families(split):
    if split not in _SPLITS:
        raise ValueError(f"split={split!r} is not one of {list(_SPLITS)}")
    if split == "all":
        return TEMPLATE_FAMILIES
    return tuple(f for f in TEMPLATE_FAMILIES if f.heldout == (split == "heldout"))


def _is_han(ch):
    return "\u4e00" <= ch <= "\u9fff"


def _typo(s, text):
    """One homophone confusion or one swap of two adjacent hanzi."""
    if s.chance(0.6):
        hits = [(a, b) for a, b in _TYPOS if a in text]
        if hits:
            a, b = s.pick(hits)
            return text.replace(a, b, 1)
    positions = [i for i in range(len(text) - 1)
                 if _is_han(text[i]) and _is_han(text[i + 1]) and text[i] != text[i + 1]]
    if not positions:
        return text
    i = s.pick(positions)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


# hour-of-day weights: daytime peaks, a tail at night (22:00-06:00 about 12%)
_HOUR_CUM = _cumulative((1.3, 0.9, 0.6, 0.5, 0.5, 0.6, 1.0, 1.8, 3.5, 5.5, 6.0, 5.6, 4.0, 3.8, 5.0, 5.4,
                         5.2, 4.6, 3.6, 3.6, 3.8, 3.6, 3.0, 2.1))
_HOUR_RANGE = tuple(range(24))
_YEAR_START = np.datetime64("2024-01-01T00:00:00", "s")


def _generate(profiles, pool, order, s, families, multi_rate, seed, start):
    """Build the column lists for ``order`` (indices into ``profiles``)."""
    import pandas as pd

    fam_cum = _cumulative(f.weight for f in families)
    n = len(order)
    ids, texts, labels, cats, dists, streets, fams, secs = ([] for _ in range(8))
    street_cache = {}
    for k, idx in enumerate(order):
        p = profiles[idx]
        dname, short, _w, dstreets = s.weighted(_DISTRICTS, _DISTRICT_CUM)
        street = s.pick(dstreets)
        street_short = street_cache.get(street)
        if street_short is None:
            street_short = street_cache[street] = street[:-2] if street.endswith("街道") else street[:-1]
        day = int(s.u() * 366)
        hour = s.weighted(_HOUR_RANGE, _HOUR_CUM)
        sec = day * 86400 + hour * 3600 + int(s.u() * 3600)
        fam = s.weighted(families, fam_cum)
        others = _others(s, p, pool, 2 if fam.register == "multi" else 1)
        ctx = _context(s, p, others, hour, dname, short, street, street_short, multi_rate, fam)
        text = fam.build(s, ctx)
        if s.chance(_TYPO_RATE.get(fam.name, _DEFAULT_TYPO_RATE)):
            text = _typo(s, text)
        if fam.name in _WORD_TYPO_FAMILIES and s.chance(_WORD_TYPO_RATE):
            text = _word_typo(s, text)
        ids.append(f"SYN-{seed}-{start + k}")
        texts.append(text)
        labels.append(p.code)
        cats.append(p.category)
        dists.append(dname)
        streets.append(street)
        fams.append(fam.name)
        secs.append(sec)
    received = (_YEAR_START + np.asarray(secs, dtype="int64").astype("timedelta64[s]")).astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "ticket_id": pd.Series(ids, dtype="str"),
            "text": pd.Series(texts, dtype="str"),
            "label": pd.Series(labels, dtype="str"),
            "category": pd.Series(cats, dtype="str"),
            "district": pd.Series(dists, dtype="str"),
            "street": pd.Series(streets, dtype="str"),
            "received_at": pd.Series(received, dtype="datetime64[ns]"),
            "template_family": pd.Series(fams, dtype="str"),
            "synthetic": np.ones(n, dtype=bool),
        },
        columns=list(COLUMNS),
    )


def _others(s, p, pool, n):
    """Up to ``n`` other items for a second (third) problem; never the ticket's own item."""
    if len(pool) < 2:
        return ()
    picks = [s.pick(pool) for _ in range(n)]
    return tuple(o for o in picks if o.code != p.code)


def _check_rate(multi_problem_rate):
    rate = float(multi_problem_rate)
    if not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise ValueError(f"multi_problem_rate={multi_problem_rate!r} must be between 0 and 1")
    return rate


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    return int(seed)


def generate_tickets(catalog=None, *, n_per_item=10, seed=0, split="train", multi_problem_rate=0.05, items=None):
    """Generate labelled synthetic complaints, ``n_per_item`` for every duty item.

    Parameters
    ----------
    catalog : iterable of duty items, optional
        Objects with ``code``, ``name`` and (optionally) ``category``,
        ``subcategory``, ``keywords``, ``phrasings`` attributes (lists or
        ``|``-separated strings); a mapping is iterated over its values.
        Defaults to :func:`sujian_router.load_catalog`.
    n_per_item : int, default 10
        Tickets per item.
    seed : int, default 0
        Seed of the ``numpy.random.default_rng`` that drives every choice.
    split : {"train", "heldout", "all"}, default "train"
        Which template families to use: the training families, only the
        held-out ones (for honest held-out figures), or both.
    multi_problem_rate : float, default 0.05
        Share of tickets that also mention a second problem from another
        item; their label stays the first item.
    items : iterable of str, optional
        Restrict generation to these item codes (catalog order is kept).

    Returns
    -------
    pandas.DataFrame
        Columns ``ticket_id`` (``"SYN-<seed>-<n>"``, n from 1), ``text``,
        ``label`` (item code), ``category``, ``district``, ``street``,
        ``received_at`` (a time in 2024, night hours included),
        ``template_family`` and ``synthetic`` (always ``True``). Rows are
        grouped by item in catalog order; shuffle before any positional split.

    Raises
    ------
    CatalogError
        The catalog is empty, has duplicate codes or an item lacks ``code``/``name``.
    UnknownDutyError
        A code in ``items`` is not in the catalog.
    ValueError
        An argument is out of range (the message names it).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> item = SimpleNamespace(code="01-01-001", name="流动摊贩占道经营", category="城市管理与市容环卫",
    ...                        subcategory="占道经营与流动摊贩", keywords=["流动摊贩", "摆摊"],
    ...                        phrasings=["门口天天有人摆摊卖水果"])
    >>> df = generate_tickets([item], n_per_item=3, seed=1)
    >>> df["label"].tolist(), bool(df["synthetic"].all()), df["ticket_id"].iloc[0]
    (['01-01-001', '01-01-001', '01-01-001'], True, 'SYN-1-1')
    >>> sorted(df.columns) == sorted(["ticket_id", "text", "label", "category", "district", "street",
    ...                               "received_at", "template_family", "synthetic"])
    True
    >>> df.equals(generate_tickets([item], n_per_item=3, seed=1))
    True
    """
    n_per_item = _check_count(n_per_item, "n_per_item", 0)
    seed = _check_seed(seed)
    rate = _check_rate(multi_problem_rate)
    families = _families(split)
    profiles = _profiles(catalog)
    chosen = _select(profiles, items, "generate_tickets")
    order = [i for i in range(len(chosen)) for _ in range(n_per_item)]
    s = _Stream(np.random.default_rng(seed))
    return _generate(chosen, profiles, order, s, families, rate, seed, 1)


def iter_tickets(catalog=None, *, n_total, seed=0, chunk_size=100_000, split="all", multi_problem_rate=0.05,
                 items=None):
    """Yield ``n_total`` synthetic tickets in frames of at most ``chunk_size`` rows.

    Meant for scale benchmarks (millions of rows): memory stays bounded by
    one chunk. Each row's item is drawn uniformly from the (selected) catalog.
    Chunk ``k`` is generated from its own child seed
    (``SeedSequence(seed, spawn_key=(k,))``), so the stream is deterministic and
    chunk ``k`` depends only on ``seed``, ``k`` and its row count. Ticket ids
    run from ``SYN-<seed>-1`` to ``SYN-<seed>-<n_total>``.

    Parameters
    ----------
    catalog, seed, split, multi_problem_rate, items
        As in :func:`generate_tickets` (``split`` defaults to ``"all"``).
    n_total : int
        Number of tickets in all.
    chunk_size : int, default 100_000
        Rows per yielded frame (the last one may be shorter).

    Yields
    ------
    pandas.DataFrame
        Frames with the columns of :func:`generate_tickets`.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> items = [SimpleNamespace(code=f"01-01-00{i}", name=f"事项{i}", keywords=["垃圾"], phrasings=[])
    ...          for i in (1, 2)]
    >>> [len(chunk) for chunk in iter_tickets(items, n_total=25, chunk_size=10)]
    [10, 10, 5]
    """
    n_total = _check_count(n_total, "n_total", 0)
    chunk_size = _check_count(chunk_size, "chunk_size", 1)
    seed = _check_seed(seed)
    rate = _check_rate(multi_problem_rate)
    families = _families(split)
    profiles = _profiles(catalog)
    chosen = _select(profiles, items, "iter_tickets")
    done = 0
    k = 0
    while done < n_total:
        m = min(chunk_size, n_total - done)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k,)))
        order = rng.integers(0, len(chosen), size=m).tolist()
        yield _generate(chosen, profiles, order, _Stream(rng), families, rate, seed, done + 1)
        done += m
        k += 1


# ---------------------------------------------------------------------------
# Export in the shape of a city's 12345 system
# ---------------------------------------------------------------------------

#: zh export column <- canonical column (事项名称 and 诉求标题 are derived).
_ZH_COLUMNS = (
    ("工单编号", "ticket_id"),
    ("提交时间", "received_at"),
    ("诉求标题", None),
    ("诉求内容", "text"),
    ("区", "district"),
    ("街道", "street"),
    ("事项编码", "label"),
    ("事项名称", None),
)
_SOURCE_COLUMN = "数据来源"
_SOURCE_VALUE = "合成数据"
_TITLE_SPLIT = re.compile(r"[。！？!?\n]")


def _title(text, limit=20):
    first = next((part.strip(" ，,") for part in _TITLE_SPLIT.split(text) if part.strip(" ，,")), "")
    return first if len(first) <= limit else first[:limit] + "…"


def write_export(df, path, *, fmt="csv", encoding="utf-8-sig", columns="zh", catalog=None):
    """Write tickets as a 12345-style export (CSV or Excel).

    Parameters
    ----------
    df : pandas.DataFrame
        A frame from :func:`generate_tickets` (at least ``ticket_id``,
        ``received_at``, ``text``, ``district``, ``street``, ``label``).
    path : str or os.PathLike
        Output file.
    fmt : {"csv", "xlsx"}, default "csv"
    encoding : str, default "utf-8-sig"
        CSV encoding, e.g. ``"utf-8"``, ``"gb18030"`` or ``"gbk"``. For
        ``gbk`` only, characters it cannot encode (emoji, rare hanzi) are
        written as ``?`` (``errors="replace"``), as legacy systems do; every
        other encoding is strict. Ignored for xlsx.
    columns : {"zh", "canonical"}, default "zh"
        ``"zh"``: 工单编号, 提交时间, 诉求标题 (first sentence of the text, at
        most 20 characters), 诉求内容, 区, 街道, 事项编码, 事项名称, plus
        ``数据来源 = 合成数据`` so the file stays labelled as synthetic.
        ``"canonical"``: the frame's own columns, unchanged.
    catalog : iterable of duty items, optional
        Resolves 事项编码 to 事项名称 (``columns="zh"`` only); defaults to
        :func:`sujian_router.load_catalog`. Pass the catalog the tickets were
        generated from.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    TicketSchemaError
        ``df`` lacks a required column.
    UnknownDutyError
        A label is not in the catalog (the message gives the row).
    ValueError
        Bad ``fmt``/``columns``, or too many rows for one Excel sheet.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> item = SimpleNamespace(code="01-01-001", name="流动摊贩占道经营", keywords=["摆摊"], phrasings=[])
    >>> df = generate_tickets([item], n_per_item=2)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_export(df, pathlib.Path(tmp) / "export.csv", catalog=[item])
    ...     back = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    >>> list(back.columns)[:4], back["事项名称"].iloc[0]
    (['工单编号', '提交时间', '诉求标题', '诉求内容'], '流动摊贩占道经营')
    """
    if fmt not in _EXPORT_FORMATS:
        raise ValueError(f"fmt={fmt!r} is not one of {list(_EXPORT_FORMATS)}")
    if columns not in _EXPORT_COLUMNS:
        raise ValueError(f"columns={columns!r} is not one of {list(_EXPORT_COLUMNS)}")
    path = Path(os.fspath(path))
    if columns == "zh":
        needed = [c for _zh, c in _ZH_COLUMNS if c]
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise TicketSchemaError(
                f"write_export: expected columns {needed}, found {list(df.columns)} (missing {missing})")
        out = _zh_frame(df, catalog)
    else:
        out = df
    if fmt == "xlsx":
        if len(out) > _XLSX_MAX_ROWS:
            raise ValueError(f"{len(out)} rows do not fit one Excel sheet (at most {_XLSX_MAX_ROWS}); use fmt='csv'")
        out.to_excel(path, index=False, engine="openpyxl")
        return path
    errors = "replace" if encoding.lower().replace("-", "").replace("_", "") in ("gbk", "cp936") else "strict"
    out.to_csv(path, index=False, encoding=encoding, errors=errors, date_format="%Y-%m-%d %H:%M:%S")
    return path


def _zh_frame(df, catalog):
    import pandas as pd

    names = {p.code: p.name for p in _profiles(catalog)}
    labels = df["label"].tolist()
    item_names = []
    for row, code in enumerate(labels):
        try:
            item_names.append(names[code])
        except KeyError:
            raise UnknownDutyError(code, where=f"row {row}, column 'label' of the frame passed to write_export",
                                   hint="pass the catalog the tickets were generated from") from None
    texts = df["text"].tolist()
    data = {}
    for zh, canon in _ZH_COLUMNS:
        if zh == "诉求标题":
            data[zh] = [_title(t) for t in texts]
        elif zh == "事项名称":
            data[zh] = item_names
        else:
            data[zh] = df[canon].to_numpy()
    data[_SOURCE_COLUMN] = [_SOURCE_VALUE] * len(df)
    return pd.DataFrame(data)
