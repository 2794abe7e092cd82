"""Jurisdiction from the complaint text: communities, landmarks, roads, rivers.

Citizens name their community (桂木园社区), a landmark (世界之窗) or a road far
more often than their street, and write a street without ``街道`` ("在坂田").
The :class:`Gazetteer` turns such names into a street and district (and, for
rivers, the basin whose management centre looks after them):

- the 783 communities of ``seeds/communities.csv`` (official names of the NBS
  statistical codes), found as ``桂木园社区`` or, for names of three characters
  or more that only one street has, as bare ``桂木园``; a short name shared by
  several streets is *ambiguous* and picks no street unless the district or
  street known from elsewhere leaves only one;
- the hand-written ``data/places.yaml`` (landmarks with their street; roads
  with their district; rivers with their basin);
- street names with or without ``街道`` and district names with their suffix.

The most specific name wins (a street named in full, then a community, then a
landmark or a bare street name, then roads and rivers), earlier in the text
first. :func:`check_jurisdiction` is the one place that says whether a given
district and street contradict each other.

Examples
--------
>>> from sujian_router import Gazetteer
>>> g = Gazetteer.load()
>>> m = g.find("晚上世界之窗门口广场舞太吵")
>>> m.district, m.street, m.evidence
('南山区', '沙河街道', ('地标世界之窗',))
>>> g.find("桂木园社区楼下夜市").community
'桂木园'
>>> g.find("凤凰社区有人乱倒垃圾").ambiguous
('凤凰社区',)
"""

from __future__ import annotations

import csv
import functools
import io
import re
import weakref
from dataclasses import asdict, dataclass
from importlib import resources

from .exceptions import CatalogError

__all__ = ["PlaceMatch", "Gazetteer", "Located", "locate", "gazetteer_for", "check_jurisdiction"]

#: Kinds of names, most specific first (a lower rank wins).
_RANK = {"street": 0, "community": 1, "landmark": 2, "street_short": 2, "community_bare": 3,
         "road": 4, "river": 4, "district": 5, "district_short": 6}
_KIND_LABEL = {"street": "街道", "community": "社区", "landmark": "地标", "street_short": "街道",
               "community_bare": "社区", "road": "道路", "river": "河流", "district": "区", "district_short": "区"}
#: District short names too common as ordinary words to count without 区.
_DISTRICT_SHORT_STOP = frozenset({"光明"})
#: Street short names too common as ordinary words to count without 街道.
_STREET_SHORT_STOP = frozenset({"招商", "凤凰", "沙头"})
_MIN_BARE_COMMUNITY = 3
#: A community name with these suffixes names the same place: its 城中村 ("岗厦村") or the metro station
#: named after it ("岗厦地铁站"); a name shared by several streets stays ambiguous.
_COMMUNITY_PLACE_SUFFIXES = ("村", "地铁站")
#: Community names that also name a wider area; they count only as "…社区".
_BARE_COMMUNITY_STOP = frozenset({"深圳湾", "高新区", "高新园"})


@dataclass(frozen=True)
class _Entry:
    kind: str
    name: str
    district: str | None = None
    street: str | None = None
    community: str | None = None
    basin: str | None = None


