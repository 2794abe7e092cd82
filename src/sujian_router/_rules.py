"""Declarative routing rules: who leads, who helps, how urgent, which flags.

The model predicts a duty item; the catalog gives the item's default lead and
co-handling roles; the rules in ``data/rules.yaml`` (operator-editable) adjust
them for the text, the place and the time; the department directory turns the
roles into concrete units. Changing a department never needs retraining.

Order of :meth:`RuleSet.apply` (documented, deterministic):

1. **Place and jurisdiction.** ``directory.locate`` keeps the context's
   district and street (flagging a street that lies in another district),
   and infers what is missing from the text, then ``location``: streets,
   communities, landmarks, roads and rivers (see ``_places.py``); the
   inference is stated in the reasons. A directory without ``locate`` is
   searched with ``find_places``. Place types (river, bridge, park, ...) are
   detected from the text and ``location`` with the trigger words of the rules
   file.
2. **Rules** are evaluated in ascending ``priority``, then file order. A rule
   fires when all its conditions hold. A later (higher-priority) ``lead``
   overrides an earlier one; ``co`` roles accumulate after the item's own.
3. **Conflicts.** Two fired rules of the same (winning) priority naming
   different leads: the first in file order wins, ``arbitration=True`` and a
   reason names both rules.
4. **首接负责.** When no rule names a lead, the item's catalog lead is the
   first-responsible unit and keeps the ticket until it is settled.
5. **争议事项快速裁决.** A disputed item, a conflict, or a rule with
   ``arbitration: true`` sets ``arbitration=True``.
6. **监管空白点会商研判.** No item, a gap item, or a rule with
   ``joint_review: true`` sets ``joint_review=True``; the coordinating unit
   (区政务服务和数据管理局, or 市政务服务和数据管理局 when the district is
   unknown) leads and the former lead becomes the first co-handling role.
7. **Urgency and deadlines.** Any fired rule saying ``紧急`` makes the ticket
   urgent; otherwise the last fired rule with an urgency, otherwise the item's
   default (``一般`` without an item). Dispatch within 30 minutes (紧急) or 2
   hours (一般) of receipt; first contact within 24 hours.
8. **Units.** Every role is resolved with ``directory.resolve_unit(role,
   district, street, community=..., basin=..., text=...)`` (the community
   and river found in step 1, the text for operator groups); each
   resolution's note becomes a reason. Co-handling units are de-duplicated
   and never repeat the lead unit.

Each step is one method of :class:`RuleSet` (``_step_place`` ... ``_step_units``)
working on the state of one complaint (``_Pass``). Steps 3-8 read only the
item, the fired rules, the jurisdiction of step 1, whether a receipt time is
given and (for operator-group roles, whose unit the text names) the text, so
their outcome is memoised on exactly that; deadlines always come from the
exact receipt time.

Examples
--------
>>> from datetime import datetime
>>> from sujian_router._rules import RuleSet, RoutingContext
>>> rules = RuleSet.from_dict({"rules": [{
...     "id": "gas", "description": "燃气泄漏属紧急诉求", "priority": 90,
...     "when": {"text_any": ["燃气泄漏", "煤气味"]},
...     "then": {"urgency": "紧急", "co": ["燃气集团"]}}]})
>>> len(rules), rules.rules[0].id
(1, 'gas')
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

from ._decision import deadlines_for
from .exceptions import RulesError

__all__ = ["RoutingContext", "Resolution", "Rule", "RuleSet", "load_rules"]

URGENCIES = ("紧急", "一般")
COORDINATOR_DISTRICT = "区政务服务和数据管理局"
COORDINATOR_CITY = "市政务服务和数据管理局"
#: Shenzhen wall-clock time, used when ``received_at`` carries a time zone.
SHENZHEN_TZ = timezone(timedelta(hours=8))

#: Named time windows (minutes since midnight, half-open, may wrap midnight).
#: A rules file can redefine or add names under ``time_windows``.
DEFAULT_TIME_WINDOWS = {
    # 噪声污染防治法 第八十八条: 夜间 = 22:00–06:00
    "night": ((22 * 60, 6 * 60),),
    # Shenzhen lawful construction hours are 7:00–12:00 and 14:00–23:00
    "outside_construction_hours": ((23 * 60, 7 * 60), (12 * 60, 14 * 60)),
}

_WHEN_KEYS = (
    "items", "subcategories", "categories", "no_item", "text_any", "text_all", "text_none",
    "time", "place", "districts", "streets",
)
_THEN_KEYS = ("lead", "co", "urgency", "arbitration", "joint_review", "note")
_RULE_KEYS = ("id", "description", "priority", "enabled", "when", "then")
_FILE_KEYS = ("version", "description", "time_windows", "places", "rules")
_ITEM_RE = re.compile(r"^\d{2}-\d{2}-\d{3}$")
_SUB_RE = re.compile(r"^\d{2}-\d{2}$")
_CAT_RE = re.compile(r"^\d{2}$")
_HHMM_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_PLACE_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


# --------------------------------------------------------------------- results
@dataclass(frozen=True)
class RoutingContext:
    """What the intake system knows about a complaint besides its text.

    Parameters
    ----------
    district, street : str, optional
        Where it happened (any accepted spelling, e.g. ``坪山`` or ``坪山区``).
    received_at : datetime, optional
        When the complaint was received (naive = Shenzhen local time).
    location : str, optional
        An address, or a place type of the rules file (``river``, ``school``...).

    Examples
    --------
    >>> RoutingContext(district="坪山区").street is None
    True
    """

    district: str | None = None
    street: str | None = None
    received_at: datetime | None = None
    location: str | None = None


@dataclass(frozen=True)
class Resolution:
    """Departments, urgency, deadlines and flags decided by the rules.

    Attributes
    ----------
    lead_department : str
        The concrete lead unit.
    co_departments : tuple of str
        Concrete co-handling units (no duplicates, never the lead).
    lead_role : str
        The role the lead unit was resolved from.
    co_roles : tuple of str
        The co-handling roles (no duplicates, never the lead role).
    urgency : str
        ``紧急`` or ``一般``.
    received_at, dispatch_deadline, contact_deadline : datetime or None
        Receipt time; dispatch within 30 min (紧急) / 2 h (一般); contact within 24 h.
    arbitration : bool
        争议事项快速裁决: the item is disputed or the rules conflicted.
    joint_review : bool
        监管空白点会商研判: no item fits, the item is a known gap, or a rule asked for it.
    district, street : str or None
        The jurisdiction used to resolve the units.
    fired_rules : tuple of str
        Ids of the rules that fired, in evaluation order.
    reasons : tuple of str
        Plain-Chinese explanations, in order.
    flags : tuple of str
        Machine-readable markers, e.g. ``jurisdiction_conflict`` (the given
        district and street contradict each other).

    Examples
    --------
    >>> r = Resolution("坪山派出所", (), "派出所", (), "一般", None, None, None,
    ...                False, False, "坪山区", "坪山街道", (), ())
    >>> r.to_dict()["lead_department"]
    '坪山派出所'
    """

    lead_department: str
    co_departments: tuple
    lead_role: str
    co_roles: tuple
    urgency: str
    received_at: datetime | None
    dispatch_deadline: datetime | None
    contact_deadline: datetime | None
    arbitration: bool
    joint_review: bool
    district: str | None
    street: str | None
    fired_rules: tuple
    reasons: tuple
    flags: tuple = ()

    @property
    def departments(self) -> tuple:
        """The lead unit followed by the co-handling units."""
        return (self.lead_department, *self.co_departments)

    def to_dict(self) -> dict:
        """Return a JSON-friendly dict (datetimes as ISO strings, tuples as lists)."""
        out = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


# ----------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """One validated rule (see the header of ``data/rules.yaml`` for the format).

    Conditions: ``items`` / ``subcategories`` / ``categories`` together say
    which duty items the rule targets (any of them; none = every item and the
    no-item case); ``no_item: true`` targets only complaints without an item;
    every other condition must hold as well.
    """

    id: str
    description: str
    priority: int
    index: int
    items: frozenset = frozenset()
    subcategories: frozenset = frozenset()
    categories: frozenset = frozenset()
    no_item: bool = False
    text_any: tuple = ()
    text_all: tuple = ()
    text_none: tuple = ()
    time: tuple = ()
    time_label: str = ""
    place: frozenset = frozenset()
    districts: tuple = ()
    streets: tuple = ()
    lead: str | None = None
    co: tuple = ()
    urgency: str | None = None
    arbitration: bool = False
    joint_review: bool = False
    note: str = ""
    _any_re: object = field(default=None, repr=False, compare=False)
    _all_res: tuple = field(default=(), repr=False, compare=False)
    _none_re: object = field(default=None, repr=False, compare=False)

    @property
    def targeted(self) -> bool:
        """True when the rule names items, subcategories or categories."""
        return bool(self.items or self.subcategories or self.categories)

    @property
    def roles(self) -> tuple:
        """Every role the rule names (lead first)."""
        return ((self.lead,) if self.lead else ()) + self.co


def _phrase_re(phrases):
    if not phrases:
        return None
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return re.compile("|".join(re.escape(p) for p in ordered))


def _minutes(dt):
    if dt.tzinfo is not None:
        dt = dt.astimezone(SHENZHEN_TZ)
    return dt.hour * 60 + dt.minute


def _in_windows(minute, windows):
    for start, end in windows:
        if start <= end:
            if start <= minute < end:
                return True
        elif minute >= start or minute < end:
            return True
    return False


def _fmt_windows(windows):
    return "、".join(f"{s // 60:02d}:{s % 60:02d}–{e // 60:02d}:{e % 60:02d}" for s, e in windows)


class _Problems:
    """Collects validation problems, each naming the rule and the field."""

    def __init__(self):
        self.lines = []

    def add(self, where, field_name, message):
        line = f"{where} {field_name}: {message}" if field_name else f"{where}: {message}"
        if len(line) > _MAX_PROBLEM_CHARS:  # values from the file are untrusted: never echo them whole
            line = line[: _MAX_PROBLEM_CHARS - 3] + "..."
        self.lines.append(line)

    def message(self, source):
        shown = self.lines[:_MAX_PROBLEMS]
        more = len(self.lines) - len(shown)
        body = "\n".join(f"  {line}" for line in shown) + (f"\n  ... and {more} more" if more else "")
        return f"{source}: {len(self.lines)} problem(s)\n{body}"


_MAX_PROBLEM_CHARS = 300
#: Most memoised outcomes of steps (3)-(8) a rule set keeps.
_LATER_CACHE = 50_000
_MAX_PROBLEMS = 50


def _str_list(value, where, name, problems, *, nested=False):
    """Return a tuple of non-empty strings (or tuples of strings when nested)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        problems.add(where, name, f"expected a list, got {type(value).__name__} {value!r}")
        return ()
    out = []
    for entry in value:
        if nested and isinstance(entry, (list, tuple)):
            group = tuple(str(p).strip() for p in entry if str(p).strip())
            if not group or len(group) != len(entry):
                problems.add(where, name, f"empty phrase in group {list(entry)!r}")
                continue
            out.append(group)
        elif isinstance(entry, (str, int)) and not isinstance(entry, bool) and str(entry).strip():
            out.append(str(entry).strip())
        else:
            problems.add(where, name, f"expected non-empty text, got {entry!r}")
    return tuple(out)


