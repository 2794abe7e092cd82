"""Weak supervision from department-only exports: the handling unit as a label for items.

Many cities keep, for each past ticket, only the unit that handled it (主办单位),
not the duty item. The unit still says a lot: the ticket's item is one the
unit's role leads (or, failing that, co-handles). :func:`department_labels`

1. maps every unit name through the department directory with aliases
   (:class:`~sujian_router._unit_names.UnitNameMatcher`): ``福田区住建局``,
   ``深圳市福田区住房和建设局`` and ``区住建局`` all give the role
   ``区住房和建设局``; names it cannot place are refused and listed with
   their row counts in a :class:`DepartmentMappingReport`, never dropped
   silently;
2. restricts each ticket's candidate items to those its unit's role leads
   (co-handles when it leads none);
3. labels the ticket with the candidate a base router (``train`` uses the
   catalog's synthetic default model unless given) ranks highest, or, when none of
   the candidates is among its first ``pool`` items, the candidate whose
   catalog keywords the text matches best.

``train(df, label_kind="department")`` then trains on these item labels as
on any labelled export.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .exceptions import TicketSchemaError

__all__ = ["DepartmentMappingReport", "department_labels", "UNMAPPED_POLICIES"]

#: What ``train(label_kind="department")`` does with rows whose unit cannot be mapped.
UNMAPPED_POLICIES = ("quarantine", "error")
#: Items of the base router's ranking searched for one of a ticket's candidate items.
_POOL = 50
_CHUNK = 20000


@dataclass(frozen=True)
class DepartmentMappingReport:
    """How the unit names of a department-only export were read.

    ``rows_in == rows_labelled + rows_unmapped + rows_without_items + rows_empty`` always holds.

    Attributes
    ----------
    unmapped : dict
        Name as written -> number of rows, for every name that could not be
        mapped (those rows are refused, i.e. quarantined as ``missing label``).
    fuzzy : dict
        Name -> ``"unit (role)"`` for names matched only by a close spelling:
        check them.
    role_only : dict
        Name -> role, for generic names without a place (``区住建局``): enough
        for the label, which needs only the role.
    how : dict
        ``exact``/``alias``/``role``/``fuzzy``/``unmapped`` -> rows.
    rows_from_co : int
        Rows whose role leads no item, labelled among the items it co-handles.
    rows_without_items : int
        Rows whose role neither leads nor co-handles any item (refused).
    rows_by_base_model : int
        Rows labelled by the base router's ranking (the rest by catalog keywords).
    """

    rows_in: int
    rows_labelled: int
    rows_unmapped: int
    rows_without_items: int = 0
    rows_empty: int = 0
    unmapped: dict = field(default_factory=dict)
    fuzzy: dict = field(default_factory=dict)
    role_only: dict = field(default_factory=dict)
    how: dict = field(default_factory=dict)
    rows_from_co: int = 0
    rows_by_base_model: int = 0

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """A few readable lines for the console."""
        lines = [f"department rows in {self.rows_in}: labelled {self.rows_labelled}, unmapped {self.rows_unmapped}, "
                 f"unit leads/co-handles no item {self.rows_without_items}, empty unit {self.rows_empty}",
                 "names: " + ", ".join(f"{k} {v}" for k, v in sorted(self.how.items()))]
        for name, n in sorted(self.unmapped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  unmapped {name!r}: {n} rows")
        for name, target in sorted(self.fuzzy.items()):
            lines.append(f"  close spelling {name!r} read as {target}: check it")
        return "\n".join(lines)


def _candidate_items(catalog):
    """``{role: lead item codes}`` and ``{role: co-handled item codes}``."""
    lead, co = {}, {}
    for it in catalog.items:
        lead.setdefault(it.lead_department, []).append(it.code)
        for role in it.co_departments:
            co.setdefault(role, []).append(it.code)
    return lead, co


def _map_names(names, directory):
    """Match every distinct name once; return ``{name: UnitMatch}``."""
    from ._unit_names import UnitNameMatcher

    matcher = UnitNameMatcher(directory)
    return {n: matcher.match(n) for n in dict.fromkeys(names)}


def _allowed_sets(roles, lead, co):
    """Per row: the candidate item set (``None`` when the role has none) and whether it came from co roles."""
    allowed, from_co = [], []
    for role in roles:
        if role in lead:
            allowed.append(frozenset(lead[role]))
            from_co.append(False)
        elif role in co:
            allowed.append(frozenset(co[role]))
            from_co.append(True)
        else:
            allowed.append(None)
            from_co.append(False)
    return allowed, from_co


def _pick(base, catalog, texts, allowed, progress):
    """The label of each row: the base router's best allowed item, else the best catalog-keyword match."""
    from tqdm import tqdm

    from ._prior import KeywordPrior
    from ._text import prepare_text

    prior = KeywordPrior(catalog, strength=1.0)
    order = {it.code: i for i, it in enumerate(catalog.items)}
    labels, by_model = [], 0
    for start in tqdm(range(0, len(texts), _CHUNK), desc="  weak labels", unit="chunk", disable=not progress,
                      leave=False):
        chunk = texts[start:start + _CHUNK]
        ranked, _ = base.rank(chunk, top_k=_POOL)
        for text, row, ok in zip(chunk, ranked, allowed[start:start + _CHUNK]):
            hit = next((str(c) for c in row if str(c) in ok), None)
            if hit is None:
                prepared = prepare_text(text).text
                hit = max(ok, key=lambda c: (prior.evidence(c, prepared), -order[c]))
            else:
                by_model += 1
            labels.append(hit)
    return labels, by_model