@dataclass(frozen=True)
class PlaceMatch:
    """Where a complaint happened, as far as its text (and context) tell.

    Attributes
    ----------
    district, street : str or None
        Canonical names (``南山区``, ``沙河街道``).
    community : str or None
        Community short name (``桂木园``) when one was named and fits the street.
    basin, river : str or None
        The river named and the basin it drains to (``深圳河湾``, ``珠江口``...).
    evidence : tuple of str
        What decided, in plain Chinese (``地标世界之窗``, ``社区桂木园``).
    ambiguous : tuple of str
        Names found that fit several streets and were not used to pick one.
    inferred : tuple of str
        Which of district / street / community came from the text.

    Examples
    --------
    >>> PlaceMatch("南山区", "沙河街道").to_dict()["street"]
    '沙河街道'
    """

    district: str | None = None
    street: str | None = None
    community: str | None = None
    basin: str | None = None
    river: str | None = None
    evidence: tuple = ()
    ambiguous: tuple = ()
    inferred: tuple = ()

    def to_dict(self) -> dict:
        """Return a JSON-friendly dict (tuples become lists)."""
        out = asdict(self)
        for key in ("evidence", "ambiguous", "inferred"):
            out[key] = list(out[key])
        return out

    def reason(self) -> str:
        """One plain-Chinese sentence on what was inferred (empty when nothing was).

        Examples
        --------
        >>> PlaceMatch("南山区", "沙河街道", evidence=("地标世界之窗",), inferred=("district", "street")).reason()
        '从诉求内容识别事发地为南山区沙河街道（依据：地标世界之窗）'
        """
        if not self.inferred:
            return ""
        where = "".join(x for x in (self.district, self.street) if x)
        if self.community and "community" in self.inferred:
            where += f"{self.community}社区"
        source = "、".join(self.evidence) or "地名"
        return f"从诉求内容识别事发地为{where}（依据：{source}）"


def _read_communities():
    ref = resources.files("sujian_router") / "data" / "seeds" / "communities.csv"
    reader = csv.DictReader(io.StringIO(ref.read_text(encoding="utf-8-sig")))
    need = ("name", "parent_community", "street", "district")
    if any(c not in (reader.fieldnames or []) for c in need):
        raise CatalogError([f"expected columns {list(need)}, found {reader.fieldnames}"], source="communities.csv")
    return list(reader)


def _read_places_doc():
    import yaml

    ref = resources.files("sujian_router") / "data" / "places.yaml"
    data = yaml.safe_load(ref.read_text(encoding="utf-8-sig"))
    if not isinstance(data, dict) or not isinstance(data.get("landmarks"), list):
        raise CatalogError(["expected a mapping with 'landmarks', 'roads' and 'rivers' lists"], source="places.yaml")
    return data