def _parse_hhmm(value, where, name, problems):
    text = str(value).strip() if value is not None else ""
    m = _HHMM_RE.match(text)
    if not m:
        problems.add(where, name, f"time {value!r} is not HH:MM (00:00–23:59)")
        return None
    return int(m.group(1)) * 60 + int(m.group(2))


def _parse_window(spec, where, name, problems):
    if not isinstance(spec, dict) or set(spec) != {"from", "to"}:
        problems.add(where, name, f"a time window needs exactly 'from' and 'to', got {spec!r}")
        return None
    start = _parse_hhmm(spec["from"], where, name + ".from", problems)
    end = _parse_hhmm(spec["to"], where, name + ".to", problems)
    if start is None or end is None:
        return None
    if start == end:
        problems.add(where, name, f"empty time window {spec['from']}–{spec['to']}")
        return None
    return (start, end)


def _parse_time(value, windows, where, problems):
    """Return (windows, label) for a ``time`` condition."""
    entries = value if isinstance(value, list) else [value]
    out, labels = [], []
    before = len(problems.lines)
    for entry in entries:
        if isinstance(entry, str):
            if entry not in windows:
                problems.add(where, "when.time", f"unknown time window {entry!r}; known: {sorted(windows)}")
                continue
            out.extend(windows[entry])
            labels.append(entry)
        else:
            w = _parse_window(entry, where, "when.time", problems)
            if w:
                out.append(w)
                labels.append(_fmt_windows([w]))
    if not out and len(problems.lines) == before:
        problems.add(where, "when.time", f"no usable time window in {value!r}")
    return tuple(out), "、".join(labels)


