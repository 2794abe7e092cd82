"""Unit names as exports spell them: map them to the department directory's units and roles.

Exports name handling units loosely: ``福田区住建局``, ``深圳市福田区住房和建设局``,
``区住建局`` and ``福田区住房和建设局`` are one unit (or, without a district, one
role). :class:`UnitNameMatcher` reduces every directory unit name and every
role to a key (city prefix dropped, common abbreviations expanded, spaces and
``和`` removed), looks an export name up by its key, and falls back to a close
spelling only above a high similarity, saying so. A name it cannot place is
returned as unmapped; the callers report it with its row count.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass

__all__ = ["UnitMatch", "UnitNameMatcher", "ABBREVIATIONS"]

#: Canonical short form -> the spellings (with 和 removed) that exports and the directory use for it.
ABBREVIATIONS = {
    "住建局": ("住房建设局",),
    "城管局": ("城市管理综合执法局", "城管综合执法局", "城管执法局", "城市管理局"),
    "市监局": ("市场监督管理局", "市场监管局"),
    "环境局": ("生态环境管理局", "生态环境分局", "生态环境局", "环保局"),
    "交通局": ("交通运输管理局", "交通运输局", "交委"),
    "人社局": ("人力资源社会保障局", "人力资源局"),
    "卫健局": ("卫生健康局",),
    "规自局": ("规划自然资源局",),
    "应急局": ("应急管理局",),
    "文体旅局": ("文化广电旅游体育局", "文广旅体局"),
    "发改局": ("发展改革局",),
    "工信局": ("工业信息化局",),
    "政数局": ("政务服务数据管理局",),
    "更新整备局": ("城市更新土地整备局",),
    "医保局": ("医疗保障局",),
    "残联": ("残疾人联合会",),
    "疾控中心": ("疾病预防控制中心",),
    "退役军人局": ("退役军人事务局",),
    "街道办": ("街道办事处",),
    "执法队": ("综合行政执法队",),
    "工务署": ("建筑工务署",),
}
_VARIANT = {v: short for short, variants in ABBREVIATIONS.items() for v in variants}
_VARIANT_RE = re.compile("|".join(re.escape(v) for v in sorted(_VARIANT, key=len, reverse=True)))
_CITY_PREFIXES = ("广东省深圳市", "深圳市", "深圳")
_FUZZY_CUTOFF = 0.8


@dataclass(frozen=True)
class UnitMatch:
    """Where an export's unit name leads.

    Attributes
    ----------
    name : str
        The name as written in the export.
    role : str
        The directory role it plays (empty when unmapped).
    unit : str
        The concrete directory unit, or empty when the name gives only a role
        (``区住建局``) or is unmapped.
    how : {"exact", "alias", "role", "fuzzy", "unmapped"}
        ``alias``: matched after expanding abbreviations or dropping the city
        prefix; ``role``: a generic name that fixes the role but not the
        place; ``fuzzy``: a close spelling (check it); ``unmapped``: no match.
    """

    name: str
    role: str
    unit: str
    how: str

    @property
    def mapped(self) -> bool:
        """True when the name gave at least a role."""
        return self.how != "unmapped"

    def to_dict(self) -> dict:
        """Return the match as a JSON-ready dict."""
        return asdict(self)


def _key(name: str) -> str:
    """The comparison key of a unit name: no spaces, no city prefix, no 和, one spelling per abbreviation."""
    return _VARIANT_RE.sub(lambda m: _VARIANT[m.group(0)], _raw_key(name))


def _raw_key(name: str) -> str:
    """A name without spaces, city prefixes (repeated ones too) and 和, abbreviations left as written."""
    key = re.sub(r"\s+", "", str(name)).replace("（", "(").replace("）", ")")
    stripped = True
    while stripped:
        stripped = False
        for prefix in _CITY_PREFIXES:
            if key.startswith(prefix) and len(key) > len(prefix) + 1:
                key, stripped = key[len(prefix):], True
                break
    return key.replace("和", "")


class UnitNameMatcher:
    """Map export unit names to directory units and roles.

    Parameters
    ----------
    directory : DepartmentDirectory
        The department directory (the catalog's, usually).

    Examples
    --------
    >>> from sujian_router import load_catalog
    >>> m = UnitNameMatcher(load_catalog().departments)
    >>> m.match("福田区住建局").unit, m.match("福田区住建局").how
    ('福田区住房和建设局', 'alias')
    >>> m.match("区住建局").role, m.match("区住建局").unit
    ('区住房和建设局', '')
    >>> m.match("火星区气象站").how
    'unmapped'
    """

    def __init__(self, directory):
        self.directory = directory
        self._units = {}
        self._roles = {}
        for u in directory.units:
            self._units.setdefault(_key(u.name), u)
        for role in directory.roles:
            self._roles.setdefault(_key(role), role)
        self._placed = {}  # (district or street, role) -> unit, for "<place><role>" spellings
        for u in directory.units:
            for place in (u.district, u.street):
                if place:
                    self._placed.setdefault((place, u.role), u)
        self._places = sorted({p for p, _ in self._placed}, key=len, reverse=True)
        self._keys = sorted(set(self._units) | set(self._roles))
        # close spellings are also compared with the names as written (a typo can hide an abbreviation)
        self._raw = {}
        for u in directory.units:
            self._raw.setdefault(_raw_key(u.name), (u.role, u.name))
        for role in directory.roles:
            self._raw.setdefault(_raw_key(role), (role, ""))

    def match(self, name) -> UnitMatch:
        """Return the :class:`UnitMatch` of one export name."""
        raw = "" if name is None else str(name)
        stripped = raw.strip()
        if not stripped:
            return UnitMatch(raw, "", "", "unmapped")
        try:
            u = self.directory.unit(stripped)
            return UnitMatch(raw, u.role, u.name, "exact")
        except KeyError:
            pass
        key = _key(stripped)
        found = self._lookup(key)
        if found is None:
            found = self._close(key, _raw_key(stripped))
            if found is None:
                return UnitMatch(raw, "", "", "unmapped")
            return UnitMatch(raw, found[0], found[1], "fuzzy")
        return UnitMatch(raw, found[0], found[1], "alias" if found[1] else "role")

    def _close(self, key, raw_key):
        """The best close spelling among the keys and the names as written, or ``None``."""
        best, score = None, _FUZZY_CUTOFF
        for query, pool, read in ((key, self._keys, self._lookup), (raw_key, self._raw, self._raw.get)):
            for cand in difflib.get_close_matches(query, pool, n=1, cutoff=score):
                ratio = difflib.SequenceMatcher(None, query, cand).ratio()
                if ratio > score or best is None:
                    best, score = read(cand), ratio
        return best

    def _lookup(self, key):
        """``(role, unit name)`` for a key; unit name empty for a role-only key; ``None`` when unknown."""
        if key in self._units:
            u = self._units[key]
            return u.role, u.name
        if key in self._roles:
            return self._roles[key], ""
        return self._lookup_placed(key)

    def _lookup_placed(self, key):
        """``<district or street><role>`` spellings: ``南山区市场监管局``, ``龙岗区交警大队``, ``福田街道办``."""
        for place in self._places:
            if not key.startswith(place) or len(key) == len(place):
                continue
            rest = key[len(place):]
            suffix = "街道" if place.endswith("街道") else "区" if place.endswith("区") else ""
            for role_key in (rest, suffix + rest):
                role = self._roles.get(role_key)
                if role is not None and (place, role) in self._placed:
                    u = self._placed[(place, role)]
                    return u.role, u.name
        return None