class Gazetteer:
    """Place names of Shenzhen mapped to street, district and river basin.

    Build it with :meth:`load`; the constructor takes the parsed sources.

    Parameters
    ----------
    directory : DepartmentDirectory
        Streets and districts (canonical names, street -> district).
    communities : list of dict
        Rows with ``name``, ``parent_community``, ``street`` (``communities.csv``).
    places : dict
        The parsed ``places.yaml`` (``landmarks``, ``roads``, ``rivers``).
    strict : bool, default True
        Raise when an entry names a street or district the directory does not
        know. ``False`` skips such entries (a user's directory may cover
        fewer places); :attr:`skipped` lists them.

    Raises
    ------
    CatalogError
        With ``strict=True``, when an entry names a street or district the
        directory does not know.

    Examples
    --------
    >>> g = Gazetteer.load()
    >>> len(g) > 1000
    True
    >>> g.find("在坂田华为基地附近放烟花").street
    '坂田街道'
    """

    def __init__(self, directory, communities, places, *, strict=True):
        self._dir = directory
        self._names = {}
        problems = []
        self._add_streets()
        self._add_communities(communities, problems)
        self._add_places(places, problems)
        if problems and strict:
            raise CatalogError(problems, source="places.yaml / communities.csv")
        self.skipped = tuple(problems)
        # first two characters -> names starting with them, longest first (leftmost-longest scan);
        # every name has at least two characters
        self._by_prefix = {}
        for key in sorted(self._names, key=lambda k: (-len(k), k)):
            if len(key) >= 2:
                self._by_prefix.setdefault(key[:2], []).append(key)
        firsts = "".join(sorted({k[0] for k in self._by_prefix}))
        self._first_re = re.compile(f"[{re.escape(firsts)}]") if firsts else None

    @classmethod
    def load(cls, directory=None) -> "Gazetteer":
        """The bundled gazetteer (cached) for ``directory`` (the bundled one by default)."""
        if directory is None:
            return _bundled_gazetteer()
        return cls(directory, _read_communities(), _read_places_doc(), strict=False)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"Gazetteer({len(self._names)} names)"

    # -------------------------------------------------------------- building
    def _put(self, key, entry):
        if key:
            bucket = self._names.setdefault(key, [])
            if entry not in bucket:
                bucket.append(entry)

    def _add_streets(self):
        d = self._dir
        district_words = set()
        for district in d.districts:
            short = next(district[:-len(x)] for x in ("特别合作区", "新区", "区", "") if district.endswith(x))
            district_words.update({district, short})
            self._put(district, _Entry("district", district, district=district))
            if short not in _DISTRICT_SHORT_STOP and short != district:
                # a bare district name ("在宝安") is the weakest clue: it never narrows other names
                self._put(short, _Entry("district_short", district, district=district))
            self._put("深圳市" + district, _Entry("district", district, district=district))
        for street in d.streets:
            district = d.district_of_street(street)
            self._put(street, _Entry("street", street, district=district, street=street))
            short = street[:-2] if street.endswith("街道") else street[:-1]
            if short not in district_words and short not in _STREET_SHORT_STOP and len(short) >= 2:
                self._put(short, _Entry("street_short", street, district=district, street=street))

    def _add_communities(self, rows, problems):
        d = self._dir
        counts = {}
        for row in rows:
            counts[row["name"]] = counts.get(row["name"], 0) + 1
        for row in rows:
            street = row["street"]
            district = d.district_of_street(street)
            if district is None:
                problems.append(f"communities.csv: {row['name']}: unknown street {street!r}")
                continue
            name = row["name"]
            entry = _Entry("community", name, district=district, street=street, community=name)
            self._put(name + "社区", entry)
            for suffix in _COMMUNITY_PLACE_SUFFIXES:  # 城中村 and metro stations named after the community
                if counts[name] == 1 and not name.endswith(suffix[0]) and name + suffix not in self._names:
                    self._put(name + suffix, entry)
            if row.get("parent_community"):
                self._put(row["parent_community"] + "社区", entry)
            if (len(name) >= _MIN_BARE_COMMUNITY and counts[name] == 1 and name not in self._names
                    and name not in _BARE_COMMUNITY_STOP):
                self._put(name, _Entry("community_bare", name, district=district, street=street, community=name))

    def _add_places(self, doc, problems):
        d = self._dir
        for spec in doc.get("landmarks") or []:
            street = d.normalize_street(spec["street"]) if spec.get("street") else None
            district = d.district_of_street(street) if street else d.normalize_district(spec.get("district"))
            if district is None:
                problems.append(f"places.yaml: landmark {spec.get('name')!r}: unknown street or district")
                continue
            entry = _Entry("landmark", spec["name"], district=district, street=street)
            for key in map(str, [spec["name"], *(spec.get("aliases") or [])]):
                if all(e.kind == "community_bare" for e in self._names.get(key, [entry])):
                    self._names.pop(key, None)  # the landmark of the same name is more precise
                self._put(key, entry)
        for kind in ("roads", "rivers"):
            for spec in doc.get(kind) or []:
                district = d.normalize_district(spec["district"]) if spec.get("district") else None
                if spec.get("district") and district is None:
                    problems.append(f"places.yaml: {kind[:-1]} {spec.get('name')!r}: unknown district")
                    continue
                entry = _Entry(kind[:-1], spec["name"], district=district, basin=spec.get("basin"))
                self._put(spec["name"], entry)

    # --------------------------------------------------------------- finding
    def find(self, text, *, district=None, street=None) -> PlaceMatch:
        """Infer the place of a complaint from its text.

        Parameters
        ----------
        text : str
            The complaint (or an address).
        district, street : str, optional
            What the intake system already knows; given values are kept and
            narrow ambiguous names (a community shared by several streets).

        Returns
        -------
        PlaceMatch
            ``inferred`` says which fields came from the text.

        Examples
        --------
        >>> g = Gazetteer.load()
        >>> g.find("凤凰社区有人乱倒垃圾", district="光明区").street
        '凤凰街道'
        >>> g.find("西乡河边有人钓鱼").basin
        '珠江口'
        """
        d0 = self._dir.normalize_district(district) if district else None
        s0 = self._dir.normalize_street(street, district=d0) if street else None
        if s0:
            d0 = self._dir.district_of_street(s0)
        hits = self._hits(text if isinstance(text, str) else "")
        text_district = next((e.district for _, _, es in hits for e in es if e.kind == "district"), None)
        scope = d0 or text_district
        best, ambiguous = self._best(hits, scope, s0)
        return self._match(hits, best, ambiguous, d0, s0, text_district)

    def _hits(self, text):
        """(position, key, entries) for every name in ``text``, left to right, longest at each position."""
        if self._first_re is None:
            return []
        hits, end, names, by_prefix = [], 0, self._names, self._by_prefix
        for m in self._first_re.finditer(text):  # characters that can start a name
            i = m.start()
            if i < end:
                continue
            for key in by_prefix.get(text[i:i + 2], ()):
                if text.startswith(key, i):
                    hits.append((i, key, names[key]))
                    end = i + len(key)
                    break
        return hits

    @staticmethod
    def _best(hits, scope, given_street):
        """The most specific hit that decides one street (or district), and the ambiguous keys."""
        best, ambiguous = None, []
        for pos, key, entries in hits:
            fitting = [e for e in entries if scope is None or e.district in (scope, None)]
            if given_street:
                fitting = [e for e in fitting if e.street in (given_street, None)] or fitting
            streets = {e.street for e in fitting if e.street}
            if len(streets) > 1:
                ambiguous.append(key)
                continue
            if not fitting:
                continue
            entry = fitting[0]
            if entry.street is None and entry.district is None and entry.kind != "river":
                continue
            rank = (_RANK[entry.kind], pos)
            if best is None or rank < best[0]:
                best = (rank, key, entry)
        return best, tuple(dict.fromkeys(ambiguous))

    def _match(self, hits, best, ambiguous, d0, s0, text_district):
        river = next((e for _, _, es in hits for e in es if e.kind == "river"), None)
        district, street, community, inferred, evidence = d0, s0, None, [], []
        if best is not None:
            _, key, entry = best
            if street is None and entry.street and (district is None or entry.district == district):
                street = entry.street
                inferred.append("street")
                evidence.append(_evidence(entry, key))
            if district is None and (entry.district or text_district):
                district = entry.district or text_district
                inferred.insert(0, "district")
                if not evidence:
                    evidence.append(_evidence(entry, key))
            if entry.community and entry.street == street:
                community = entry.community
                inferred.append("community")
        if district is None and text_district:
            district, inferred = text_district, ["district"]
        if community is None and street:
            community = next((e.community for _, _, es in hits for e in es
                              if e.community and e.street == street), None)
        return PlaceMatch(district, street, community, river.basin if river else None,
                          river.name if river else None, tuple(evidence), ambiguous, tuple(inferred))


