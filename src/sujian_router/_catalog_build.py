"""Build the duty catalog and the department directory from their seeds.

The seeds (``data/seeds/CC_<category>.yaml`` and ``data/seeds/departments.yaml``)
are the human-edited sources; ``data/duty_catalog.csv`` and
``data/departments.csv`` are generated from them, byte for byte
deterministically, by :func:`build_catalog` (``sujian-router catalog build``).
``sujian-router catalog build --check`` rebuilds in a temporary directory and
fails when the committed CSVs differ from what the seeds give.

Examples
--------
>>> import shutil, tempfile
>>> from pathlib import Path
>>> from sujian_router._catalog_build import build_catalog, _PACKAGE_DATA
>>> with tempfile.TemporaryDirectory() as tmp:
...     for name in ("departments.yaml", "communities.csv"):
...         _ = shutil.copy(_PACKAGE_DATA / "seeds" / name, tmp)
...     result = build_catalog(seed_dir=tmp, out_dir=tmp, strict=False)
>>> result.n_items, result.n_units > 1400
(0, True)
"""

from __future__ import annotations

import csv
import filecmp
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ._catalog import CATALOG_COLUMNS, CATEGORIES, TOTAL_ITEMS, URGENCIES
from ._departments import DEPARTMENT_COLUMNS, LEVELS
from ._schema import columns_problem
from .exceptions import CatalogError

__all__ = ["BuildResult", "build_catalog", "build_departments", "check_catalog", "derive_communities", "lint_items",
           "seed_items", "write_crosswalk"]

_PACKAGE_DATA = Path(__file__).resolve().parent / "data"
_SEED_GLOB = "[0-9][0-9]_*.yaml"
_OVERRIDES = ("lead", "co", "urgency", "legal_basis", "disputed", "gap")
_SUB_KEYS = {"code", "name", "items", "matrix", *_OVERRIDES}
_ITEM_KEYS = {"name", "scope", "keywords", "phrasings", "formerly", *_OVERRIDES}
_OBJECT_KEYS = {"name", "keywords", "phrasings", *_OVERRIDES}
_ASPECT_KEYS = {"name", "template", "scope", "keywords", "phrasings", *_OVERRIDES}
_MATRIX_KEYS = {"objects", "aspects", "exclude", "overrides"}
_FILE_KEYS = {"category_code", "category", "items_target", "subcategories", "notes", "sources"}


