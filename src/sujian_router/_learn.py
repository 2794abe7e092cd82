"""Learning from dispatchers' corrections without retraining: a correction memory.

A correction says "this text was routed to X, the right unit (or item) is Y".
:func:`learn` checks every correction row (unknown units or items, empty
texts and unreadable times are rejected row by row, the others learnt), turns
each into an entry ``(prepared text, the model's own first item for it, the
correct item)`` and returns a NEW router that carries the old entries plus the
new ones in its metadata (so ``save`` writes them and the previous model
directory stays valid: keeping it is the undo).

At routing time :func:`apply_corrections` looks every text up in the memory:
an entry applies when the model's first item for the new text is the item the
model had chosen for the corrected text (the same mistake) AND the two texts
are close (cosine of the classifier's own TF-IDF vectors at least
``similarity``, or :data:`POOL_SIMILARITY` when the correct item is already
among the model's candidates for the new text). The correct item then moves to the front with most of the
row's probability, so units, rules and tiers follow it as usual. Requiring the
same first item keeps a correction away from unrelated texts, which the model
routes to other items.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .exceptions import TicketSchemaError

__all__ = ["learn", "LearnReport", "RejectedCorrection", "apply_corrections", "reanchor", "DEFAULT_SIMILARITY"]

#: Columns of a corrections table.
CORRECTION_COLUMNS = ("text", "routed", "correct", "time")
#: Default cosine similarity (classifier TF-IDF) above which a remembered correction applies.
DEFAULT_SIMILARITY = 0.45
#: Lower similarity that suffices when the corrected item is already among the model's candidates.
POOL_SIMILARITY = 0.2
_MEMORY_FORMAT = 1
_CACHE = "_correction_memory"


@dataclass(frozen=True)
class RejectedCorrection:
    """A correction row that could not be learnt, and why."""

    row: int
    reason: str

    def to_dict(self) -> dict:
        """Return the rejection as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class LearnReport:
    """What :func:`learn` did with every correction row.

    ``rows_in == learnt + len(rejected)`` always holds. ``corrections_total``,
    ``first_time`` and ``last_time`` describe the whole memory of the new
    router (earlier corrections included).
    """

    rows_in: int
    learnt: int
    rejected: tuple = ()
    corrections_total: int = 0
    first_time: str = ""
    last_time: str = ""
    similarity: float = DEFAULT_SIMILARITY
    unit_targets: int = 0
    item_targets: int = 0
    rejected_counts: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict."""
        out = asdict(self)
        out["rejected"] = [r.to_dict() for r in self.rejected]
        return out

    def summary(self) -> str:
        """A few readable lines for the console."""
        lines = [f"corrections in {self.rows_in}: learnt {self.learnt} "
                 f"({self.unit_targets} to a unit, {self.item_targets} to an item), rejected {len(self.rejected)}",
                 f"memory now holds {self.corrections_total} corrections from {self.first_time or '-'} "
                 f"to {self.last_time or '-'} (similarity >= {self.similarity:g})"]
        lines += [f"  row {r.row}: {r.reason}" for r in self.rejected[:50]]
        if len(self.rejected) > 50:
            lines.append(f"  ... and {len(self.rejected) - 50} more (see --json)")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- reading rows
#: Export column names read as the correction columns when no mapping says otherwise.
CORRECTION_ALIASES = {"原派单位": "routed", "改派前单位": "routed", "派单单位": "routed",
                      "正确单位": "correct", "改派后单位": "correct", "改派单位": "correct",
                      "改派时间": "time", "纠正时间": "time"}


def read_corrections(path, *, column_mapping=None, sheet=None):
    """Read a corrections file (CSV in UTF-8/GBK or XLSX) into the four correction columns.

    Columns named ``text``/``routed``/``correct``/``time``, the usual Chinese
    names (:data:`CORRECTION_ALIASES`, and the ticket names of
    :func:`read_tickets` for the text) or mapped by ``column_mapping`` are used.
    """
    from ._tickets import read_tickets

    df = read_tickets(path, column_mapping=column_mapping, sheet=sheet, required=("text",), combine_title=False)
    rename = {c: CORRECTION_ALIASES[c] for c in df.columns
              if c in CORRECTION_ALIASES and CORRECTION_ALIASES[c] not in df.columns}
    df = df.rename(columns=rename)
    missing = [c for c in CORRECTION_COLUMNS if c not in df.columns]
    if missing:
        raise TicketSchemaError(f"{path}: expected columns {list(CORRECTION_COLUMNS)}, found "
                                f"{[c for c in df.columns if c != 'source_row']} (missing {missing})")
    return df


def _as_frame(corrections):
    """Corrections as a DataFrame with the four columns and a ``source_row`` (1-based data row)."""
    import pandas as pd

    if isinstance(corrections, (str, bytes)) or hasattr(corrections, "__fspath__"):
        return read_corrections(corrections)
    if isinstance(corrections, pd.DataFrame):
        df = corrections
    else:
        rows = [asdict(c) if hasattr(c, "__dataclass_fields__") else dict(c) for c in corrections]
        df = pd.DataFrame(rows, columns=None if rows else list(CORRECTION_COLUMNS))
    missing = [c for c in CORRECTION_COLUMNS if c not in df.columns]
    if missing:
        raise TicketSchemaError(f"learn(): expected columns {list(CORRECTION_COLUMNS)}, found {list(df.columns)}")
    if "source_row" not in df.columns:
        df = df.assign(source_row=np.arange(1, len(df) + 1))
    return df


def _time(value):
    """An ISO minute string for a correction's time, or ``None`` when it cannot be read."""
    import pandas as pd

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    try:
        ts = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT or ts != ts:
        return None
    return ts.tz_localize(None).isoformat(timespec="minutes") if ts.tzinfo else ts.isoformat(timespec="minutes")