def _evidence(entry, key):
    label = _KIND_LABEL[entry.kind]
    if entry.kind == "community" and not key.endswith(label):
        return key  # "岗厦村", "岗厦地铁站" name themselves
    return key if key.endswith(label) else label + key


@dataclass(frozen=True)
class Located:
    """The jurisdiction used to route one complaint, and how it was found.

    Attributes
    ----------
    district, street, community, basin, river : str or None
        As in :class:`PlaceMatch` (given values first, the text for the rest).
    notes : tuple of str
        Plain-Chinese reasons (what was inferred, ignored or contradictory).
    flags : tuple of str
        ``jurisdiction_conflict`` when the given district and street disagree.
    match : PlaceMatch
        The gazetteer's answer.
    """

    district: str | None
    street: str | None
    community: str | None
    basin: str | None
    river: str | None
    notes: tuple
    flags: tuple
    match: PlaceMatch

    def to_dict(self) -> dict:
        """Return a JSON-friendly dict."""
        out = {k: getattr(self, k) for k in ("district", "street", "community", "basin", "river")}
        out.update(notes=list(self.notes), flags=list(self.flags), match=self.match.to_dict())
        return out


def locate(directory, text, *, district=None, street=None, location=None) -> Located:
    """Decide a complaint's jurisdiction from the intake context and its text.

    Given values win; an unrecognised value is reported and treated as
    unknown; a street lying in another district than the one given is flagged
    (:func:`check_jurisdiction`) and trusted. Whatever is still unknown is
    inferred from the text, then from ``location``.

    Examples
    --------
    >>> from sujian_router.catalog import DepartmentDirectory
    >>> d = DepartmentDirectory.load()
    >>> loc = locate(d, "世界之窗门口有人跳广场舞")
    >>> loc.street, loc.notes
    ('沙河街道', ('从诉求内容识别事发地为南山区沙河街道（依据：地标世界之窗）',))
    >>> locate(d, "楼上吵", district="福田区", street="坪山街道").flags
    ('jurisdiction_conflict',)
    """
    notes, flags = [], []
    d = directory.normalize_district(district) if district else None
    if district and d is None:
        notes.append(f"未识别的区“{district}”，按区不明处理")
    s = directory.normalize_street(street, district=d) if street else None
    if street and s is None:
        s = directory.normalize_street(street)
        if s is None:
            notes.append(f"未识别的街道“{street}”，按街道不明处理")
    conflict = check_jurisdiction(d, s, directory) if d and s else None
    if conflict:
        notes.append(conflict)
        flags.append("jurisdiction_conflict")
    if s:
        d = directory.district_of_street(s)
    full = text if isinstance(text, str) else ""
    if location:
        full = f"{full}；{location}"
    match = gazetteer_for(directory).find(full, district=d, street=s)
    if match.inferred:
        notes.append(match.reason())
    if match.ambiguous and match.street is None:
        notes.append(f"地名“{'、'.join(match.ambiguous)}”对应多个街道，未据此确定街道")
    if match.district is None:
        notes.append("事发区不明，区级职责按市级单位指定")
    return Located(match.district, match.street, match.community, match.basin, match.river,
                   tuple(notes), tuple(flags), match)