@dataclass(frozen=True)
class BuildResult:
    """What a catalog build produced.

    Attributes
    ----------
    n_items : int
        Duty items written.
    counts : dict
        Items per category code.
    n_units : int
        Units written to the department directory.
    catalog_path, departments_path : str
        Files written.
    seed_files : tuple of str
        Category seed files read, in order.
    warnings : tuple of str
        Problems tolerated because ``strict=False`` (counts, missing files).
    """

    n_items: int
    counts: dict
    n_units: int
    catalog_path: str
    departments_path: str
    seed_files: tuple = ()
    warnings: tuple = field(default=())

    def to_dict(self) -> dict:
        """Return a JSON-friendly dict."""
        return {
            "n_items": self.n_items,
            "counts": dict(self.counts),
            "n_units": self.n_units,
            "catalog_path": self.catalog_path,
            "departments_path": self.departments_path,
            "seed_files": list(self.seed_files),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------- io
def _read_yaml(path: Path, problems: list):
    import yaml

    try:
        with open(path, encoding="utf-8-sig") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        problems.append(f"{path.name}: invalid YAML: {exc}".replace("\n", " "))
    except OSError as exc:
        problems.append(f"{path.name}: cannot read: {exc}")
    return None


def _csv_bytes(header, rows) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# ------------------------------------------------------------ departments
_COMMUNITY_SUFFIXES = ("社区居民委员会", "社区居委会", "社区居委", "居民委员会", "居委会", "村民委员会", "村委会")
COMMUNITY_COLUMNS = ("code", "official_name", "name", "parent_community", "street", "district")


def _community_short(official: str):
    """Return ``(short name, parent community)`` of an official committee name.

    ``桂木园社区居民委员会`` gives ``('桂木园', '')``; a residents' committee
    inside a community (``坂田社区坂田围居委会``) gives ``('坂田围', '坂田')``.
    """
    name = official
    for suffix in _COMMUNITY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    else:
        if name.endswith("社区") and len(name) > 2:
            name = name[:-2]
    parent, sep, inner = name.partition("社区")
    if sep and inner:
        return inner, parent
    return name, ""


def derive_communities(source, out_path=None, *, departments_seed=None) -> Path:
    """Write the package's ``seeds/communities.csv`` from the NBS community list.

    Parameters
    ----------
    source : str or Path
        A CSV with ``community_code, community, street_code, street, district``
        (``shenzhen_communities.csv`` of the shared domain folder).
    out_path : str or Path, optional
        Where to write (default: the package's ``data/seeds/communities.csv``).
    departments_seed : str or Path, optional
        The departments seed whose districts decide each street's district
        (大鹏新区's streets are coded under 龙岗区 in the NBS list).

    Returns
    -------
    Path
        The file written: official name, short name, parent community, street
        and district for every community of a street in the directory
        (virtual communities of bonded zones and the airport are left out).
    """
    import yaml

    out = Path(out_path) if out_path is not None else _PACKAGE_DATA / "seeds" / "communities.csv"
    seed_path = Path(departments_seed) if departments_seed else _PACKAGE_DATA / "seeds" / "departments.yaml"
    seed = yaml.safe_load(seed_path.read_text(encoding="utf-8-sig"))
    district_of = {s: d["name"] for d in seed["districts"] for s in d.get("streets") or ()}
    with open(source, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("community_code", "community", "street") if c not in (reader.fieldnames or [])]
        if missing:
            raise CatalogError([columns_problem(("community_code", "community", "street"), reader.fieldnames)],
                               source=str(source))
        rows = []
        for row in reader:
            street = row["street"].strip()
            if street not in district_of:
                continue
            short, parent = _community_short(row["community"].strip())
            rows.append([row["community_code"].strip(), row["community"].strip(), short, parent,
                         street, district_of[street]])
    rows.sort(key=lambda r: r[0])
    out.write_bytes(_csv_bytes(COMMUNITY_COLUMNS, rows))
    return out


def read_communities(path=None) -> list:
    """Read ``seeds/communities.csv`` (or ``path``) as a list of dicts."""
    if path is None:
        text = (_PACKAGE_DATA / "seeds" / "communities.csv").read_text(encoding="utf-8-sig")
    else:
        text = Path(path).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    found = list(reader.fieldnames or [])
    if found != list(COMMUNITY_COLUMNS):
        raise CatalogError([columns_problem(COMMUNITY_COLUMNS, found)], source=str(path or "communities.csv"))
    return list(reader)


class _Rows:
    """Collects directory rows and the problems found while expanding the seed."""

    def __init__(self):
        self.rows, self.problems = [], []

    def add(self, name, role, level, district="", street="", covers=(), parent="", community="", keywords=()):
        self.rows.append({
            "unit_id": "", "name": name, "role": role, "level": level, "district": district,
            "street": street, "covers": "|".join(covers), "parent": parent,
            "community": community, "keywords": "|".join(keywords),
        })


def _parent_city(city, role, spec, where, out):
    parent = spec.get("parent", "")
    if parent and parent not in city:
        out.problems.append(f"departments.yaml: {where} {role}: parent {parent!r} is not a city role")
        return ""
    return city.get(parent, "")


def _add_district(out, dist, city, district_roles, street_roles):
    dname, short = dist.get("name", ""), dist.get("short", "")
    if not dname or not short:
        out.problems.append(f"departments.yaml: district {dist!r} needs name and short")
        return {}
    overrides = dist.get("overrides") or {}
    local = {}
    for role, spec in district_roles.items():
        if spec.get("basin"):
            continue
        name = overrides.get(role) or spec.get("template", "").format(district=dname, short=short)
        if not name:
            out.problems.append(f"departments.yaml: district role {role}: no template")
            continue
        local[role] = name
        out.add(name, role, "district", district=dname, parent=_parent_city(city, role, spec, "district role", out))
    streets = {}
    for street in dist.get("streets") or []:
        sshort = street[:-2] if street.endswith("街道") else street[:-1]
        is_town = street.endswith("镇")
        local_street = {}
        for role, spec in street_roles.items():
            template = spec.get("town_template") if is_town and spec.get("town_template") else spec.get("template", "")
            template = (dist.get("street_overrides") or {}).get(role) or template
            name = template.format(district=dname, short=short, street=street, street_short=sshort)
            parent_role = spec.get("parent", "")
            parent = local_street.get(parent_role) or local.get(parent_role, "")
            if parent_role and not parent:
                out.problems.append(
                    f"departments.yaml: street role {role}: parent {parent_role!r} must be a "
                    "district role or a street role listed before it"
                )
            local_street[role] = name
            out.add(name, role, "street", district=dname, street=street, parent=parent)
        streets[street] = local_street
    return streets


def _add_communities(out, community_roles, communities, street_units):
    for role, spec in community_roles.items():
        parent_role = spec.get("parent", "")
        for row in communities:
            local = street_units.get(row["street"])
            if local is None:
                out.problems.append(f"communities.csv: {row['official_name']}: street {row['street']!r} not in the directory")
                continue
            parent = local.get(parent_role, "")
            if not parent:
                out.problems.append(f"departments.yaml: community role {role}: parent {parent_role!r} is not a street role")
                return
            name = spec.get("template", "").format(street=row["street"], community=row["name"], district=row["district"])
            out.add(name, role, "community", district=row["district"], street=row["street"], parent=parent,
                    community=row["name"])


def _add_basins(out, district_roles, basins, city):
    for role, spec in district_roles.items():
        if not spec.get("basin"):
            continue
        for basin in basins:
            if not basin.get("name"):
                continue
            covers = tuple(basin.get("covers") or ()) + tuple(basin.get("streets") or ())
            out.add(basin["name"], role, "district", covers=covers,
                    parent=_parent_city(city, role, spec, "basin role", out))


def _add_groups(out, groups, roles):
    for role, spec in groups.items():
        members = dict(spec.get("members") or {})
        regulator = spec.get("regulator", "")
        if regulator not in roles:
            out.problems.append(f"departments.yaml: operator group {role}: regulator {regulator!r} is not a role")
        for member, words in members.items():
            if member not in roles:
                out.problems.append(f"departments.yaml: operator group {role}: member {member!r} is not a role")
                continue
            for row in out.rows:
                if row["role"] == member:
                    row["keywords"] = "|".join(str(w) for w in words)
        out.add(spec.get("name") or role, role, "group", covers=tuple(members), parent=regulator)


def _check_names(out, merged):
    names = {}
    for i, row in enumerate(out.rows, start=1):
        row["unit_id"] = f"U{i:04d}"
        first = names.setdefault(row["name"], row)
        if first is not row and not (row["name"] in merged and row["district"] == first["district"]):
            out.problems.append(f"departments.yaml: unit name {row['name']!r} generated twice")
        assert row["level"] in LEVELS


def build_departments(seed, communities=None) -> list:
    """Expand the departments seed (a dict) into unit rows.

    Parameters
    ----------
    seed : dict
        The parsed ``departments.yaml``.
    communities : list of dict, optional
        Rows of ``communities.csv`` (needed when the seed has
        ``community_roles``).

    Returns
    -------
    list of dict
        One dict per unit with the ``departments.csv`` columns.

    Raises
    ------
    CatalogError
        If the seed is incomplete (names the section and role).

    Examples
    --------
    >>> seed = {"districts": [{"name": "坪山区", "short": "坪山", "streets": ["坪山街道"]}],
    ...         "city_roles": {"市公安局": "深圳市公安局"},
    ...         "district_roles": {"公安分局": {"template": "深圳市公安局{short}分局", "parent": "市公安局"}},
    ...         "street_roles": {"派出所": {"template": "{street_short}派出所", "parent": "公安分局"}}}
    >>> [row["name"] for row in build_departments(seed)]
    ['深圳市公安局', '深圳市公安局坪山分局', '坪山派出所']
    """
    out = _Rows()
    city = dict(seed.get("city_roles") or {})
    for role, name in city.items():
        out.add(str(name), role, "city")
    district_roles = dict(seed.get("district_roles") or {})
    street_roles = dict(seed.get("street_roles") or {})
    districts = list(seed.get("districts") or [])
    if not districts:
        out.problems.append("departments.yaml: no districts")
    street_units, merged = {}, set()
    for dist in districts:
        street_units.update(_add_district(out, dist, city, district_roles, street_roles))
        names = list((dist.get("overrides") or {}).values())
        merged.update(n for n in names if names.count(n) > 1)
    community_roles = dict(seed.get("community_roles") or {})
    if community_roles:
        if communities is None:
            out.problems.append("departments.yaml: community_roles need communities.csv beside the seed")
        else:
            _add_communities(out, community_roles, communities, street_units)
    _add_basins(out, district_roles, list(seed.get("basins") or []), city)
    for role, name in dict(seed.get("utilities") or {}).items():
        out.add(str(name), role, "utility")
    _add_groups(out, dict(seed.get("operator_groups") or {}), {r["role"] for r in out.rows})
    _check_names(out, merged)
    if out.problems:
        raise CatalogError(out.problems, source="departments.yaml")
    return out.rows


# ---------------------------------------------------------------- catalog
def _as_list(value, where, key, problems):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and str(v) != ""]
    problems.append(f"{where}: {key} must be a list, got {type(value).__name__}")
    return []