@dataclass(frozen=True)
class _KnownCodes:
    """The catalog's item, subcategory and category codes (rules are checked against them)."""

    items: frozenset
    subcategories: frozenset
    categories: frozenset


@dataclass(frozen=True)
class _ParseEnv:
    """What every rule of a file is checked against while it is parsed."""

    places: dict  # place type -> trigger words
    windows: dict  # time window name -> ((start, end), ...)
    known_roles: set | None  # the directory's roles; None: not checked
    codes: _KnownCodes | None  # None: not checked
    directory: object  # normalises district and street names; None: not checked


@dataclass(frozen=True)
class _RuleHeader:
    """A rule's identity and switch, with its still unparsed ``when`` and ``then`` mappings."""

    rid: str
    description: str
    priority: int
    enabled: object
    when: dict
    then: dict


def _section(value, where, name, missing, problems):
    """A rule's ``when`` or ``then`` mapping; ``{}`` (and a problem) when absent or empty."""
    if not isinstance(value, dict) or not value:
        problems.add(where, name, missing)
        return {}
    return value


def _unknown_keys(mapping, allowed, where, name, what, problems):
    """Report every key of ``mapping`` that is not ``allowed``."""
    for key in mapping:
        if key not in allowed:
            problems.add(where, f"{name}.{key}", f"{what}; allowed: {list(allowed)}")


def _check_bool(value, where, name, problems):
    if value is None:
        return False
    if not isinstance(value, bool):
        problems.add(where, name, f"expected true or false, got {value!r}")
        return False
    return value


@dataclass(eq=False)
class _Pass:
    """The working state of one :meth:`RuleSet.apply`: what each step reads and adds.

    The inputs come first; every later field starts empty and is filled by
    the step named in its comment, so a step's effect is visible in one place.
    """

    item: object
    text: str
    context: RoutingContext
    directory: object
    reasons: list = field(default_factory=list)
    district: str | None = None  # (1) place
    street: str | None = None  # (1) place
    place: object = None  # (1) the places layer's ``Located`` answer, if any
    fired: list = field(default_factory=list)  # (2) rules
    lead_role: str | None = None  # (3) lead, (4) first-responsible, (6) joint review
    co_roles: list = field(default_factory=list)  # (3) lead, (6) joint review
    arbitration: bool = False  # (3) lead conflicts, (5) arbitration
    item_lead: str | None = None  # (4) first-responsible
    joint_review: bool = False  # (6) joint review
    urgency: str = "一般"  # (7) urgency
    dispatch: datetime | None = None  # (7) urgency
    contact: datetime | None = None  # (7) urgency
    unique_co: list = field(default_factory=list)  # (8) units
    lead_unit: str | None = None  # (8) units
    co_units: list = field(default_factory=list)  # (8) units

    #: What steps (3)-(8) leave behind, besides their reasons and the deadlines.
    LATER = ("lead_role", "co_roles", "arbitration", "item_lead", "joint_review", "urgency", "unique_co",
             "lead_unit", "co_units")

    def snapshot(self, start):
        """The outcome of steps (3)-(8): their fields and the reasons they added after ``start``."""
        values = tuple(tuple(v) if isinstance(v, list) else v for v in (getattr(self, f) for f in self.LATER))
        return values, tuple(self.reasons[start:])

    def restore(self, snapshot):
        """Take a :meth:`snapshot` of the same steps as if they had just run."""
        values, reasons = snapshot
        for name, value in zip(self.LATER, values):
            setattr(self, name, list(value) if isinstance(value, tuple) else value)
        self.reasons.extend(reasons)

    def resolution(self) -> Resolution:
        """The finished :class:`Resolution`."""
        return Resolution(
            lead_department=self.lead_unit, co_departments=tuple(self.co_units), lead_role=self.lead_role,
            co_roles=tuple(self.unique_co), urgency=self.urgency, received_at=self.context.received_at,
            dispatch_deadline=self.dispatch, contact_deadline=self.contact, arbitration=self.arbitration,
            joint_review=self.joint_review, district=self.district, street=self.street,
            fired_rules=tuple(r.id for r in self.fired), reasons=tuple(self.reasons),
            flags=tuple(self.place.flags) if self.place is not None else (),
        )