def department_labels(tickets, *, catalog, base_router, on_unmapped="quarantine", fuzzy=True, progress=False):
    """Give every row of a department-only export an item label (weak supervision).

    Parameters
    ----------
    tickets : pandas.DataFrame
        ``text`` and ``department`` columns (the unit that handled the
        ticket, as the export spells it).
    catalog : DutyCatalog
        The catalog whose items become the labels (its directory maps the names).
    base_router : Router
        Ranks the candidate items (``train`` passes the bundled default model
        unless told otherwise).
    on_unmapped : {"quarantine", "error"}
        Rows whose unit cannot be mapped get an empty label (``train``
        quarantines them as ``missing label``) or raise.
    fuzzy : bool
        Accept close spellings of a unit name (listed in the report).
    progress : bool
        Show a progress bar.

    Returns
    -------
    labelled : pandas.DataFrame
        ``tickets`` with a ``label`` column (empty for refused rows).
    report : DepartmentMappingReport

    Raises
    ------
    TicketSchemaError
        A column is missing, or ``on_unmapped="error"`` and names are unmapped.
    """
    if on_unmapped not in UNMAPPED_POLICIES:
        raise ValueError(f"on_unmapped must be one of {list(UNMAPPED_POLICIES)}, got {on_unmapped!r}")
    missing = [c for c in ("text", "department") if c not in tickets.columns]
    if missing:
        raise TicketSchemaError(f"department training: expected columns ['text', 'department'], "
                                f"found {list(tickets.columns)}")
    names = ["" if v is None or v != v else str(v).strip() for v in tickets["department"].tolist()]
    matches = _map_names([n for n in names if n], catalog.departments)
    unmapped = {}
    for n in names:
        if n and (not matches[n].mapped or (matches[n].how == "fuzzy" and not fuzzy)):
            unmapped[n] = unmapped.get(n, 0) + 1
    if unmapped and on_unmapped == "error":
        listed = ", ".join(f"{k!r} ({v} rows)" for k, v in sorted(unmapped.items(), key=lambda kv: -kv[1])[:20])
        raise TicketSchemaError(f"department column: {len(unmapped)} unit name(s) not in the directory: {listed}")
    return _label_rows(tickets, names, matches, unmapped, catalog, base_router, progress)


def _label_rows(tickets, names, matches, unmapped, catalog, base_router, progress):
    """Candidate sets, labels and the report (after the names are mapped)."""
    lead, co = _candidate_items(catalog)
    roles = [matches[n].role if n and n not in unmapped else "" for n in names]
    allowed, from_co = _allowed_sets(roles, lead, co)
    usable = [i for i, (r, a) in enumerate(zip(roles, allowed)) if r and a is not None]
    texts = tickets["text"].tolist()
    picked, by_model = _pick(base_router, catalog, ["" if texts[i] is None else str(texts[i]) for i in usable],
                             [allowed[i] for i in usable], progress)
    labels = np.full(len(names), "", dtype=object)
    labels[usable] = picked
    how = {}
    for n in names:
        key = "empty" if not n else "unmapped" if n in unmapped else matches[n].how
        how[key] = how.get(key, 0) + 1
    report = DepartmentMappingReport(
        rows_in=len(names), rows_labelled=len(usable), rows_unmapped=sum(unmapped.values()),
        rows_without_items=sum(1 for r, a in zip(roles, allowed) if r and a is None),
        rows_empty=how.pop("empty", 0), unmapped=unmapped,
        fuzzy={n: f"{m.unit or m.role} ({m.role})" for n, m in matches.items() if m.how == "fuzzy" and n not in unmapped},
        role_only={n: m.role for n, m in matches.items() if m.how == "role"}, how=how,
        rows_from_co=sum(from_co[i] for i in usable), rows_by_base_model=by_model)
    return tickets.assign(label=labels), report