def _fill(text, obj, asp):
    return str(text).replace("{object}", obj).replace("{aspect}", asp)


def _dedupe(values):
    return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _flag(value, where, key, problems):
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    problems.append(f"{where}: {key} must be true/false, got {value!r}")
    return False


def _unknown_keys(mapping, allowed, where, problems):
    extra = sorted(set(mapping) - allowed)
    if extra:
        problems.append(f"{where}: unknown key(s) {extra}; allowed: {sorted(allowed)}")


@dataclass(frozen=True)
class ExpandedSeed:
    """One category seed file expanded into its items (item dicts in code order)."""

    category_code: str
    category: str
    items_target: object
    items: list


def _expand_file(path: Path, data, roles, problems) -> ExpandedSeed:
    """Expand one category seed file: header checks, each subcategory's items, item-level checks."""
    fname = path.name
    if not isinstance(data, dict):
        problems.append(f"{fname}: expected a mapping at top level")
        return ExpandedSeed(None, None, None, [])
    cc, category = _check_file_header(fname, data, problems)
    target = data.get("items_target")
    items = []
    seen_sub = set()
    for si, sub in enumerate(data.get("subcategories") or [], start=1):
        if not isinstance(sub, dict):
            problems.append(f"{fname}: subcategory #{si} is not a mapping")
            continue
        items.extend(_expand_subcategory(fname, cc, category, sub, seen_sub, problems))
    for item in items:
        _check_item(item, roles, problems)
    if target is None:
        problems.append(f"{fname}: items_target missing")
    elif len(items) != target:
        problems.append(f"{fname}: items_target {target} but the seed yields {len(items)} items")
    return ExpandedSeed(cc, category, target, items)


