"""The duty catalog (职责清单): 18 categories, subcategories and duty items.

A :class:`DutyCatalog` is read from ``data/duty_catalog.csv`` (bundled) or from
a user's CSV with :func:`load_catalog`. Each :class:`DutyItem` names the
**role** that leads it; :class:`~sujian_router.DepartmentDirectory` turns roles
into concrete units.

Examples
--------
>>> from sujian_router import load_catalog
>>> catalog = load_catalog()
>>> item = catalog.items[0]
>>> item.code == catalog.get(item.code).code
True
>>> len(catalog.fingerprint)
64
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .exceptions import CatalogError, UnknownDutyError

__all__ = ["DutyItem", "DutyCatalog", "load_catalog"]

CATALOG_COLUMNS = (
    "code",
    "category_code",
    "category",
    "subcategory_code",
    "subcategory",
    "name",
    "scope",
    "keywords",
    "phrasings",
    "lead_department",
    "co_departments",
    "urgency",
    "legal_basis",
    "disputed",
    "gap",
)
REQUIRED_COLUMNS = (
    "code",
    "category",
    "subcategory",
    "name",
    "scope",
    "keywords",
    "lead_department",
    "urgency",
)
OPTIONAL_COLUMNS = tuple(c for c in CATALOG_COLUMNS if c not in REQUIRED_COLUMNS)
URGENCIES = ("紧急", "一般")
TOTAL_ITEMS = 4315
CATEGORIES = {
    "01": "城市管理与市容环卫",
    "02": "住房建设与物业",
    "03": "规划国土与违法建设",
    "04": "交通运输与出行",
    "05": "道路交通安全(交警)",
    "06": "社会治安与户政(公安)",
    "07": "生态环境",
    "08": "噪声污染",
    "09": "水务与排水",
    "10": "市场监管与消费维权",
    "11": "劳动就业与社会保障",
    "12": "医疗卫生与医保",
    "13": "教育",
    "14": "民政与社会服务",
    "15": "文化旅游体育",
    "16": "公用事业(供电、燃气、通信、邮政)",
    "17": "安全生产与应急消防",
    "18": "政务服务与经济发展(税务、公积金、企业服务、金融)",
}
_CODE_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{3})$")
_TRUE = {"1", "true", "yes", "y", "是", "t"}
_FALSE = {"0", "false", "no", "n", "否", "f", ""}


@dataclass(frozen=True)
class DutyItem:
    """One duty item (level 3 of the catalog).

    Attributes
    ----------
    code : str
        ``CC-SS-III``, e.g. ``08-01-001``.
    category_code, category : str
        Level 1.
    subcategory_code, subcategory : str
        Level 2 (``subcategory_code`` is ``CC-SS``).
    name : str
        The duty, unique in the catalog.
    scope : str
        What is included and (after ``；不含``) what is not.
    keywords, phrasings : tuple of str
        Keywords and typical citizen phrasings.
    lead_department : str
        The lead **role**.
    co_departments : tuple of str
        Co-handling roles.
    urgency : str
        ``紧急`` or ``一般``.
    legal_basis : str
        Law or regulation (may be empty).
    disputed, gap : bool
        Contested between departments / known monitoring gap.

    Examples
    --------
    >>> item = DutyItem("08-01-001", "08", "噪声污染", "08-01", "建筑施工噪声", "夜间施工噪声",
    ...                 "工地夜间施工。", ("夜间施工",), (), "区生态环境管理局", (), "一般", "", False, False)
    >>> item.to_dict()["keywords"]
    ['夜间施工']
    """

    code: str
    category_code: str
    category: str
    subcategory_code: str
    subcategory: str
    name: str
    scope: str
    keywords: tuple
    phrasings: tuple
    lead_department: str
    co_departments: tuple
    urgency: str
    legal_basis: str
    disputed: bool
    gap: bool

    def to_dict(self) -> dict:
        """Return a JSON-friendly dict (tuples become lists)."""
        return {
            "code": self.code,
            "category_code": self.category_code,
            "category": self.category,
            "subcategory_code": self.subcategory_code,
            "subcategory": self.subcategory,
            "name": self.name,
            "scope": self.scope,
            "keywords": list(self.keywords),
            "phrasings": list(self.phrasings),
            "lead_department": self.lead_department,
            "co_departments": list(self.co_departments),
            "urgency": self.urgency,
            "legal_basis": self.legal_basis,
            "disputed": self.disputed,
            "gap": self.gap,
        }


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


class DutyCatalog:
    """An ordered, indexed collection of :class:`DutyItem`.

    Usually obtained from :func:`load_catalog`.

    Parameters
    ----------
    items : iterable of DutyItem
        In file order.
    departments : DepartmentDirectory, optional
        The directory roles are checked against (the bundled one by default,
        loaded on first use).
    source : str, optional
        Where the items came from (used in messages).
    version : str, optional
        The catalog version (the bundled catalog's comes from
        ``seeds/catalog.yaml``); default ``unversioned-<fingerprint>``.
    crosswalk : CatalogCrosswalk, optional
        Old code -> new code from the previous version.

    Examples
    --------
    >>> from sujian_router import load_catalog
    >>> catalog = load_catalog()
    >>> code = catalog.items[0].code
    >>> code in catalog, "99-99-999" in catalog
    (True, False)
    >>> catalog.category_of(code) == catalog.items[0].category
    True
    """

    def __init__(self, items, *, departments=None, source=None, version=None, crosswalk=None, _rows=None):
        self._items = tuple(items)
        self._version = str(version) if version else None
        self._crosswalk = crosswalk
        self._departments = departments
        self.source = source or "<items>"
        self._rows = _rows  # spreadsheet row number of each item (for messages)
        self._by_code = {}
        for item in self._items:
            self._by_code.setdefault(item.code, item)
        cats = {}
        for item in self._items:
            cats.setdefault(item.category_code, item.category)
        self._categories = tuple(cats[c] for c in sorted(cats))
        self._category_codes = {name: code for code, name in cats.items()}
        self._search_index = None
        self._fingerprint = None

    # ------------------------------------------------------------ container
    @property
    def items(self) -> tuple:
        """Every :class:`DutyItem`, in file order."""
        return self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __contains__(self, code) -> bool:
        return code in self._by_code

    def __repr__(self) -> str:
        return f"DutyCatalog({len(self._items)} items, {len(self._categories)} categories)"

    def get(self, code: str) -> DutyItem:
        """Return the item with ``code``.

        Raises
        ------
        UnknownDutyError
            With the closest codes as a hint.

        Examples
        --------
        >>> from sujian_router import load_catalog
        >>> catalog = load_catalog()
        >>> catalog.get("99-99-999")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sujian_router.exceptions.UnknownDutyError: unknown duty item code '99-99-999'...
        """
        try:
            return self._by_code[code]
        except (KeyError, TypeError):
            pass
        close = difflib.get_close_matches(str(code), list(self._by_code), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else None
        raise UnknownDutyError(code, where=self.source, hint=hint)

    # ----------------------------------------------------------- hierarchy
    @property
    def categories(self) -> tuple:
        """Category names, in category-code order."""
        return self._categories

    def category_of(self, code: str) -> str:
        """Return the category name of the item ``code``."""
        return self.get(code).category

    def items_in(self, category=None, subcategory=None) -> tuple:
        """Items of a category and/or subcategory (name or code).

        Examples
        --------
        >>> from sujian_router import load_catalog
        >>> catalog = load_catalog()
        >>> first = catalog.items[0]
        >>> catalog.items_in(first.category_code) == catalog.items_in(first.category)
        True
        """
        out = self._items
        if category is not None:
            out = tuple(i for i in out if category in (i.category, i.category_code))
        if subcategory is not None:
            out = tuple(i for i in out if subcategory in (i.subcategory, i.subcategory_code))
        return out

    @property
    def departments(self):
        """The :class:`~sujian_router.DepartmentDirectory` used by this catalog."""
        if self._departments is None:
            from ._departments import DepartmentDirectory

            self._departments = DepartmentDirectory.load()
        return self._departments

    @property
    def streets(self) -> tuple:
        """Every street name of the department directory."""
        return self.departments.streets

    # -------------------------------------------------------------- search
    def _index(self):
        if self._search_index is None:
            import math

            rows = [
                (
                    item,
                    _norm(item.name),
                    tuple(dict.fromkeys(_norm(k) for k in item.keywords)),
                    _norm("\n".join(item.phrasings)),
                    _norm(item.scope),
                )
                for item in self._items
            ]
            df = {}
            for row in rows:
                for k in row[2]:
                    df[k] = df.get(k, 0) + 1
            n = max(1, len(rows))
            # rarer keywords are stronger evidence (an idf weight, at least 1)
            idf = {k: 1.0 + math.log(n / c) for k, c in df.items()}
            self._search_index = (rows, idf)
        return self._search_index

    def search(self, text: str, limit: int = 10) -> list:
        """Find items whose name, keywords, phrasings or scope match ``text``.

        Words of ``text`` (split on whitespace) are looked up in each field,
        and keywords or item names contained in ``text`` count too, so a whole
        complaint sentence works as a query. Rare keywords weigh more than
        common ones.

        Returns
        -------
        list of (DutyItem, float)
            Best first (ties in catalog order), at most ``limit``.

        Examples
        --------
        >>> from sujian_router import load_catalog
        >>> catalog = load_catalog()
        >>> item = catalog.items[0]
        >>> catalog.search(item.name, limit=1)[0][0] == item
        True
        """
        query = _norm(text or "").strip()
        if not query:
            return []
        words = [w for w in query.split() if w]
        joined = "".join(words)
        rows, idf = self._index()
        scored = []
        for pos, (item, name, keywords, phrasings, scope) in enumerate(rows):
            score = 0.0
            if name == joined:
                score += 20.0
            elif name in joined:
                score += 8.0
            for word in words:
                if word in name:
                    score += 3.0
                if word in keywords:
                    score += 2.0 * idf[word]
                elif any(word in k for k in keywords):
                    score += 1.0
                if word in phrasings:
                    score += 1.0
                if word in scope:
                    score += 0.5
            for k in keywords:
                if len(k) > 1 and k in joined:
                    score += idf[k] * (1.0 + 0.1 * len(k))
            if score > 0:
                scored.append((-score, pos, item))
        scored.sort(key=lambda t: (t[0], t[1]))
        return [(item, -neg) for neg, _, item in scored[: max(0, int(limit))]]

    # ------------------------------------------------------------ versions
    @property
    def version(self) -> str:
        """The catalog version (``unversioned-<fingerprint prefix>`` when none was given).

        Examples
        --------
        >>> from sujian_router import load_catalog
        >>> load_catalog().version
        '2.0'
        """
        return self._version or f"unversioned-{self.fingerprint[:12]}"

    @property
    def crosswalk(self):
        """The :class:`CatalogCrosswalk` from the previous version (None when unknown)."""
        return self._crosswalk

    def remap(self, codes, *, on_retired="none") -> list:
        """Map codes of the previous catalog version to this one (see ``CatalogCrosswalk.remap``).

        Raises
        ------
        CatalogError
            This catalog has no crosswalk.
        """
        if self._crosswalk is None:
            raise CatalogError([f"catalog {self.version} has no crosswalk to remap codes with"], source=self.source)
        return self._crosswalk.remap(codes, on_retired=on_retired)

    # ---------------------------------------------------------- integrity
    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) of a canonical serialisation of the items."""
        if self._fingerprint is None:
            payload = json.dumps(
                [i.to_dict() for i in self._items], ensure_ascii=False, sort_keys=True, separators=(",", ":")
            )
            self._fingerprint = hashlib.sha256(payload.encode("utf-8")).hexdigest()
        return self._fingerprint

    def problems(self) -> list:
        """Return every problem found by :meth:`validate`, as strings."""
        directory = self.departments
        roles = set(directory.roles)
        out = []
        rows = self._rows or list(range(2, len(self._items) + 2))
        first_code, first_name, cat_names = {}, {}, {}
        for row, item in zip(rows, self._items):
            where = f"row {row}"
            for col in ("code", "category", "subcategory", "name", "scope", "lead_department", "urgency"):
                if not getattr(item, col):
                    out.append(f"{where}: empty {col}")
            m = _CODE_RE.match(item.code)
            if item.code and not m:
                out.append(f"{where}: code {item.code!r} is not of the form CC-SS-III")
            elif m:
                if item.category_code != m.group(1):
                    out.append(
                        f"{where}: code {item.code!r} does not match category_code {item.category_code!r}"
                    )
                if item.subcategory_code != f"{m.group(1)}-{m.group(2)}":
                    out.append(
                        f"{where}: code {item.code!r} does not match subcategory_code "
                        f"{item.subcategory_code!r}"
                    )
            if item.code in first_code:
                out.append(f"{where}: duplicate code {item.code!r} (first at row {first_code[item.code]})")
            else:
                first_code[item.code] = row
            if item.name in first_name:
                out.append(f"{where}: duplicate name {item.name!r} (first at row {first_name[item.name]})")
            elif item.name:
                first_name[item.name] = row
            prev = cat_names.setdefault(item.category_code, (item.category, row))
            if prev[0] != item.category:
                out.append(
                    f"{where}: category {item.category!r} differs from {prev[0]!r} (row {prev[1]}) "
                    f"for category_code {item.category_code!r}"
                )
            if item.lead_department and item.lead_department not in roles:
                out.append(f"{where}: unknown lead_department role {item.lead_department!r}")
            bad = [r for r in item.co_departments if r not in roles]
            if bad:
                out.append(f"{where}: unknown co_departments role(s) {bad}")
            if item.urgency and item.urgency not in URGENCIES:
                out.append(f"{where}: urgency {item.urgency!r} not one of {list(URGENCIES)}")
        return out

    def validate(self) -> "DutyCatalog":
        """Check the catalog; raise one CatalogError listing every problem.

        Checks: code format ``CC-SS-III`` and agreement with the category and
        subcategory codes, duplicate codes and names, empty required fields,
        urgency, and lead / co roles against the department directory.

        Returns
        -------
        DutyCatalog
            ``self``, when valid.
        """
        found = self.problems()
        if found:
            raise CatalogError(found, source=self.source)
        return self

    # ------------------------------------------------------------ exports
    def to_frame(self):
        """Return the items as a pandas DataFrame in CSV column order.

        List fields are joined with ``|``; ``disputed`` and ``gap`` are bool.
        """
        import pandas as pd

        rows = []
        for item in self._items:
            d = item.to_dict()
            for key in ("keywords", "phrasings", "co_departments"):
                d[key] = "|".join(d[key])
            rows.append(d)
        return pd.DataFrame(rows, columns=list(CATALOG_COLUMNS))

    def vocabulary(self) -> set:
        """Words for a jieba user dictionary: keywords, subcategory names, places and unit names.

        Item names are left out on purpose: they are long official phrases that
        citizens rarely type, and as single dictionary words they would stop
        jieba from splitting the words citizens do use.
        """
        words = set()
        for item in self._items:
            words.update(k for k in item.keywords if k)
            if item.subcategory and len(item.subcategory) <= 6:
                words.add(item.subcategory)
        directory = self.departments
        for district in directory.districts:
            words.add(district)
            for street in directory.streets_of(district):
                words.add(street)
                if street.endswith("街道") and len(street) > 3:
                    words.add(street[:-2])
        words.update(unit.name for unit in directory.units)
        return {w.strip() for w in words if w.strip() and not any(c.isspace() for c in w.strip())}