class RuleSet:
    """An ordered, validated, indexed set of routing rules.

    Build it with :func:`load_rules` (a YAML file) or :meth:`from_dict`.

    Parameters
    ----------
    rules : sequence of Rule
        Already validated rules.
    places : dict
        Place type -> trigger words.
    time_windows : dict
        Name -> tuple of (start, end) minute windows.
    source : str, optional
        Where the rules came from.

    Examples
    --------
    >>> rs = load_rules()
    >>> len(rs) >= 35 and "river" in rs.place_types
    True
    >>> rs.detect_places("坪联路过河大桥下跳广场舞") >= {"river", "bridge"}
    True
    """

    def __init__(self, rules, *, places=None, time_windows=None, source=None):
        self._rules = tuple(sorted(rules, key=lambda r: (r.priority, r.index)))
        self.source = source or "<rules>"
        self._places = {k: tuple(v) for k, v in (places or {}).items()}
        self._place_res = {k: _phrase_re(v) for k, v in self._places.items() if v}
        self._time_windows = dict(time_windows or DEFAULT_TIME_WINDOWS)
        self._by_item, self._by_sub, self._by_cat = {}, {}, {}
        self._untargeted = []
        for r in self._rules:
            if not r.targeted:
                self._untargeted.append(r)
            for code in r.items:
                self._by_item.setdefault(code, []).append(r)
            for code in r.subcategories:
                self._by_sub.setdefault(code, []).append(r)
            for code in r.categories:
                self._by_cat.setdefault(code, []).append(r)
        self._candidates_cache = {}
        self._district_norm = {}
        self._later_cache = {}  # memo of steps (3)-(8), see _later_steps
        self._last_place = None  # (directory, (text, district, street, location), Located), see _jurisdiction
        self._group_roles = {}  # id(directory) -> (directory, its role -> reads-the-text test)

    # --------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, data, *, directory=None, catalog=None, source=None):
        """Validate a parsed rules document and build the rule set.

        Parameters
        ----------
        data : dict
            ``{"rules": [...], "places": {...}, "time_windows": {...}}``.
        directory : DepartmentDirectory, optional
            Roles (and district / street names) are checked against it.
        catalog : DutyCatalog, optional
            Item, subcategory and category codes are checked against it.
        source : str, optional
            File name used in error messages.

        Raises
        ------
        RulesError
            With every problem found, each naming the rule (index and id) and field.
        """
        source = source or "<rules>"
        problems = _Problems()
        if not isinstance(data, dict):
            raise RulesError(f"{source}: expected a mapping with a 'rules' list, got {type(data).__name__}")
        for key in data:
            if key not in _FILE_KEYS:
                problems.add("file", key, f"unknown top-level key; allowed: {list(_FILE_KEYS)}")
        places = cls._parse_places(data.get("places"), problems)
        windows = cls._parse_windows(data.get("time_windows"), problems)
        raw_rules = data.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            problems.add("file", "rules", "expected a non-empty list of rules")
            raw_rules = []
        env = _ParseEnv(places=places, windows=windows, known_roles=cls._known_roles(directory),
                        codes=cls._known_codes(catalog), directory=directory)
        rules, seen_ids = [], {}
        for index, raw in enumerate(raw_rules, start=1):
            rule = cls._parse_rule(index, raw, env, seen_ids, problems)
            if rule is not None:
                rules.append(rule)
        if problems.lines:
            raise RulesError(problems.message(source))
        return cls(rules, places=places, time_windows=windows, source=source)

    @staticmethod
    def _parse_places(raw, problems):
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            problems.add("file", "places", f"expected a mapping place type -> trigger words, got {raw!r}")
            return {}
        out = {}
        for name, words in raw.items():
            where = f"place type {name!r}"
            if not isinstance(name, str) or not _PLACE_TYPE_RE.match(name):
                problems.add(where, "places", "place types are lower-case ASCII names such as 'river'")
                continue
            phrases = _str_list(words, where, "places", problems)
            if not phrases:
                problems.add(where, "places", "needs at least one trigger word")
            out[name] = phrases
        return out

    @staticmethod
    def _parse_windows(raw, problems):
        windows = dict(DEFAULT_TIME_WINDOWS)
        if raw is None:
            return windows
        if not isinstance(raw, dict):
            problems.add("file", "time_windows", f"expected a mapping name -> windows, got {raw!r}")
            return windows
        for name, specs in raw.items():
            where = f"time window {name!r}"
            specs = specs if isinstance(specs, list) else [specs]
            parsed = [_parse_window(s, where, "time_windows", problems) for s in specs]
            if parsed and all(parsed):
                windows[str(name)] = tuple(parsed)
        return windows

    @staticmethod
    def _known_roles(directory):
        if directory is None:
            return None
        roles = getattr(directory, "roles", None)
        return set(roles) if roles is not None else None

    @staticmethod
    def _known_codes(catalog):
        if catalog is None:
            return None
        return _KnownCodes(
            items=frozenset(it.code for it in catalog),
            subcategories=frozenset(getattr(it, "subcategory_code", it.code[:5]) for it in catalog),
            categories=frozenset(getattr(it, "category_code", it.code[:2]) for it in catalog),
        )

    @classmethod
    def _parse_rule(cls, index, raw, env, seen_ids, problems):
        """One rule of the file, or ``None`` when it is disabled or has problems (added to ``problems``)."""
        rid = raw.get("id") if isinstance(raw, dict) else None
        where = f"rule #{index} (id={rid!r})" if rid is not None else f"rule #{index}"
        if not isinstance(raw, dict):
            problems.add(where, "", f"expected a mapping, got {raw!r}")
            return None
        start = len(problems.lines)
        head = cls._parse_header(index, raw, where, seen_ids, problems)
        when = cls._parse_when(head.when, where, env, problems)
        then = cls._parse_then(head.then, where, env, problems)
        if len(problems.lines) > start or head.enabled is False:
            return None
        return Rule(
            id=head.rid, description=head.description, priority=head.priority, index=index,
            _any_re=_phrase_re(when["text_any"]),
            _all_res=tuple(_phrase_re(g if isinstance(g, tuple) else (g,)) for g in when["text_all"]),
            _none_re=_phrase_re(when["text_none"]),
            **when, **then,
        )

    @staticmethod
    def _parse_header(index, raw, where, seen_ids, problems):
        """The rule's keys, id, description, priority, switch and its raw ``when``/``then`` mappings."""
        for key in raw:
            if key not in _RULE_KEYS:
                problems.add(where, key, f"unknown key; allowed: {list(_RULE_KEYS)}")
        rid = raw.get("id")
        if not isinstance(rid, str) or not rid.strip():
            problems.add(where, "id", "missing or empty id")
            rid = f"#{index}"
        elif rid in seen_ids:
            problems.add(where, "id", f"duplicate id (also rule #{seen_ids[rid]})")
        else:
            seen_ids[rid] = index
        description = raw.get("description")
        if not isinstance(description, str) or not description.strip():
            problems.add(where, "description", "missing or empty description")
            description = ""
        priority = raw.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int):
            problems.add(where, "priority", f"expected an integer, got {priority!r}")
            priority = 0
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.add(where, "enabled", f"expected true or false, got {enabled!r}")
        when = _section(raw.get("when"), where, "when", "needs at least one condition", problems)
        then = _section(raw.get("then"), where, "then", "needs at least one action", problems)
        _unknown_keys(when, _WHEN_KEYS, where, "when", "unknown condition", problems)
        _unknown_keys(then, _THEN_KEYS, where, "then", "unknown action", problems)
        return _RuleHeader(rid, description.strip(), priority, enabled, when, then)

    @classmethod
    def _parse_when(cls, when, where, env, problems):
        """The conditions of ``when`` as ``Rule`` keyword arguments."""
        kw = {}
        for key, regex, what in (("items", _ITEM_RE, "CC-SS-III"), ("subcategories", _SUB_RE, "CC-SS"),
                                 ("categories", _CAT_RE, "CC")):
            values = _str_list(when.get(key), where, f"when.{key}", problems)
            for v in values:
                if not regex.match(v):
                    problems.add(where, f"when.{key}", f"code {v!r} is not of the form {what}")
                elif env.codes is not None and v not in getattr(env.codes, key):
                    problems.add(where, f"when.{key}", f"code {v!r} is not in the catalog")
            kw[key] = frozenset(values)
        kw["no_item"] = _check_bool(when.get("no_item"), where, "when.no_item", problems)
        if kw["no_item"] and (kw["items"] or kw["subcategories"] or kw["categories"]):
            problems.add(where, "when.no_item", "cannot be combined with items, subcategories or categories")
        kw["text_any"] = _str_list(when.get("text_any"), where, "when.text_any", problems)
        kw["text_all"] = _str_list(when.get("text_all"), where, "when.text_all", problems, nested=True)
        kw["text_none"] = _str_list(when.get("text_none"), where, "when.text_none", problems)
        if "time" in when:
            kw["time"], kw["time_label"] = _parse_time(when["time"], env.windows, where, problems)
        place = _str_list(when.get("place"), where, "when.place", problems)
        for p in place:
            if p not in env.places:
                problems.add(where, "when.place", f"unknown place type {p!r}; known: {sorted(env.places)}")
        kw["place"] = frozenset(place)
        for key, norm in (("districts", "normalize_district"), ("streets", "normalize_street")):
            kw[key] = cls._parse_area(when.get(key), key, norm, where, env.directory, problems)
        return kw

    @staticmethod
    def _parse_area(value, key, norm, where, directory, problems):
        """District or street names of a condition, normalised by ``directory`` when it can."""
        values = _str_list(value, where, f"when.{key}", problems)
        if directory is None or not hasattr(directory, norm):
            return values
        fixed = []
        for v in values:
            n = getattr(directory, norm)(v)
            if n is None:
                problems.add(where, f"when.{key}", f"unknown {key[:-1]} {v!r}")
            fixed.append(n or v)
        return tuple(fixed)

    @staticmethod
    def _parse_then(then, where, env, problems):
        """The actions of ``then`` as ``Rule`` keyword arguments."""
        kw = {}
        lead = then.get("lead")
        if lead is not None and (not isinstance(lead, str) or not lead.strip()):
            problems.add(where, "then.lead", f"expected a role name, got {lead!r}")
            lead = None
        kw["lead"] = lead.strip() if lead else None
        kw["co"] = _str_list(then.get("co"), where, "then.co", problems)
        for name, roles in (("then.lead", (kw["lead"],) if kw["lead"] else ()), ("then.co", kw["co"])):
            for role in roles:
                if env.known_roles is not None and role not in env.known_roles:
                    problems.add(where, name, f"unknown department role {role!r}")
        urgency = then.get("urgency")
        if urgency is not None and urgency not in URGENCIES:
            problems.add(where, "then.urgency", f"{urgency!r} not one of {list(URGENCIES)}")
            urgency = None
        kw["urgency"] = urgency
        kw["arbitration"] = _check_bool(then.get("arbitration"), where, "then.arbitration", problems)
        kw["joint_review"] = _check_bool(then.get("joint_review"), where, "then.joint_review", problems)
        note = then.get("note", "")
        if not isinstance(note, str):
            problems.add(where, "then.note", f"expected text, got {note!r}")
            note = ""
        kw["note"] = note.strip()
        return kw

    # -------------------------------------------------------------- accessors
    def check_catalog(self, catalog) -> None:
        """Raise :class:`RulesError` when a rule names a code or role ``catalog`` does not have.

        A rule on a code the catalog lacks (a typo such as ``08-04-030``)
        would load and never fire; a role its directory lacks would make
        every matching ticket fail.
        """
        codes = self._known_codes(catalog)
        roles = self._known_roles(catalog.departments)
        problems = _Problems()
        for rule in self._rules:
            where = f"rule {rule.id!r}"
            for key in ("items", "subcategories", "categories"):
                for v in sorted(getattr(rule, key)):
                    if v not in getattr(codes, key):
                        problems.add(where, f"when.{key}", f"code {v!r} is not in the catalog")
            for role in rule.roles:
                if roles is not None and role not in roles:
                    problems.add(where, "then", f"unknown department role {role!r}")
        if problems.lines:
            raise RulesError(problems.message(self.source or "<rules>"))

    @property
    def rules(self) -> tuple:
        """The enabled rules in evaluation order (priority, then file order)."""
        return self._rules

    @property
    def place_types(self) -> tuple:
        """The place types of the vocabulary, in file order."""
        return tuple(self._places)

    @property
    def places(self) -> dict:
        """Place type -> trigger words."""
        return dict(self._places)

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self):
        return iter(self._rules)

    def __repr__(self) -> str:
        return f"RuleSet({len(self._rules)} rules, {len(self._places)} place types, source={self.source!r})"

    def rules_for(self, item) -> tuple:
        """The rules that can apply to ``item`` (a DutyItem or None), in evaluation order.

        Examples
        --------
        >>> rs = load_rules()
        >>> all(r.targeted is False or r.no_item for r in rs.rules_for(None))
        True
        """
        if item is None:
            key = None
        else:
            code = item.code
            key = (code, getattr(item, "subcategory_code", code[:5]), getattr(item, "category_code", code[:2]))
        try:
            return self._candidates_cache[key]
        except KeyError:
            pass
        if key is None:
            found = [r for r in self._untargeted]
        else:
            found = [r for r in self._untargeted if not r.no_item]
            found += self._by_item.get(key[0], ())
            found += self._by_sub.get(key[1], ())
            found += self._by_cat.get(key[2], ())
        unique = {id(r): r for r in found}
        result = tuple(sorted(unique.values(), key=lambda r: (r.priority, r.index)))
        self._candidates_cache[key] = result
        return result

    def detect_places(self, text, location=None) -> frozenset:
        """Place types mentioned in ``text`` or given by ``location``.

        ``location`` may be a place type itself (``"river"``) or an address.
        """
        found = set()
        if location:
            loc = str(location).strip()
            if loc in self._places:
                found.add(loc)
                loc = ""
        else:
            loc = ""
        for name, regex in self._place_res.items():
            if (text and regex.search(text)) or (loc and regex.search(loc)):
                found.add(name)
        return frozenset(found)

    # ----------------------------------------------------------------- apply
    def apply(self, item, text, context=None, directory=None) -> Resolution:
        """Decide lead and co-handling units, urgency, deadlines and flags.

        Runs the eight documented steps of the module header in order, each a
        method taking the working state (:class:`_Pass`) of this complaint.

        Parameters
        ----------
        item : DutyItem or None
            The duty item (None when no item fits).
        text : str
            The complaint, already normalised.
        context : RoutingContext, optional
            District, street, receipt time and location.
        directory : DepartmentDirectory
            Resolves roles to units (``resolve_unit``) and finds places.

        Returns
        -------
        Resolution

        Examples
        --------
        >>> from datetime import datetime
        >>> from sujian_router import DepartmentDirectory
        >>> rs = load_rules()
        >>> ctx = RoutingContext(received_at=datetime(2024, 6, 12, 9, 0))
        >>> res = rs.apply(None, "家里闻到很浓的燃气味", ctx, DepartmentDirectory.load())
        >>> res.urgency, res.joint_review, res.dispatch_deadline.strftime("%H:%M")
        ('紧急', True, '09:30')
        """
        if directory is None:
            raise TypeError("apply() needs a department directory (resolve_unit / find_places)")
        context = context or RoutingContext()
        text = text if isinstance(text, str) else ("" if text is None else str(text))
        state = _Pass(item=item, text=text, context=context, directory=directory)
        self._step_place(state)
        self._step_rules(state)
        self._later_steps(state)
        return state.resolution()

    def _later_steps(self, s):
        """Steps (3)-(8), memoised on everything they read.

        They read only the item, the fired rules, the jurisdiction of step (1),
        whether a receipt time is given and, for an operator-group role (whose
        unit the text names), the text; the deadlines are recomputed from the
        exact receipt time every time.
        """
        key = self._later_key(s)
        done = self._later_cache.get(key) if key is not None else None
        if done is not None and done[0] is s.item and done[1] is s.directory:
            s.restore(done[2])
            s.dispatch, s.contact = deadlines_for(s.urgency, s.context.received_at)
            return
        start = len(s.reasons)
        for step in (self._step_lead, self._step_first_responsible, self._step_arbitration,
                     self._step_joint_review, self._step_urgency, self._step_units):
            step(s)
        if key is not None and len(self._later_cache) < _LATER_CACHE:
            self._later_cache[key] = (s.item, s.directory, s.snapshot(start))

    def _later_key(self, s):
        """The memo key of steps (3)-(8), or ``None`` when they cannot be memoised safely."""
        reads_text = self._text_readers(s.directory)
        if reads_text is None:
            return None  # a directory that cannot say which roles read the text
        item_co = getattr(s.item, "co_departments", ()) or ()
        roles = [getattr(s.item, "lead_department", None), COORDINATOR_DISTRICT, COORDINATOR_CITY,
                 *(item_co.split("|") if isinstance(item_co, str) else item_co)]
        roles.extend(role for r in s.fired for role in r.roles)
        text_matters = any(reads_text(role) for role in roles if role)
        place = s.place
        return (id(s.item), id(s.directory), tuple(id(r) for r in s.fired), s.district, s.street,
                place.community if place is not None and s.street else None,
                place.basin if place is not None else None, place is None,
                s.context.received_at is None, s.text if text_matters else None)

    def _text_readers(self, directory):
        """``role -> bool``: does the text name the role's unit (an operator group)? ``None``: cannot say."""
        hit = self._group_roles.get(id(directory))
        if hit is not None and hit[0] is directory:
            return hit[1]
        group_of = getattr(directory, "operator_group", None)
        answers = {}

        def reads_text(role):
            found = answers.get(role)
            if found is None:
                found = answers[role] = group_of(role) is not None
            return found

        hit = self._group_roles[id(directory)] = (directory, None if group_of is None else reads_text)
        return hit[1]

    # ------------------------------------------------------------ the eight steps
    def _step_place(self, s):
        """(1) Jurisdiction: the context, else the places named in the text."""
        s.district, s.street, s.place = self._jurisdiction(s.text, s.context, s.directory, s.reasons)

    def _step_rules(self, s):
        """(2) The rules whose conditions all hold, in evaluation order."""
        when = s.context.received_at
        minute = _minutes(when) if when is not None else None
        places = None
        for rule in self.rules_for(s.item):
            if not self._text_and_time_hold(rule, s, minute):
                continue
            if rule.districts and not self._district_in(s.district, rule.districts, s.directory):
                continue
            if rule.streets and (s.street is None or s.street not in rule.streets):
                continue
            if rule.place:
                if places is None:
                    places = self._PlaceProbe(self, s.text, s.context.location)
                if not places.any_of(rule.place):
                    continue
            s.fired.append(rule)

    @staticmethod
    def _text_and_time_hold(rule, s, minute):
        """The item, text and time conditions of ``rule`` (the cheap ones, checked first)."""
        if rule.no_item and s.item is not None:
            return False
        text = s.text
        if rule._any_re is not None and not rule._any_re.search(text):
            return False
        if rule._all_res and not all(rx.search(text) for rx in rule._all_res):
            return False
        if rule._none_re is not None and rule._none_re.search(text):
            return False
        return not (rule.time and (minute is None or not _in_windows(minute, rule.time)))

    @staticmethod
    def _step_lead(s):
        """(3) The lead of the winning priority; same-priority disagreement is a conflict."""
        lead_rules = [r for r in s.fired if r.lead]
        if lead_rules:
            top = lead_rules[-1].priority
            group = [r for r in lead_rules if r.priority == top]
            winner = group[0]
            s.lead_role = winner.lead
            for other in group[1:]:
                if other.lead == winner.lead:
                    continue
                s.arbitration = True
                s.reasons.append(
                    f"规则冲突：规则{winner.id}（主办{winner.lead}）与规则{other.id}（主办{other.lead}）"
                    f"优先级同为{top}，按文件顺序采用规则{winner.id}，提交争议事项快速裁决"
                )
        for r in s.fired:
            s.reasons.append(f"规则{r.id}：{r.description}" + (f"（{r.note}）" if r.note else ""))
        item_co = tuple(getattr(s.item, "co_departments", ()) or ()) if s.item is not None else ()
        if isinstance(item_co, str):
            item_co = tuple(c for c in item_co.split("|") if c)
        s.co_roles = list(item_co)
        for r in s.fired:
            s.co_roles.extend(r.co)

    @staticmethod
    def _step_first_responsible(s):
        """(4) 首接负责: without a rule's lead, the item's catalog lead keeps the ticket."""
        s.item_lead = getattr(s.item, "lead_department", None) if s.item is not None else None
        if s.lead_role is None and s.item_lead:
            s.lead_role = s.item_lead
            s.reasons.append(f"首接负责：规则未另行指定主办，由事项“{s.item.name}”清单所列主办"
                             f"（{s.item_lead}）首接负责，直至办结")

    @staticmethod
    def _step_arbitration(s):
        """(5) 争议事项快速裁决: a disputed item or a rule asking for it."""
        if s.item is not None and getattr(s.item, "disputed", False):
            s.arbitration = True
            s.reasons.append(f"争议事项快速裁决：事项“{s.item.name}”在职责清单中标为争议事项")
        rule_arb = [r.id for r in s.fired if r.arbitration]
        if rule_arb:
            s.arbitration = True
            s.reasons.append(f"争议事项快速裁决：规则{'、'.join(rule_arb)}要求裁决")

    @staticmethod
    def _step_joint_review(s):
        """(6) 监管空白点会商研判: the coordinator leads, the former lead co-handles first."""
        why = []
        if s.item is None:
            why.append("没有对应的职责事项")
        elif getattr(s.item, "gap", False):
            why.append(f"事项“{s.item.name}”是已知监管空白点")
        rule_jr = [r.id for r in s.fired if r.joint_review]
        if rule_jr:
            why.append(f"规则{'、'.join(rule_jr)}要求会商")
        s.joint_review = bool(why)
        if s.joint_review:
            coordinator = COORDINATOR_DISTRICT if s.district else COORDINATOR_CITY
            s.co_roles[:0] = [r for r in (s.lead_role, s.item_lead) if r and r != coordinator]
            s.lead_role = coordinator
            s.reasons.append(f"监管空白点会商研判：{'；'.join(why)}，由{coordinator}牵头会商研判，明确责任单位")

    @staticmethod
    def _step_urgency(s):
        """(7) Urgency (any 紧急 rule wins, else the last rule's, else the item's) and deadlines."""
        urgent = [r.id for r in s.fired if r.urgency == "紧急"]
        if urgent:
            s.urgency = "紧急"
            s.reasons.append(f"紧急诉求：规则{'、'.join(urgent)}识别到紧急情形，30分钟内分拨")
        else:
            set_by = [r for r in s.fired if r.urgency]
            if set_by:
                s.urgency = set_by[-1].urgency
            else:
                urgency = getattr(s.item, "urgency", None) if s.item is not None else None
                s.urgency = urgency if urgency in URGENCIES else "一般"
        s.dispatch, s.contact = deadlines_for(s.urgency, s.context.received_at)
        if s.context.received_at is None:
            s.reasons.append("未提供受理时间，无法计算分拨和联系时限")

    def _step_units(self, s):
        """(8) Roles to concrete units; co-handlers de-duplicated, never the lead."""
        seen_roles = {s.lead_role}
        for role in s.co_roles:
            if role not in seen_roles:
                seen_roles.add(role)
                s.unique_co.append(role)
        where = self._where(s.place, s.street, s.text)
        lead = s.directory.resolve_unit(s.lead_role, s.district, s.street, **where)
        s.lead_unit = lead.name
        s.reasons.append(f"主办{s.lead_role}：{lead.note}" if lead.note else f"主办{s.lead_role}：{lead.name}")
        taken = {lead.name}
        for role in s.unique_co:
            res = s.directory.resolve_unit(role, s.district, s.street, **where)
            if res.name in taken:
                continue
            taken.add(res.name)
            s.co_units.append(res.name)
            if res.note:
                s.reasons.append(f"协办{role}：{res.note}")

    # --------------------------------------------------------------- helpers
    class _PlaceProbe:
        """Lazy place-type detection: each type is searched at most once."""

        __slots__ = ("_rs", "_text", "_loc", "_given", "_seen")

        def __init__(self, ruleset, text, location):
            self._rs, self._text, self._seen = ruleset, text, {}
            loc = str(location).strip() if location else ""
            self._given = loc if loc in ruleset._places else None
            self._loc = "" if self._given else loc

        def has(self, place):
            hit = self._seen.get(place)
            if hit is None:
                regex = self._rs._place_res.get(place)
                hit = place == self._given or (
                    regex is not None
                    and bool((self._text and regex.search(self._text)) or (self._loc and regex.search(self._loc)))
                )
                self._seen[place] = hit
            return hit

        def any_of(self, places):
            return any(self.has(p) for p in places)

    def _jurisdiction(self, text, context, directory, reasons):
        """Return (district, street, place) from the context and, where missing, the text.

        ``place`` is the ``Located`` answer of the
        places layer, or None for a directory without a gazetteer (then only
        ``find_places`` is used). The router applies the rules to several
        candidate items of one text in a row, so the last answer is kept.
        """
        locate = _locator(directory)
        if locate is not None:
            key = (text, context.district, context.street, context.location)
            last = self._last_place
            if last is not None and last[0] is directory and last[1] == key:
                place = last[2]
            else:
                place = locate(text, district=context.district, street=context.street, location=context.location)
                self._last_place = (directory, key, place)  # one tuple: safe to swap between threads
            reasons.extend(place.notes)
            return place.district, place.street, place
        district, street = context.district, context.street
        if district:
            norm = directory.normalize_district(district)
            if norm is None:
                reasons.append(f"未识别的区“{district}”，按区不明处理")
            district = norm
        if street:
            norm = directory.normalize_street(street, district=district)
            if norm is None:
                reasons.append(f"未识别的街道“{street}”，按街道不明处理")
            street = norm
        if district is None or street is None:
            found_d, found_s = directory.find_places(text)
            if district is None and found_d:
                district, street = found_d, street or found_s
                reasons.append(f"从诉求内容识别事发地为{found_d}{found_s or ''}")
        if district is None:
            reasons.append("事发区不明，区级职责按市级单位指定")
        return district, street, None

    @staticmethod
    def _where(place, street, text):
        """Keyword arguments for ``resolve_unit`` beyond district and street."""
        if place is None:
            return {}
        return {"community": place.community if street else None, "basin": place.basin, "text": text}

    def _district_in(self, district, wanted, directory):
        if district is None:
            return False
        if district in wanted:
            return True
        key = (id(directory), wanted)
        norm = self._district_norm.get(key)
        if norm is None:
            norm = frozenset((directory.normalize_district(w) or w) for w in wanted)
            self._district_norm[key] = norm
        return district in norm