def _check_file_header(fname, data, problems):
    """The category code and name of a seed file, checked against its file name and ``CATEGORIES``."""
    _unknown_keys(data, _FILE_KEYS, fname, problems)
    cc = str(data.get("category_code", "")).zfill(2)
    category = str(data.get("category", "")).strip()
    if not fname.startswith(cc + "_"):
        problems.append(f"{fname}: category_code {cc!r} does not match the file name")
    expected = CATEGORIES.get(cc)
    if expected is None:
        problems.append(f"{fname}: unknown category_code {cc!r}")
    elif category != expected:
        problems.append(f"{fname}: category {category!r} should be {expected!r} for code {cc}")
    return cc, category


class _ItemEmitter:
    """Collects a subcategory's items, each with the subcategory's defaults overridden layer by layer."""

    def __init__(self, sub, problems):
        self.defaults = {
            "lead": sub.get("lead"),
            "co": sub.get("co"),
            "urgency": sub.get("urgency", "一般"),
            "legal_basis": sub.get("legal_basis", ""),
            "disputed": sub.get("disputed", False),
            "gap": sub.get("gap", False),
        }
        self.problems = problems
        self.produced = []

    def emit(self, name, scope, keywords, phrasings, layers, where):
        """Add one item; ``layers`` (item, or object/aspect/override) override the defaults in order."""
        spec = dict(self.defaults)
        for layer in layers:
            for key in _OVERRIDES:
                if layer.get(key) is not None:
                    spec[key] = layer[key]
        problems = self.problems
        self.produced.append(
            {
                "where": where,
                "name": str(name).strip(),
                "scope": str(scope or "").strip(),
                "keywords": _dedupe(keywords),
                "phrasings": _dedupe(phrasings),
                "lead": str(spec["lead"] or "").strip(),
                "co": _dedupe(_as_list(spec["co"], where, "co", problems)),
                "urgency": str(spec["urgency"] or "").strip(),
                "legal_basis": str(spec["legal_basis"] or "").strip(),
                "disputed": _flag(spec["disputed"], where, "disputed", problems),
                "gap": _flag(spec["gap"], where, "gap", problems),
            }
        )
        return self.produced[-1]