class _Targets:
    """Reads a ``routed``/``correct`` value as an item code or a unit (name as exports spell it)."""

    def __init__(self, catalog):
        from ._unit_names import UnitNameMatcher

        self.catalog = catalog
        self.matcher = UnitNameMatcher(catalog.departments)
        self.items_of_role = {}
        for it in catalog.items:
            self.items_of_role.setdefault(it.lead_department, []).append(it.code)

    def read(self, value):
        """``("item", code)``, ``("unit", (role, unit name))`` or ``(None, reason)``."""
        s = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
        if not s:
            return None, "is empty"
        if s in self.catalog:
            return "item", s
        m = self.matcher.match(s)
        if not m.mapped or m.how == "fuzzy":
            close = f" (closest unit: {m.unit or m.role})" if m.how == "fuzzy" else ""
            return None, f"{s!r} is neither a catalog item code nor a unit of the directory{close}"
        if m.role not in self.items_of_role:
            return None, f"unit {s!r} (role {m.role}) leads no catalog item"
        return "unit", (m.role, m.unit or s)


def _check_row(rec, targets):
    """``(entry fields, None)`` for a good row or ``(None, reason)``."""
    from ._text import prepare_text

    raw = rec.get("text")
    text = prepare_text(raw).text if isinstance(raw, str) else ""
    if not isinstance(raw, str) or prepare_text(raw).empty:
        return None, "text is empty or not text"
    raw_time = rec.get("time")
    when = _time(raw_time)
    if when is None:
        if raw_time is None or raw_time != raw_time or not str(raw_time).strip():
            return None, "time is missing (expected YYYY-MM-DD HH:MM)"
        return None, f"time {raw_time!r} cannot be read as a date and time (expected YYYY-MM-DD HH:MM)"
    routed_kind, routed = targets.read(rec.get("routed"))
    if routed_kind is None:
        return None, f"routed: {routed}"
    kind, correct = targets.read(rec.get("correct"))
    if kind is None:
        return None, f"correct: {correct}"
    if (routed_kind, routed) == (kind, correct):
        return None, "routed and correct are the same: nothing to correct"
    return {"text": text, "time": when, "kind": kind, "correct": correct,
            "routed": str(rec.get("routed")).strip()}, None


# ---------------------------------------------------------------------------- learning
def _without_memory(router):
    """A shallow copy of ``router`` that routes as if it held no corrections."""
    base = copy.copy(router)
    base.metadata = {k: v for k, v in router.metadata.items() if k != "corrections"}
    base.__dict__.pop(_CACHE, None)
    return base


