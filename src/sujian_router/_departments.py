"""The department directory: roles, units and their jurisdiction.

The catalog and the rules name departments by **role** (``派出所``,
``区生态环境管理局``...). The directory turns a role plus what is known of the
place (district, street) into one concrete unit, e.g. ``派出所`` in
``坪山街道`` is ``坪山派出所``. It is read from ``data/departments.csv``, which
``sujian-router catalog build`` writes from ``data/seeds/departments.yaml``.

Examples
--------
>>> from sujian_router import DepartmentDirectory
>>> d = DepartmentDirectory.load()
>>> d.resolve("派出所", street="坪山街道")
'坪山派出所'
>>> d.resolve("流域管理中心", district="坪山")
'深圳市龙岗河坪山河流域管理中心'
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

from .exceptions import CatalogError, UnknownDepartmentError

__all__ = ["Unit", "Resolved", "DepartmentDirectory"]

LEVELS = ("city", "district", "street", "utility", "community", "group")
DEPARTMENT_COLUMNS = (
    "unit_id", "name", "role", "level", "district", "street", "covers", "parent", "community", "keywords",
)
#: Columns a directory CSV must have; ``community`` and ``keywords`` are optional.
REQUIRED_DEPARTMENT_COLUMNS = DEPARTMENT_COLUMNS[:8]
BASIN_ROLE = "流域管理中心"
WATER_BUREAU_ROLE = "区水务局"

_DISTRICT_SUFFIXES = ("特别合作区", "新区", "区")
_STREET_SUFFIXES = ("街道", "镇")
_CITY_PREFIXES = ("广东省深圳市", "广东省", "深圳市", "深圳")


@dataclass(frozen=True)
class Unit:
    """One concrete handling unit of the directory.

    Parameters
    ----------
    unit_id : str
        Stable identifier (``U0001``...).
    name : str
        Full unit name, e.g. ``坪山派出所``.
    role : str
        The generic role it plays, e.g. ``派出所``.
    level : {"city", "district", "street", "utility", "community", "group"}
        Where the role sits. A ``group`` row stands for several companies
        (``covers`` lists their roles, ``parent`` the regulator role that
        leads when the text names none of them).
    district : str
        Its district-level area (empty for city units, utilities and units
        covering several districts).
    street : str
        Its street (street-level units only).
    covers : tuple of str
        Districts served by a unit covering several districts (river basin
        centres); empty otherwise.
    parent : str
        The unit one level up (empty for city units and utilities).
    community : str
        The community (short name) of a community-level unit.
    keywords : tuple of str
        Words naming this company in a complaint (members of an operator group).

    Examples
    --------
    >>> u = Unit("U1", "坪山派出所", "派出所", "street", "坪山区", "坪山街道", (), "深圳市公安局坪山分局")
    >>> u.to_dict()["covers"]
    []
    """

    unit_id: str
    name: str
    role: str
    level: str
    district: str = ""
    street: str = ""
    covers: tuple = ()
    parent: str = ""
    community: str = ""
    keywords: tuple = ()

    def to_dict(self) -> dict:
        """Return a JSON-friendly dict (tuples become lists)."""
        out = asdict(self)
        out["covers"] = list(self.covers)
        out["keywords"] = list(self.keywords)
        return out


@dataclass(frozen=True)
class Resolved:
    """The unit a role resolves to, and how it was found.

    Attributes
    ----------
    name : str
        Unit name.
    role : str
        The role of the returned unit (may be a parent of the requested role
        when the place was not precise enough).
    level : str
        Level of the returned unit.
    exact : bool
        True when the requested role was resolved at its own level.
    note : str
        Plain-Chinese explanation, e.g. ``按街道坪山街道确定为坪山派出所``.

    Examples
    --------
    >>> Resolved("深圳市公安局", "市公安局", "city", False, "未知区，按市级指定为深圳市公安局").exact
    False
    """

    name: str
    role: str
    level: str
    exact: bool
    note: str

    def to_dict(self) -> dict:
        """Return a JSON-friendly dict."""
        return asdict(self)


def _strip_suffix(name: str, suffixes) -> str:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _default_csv_text() -> str:
    ref = resources.files("sujian_router") / "data" / "departments.csv"
    return ref.read_text(encoding="utf-8-sig")


class DepartmentDirectory:
    """Roles, units and the rules that map a role and a place to a unit.

    Build it with :meth:`load`; the constructor takes the units directly.

    Parameters
    ----------
    units : iterable of Unit
        Every unit, in directory order. District order is the order of the
        ``区人民政府`` units.
    source : str, optional
        Where the units came from (used in error messages).

    Examples
    --------
    >>> d = DepartmentDirectory.load()
    >>> len(d.districts), d.districts[-1]
    (11, '深汕特别合作区')
    >>> d.normalize_district("深圳市坪山区"), d.normalize_street("坪山")
    ('坪山区', None)
    >>> d.normalize_street("坪山", district="坪山区")
    '坪山街道'
    >>> d.find_places("坪山区坪联路过河大桥下有人跳广场舞")
    ('坪山区', None)
    >>> d.resolve_unit("派出所", district="坪山区").note
    '未知街道，按区级指定为深圳市公安局坪山分局'
    """

    def __init__(self, units, *, source=None):
        self._units = tuple(units)
        self.source = source or "<units>"
        self._index()

    # ------------------------------------------------------------------ load
    @classmethod
    def load(cls, path=None) -> "DepartmentDirectory":
        """Read a directory CSV (the bundled ``departments.csv`` by default).

        Parameters
        ----------
        path : str or Path, optional
            A CSV with columns ``unit_id, name, role, level, district,
            street, covers, parent``. The bundled directory is cached.

        Returns
        -------
        DepartmentDirectory

        Raises
        ------
        CatalogError
            If a column is missing or a row is malformed (rows are numbered
            as in a spreadsheet, header = row 1).
        """
        if path is None:
            return _bundled_directory()
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CatalogError([f"file not found: {path}"], source=str(path)) from None
        return cls._from_text(text, source=str(path))

    @classmethod
    def _from_text(cls, text, *, source):
        reader = csv.DictReader(io.StringIO(text))
        found = list(reader.fieldnames or [])
        missing = [c for c in REQUIRED_DEPARTMENT_COLUMNS if c not in found]
        if missing:
            raise CatalogError(
                [f"expected columns {list(REQUIRED_DEPARTMENT_COLUMNS)}, found {found}"], source=source
            )
        units, problems = [], []
        for rownum, row in enumerate(reader, start=2):
            level = (row["level"] or "").strip()
            if level not in LEVELS:
                problems.append(f"row {rownum}: level {level!r} not one of {list(LEVELS)}")
            for col in ("unit_id", "name", "role"):
                if not (row[col] or "").strip():
                    problems.append(f"row {rownum}: empty {col}")
            covers = tuple(c for c in (row["covers"] or "").split("|") if c)
            units.append(
                Unit(
                    unit_id=row["unit_id"].strip(),
                    name=row["name"].strip(),
                    role=row["role"].strip(),
                    level=level,
                    district=(row["district"] or "").strip(),
                    street=(row["street"] or "").strip(),
                    covers=covers,
                    parent=(row["parent"] or "").strip(),
                    community=(row.get("community") or "").strip(),
                    keywords=tuple(k for k in (row.get("keywords") or "").split("|") if k),
                )
            )
        if problems:
            raise CatalogError(problems, source=source)
        return cls(units, source=source)

    # ----------------------------------------------------------------- index
    def _index(self):
        problems = []
        self._by_name = {}
        self._role_level = {}
        self._roles = []
        self._single = {}  # city / utility / group role -> unit
        self._by_district = {}  # (role, district) -> unit
        self._by_street = {}  # (role, street) -> unit
        self._by_community = {}  # (role, street, community) -> unit
        self._basin_of_street = {}  # street -> basin unit (streets assigned by drainage)
        districts, streets_of, street_district = [], {}, {}
        for u in self._units:
            first = self._by_name.setdefault(u.name, u)
            if first.role != u.role and not (u.level == first.level == "district" and u.district == first.district):
                problems.append(f"unit {u.name!r} listed under two roles")
            if u.role not in self._role_level:
                self._role_level[u.role] = u.level
                self._roles.append(u.role)
            elif self._role_level[u.role] != u.level:
                problems.append(f"role {u.role!r} has units on two levels")
            self._index_unit(u, districts, streets_of, street_district)
        if problems:
            raise CatalogError(problems, source=self.source)
        self._districts = tuple(districts)
        self._streets_of = {d: tuple(s) for d, s in streets_of.items()}
        self._street_district = street_district
        # role -> parent role (from the parent unit of the first unit of the role)
        self._parent_role = {}
        for u in self._units:
            if u.role not in self._parent_role and u.parent in self._by_name and u.level != "group":
                self._parent_role[u.role] = self._by_name[u.parent].role
        self._index_names()
        self._resolve_cache = {}

    def _index_unit(self, u, districts, streets_of, street_district):
        if u.level in ("city", "utility", "group"):
            self._single.setdefault(u.role, u)
        elif u.level == "district":
            for d in u.covers or (u.district,):
                if d.endswith(_STREET_SUFFIXES):
                    self._basin_of_street[d] = u
                else:
                    self._by_district[(u.role, d)] = u
            if u.role == "区人民政府" and u.district not in districts:
                districts.append(u.district)
        elif u.level == "community":
            self._by_community[(u.role, u.street, u.community)] = u
        else:
            self._by_street[(u.role, u.street)] = u
            if u.street not in street_district:
                street_district[u.street] = u.district
                streets_of.setdefault(u.district, []).append(u.street)

    def _index_names(self):
        self._district_alias = {}
        for d in self._districts:
            short = _strip_suffix(d, _DISTRICT_SUFFIXES)
            for alias in {d, short, d.replace("特别", "")}:
                self._district_alias[alias] = d
        self._district_prefixes = sorted(
            (a for a in self._district_alias if a.endswith(_DISTRICT_SUFFIXES)), key=len, reverse=True
        )
        self._district_shorts = {_strip_suffix(d, _DISTRICT_SUFFIXES) for d in self._districts}
        self._street_full = {}
        self._street_short = {}
        for s in self._street_district:
            short = _strip_suffix(s, _STREET_SUFFIXES)
            self._street_full[s] = s
            for suffix in _STREET_SUFFIXES:
                self._street_full.setdefault(short + suffix, s)
            self._street_short.setdefault(short, []).append(s)
        self._place_re = self._compile_places()

    def _compile_places(self):
        keys = set(self._street_full)
        keys.update(a for a, d in self._district_alias.items() if a.endswith(_DISTRICT_SUFFIXES))
        keys.update("深圳市" + d for d in self._districts)
        if not keys:
            return None
        alternation = "|".join(re.escape(k) for k in sorted(keys, key=lambda k: (-len(k), k)))
        return re.compile(alternation)

    # ------------------------------------------------------------ accessors
    @property
    def units(self) -> tuple:
        """Every :class:`Unit`, in directory order."""
        return self._units

    @property
    def roles(self) -> tuple:
        """Every role, in directory order."""
        return tuple(self._roles)

    @property
    def districts(self) -> tuple:
        """The district-level areas, in the fixed directory order."""
        return self._districts

    @property
    def streets(self) -> tuple:
        """Every street (and 深汕 town), district by district."""
        return tuple(s for d in self._districts for s in self._streets_of.get(d, ()))

    def __len__(self) -> int:
        return len(self._units)

    def __repr__(self) -> str:
        return f"DepartmentDirectory({len(self._units)} units, {len(self._roles)} roles)"

    def level_of(self, role: str) -> str:
        """Return the level of ``role`` (raises UnknownDepartmentError)."""
        try:
            return self._role_level[role]
        except KeyError:
            raise UnknownDepartmentError(role, known=self._roles) from None

    def __contains__(self, role) -> bool:
        return role in self._role_level

    def unit(self, name: str) -> Unit:
        """Return the unit called ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownDepartmentError(name, where="unit name") from None

    def units_of(self, role: str) -> tuple:
        """Return the distinct units playing ``role``."""
        self.level_of(role)
        return tuple(u for u in self._units if u.role == role)

    def streets_of(self, district: str) -> tuple:
        """Streets of a district (any accepted spelling); empty when unknown."""
        d = self.normalize_district(district)
        return self._streets_of.get(d, ()) if d else ()

    def district_of_street(self, street: str):
        """District of a street (full or unambiguous short name), or None."""
        s = self.normalize_street(street)
        return self._street_district.get(s) if s else None

    # ---------------------------------------------------------- normalising
    @staticmethod
    def _clean(name):
        if not isinstance(name, str):
            return ""
        name = "".join(name.split())
        for prefix in _CITY_PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix):]
                break
        return name

    def normalize_district(self, name):
        """Return the canonical district name, or None when unknown.

        ``坪山``, ``坪山区`` and ``深圳市坪山区`` all give ``坪山区``.
        """
        return self._district_alias.get(self._clean(name))

    def normalize_street(self, name, district=None):
        """Return the canonical street name, or None when unknown.

        Full names (``坪山街道``) always resolve. A short name (``坪山``)
        resolves only when it cannot be read as a district, or when
        ``district`` is given and the street lies in it.
        """
        text = self._clean(name)
        if not text:
            return None
        d = self.normalize_district(district) if district else None
        for alias in self._district_prefixes:
            if text.startswith(alias) and len(text) > len(alias):
                d = d or self._district_alias[alias]
                text = text[len(alias):]
                break
        for office in ("办事处", "办"):
            if text.endswith(office) and text[: -len(office)] in self._street_full:
                text = text[: -len(office)]
                break
        if text in self._street_full:
            return self._street_full[text]
        candidates = self._street_short.get(text, [])
        if d:
            candidates = [s for s in candidates if self._street_district[s] == d]
        elif text in self._district_alias or text in self._district_shorts:
            return None
        return candidates[0] if len(candidates) == 1 else None

    def find_places(self, text):
        """Find the district and street mentioned in free text.

        Only names with their suffix count (``坪山区``, ``坪山街道``,
        ``鹅埠镇``), longest first, so ``坪山河`` or ``南山公园`` give no hit.

        Returns
        -------
        (district or None, street or None)
            When a street is found its district is used.
        """
        if not isinstance(text, str) or self._place_re is None:
            return (None, None)
        district = street = None
        for m in self._place_re.finditer(text):
            key = m.group(0)
            if key in self._street_full:
                street = street or self._street_full[key]
            else:
                district = district or self.normalize_district(key)
            if district and street:
                break
        if street:
            district = self._street_district[street]
        return (district, street)

    # ------------------------------------------------------------ resolving
    def resolve(self, role, district=None, street=None, **place) -> str:
        """Return the name of the unit playing ``role`` at this place.

        See :meth:`resolve_unit` for the rules and the keyword arguments.

        Examples
        --------
        >>> d = DepartmentDirectory.load()
        >>> d.resolve("交警大队", district="福田区")
        '深圳市公安局交通警察局福田大队'
        """
        return self.resolve_unit(role, district, street, **place).name

    def resolve_unit(self, role, district=None, street=None, *, community=None, basin=None, text=None) -> Resolved:
        """Resolve ``role`` to a concrete unit, explaining how.

        Street-level roles need the street (the district follows from it);
        with only the district they fall back to the district-level parent,
        with nothing to the city-level parent (``exact=False``). Community
        roles (``社区工作站``) need the community; with only the street the
        street office takes the ticket. District-level roles need the
        district; without it the municipal bureau is used. ``流域管理中心``
        follows the river's basin (``basin``), else the street's, else the
        district's; places without a centre use their ``区水务局``. Operator
        groups (``通信运营商``, ``公交运营商`` and their member roles) name the
        company the ``text`` names, else the regulator leads and the note lists
        the companies. Unknown place names are treated as unknown (with a note).

        Parameters
        ----------
        role : str
            A role of the directory.
        district, street : str, optional
            Any accepted spelling.
        community : str, optional
            A community's short name (``桂木园``), for community roles.
        basin : str, optional
            The basin of a river named in the complaint (``深圳河湾``,
            ``珠江口``...), for ``流域管理中心``.
        text : str, optional
            The complaint, for operator groups.

        Raises
        ------
        UnknownDepartmentError
            If ``role`` is not in the directory (the message lists known roles).

        Examples
        --------
        >>> d = DepartmentDirectory.load()
        >>> r = d.resolve_unit("派出所", street="坪山街道")
        >>> r.name, r.exact, r.note
        ('坪山派出所', True, '按街道坪山街道确定为坪山派出所（深圳市公安局坪山分局）')
        >>> d.resolve_unit("区水务局").note
        '未知区，按市级指定为深圳市水务局'
        >>> d.resolve("社区工作站", street="桂园街道", community="桂木园")
        '桂园街道桂木园社区工作站'
        >>> d.resolve("通信运营商", text="联通宽带断网三天了")
        '中国联合网络通信有限公司深圳市分公司'
        """
        if self.operator_group(role) is not None:
            return self._resolve_group(role, district, street, text)
        key = (role, district, street, community, basin)
        try:
            return self._resolve_cache[key]
        except (KeyError, TypeError):
            pass
        result = self._resolve(role, district, street, community, basin)
        if len(self._resolve_cache) < 50_000:
            try:
                self._resolve_cache[key] = result
            except TypeError:
                pass
        return result

    def _place(self, district, street):
        """Normalise (district, street); return (district, street, prefix of notes)."""
        notes = []
        d = self.normalize_district(district) if district else None
        if district and not d:
            notes.append(f"未识别的区“{district}”")
        s = self.normalize_street(street, district=d) if street else None
        if street and not s:
            notes.append(f"未识别的街道“{street}”")
        if s:
            sd = self._street_district[s]
            if d and d != sd:
                notes.append(f"{s}属于{sd}而非{d}，按街道确定")
            d = sd
        return d, s, ("，".join(notes) + "；" if notes else "")

    def _resolve(self, role, district, street, community, basin):
        level = self._role_level.get(role)
        if level is None:
            raise UnknownDepartmentError(role, known=self._roles)
        d, s, prefix = self._place(district, street)
        if level in ("city", "utility"):
            u = self._single[role]
            what = "市级单位" if level == "city" else "公用企业"
            return Resolved(u.name, role, level, True, f"{prefix}{what}，直接指定为{u.name}")
        if level == "community" and s and community:
            u = self._by_community.get((role, s, community))
            if u is not None:
                return Resolved(u.name, role, level, True, f"{prefix}按社区{community}（{s}）确定为{u.name}")
            prefix += f"{community}社区不属于{s}；"
        if level == "street" and s:
            u = self._by_street[(role, s)]
            parent = f"（{u.parent}）" if role == "派出所" and u.parent else ""
            return Resolved(u.name, role, level, True, f"{prefix}按街道{s}确定为{u.name}{parent}")
        if role == BASIN_ROLE and (d or s or self._basin_centre(basin)):
            return self._resolve_basin(d, s, basin, prefix)
        if level == "district" and d:
            u = self._by_district.get((role, d))
            if u is not None:
                return Resolved(u.name, role, level, True, prefix + f"按{d}确定为{u.name}")
        return self._fallback(role, d, s, prefix)

    def _basin_centre(self, basin):
        """The management centre of ``basin`` (None when the basin has none or is not given)."""
        if not basin:
            return None
        return next((x for x in self.units_of(BASIN_ROLE) if basin in x.name), None)

    def _resolve_basin(self, d, s, basin, prefix):
        """流域管理中心: by the river's basin (known even without a district), else the street's, else the district's."""
        if basin:
            u = self._basin_centre(basin)
            if u is not None:
                return Resolved(u.name, BASIN_ROLE, "district", True, f"{prefix}按河流所属{basin}流域确定为{u.name}")
            if d:
                w = self._by_district[(WATER_BUREAU_ROLE, d)]
                note = f"{prefix}河流属{basin}流域，无流域管理中心，由{w.name}负责"
                return Resolved(w.name, WATER_BUREAU_ROLE, "district", True, note)
        if s and s in self._basin_of_street:
            u = self._basin_of_street[s]
            return Resolved(u.name, BASIN_ROLE, "district", True, f"{prefix}按{s}河流所属流域确定为{u.name}")
        u = self._by_district.get((BASIN_ROLE, d))
        if u is not None:
            return Resolved(u.name, BASIN_ROLE, "district", True, f"{prefix}按{d}所属流域确定为{u.name}")
        w = self._by_district[(WATER_BUREAU_ROLE, d)]
        where = s or d
        return Resolved(w.name, WATER_BUREAU_ROLE, "district", True, f"{prefix}{where}无流域管理中心，由{w.name}负责")

    def _fallback(self, role, d, s, prefix):
        """Walk up the parent chain to the first level the known place can resolve."""
        current, seen = role, {role}
        while True:
            parent = self._parent_role.get(current)
            if parent is None or parent in seen:
                break
            seen.add(parent)
            plevel = self._role_level[parent]
            if plevel == "street" and s:
                u = self._by_street[(parent, s)]
                return Resolved(u.name, parent, plevel, False, f"{prefix}社区不明，由{u.name}接办并转所属社区")
            if plevel == "district" and d:
                u = self._by_district[(parent, d)]
                return Resolved(u.name, parent, plevel, False, f"{prefix}未知街道，按区级指定为{u.name}")
            if plevel == "city":
                u = self._single[parent]
                return Resolved(u.name, parent, plevel, False, f"{prefix}未知区，按市级指定为{u.name}")
            current = parent
        u = next(x for x in self._units if x.role == role)
        return Resolved(u.name, role, u.level, False, f"{prefix}地点不明，暂指定为{u.name}")

    # ------------------------------------------------------- operator groups
    def _group_of(self, role):
        """The group role ``role`` is a member of (None when it is in no group)."""
        groups = getattr(self, "_member_group", None)
        if groups is None:
            groups = {m: g.role for g in self._units if g.level == "group" for m in g.covers}
            self._member_group = groups
        return groups.get(role)

    def operator_group(self, role):
        """Return ``(member roles, regulator role)`` of an operator group or member role.

        Examples
        --------
        >>> DepartmentDirectory.load().operator_group("巴士集团")
        (('巴士集团', '东部公交', '西部公汽'), '区交通运输管理局')
        >>> DepartmentDirectory.load().operator_group("市公安局") is None
        True
        """
        group = role if role in self._single and self._single[role].level == "group" else self._group_of(role)
        if group is None:
            return None
        g = self._single[group]
        return tuple(g.covers), g.parent

    def named_operator(self, role, text):
        """The member role of ``role``'s group that ``text`` names first, or None."""
        members, _ = self.operator_group(role) or ((), None)
        best = None
        for member in members:
            for word in self._single[member].keywords:
                pos = text.find(word) if text else -1
                if pos >= 0 and (best is None or pos < best[0]):
                    best = (pos, member, word)
        return best

    def _resolve_group(self, role, district, street, text):
        members, regulator = self.operator_group(role)
        found = self.named_operator(role, text or "")
        if found is not None:
            _, member, word = found
            u = self._single[member]
            return Resolved(u.name, member, u.level, True, f"诉求提及“{word}”，由{u.name}办理")
        lead = self.resolve_unit(regulator, district, street)
        names = "、".join(self._single[m].name for m in members)
        note = f"诉求未指明运营企业，由{lead.name}牵头（{lead.note}），候选企业：{names}"
        return Resolved(lead.name, lead.role, lead.level, False, note)

    def to_frame(self):
        """Return the units as a pandas DataFrame (CSV column order)."""
        import pandas as pd

        rows = [{**u.to_dict(), "covers": "|".join(u.covers), "keywords": "|".join(u.keywords)} for u in self._units]
        return pd.DataFrame(rows, columns=list(DEPARTMENT_COLUMNS))


@functools.lru_cache(maxsize=1)
def _bundled_directory() -> DepartmentDirectory:
    return DepartmentDirectory._from_text(_default_csv_text(), source="departments.csv")