def _expand_subcategory(fname, cc, category, sub, seen_sub, problems):
    """A subcategory's listed items, then its object × aspect matrix, numbered ``CC-SS-NNN``."""
    ss = str(sub.get("code", "")).zfill(2)
    sname = str(sub.get("name", "")).strip()
    swhere = f"{fname}: subcategory {ss} {sname}"
    _unknown_keys(sub, _SUB_KEYS, swhere, problems)
    if not re.fullmatch(r"\d{2}", ss):
        problems.append(f"{swhere}: code must be two digits")
    if ss in seen_sub:
        problems.append(f"{swhere}: subcategory code {ss} used twice")
    seen_sub.add(ss)
    if not sname:
        problems.append(f"{swhere}: empty name")
    emitter = _ItemEmitter(sub, problems)
    _emit_listed_items(sub, swhere, emitter, problems)
    if sub.get("matrix"):
        _emit_matrix_items(sub["matrix"], f"{swhere}: matrix", emitter, problems)
    if not emitter.produced:
        problems.append(f"{swhere}: yields no items")
    items = []
    for n, item in enumerate(emitter.produced, start=1):
        if n > 999:
            problems.append(f"{swhere}: more than 999 items")
            break
        item.update(code=f"{cc}-{ss}-{n:03d}", category_code=cc, category=category,
                    subcategory_code=f"{cc}-{ss}", subcategory=sname)
        items.append(item)
    return items


def _emit_listed_items(sub, swhere, emitter, problems):
    """The items a subcategory lists one by one (with the old codes each replaces)."""
    for ii, item in enumerate(sub.get("items") or [], start=1):
        where = f"{swhere}: item #{ii} {item.get('name', '') if isinstance(item, dict) else ''}"
        if not isinstance(item, dict):
            problems.append(f"{where}: not a mapping")
            continue
        _unknown_keys(item, _ITEM_KEYS, where, problems)
        emitted = emitter.emit(
            item.get("name", ""),
            item.get("scope", ""),
            _as_list(item.get("keywords"), where, "keywords", problems),
            _as_list(item.get("phrasings"), where, "phrasings", problems),
            [item],
            where,
        )
        emitted["formerly"] = _as_list(item.get("formerly"), where, "formerly", problems)


@dataclass(frozen=True)
class _Matrix:
    """A subcategory's object × aspect matrix as read from its seed."""

    objects: list
    aspects: list
    exclude: set
    overrides: dict


def _matrix_parts(matrix, mwhere, problems):
    """The matrix's objects, aspects, excluded pairs and per-pair overrides, with their keys checked."""
    _unknown_keys(matrix, _MATRIX_KEYS, mwhere, problems)
    objects = [o for o in matrix.get("objects") or [] if isinstance(o, dict)]
    aspects = [a for a in matrix.get("aspects") or [] if isinstance(a, dict)]
    for o in objects:
        _unknown_keys(o, _OBJECT_KEYS, f"{mwhere}: object {o.get('name')}", problems)
    for a in aspects:
        _unknown_keys(a, _ASPECT_KEYS, f"{mwhere}: aspect {a.get('name')}", problems)
    onames = [str(o.get("name", "")) for o in objects]
    anames = [str(a.get("name", "")) for a in aspects]
    exclude = set()
    for pair in matrix.get("exclude") or []:
        obj, _, asp = str(pair).partition("|")
        if obj not in onames or asp not in anames:
            problems.append(f"{mwhere}: exclude {pair!r} names no object|aspect pair")
        exclude.add((obj, asp))
    overrides = matrix.get("overrides") or {}
    for key in overrides:
        obj, _, asp = str(key).partition("|")
        if obj not in onames or asp not in anames:
            problems.append(f"{mwhere}: override {key!r} names no object|aspect pair")
    return _Matrix(objects, aspects, exclude, overrides)