def _entries(router, good):
    """Memory entries for checked rows: the model's own first item and the correct item.

    The first item is taken from the same candidate pool routing uses, so the
    memory's "same mistake" test compares like with like. A correction to a
    unit becomes the item the model finds most likely among those that unit's
    role leads.
    """
    base = _without_memory(router)
    texts = [g["text"] for g in good]
    if not texts:
        return []
    first = base._rank_prepared(texts, 1)[0][:, 0]  # ranked from the same candidate pool as routing
    unit_rows = [i for i, g in enumerate(good) if g["kind"] == "unit"]
    ranked = {}
    if unit_rows:
        n = len(router.classifier.classes_)
        full = router.classifier.top_k([texts[i] for i in unit_rows], k=n)[0]
        ranked = dict(zip(unit_rows, full))
    items_of_role = _targets_cache(router).items_of_role
    out = []
    for i, g in enumerate(good):
        if g["kind"] == "item":
            item, unit = g["correct"], ""
        else:
            role, unit = g["correct"]
            allowed = set(items_of_role[role])
            item = next((str(c) for c in ranked[i] if str(c) in allowed), sorted(allowed)[0])
        out.append({"text": g["text"], "model_item": str(first[i]), "item": item, "unit": unit,
                    "routed": g["routed"], "time": g["time"]})
    return out


def _targets_cache(router):
    cached = router.__dict__.get("_correction_targets")
    if cached is None:
        cached = router.__dict__["_correction_targets"] = _Targets(router.catalog)
    return cached


def learn(router, corrections, *, similarity=None):
    """Return a new router that remembers dispatchers' corrections.

    Parameters
    ----------
    router : Router
        A catalog router (the one that made the mistakes). It is not changed.
    corrections : pandas.DataFrame, iterable of dict, or path
        Rows with ``text``, ``routed`` (the unit or item code it was routed
        to), ``correct`` (the right unit or item code) and ``time``
        (``YYYY-MM-DD HH:MM``); a path is read with :func:`read_tickets`
        (CSV in UTF-8/GBK or XLSX). Unit names may be spelt as exports do
        (``福田区住建局``).
    similarity : float, optional
        Cosine similarity (the classifier's TF-IDF) above which a remembered
        correction applies to a new text; the router's current value, else
        :data:`DEFAULT_SIMILARITY`.

    Returns
    -------
    Router
        A new router sharing the model, with the corrections in its metadata;
        ``new.learning_report`` (:class:`LearnReport`) accounts for every row.

    Raises
    ------
    TicketSchemaError
        A required column is missing.
    ValueError
        The router has no catalog, or ``similarity`` is outside (0, 1].

    Examples
    --------
    >>> from sujian_router import Router
    >>> router = Router.load()                                            # doctest: +SKIP
    >>> new = router.learn([{"text": "小区门口井盖缺失", "routed": "福田区城管局",
    ...                      "correct": "福田区水务局", "time": "2024-06-12 10:00"}])  # doctest: +SKIP
    >>> new.learning_report.learnt                                         # doctest: +SKIP
    1
    """
    if router.catalog is None:
        raise ValueError("learn(): a free-label router names no units; corrections need a catalog router")
    old = router.metadata.get("corrections") or {}
    if similarity is None:
        similarity = float(old.get("similarity", DEFAULT_SIMILARITY))
    if not 0.0 < float(similarity) <= 1.0:
        raise ValueError(f"learn(): similarity must be in (0, 1], got {similarity!r}")
    df = _as_frame(corrections)
    return _learn(router, df, float(similarity), old)


def _learn(router, df, similarity, old):
    targets = _targets_cache(router)
    good, rejected = [], []
    for rec in df.to_dict("records"):
        fields, reason = _check_row(rec, targets)
        if fields is None:
            rejected.append(RejectedCorrection(int(rec["source_row"]), reason))
        else:
            good.append(fields)
    entries = list(old.get("entries", ())) + _entries(router, good)
    times = sorted(e["time"] for e in entries)
    memory = {"format": _MEMORY_FORMAT, "similarity": similarity, "entries": entries, "count": len(entries),
              "first_time": times[0] if times else "", "last_time": times[-1] if times else ""}
    new = _without_memory(router)
    new.metadata["corrections"] = memory
    counts = {}
    for r in rejected:
        key = r.reason.split(":")[0] if r.reason.startswith(("routed", "correct")) else r.reason.split(" ")[0]
        counts[key] = counts.get(key, 0) + 1
    new.learning_report = LearnReport(
        rows_in=len(df), learnt=len(good), rejected=tuple(rejected), corrections_total=len(entries),
        first_time=memory["first_time"], last_time=memory["last_time"], similarity=similarity,
        unit_targets=sum(g["kind"] == "unit" for g in good), item_targets=sum(g["kind"] == "item" for g in good),
        rejected_counts=counts)
    return new