# ----------------------------------------------------------------- loading
def _decode(raw: bytes, source: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CatalogError(["cannot decode as UTF-8 or GBK/GB18030"], source=source)


def _split(value) -> tuple:
    return tuple(filter(None, map(str.strip, value.split("|")))) if value else ()


def _parse(text: str, *, source, column_mapping=None):
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CatalogError([f"expected columns {list(REQUIRED_COLUMNS)}, found []"], source=source) from None
    header = [h.strip() for h in header]
    mapping = dict(column_mapping or {})
    unknown_src = [k for k in mapping if k not in header]
    if unknown_src:
        raise CatalogError(
            [f"column_mapping names column(s) {unknown_src} not in the file; found {header}"], source=source
        )
    renamed = [mapping.get(h, h) for h in header]
    dupes = sorted({c for c in renamed if c in CATALOG_COLUMNS and renamed.count(c) > 1})
    if dupes:
        raise CatalogError([f"column(s) {dupes} appear more than once after mapping"], source=source)
    missing = [c for c in REQUIRED_COLUMNS if c not in renamed]
    if missing:
        raise CatalogError(
            [f"expected columns {list(REQUIRED_COLUMNS)}, found {header} (missing {missing})"], source=source
        )
    pos = {c: renamed.index(c) for c in CATALOG_COLUMNS if c in renamed}
    items, rows, problems = [], [], []
    category_codes = {}
    sub_codes = {}
    cols = [(c, pos.get(c)) for c in CATALOG_COLUMNS]
    for rownum, values in enumerate(reader, start=2):
        n = len(values)
        row = {c: (values[i].strip() if i is not None and i < n else "") for c, i in cols}
        if not any(row.values()):
            continue
        code = row["code"]
        m = _CODE_RE.match(code)
        category, subcategory = row["category"], row["subcategory"]
        cc = row["category_code"] or (m.group(1) if m else "")
        if not cc:
            cc = category_codes.setdefault(category, f"{len(category_codes) + 1:02d}")
        ssc = row["subcategory_code"] or (f"{m.group(1)}-{m.group(2)}" if m else "")
        if not ssc:
            if (cc, subcategory) not in sub_codes:
                n_sub = sum(1 for k in sub_codes if k[0] == cc)
                sub_codes[(cc, subcategory)] = f"{cc}-{n_sub + 1:02d}"
            ssc = sub_codes[(cc, subcategory)]
        flags = {}
        for col in ("disputed", "gap"):
            raw = row[col].lower()
            flags[col] = raw in _TRUE
            if not flags[col] and raw not in _FALSE:
                problems.append(f"row {rownum}: {col} {row[col]!r} is not 1/0")
        items.append(
            DutyItem(
                code=code,
                category_code=cc,
                category=category,
                subcategory_code=ssc,
                subcategory=subcategory,
                name=row["name"],
                scope=row["scope"],
                keywords=_split(row["keywords"]),
                phrasings=_split(row["phrasings"]),
                lead_department=row["lead_department"],
                co_departments=_split(row["co_departments"]),
                urgency=row["urgency"],
                legal_basis=row["legal_basis"],
                disputed=flags["disputed"],
                gap=flags["gap"],
            )
        )
        rows.append(rownum)
    return items, rows, problems


def load_catalog(path=None, *, column_mapping=None, departments=None, validate=True) -> DutyCatalog:
    """Load the bundled duty catalog, or a user's catalog CSV.

    Parameters
    ----------
    path : str or Path, optional
        A catalog CSV (UTF-8, UTF-8 with BOM or GBK). Default: the bundled
        ``duty_catalog.csv`` (loaded once and cached).
    column_mapping : dict, optional
        ``{user column: canonical column}`` for files with other headers.
        Required columns: ``code, category, subcategory, name, scope,
        keywords, lead_department, urgency``; the others default (codes from
        ``code``, empty phrasings / legal basis / co-departments, flags 0).
    departments : DepartmentDirectory or str or Path, optional
        Directory the roles are checked against (default: bundled).
    validate : bool, default True
        Run :meth:`DutyCatalog.validate`.

    Returns
    -------
    DutyCatalog

    Raises
    ------
    CatalogError
        Missing columns ("expected columns [...], found [...]") or bad rows
        (numbered as in a spreadsheet: the header is row 1).

    Examples
    --------
    >>> from sujian_router import load_catalog
    >>> load_catalog() is load_catalog()
    True
    """
    if path is None and column_mapping is None and departments is None:
        return _bundled_catalog(bool(validate))
    if departments is not None:
        from ._departments import DepartmentDirectory

        if not isinstance(departments, DepartmentDirectory):
            departments = DepartmentDirectory.load(departments)
    extra = {}
    if path is None:
        from ._crosswalk import CatalogCrosswalk, catalog_version_info

        ref = resources.files("sujian_router") / "data" / "duty_catalog.csv"
        text, source = ref.read_text(encoding="utf-8-sig"), "duty_catalog.csv"
        extra = {"version": catalog_version_info()["version"], "crosswalk": CatalogCrosswalk.load()}
    else:
        path = Path(path)
        source = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CatalogError([f"cannot read catalog: {exc}"], source=source) from None
        text = _decode(raw, source)
    items, rows, problems = _parse(text, source=source, column_mapping=column_mapping)
    catalog = DutyCatalog(items, departments=departments, source=source, _rows=rows, **extra)
    if validate:
        found = problems + catalog.problems()
        if found:
            found.sort(key=_row_key)
            raise CatalogError(found, source=source)
    return catalog


def _row_key(problem: str):
    m = re.match(r"row (\d+)", problem)
    return (int(m.group(1)) if m else 0, problem)


@functools.lru_cache(maxsize=2)
def _bundled_catalog(validate: bool) -> DutyCatalog:
    ref = resources.files("sujian_router") / "data" / "duty_catalog.csv"
    try:
        text = ref.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogError(
            ["bundled duty_catalog.csv is missing; run `sujian-router catalog build`"], source="duty_catalog.csv"
        ) from None
    from ._crosswalk import CatalogCrosswalk, catalog_version_info

    items, rows, problems = _parse(text, source="duty_catalog.csv")
    version = catalog_version_info()["version"]
    crosswalk = CatalogCrosswalk.load()
    if crosswalk.to_version != version:
        problems.append(f"catalog_crosswalk.csv maps to version {crosswalk.to_version}, the catalog is {version}; "
                        "run `sujian-router catalog crosswalk`")
    catalog = DutyCatalog(items, source="duty_catalog.csv", version=version, crosswalk=crosswalk, _rows=rows)
    if validate:
        found = problems + catalog.problems()
        if found:
            raise CatalogError(sorted(found, key=_row_key), source="duty_catalog.csv")
    return catalog