def _emit_matrix_items(matrix, mwhere, emitter, problems):
    """One item per object × aspect pair not excluded; the scope names the sibling aspects it excludes."""
    m = _matrix_parts(matrix, mwhere, problems)
    for o in m.objects:
        oname = str(o.get("name", ""))
        present = [a for a in m.aspects if (oname, str(a.get("name", ""))) not in m.exclude]
        for a in present:
            aname = str(a.get("name", ""))
            where = f"{mwhere}: {oname}|{aname}"
            name = _fill(a.get("template") or "{object}{aspect}", oname, aname)
            scope = _fill(a.get("scope", ""), oname, aname).strip()
            siblings = [str(b.get("name", "")) for b in present if b is not a]
            if scope and "不含" not in scope and siblings:
                scope = scope.rstrip("。；; ") + "；不含" + "、".join(siblings) + "。"
            keywords, phrasings = (
                [_fill(v, oname, aname) for layer in (o, a) for v in _as_list(layer.get(key), where, key, problems)]
                for key in ("keywords", "phrasings")
            )
            layers = [o, a, m.overrides.get(f"{oname}|{aname}") or {}]
            emitter.emit(name, scope, keywords, phrasings, layers, where)["matrix"] = True


def _check_item(item, roles, problems):
    """Item-level checks: names, scope, keywords, known roles and urgency."""
    where = item["where"]
    if not item["name"]:
        problems.append(f"{where}: empty name")
    if "{" in item["name"] or "{" in item["scope"]:
        problems.append(f"{where}: unfilled placeholder in {item['name']!r}")
    if not item["scope"]:
        problems.append(f"{where}: empty scope")
    if not item["keywords"]:
        problems.append(f"{where}: no keywords")
    for key in ("keywords", "phrasings"):
        bad = [v for v in item[key] if "|" in v]
        if bad:
            problems.append(f"{where}: {key} contain '|': {bad}")
    if item["lead"] not in roles:
        problems.append(f"{where}: unknown lead role {item['lead']!r}")
    bad_co = [r for r in item["co"] if r not in roles]
    if bad_co:
        problems.append(f"{where}: unknown co role(s) {bad_co}")
    if item["urgency"] not in URGENCIES:
        problems.append(f"{where}: urgency {item['urgency']!r} not in {list(URGENCIES)}")


def seed_items(seed_dir=None) -> list:
    """Expand every category seed (without writing anything) into item dicts.

    Each dict has the catalog fields plus ``formerly`` (the old codes the
    item replaces, as the seed says). Count targets are not enforced.

    Raises
    ------
    CatalogError
        If a seed is unreadable or malformed (other than its item count).
    """
    seed_dir = Path(seed_dir) if seed_dir is not None else _PACKAGE_DATA / "seeds"
    problems = []
    dep_seed = _read_yaml(seed_dir / "departments.yaml", problems)
    com_path = seed_dir / "communities.csv"
    if dep_seed is None:
        raise CatalogError(problems or ["departments.yaml unreadable"], source=str(seed_dir))
    units = build_departments(dep_seed, read_communities(com_path) if com_path.exists() else None)
    roles = {u["role"] for u in units}
    items = []
    for path in sorted(seed_dir.glob(_SEED_GLOB)):
        data = _read_yaml(path, problems)
        if data is not None:
            file_problems = []
            items.extend(_expand_file(path, data, roles, file_problems).items)
            problems.extend(p for p in file_problems if "items_target" not in p)
    if problems:
        raise CatalogError(problems, source=f"seeds in {seed_dir}")
    return sorted(items, key=lambda it: it["category_code"])


#: Categories where 派出所 belongs among the co-handling units without further reason.
POLICE_CO_CATEGORIES = ("06", "08", "17")
#: Words in an item's scope or legal basis that say why 派出所 helps.
POLICE_REASON_WORDS = ("治安", "公安", "警情", "报警", "违法犯罪", "人身安全", "扰乱", "打架", "斗殴", "诈骗", "走失")