# ---------------------------------------------------------------------------- routing
class _Memory:
    """The corrections of one router, vectorised with its classifier."""

    def __init__(self, classifier, spec):
        from sklearn.preprocessing import normalize

        self.spec = spec
        entries = spec.get("entries", ())
        self.similarity = float(spec.get("similarity", DEFAULT_SIMILARITY))
        self.model_item = np.asarray([e["model_item"] for e in entries], dtype=object)
        self.item = np.asarray([e["item"] for e in entries], dtype=object)
        self.order = np.argsort(np.asarray([e["time"] for e in entries], dtype=object), kind="stable")
        self.rank = np.empty(len(entries), dtype=int)
        self.rank[self.order] = np.arange(len(entries))  # later corrections win ties
        self.matrix = normalize(classifier.transform([e["text"] for e in entries])).T.tocsc() if entries else None
        self.classifier = classifier

    def rescore(self, labels, probs, texts):
        """Move the remembered correct item to the front of every row an entry applies to."""
        if self.matrix is None or len(texts) == 0:
            return labels, probs
        from sklearn.preprocessing import normalize

        sims = (normalize(self.classifier.transform(list(texts))) @ self.matrix).tocsr()
        labels = np.array(labels, dtype=object, copy=True)
        probs = np.array(probs, dtype=float, copy=True)
        for i in range(sims.shape[0]):
            lo, hi = sims.indptr[i], sims.indptr[i + 1]
            cols, vals = sims.indices[lo:hi], sims.data[lo:hi]
            same = self.model_item[cols] == str(labels[i, 0])
            pool = set(map(str, labels[i][1:]))
            in_pool = np.fromiter((c in pool for c in self.item[cols]), dtype=bool, count=len(cols))
            keep = same & ((vals >= self.similarity) | (in_pool & (vals >= POOL_SIMILARITY)))
            if keep.any():
                cols, vals = cols[keep], vals[keep]
                best = cols[np.lexsort((self.rank[cols], vals))[-1]]
                _promote(labels[i], probs[i], self.item[best], float(vals.max()))
        return labels, probs


def _promote(row_labels, row_probs, item, sim):
    """Put ``item`` first in one row with at least ``(1 + sim) / 2`` of the row's probability mass."""
    codes = [str(c) for c in row_labels]
    if codes[0] == item:
        return
    mass = float(row_probs.sum())
    j = codes.index(item) if item in codes else len(codes) - 1
    old = float(row_probs[j]) if item in codes else 0.0
    new = max(old, mass * (0.5 + 0.5 * sim))
    rest = [k for k in range(len(codes)) if k != j]
    others = row_probs[rest] * ((mass - new) / max(mass - old, 1e-12))
    row_labels[:] = np.asarray([item] + [codes[k] for k in rest], dtype=object)
    row_probs[:] = np.r_[new, others]


def apply_corrections(router, labels, probs, texts, terms=None):
    """Re-rank candidates with the router's correction memory (unchanged when it has none).

    Parameters
    ----------
    router : Router
    labels, probs : ndarray of shape (n, k)
        The candidates (best first) of the prepared ``texts``.
    texts : sequence of str
        Prepared texts.
    terms : list, optional
        Per-row explaining terms of the first candidate; emptied for rows
        whose first candidate a correction replaced.

    Returns
    -------
    labels, probs, terms
    """
    spec = router.metadata.get("corrections")
    if not spec or not spec.get("entries"):
        return labels, probs, terms
    memory = router.__dict__.get(_CACHE)
    if memory is None or memory.spec is not spec:
        memory = router.__dict__[_CACHE] = _Memory(router.classifier, spec)
    first = np.asarray(labels, dtype=object)[:, 0].copy()
    labels, probs = memory.rescore(labels, probs, texts)
    if terms is not None:
        terms = [t if labels[i, 0] == first[i] else () for i, t in enumerate(terms)]
    return labels, probs, terms


def reanchor(router, spec, *, folded=0):
    """``router`` carrying the memory ``spec``, each entry's first item recomputed with ``router``'s model."""
    entries = [dict(e) for e in spec.get("entries", ())]
    base = _without_memory(router)
    if entries:
        first = base._rank_prepared([e["text"] for e in entries], 1)[0][:, 0]
        for e, item in zip(entries, first):
            e["model_item"] = str(item)
    base.metadata["corrections"] = {**spec, "entries": entries, "folded": int(folded)}
    return base