def load_rules(path=None, *, directory=None, catalog=None) -> RuleSet:
    """Read and validate a rules YAML file (the bundled ``rules.yaml`` by default).

    Parameters
    ----------
    path : str or Path, optional
        A rules file in the format of the bundled ``data/rules.yaml``.
    directory : DepartmentDirectory, optional
        Every role (and district / street name) is checked against it; for
        a ``path``, the catalog's directory (the bundled one) by default.
    catalog : DutyCatalog, optional
        Every item / subcategory / category code is checked against it; for
        a ``path``, the bundled catalog by default. Aliases and duplicated
        keys are refused in any file.

    Returns
    -------
    RuleSet

    Raises
    ------
    RulesError
        All problems at once, each naming the rule (index and id) and the field;
        also for unreadable files or invalid YAML.

    Examples
    --------
    >>> rs = load_rules()
    >>> rs.rules[0].priority <= rs.rules[-1].priority
    True
    """
    import yaml

    if path is not None and catalog is None:
        from ._catalog import load_catalog

        catalog = load_catalog()  # a user's file is checked against the bundled catalog ...
    if path is not None and directory is None:
        directory = catalog.departments  # ... and its directory, unless others are given
    if path is None:
        ref = resources.files("sujian_router") / "data" / "rules.yaml"
        text, source = ref.read_text(encoding="utf-8-sig"), "rules.yaml"
    else:
        path = Path(path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError) as exc:
            raise RulesError(f"{source}: cannot read rules file ({exc.__class__.__name__})") from None
    try:
        data = yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        msg = str(exc)
        msg = msg if len(msg) <= 500 else msg[:497] + "..."
        raise RulesError(f"{source}: invalid YAML: {msg}") from None
    return RuleSet.from_dict(data, directory=directory, catalog=catalog, source=source)


def _strict_loader():
    """A ``yaml.SafeLoader`` that refuses aliases (``*name``: no alias bombs) and duplicated keys."""
    import yaml
    from yaml.constructor import ConstructorError

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise ConstructorError(None, None, "aliases (*name) are not allowed in a rules file", mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _value in node.value:
                key = self.construct_object(key_node, deep=deep)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise ConstructorError("while reading a mapping", node.start_mark,
                                           f"the key {str(key)[:80]!r} appears twice", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def _locator(directory):
    """The places layer's ``locate`` bound to ``directory``, or None for a directory without a gazetteer.

    A :class:`~sujian_router.catalog.DepartmentDirectory` is located through
    :func:`sujian_router.places.locate`; another object may bring its own
    ``locate(text, district=, street=, location=)`` method.
    """
    from ._departments import DepartmentDirectory

    if isinstance(directory, DepartmentDirectory):
        from ._places import locate

        return functools.partial(locate, directory)
    return getattr(directory, "locate", None)