def lint_items(items):
    """Content checks on expanded seed items: ``(padding problems, police warnings)``.

    - A subcategory whose matrix yields two or more items that all share the
      same lead and co-handling roles is padding: the split changes nobody's
      work and only asks the classifier to tell apart names no complaint can.
    - ``派出所`` as a co-handling role outside policing, noise and safety
      (categories 06, 08, 17) needs a reason in the item's scope or legal
      basis (a public-order word such as 治安 or 报警); otherwise it is
      listed as a warning, one line per category.

    Examples
    --------
    >>> items = [{"code": f"01-01-00{i}", "subcategory_code": "01-01", "category_code": "01", "matrix": True,
    ...           "lead": "街道办事处", "co": ["派出所"], "scope": "", "legal_basis": ""} for i in (1, 2)]
    >>> padding, police = lint_items(items)
    >>> padding[0].startswith("subcategory 01-01: its 2 matrix items")
    True
    >>> police
    ['category 01: 2 item(s) name 派出所 as co-department without a public-order reason: 01-01-001, 01-01-002']
    """
    groups = {}
    for item in items:
        if item.get("matrix"):
            groups.setdefault(item["subcategory_code"], []).append(item)
    padding = []
    for sub, members in sorted(groups.items()):
        units = {(m["lead"], tuple(sorted(m["co"]))) for m in members}
        if len(members) > 1 and len(units) == 1:
            lead, co = units.pop()
            padding.append(
                f"subcategory {sub}: its {len(members)} matrix items all go to lead {lead} with co "
                f"{list(co)}; merge them (the split changes no unit) or give them different units"
            )
    unexplained = {}
    for item in items:
        if "派出所" not in item["co"] or item["category_code"] in POLICE_CO_CATEGORIES:
            continue
        text = item.get("scope", "") + item.get("legal_basis", "")
        if not any(word in text for word in POLICE_REASON_WORDS):
            unexplained.setdefault(item["category_code"], []).append(item["code"])
    police = [
        f"category {cc}: {len(codes)} item(s) name 派出所 as co-department without a public-order reason: "
        + ", ".join(codes[:8]) + (", ..." if len(codes) > 8 else "")
        for cc, codes in sorted(unexplained.items())
    ]
    return padding, police


def _item_row(item):
    return [
        item["code"],
        item["category_code"],
        item["category"],
        item["subcategory_code"],
        item["subcategory"],
        item["name"],
        item["scope"],
        "|".join(item["keywords"]),
        "|".join(item["phrasings"]),
        item["lead"],
        "|".join(item["co"]),
        item["urgency"],
        item["legal_basis"],
        "1" if item["disputed"] else "0",
        "1" if item["gap"] else "0",
    ]


def _build(seed_dir: Path, *, strict: bool):
    """Return (catalog bytes, departments bytes, counts, n_units, files, warnings)."""
    problems, soft = [], []
    dep_path = seed_dir / "departments.yaml"
    dep_seed = _read_yaml(dep_path, problems) if dep_path.exists() else None
    if dep_seed is None:
        raise CatalogError(problems or [f"departments.yaml not found in {seed_dir}"], source=str(seed_dir))
    com_path = seed_dir / "communities.csv"
    communities = read_communities(com_path) if com_path.exists() else None
    units = build_departments(dep_seed, communities)
    roles = {u["role"] for u in units}

    files = sorted(seed_dir.glob(_SEED_GLOB))
    by_code = {}
    all_items = []
    for path in files:
        data = _read_yaml(path, problems)
        if data is None:
            continue
        file_problems = []
        expanded = _expand_file(path, data, roles, file_problems)
        cc, items = expanded.category_code, expanded.items
        for p in file_problems:
            # count mismatches are tolerated when not strict
            (soft if (not strict and "items_target" in p) else problems).append(p)
        if cc in by_code:
            problems.append(f"{path.name}: category {cc} already defined by {by_code[cc]}")
        by_code[cc] = path.name
        all_items.extend((path.name, it) for it in items)

    names = {}
    for fname, item in all_items:
        key = item["name"]
        if key in names:
            first_file, first_where = names[key]
            if first_file == fname:
                problems.append(f"{item['where']}: duplicate item name {key!r} (also {first_where})")
            else:
                problems.append(
                    f"{item['where']}: duplicate item name {key!r} (also in {first_file}: {first_where})"
                )
        else:
            names[key] = (fname, item["where"])

    missing = [f"{cc}_{name}.yaml" for cc, name in CATEGORIES.items() if cc not in by_code]
    counts = {cc: 0 for cc in sorted(by_code)}
    for _, item in all_items:
        counts[item["category_code"]] = counts.get(item["category_code"], 0) + 1
    total = len(all_items)
    global_notes = []
    if missing:
        global_notes.append(f"missing category seed file(s): {missing}")
    if total != TOTAL_ITEMS:
        global_notes.append(f"catalog has {total} items, expected {TOTAL_ITEMS}")
    (problems if strict else soft).extend(global_notes)
    padding, police = lint_items([it for _, it in all_items])
    (problems if strict else soft).extend(padding)
    soft.extend(police)
    if problems:
        raise CatalogError(problems, source=f"seeds in {seed_dir}")

    all_items.sort(key=lambda pair: pair[1]["category_code"])  # stable: file order kept
    catalog = _csv_bytes(CATALOG_COLUMNS, [_item_row(it) for _, it in all_items])
    departments = _csv_bytes(DEPARTMENT_COLUMNS, [[u[c] for c in DEPARTMENT_COLUMNS] for u in units])
    return catalog, departments, counts, len(units), tuple(p.name for p in files), tuple(soft)