def check_jurisdiction(district, street, directory=None):
    """Say whether a given district and street contradict each other.

    Parameters
    ----------
    district, street : str or None
        As given by the intake system (any accepted spelling).
    directory : DepartmentDirectory, optional
        The bundled directory by default.

    Returns
    -------
    str or None
        A plain-Chinese note naming both when the street lies in another
        district (the street is then trusted), else None.

    Examples
    --------
    >>> check_jurisdiction("福田区", "坪山街道")
    '辖区矛盾：坪山街道属于坪山区，而非所填的福田区，按街道确定'
    >>> check_jurisdiction("坪山区", "坪山街道") is None
    True
    """
    if directory is None:
        from ._departments import DepartmentDirectory

        directory = DepartmentDirectory.load()
    d = directory.normalize_district(district) if district else None
    s = directory.normalize_street(street) if street else None
    if not (d and s):
        return None
    actual = directory.district_of_street(s)
    if actual and actual != d:
        return f"辖区矛盾：{s}属于{actual}，而非所填的{d}，按街道确定"
    return None


def gazetteer_for(directory) -> Gazetteer:
    """The :class:`Gazetteer` of ``directory``, built on first use and kept while the directory lives.

    The bundled directory shares the bundled gazetteer. The directory does not
    hold its gazetteer itself, so that the directory module never imports this one.

    Examples
    --------
    >>> from sujian_router.catalog import DepartmentDirectory
    >>> d = DepartmentDirectory.load()
    >>> gazetteer_for(d) is gazetteer_for(d) is Gazetteer.load()
    True
    """
    from ._departments import DepartmentDirectory

    if directory is DepartmentDirectory.load():
        return _bundled_gazetteer()
    gaz = _GAZETTEERS.get(directory)
    if gaz is None:
        gaz = _GAZETTEERS[directory] = Gazetteer.load(directory)
    return gaz


_GAZETTEERS = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=1)
def _bundled_gazetteer() -> Gazetteer:
    from ._departments import DepartmentDirectory

    return Gazetteer(DepartmentDirectory.load(), _read_communities(), _read_places_doc())