def build_catalog(seed_dir=None, out_dir=None, *, strict=True) -> BuildResult:
    """Expand the seeds into ``duty_catalog.csv`` and ``departments.csv``.

    Parameters
    ----------
    seed_dir : str or Path, optional
        Folder with ``CC_*.yaml`` and ``departments.yaml`` (default: the
        package's ``data/seeds``).
    out_dir : str or Path, optional
        Where to write the two CSVs (default: the package's ``data``).
    strict : bool, default True
        Require all 18 category files and exactly 4,315 items, every file's
        ``items_target``, and no matrix padding (:func:`lint_items`). With
        ``strict=False`` these become ``warnings`` of the result; other
        problems still raise. Unexplained ``派出所`` co-departments are always
        warnings.

    Returns
    -------
    BuildResult

    Raises
    ------
    CatalogError
        Listing every problem, each naming the seed file and the
        subcategory / item it was found in.
    """
    seed_dir = Path(seed_dir) if seed_dir is not None else _PACKAGE_DATA / "seeds"
    out_dir = Path(out_dir) if out_dir is not None else _PACKAGE_DATA
    catalog, departments, counts, n_units, files, warnings = _build(seed_dir, strict=strict)
    out_dir.mkdir(parents=True, exist_ok=True)
    cpath, dpath = out_dir / "duty_catalog.csv", out_dir / "departments.csv"
    for path, payload in ((cpath, catalog), (dpath, departments)):
        if not path.exists() or path.read_bytes() != payload:
            # write then rename, so a reader never sees a half-written file
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(payload)
            os.replace(tmp, path)
    return BuildResult(
        n_items=sum(counts.values()),
        counts=counts,
        n_units=n_units,
        catalog_path=str(cpath),
        departments_path=str(dpath),
        seed_files=files,
        warnings=warnings,
    )


def check_catalog(seed_dir=None, data_dir=None, *, strict=True) -> list:
    """Rebuild in a temporary folder and list the committed files that differ.

    Returns
    -------
    list of str
        Names of the CSVs in ``data_dir`` that are missing or differ from a
        fresh build (empty when everything is up to date).
    """
    data_dir = Path(data_dir) if data_dir is not None else _PACKAGE_DATA
    with tempfile.TemporaryDirectory() as tmp:
        build_catalog(seed_dir, tmp, strict=strict)
        differ = []
        for name in ("duty_catalog.csv", "departments.csv"):
            committed = data_dir / name
            if not committed.exists() or not filecmp.cmp(committed, Path(tmp) / name, shallow=False):
                differ.append(name)
    return differ


def write_crosswalk(previous_csv, *, seed_dir=None, out_path=None):
    """Build the :class:`CatalogCrosswalk` from the seeds and write it (default: the package's data folder).

    Parameters
    ----------
    previous_csv : str or Path
        The previous catalog CSV (path or text).
    seed_dir : str or Path, optional
        Seeds of the new catalog (default: the package's ``data/seeds``).
    out_path : str or Path, optional
        Default: ``data/catalog_crosswalk.csv`` of the package.
    """
    from ._crosswalk import _bundled_crosswalk, build_crosswalk, catalog_version_info

    info = catalog_version_info(seed_dir)
    crosswalk = build_crosswalk(previous_csv, seed_items(seed_dir),
                                from_version=info["previous_version"], to_version=info["version"])
    out = Path(out_path) if out_path is not None else _PACKAGE_DATA / "catalog_crosswalk.csv"
    payload = crosswalk.to_csv_bytes()
    if not out.exists() or out.read_bytes() != payload:
        out.write_bytes(payload)
    _bundled_crosswalk.cache_clear()
    return crosswalk
