"""Operator metrics over time: how routing did, week by week, on a routed or labelled export.

:func:`monitor` takes either a file that ``sujian-router route-file`` wrote
(the routed unit in ``lead_department``; join it with the original export
for dates, text and truth) or labelled tickets (it routes them itself), and
reports per ISO week (Monday first): dispatch accuracy (派单准确率) overall
and per unit, the share of each tier and its accuracy, re-dispatch and
return rates when the export records them, the units most often confused
with each other, and drift: the out-of-vocabulary share of the text against
the model's vocabulary and the category mix against the training data (or,
when the model does not carry its training label counts, the first weeks of
the file).
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ._monitor_html import UNDATED, render_html
from .exceptions import TicketSchemaError

__all__ = ["MonitorReport", "REDISPATCH_COLUMNS", "monitor"]

#: Export column names read as re-dispatch records without a column mapping:
#: ``redispatch_count`` (times re-dispatched; a yes/no flag also works) and
#: ``returned`` (the unit sent the ticket back: 退单).
REDISPATCH_COLUMNS = {
    "改派次数": "redispatch_count", "重新派单次数": "redispatch_count", "是否改派": "redispatch_count",
    "改派": "redispatch_count", "redispatch_count": "redispatch_count", "redispatched": "redispatch_count",
    "退单": "returned", "是否退单": "returned", "退单次数": "returned", "returned": "returned",
}
#: Columns holding the unit that really handled a ticket (``department`` is 主办单位 by default).
TRUE_UNIT_COLUMNS = ("true_unit", "department")
_TRUE_WORDS = {"是", "有", "y", "yes", "true", "t", "已改派", "已退单"}
_FALSE_WORDS = {"否", "无", "n", "no", "false", "f", "", "未改派", "未退单"}
#: Fewest tickets of a category baseline taken from the file: sparse first weeks are extended.
MIN_BASELINE_ROWS = 200
_TOP_PAIRS = 15


@dataclass(frozen=True)
class MonitorReport:
    """Operator metrics of a routed or labelled export, overall and per week.

    Attributes
    ----------
    n : int
        Rows read (every row is counted; rows with a bad date are in week ``"undated"``).
    source : str
        ``"routed file"`` or ``"routed on the fly"`` (labelled tickets routed by :func:`monitor`).
    truth : str
        Where the true unit came from: ``"unit column <name>"``, ``"item label"`` or ``"none"``.
    accuracy : float or None
        派单准确率: share of tickets with a known true unit whose routed lead unit is it.
    automatic_share : float
        Share of tickets in the ``auto`` tier.
    weekly : pandas.DataFrame
        One row per week (``week`` = the Monday, ``YYYY-MM-DD``; ``undated`` last):
        ``n``, ``n_with_truth``, ``accuracy``, ``automatic_share``,
        ``automatic_accuracy``, ``redispatch_rate``, ``return_rate``,
        ``oov_share`` and ``category_drift``.
    tiers : pandas.DataFrame
        ``week``, ``tier``, ``n``, ``share``, ``accuracy`` (``week`` ``all`` for the whole file).
    units : pandas.DataFrame
        ``unit`` (true unit), ``n``, ``accuracy``, most tickets first.
    unit_weeks : pandas.DataFrame
        ``week``, ``unit``, ``n``, ``accuracy``.
    confused_units : pandas.DataFrame
        ``unit_a``, ``unit_b``, ``a_to_b`` (true a routed to b), ``b_to_a``, ``total``; most first.
    category_mix : pandas.DataFrame
        Share of each routed category per week (rows: weeks, columns: categories) with a ``baseline`` row.
    drift_baseline : str
        What the category mix is compared with: ``"training data"`` or ``"first N week(s) of the file"``.
    bad_dates : pandas.DataFrame
        ``source_row``, ``value``, ``reason`` of rows whose date is missing or unreadable.
    redispatch_columns : tuple of str
        Canonical re-dispatch columns found (``redispatch_count``, ``returned``).
    notes : tuple of str
        What could not be measured and why.
    """

    n: int
    source: str
    truth: str
    accuracy: float | None
    automatic_share: float
    weekly: pd.DataFrame
    tiers: pd.DataFrame
    units: pd.DataFrame
    unit_weeks: pd.DataFrame
    confused_units: pd.DataFrame
    category_mix: pd.DataFrame
    drift_baseline: str
    bad_dates: pd.DataFrame
    redispatch_columns: tuple = ()
    notes: tuple = ()

    def to_dict(self) -> dict:
        """Overall figures plus the weekly, tier, unit and confusion tables as JSON-ready records."""
        def records(df):
            return [{k: _json_value(v) for k, v in r.items()} for r in df.to_dict("records")]

        return {
            "n": int(self.n), "source": self.source, "truth": self.truth, "accuracy": _json_value(self.accuracy),
            "automatic_share": _json_value(self.automatic_share), "n_weeks": int((self.weekly["week"] != UNDATED).sum()),
            "n_bad_dates": int(len(self.bad_dates)), "drift_baseline": self.drift_baseline,
            "redispatch_columns": list(self.redispatch_columns), "notes": list(self.notes),
            "weekly": records(self.weekly), "tiers": records(self.tiers), "units": records(self.units),
            "confused_units": records(self.confused_units), "bad_dates": records(self.bad_dates),
        }

    def summary(self) -> str:
        """The weekly table as plain text, with the overall figures first."""
        acc = "n/a" if self.accuracy is None else f"{self.accuracy:.4f}"
        head = [f"rows {self.n} ({self.source}; truth: {self.truth}); dispatch accuracy {acc}; "
                f"automatic share {self.automatic_share:.4f}; rows with a bad date {len(self.bad_dates)}",
                f"category drift against {self.drift_baseline}"]
        cols = [c for c in self.weekly.columns if not self.weekly[c].isna().all()]
        body = self.weekly[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}")
        return "\n".join([*head, *self.notes, body])

    def to_html(self, path) -> None:
        """Write a self-contained HTML report (tables always; plots with the ``report`` extra)."""
        from pathlib import Path


        Path(path).write_text(render_html(self), encoding="utf-8")


def _json_value(v):
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else float(v)
    return str(v)


def unit_key(name) -> str:
    """A unit name compared loosely: NFKC, no spaces (``""`` for blank).

    Examples
    --------
    >>> unit_key(" 福田区 住房和建设局 ") == unit_key("福田区住房和建设局")
    True
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    return "".join(unicodedata.normalize("NFKC", str(name)).split())


def _flag(value):
    """A re-dispatch cell as True/False (a count above 0, or yes/no words); None when unreadable."""
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip().lower()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    try:
        return float(text) > 0
    except ValueError:
        return None


def _read(data, column_mapping, encoding, sheet, what):
    """A DataFrame as is, or a path read with :func:`read_tickets` (no column required yet)."""
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    if not isinstance(data, (str, os.PathLike)):
        raise TypeError(f"monitor(): {what} must be a DataFrame or a path, got {type(data).__name__}")
    from ._tickets import read_tickets

    frame = read_tickets(data, column_mapping=column_mapping, encoding=encoding, sheet=sheet, required=())
    frame.attrs["path"] = str(data)
    return frame


def _join(routed, tickets):
    """Add the export's columns (dates, text, truth, re-dispatch) to a routed file, by ``source_row`` or ``ticket_id``."""
    key = next((k for k in ("source_row", "ticket_id") if k in routed.columns and k in tickets.columns), None)
    if key is None:
        raise TicketSchemaError(f"monitor: cannot join the routed file with the export: expected a common column "
                                f"'source_row' or 'ticket_id', found {list(routed.columns)} and {list(tickets.columns)}")
    extra = [c for c in tickets.columns if c not in routed.columns or c == key]
    left, right = routed.assign(_k=routed[key].astype(str)), tickets[extra].assign(_k=tickets[key].astype(str))
    if right["_k"].duplicated().any():
        dup = right.loc[right["_k"].duplicated(), key].head(5).tolist()
        raise TicketSchemaError(f"monitor: the export has repeated {key} values {dup}; they cannot be joined")
    out = left.merge(right.drop(columns=[key]), on="_k", how="left", indicator=True)
    unmatched = int((out["_merge"] == "left_only").sum())
    out.attrs["unmatched"] = unmatched
    return out.drop(columns=["_k", "_merge"])


def _rename_redispatch(frame, column_mapping):
    """Rename known re-dispatch columns to their canonical names (a user mapping was applied when reading)."""
    names = {c: REDISPATCH_COLUMNS[c] for c in frame.columns if c in REDISPATCH_COLUMNS}
    taken = set()
    rename = {}
    for src, dst in names.items():
        if dst not in taken and (dst not in frame.columns or src == dst):
            rename[src] = dst
            taken.add(dst)
    return frame.rename(columns=rename)


def _weeks(frame):
    """ISO week (its Monday, ``YYYY-MM-DD``) of each row, and the rows whose date is missing or unreadable."""
    if "received_at" not in frame.columns:
        raise TicketSchemaError(
            "monitor: expected a date column 'received_at' (e.g. 受理时间, 提交时间, 来电时间 or --column-map "
            f"COLUMN=received_at), found {[c for c in frame.columns if not str(c).startswith('_')]}")
    raw = frame["received_at"]
    when = pd.to_datetime(raw.where(raw.astype(str).str.strip() != ""), errors="coerce", format="mixed")
    monday = (when - pd.to_timedelta(when.dt.day_of_week, unit="D")).dt.strftime("%Y-%m-%d")
    week = monday.where(when.notna(), UNDATED)
    bad = when.isna()
    rows = frame["source_row"] if "source_row" in frame.columns else pd.Series(np.arange(1, len(frame) + 1))
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    bad_dates = pd.DataFrame({"source_row": rows[bad].to_numpy(), "value": raw[bad].astype(str).to_numpy(),
                              "reason": np.where(blank[bad], "missing date", "unreadable date")})
    return week.to_numpy(dtype=object), when, bad_dates


@dataclass(frozen=True, eq=False)
class _Rows:
    """Per-row facts the weekly tables are built from (unit keys compare loosely, names are shown)."""

    week: np.ndarray
    routed: np.ndarray
    tier: np.ndarray
    category: np.ndarray
    truth: np.ndarray
    names: dict
    redispatch: np.ndarray
    returned: np.ndarray
    oov: np.ndarray

    @property
    def known(self):
        return self.truth != ""

    @property
    def correct(self):
        return self.known & (self.truth == self.routed)


def _route_on_the_fly(frame, router, when, progress):
    """Route labelled tickets in chunks; dates already parsed (a bad date routes with the current time)."""
    from tqdm import tqdm

    if "text" not in frame.columns:
        raise TicketSchemaError(
            "monitor: expected a routed column 'lead_department' (a file written by route-file) or a 'text' "
            f"column to route, found {list(frame.columns)}")
    cols = [c for c in ("text", "district", "street", "location") if c in frame.columns]
    todo = frame[cols].assign(received_at=[None if pd.isna(w) else w.to_pydatetime() for w in when])
    decisions = []
    for start in tqdm(range(0, len(todo), 2000), desc="routing", unit="chunk", disable=not progress):
        decisions += router.route_many(todo.iloc[start:start + 2000], explain=False)
    return decisions


def _routed(frame, router, when, progress):
    """Routed unit, tier and category per row, the decisions when routed here, and the source's name."""
    if "lead_department" in frame.columns:
        if "tier" in frame.columns:
            tier = frame["tier"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
        elif "needs_review" in frame.columns:
            review = frame["needs_review"].map(_flag).fillna(True).to_numpy(dtype=bool)
            tier = np.where(review, "review", "auto").astype(object)
        else:
            raise TicketSchemaError("monitor: a routed file needs a 'tier' or 'needs_review' column "
                                    f"(as route-file writes), found {list(frame.columns)}")
        category = (frame["category"].fillna("").astype(str).to_numpy(dtype=object) if "category" in frame.columns
                    else np.full(len(frame), "", dtype=object))
        return frame["lead_department"].tolist(), tier, category, None, "routed file"
    decisions = _route_on_the_fly(frame, router, when, progress)
    return ([d.lead_department for d in decisions], np.array([d.tier for d in decisions], dtype=object),
            np.array([d.category or "" for d in decisions], dtype=object), decisions, "routed on the fly")


def _truth(frame, router, decisions, when):
    """True unit per row (names), and where it came from."""
    from ._evaluate import _true_units

    for col in TRUE_UNIT_COLUMNS:
        if col in frame.columns:
            return frame[col].tolist(), f"unit column {col}"
    if "label" in frame.columns and "text" in frame.columns and getattr(router, "catalog", None) is not None:
        if decisions is None:  # a routed file: the place comes from the export's own columns
            def col(name):
                return frame[name].tolist() if name in frame.columns else [None] * len(frame)

            decisions = [SimpleNamespace(district=d, street=s, received_at=None if pd.isna(w) else w.to_pydatetime())
                         for d, s, w in zip(col("district"), col("street"), when)]
        labels = frame.assign(label=frame["label"].fillna("").astype(str).str.strip())
        return _true_units(router, labels, decisions), "item label"
    return [None] * len(frame), "none"


def _oov_shares(router, frame):
    """Share of each text's words missing from the model's vocabulary (NaN without text or vocabulary)."""
    from ._text import prepare_text

    clf = getattr(router, "classifier", None)
    vocab, tok = getattr(clf, "vocabulary_", None), getattr(clf, "tokenizer", None)
    if vocab is None or tok is None or "text" not in frame.columns:
        return np.full(len(frame), np.nan)
    out = np.full(len(frame), np.nan)
    for i, text in enumerate(frame["text"].tolist()):
        if isinstance(text, str) and text.strip():
            words = [w for w in tok(prepare_text(text).text) if w.strip()]
            if words:
                out[i] = sum(w not in vocab for w in words) / len(words)
    return out


def _rows(frame, router, week, when, progress):
    routed, tier, category, decisions, source = _routed(frame, router, when, progress)
    truth, truth_source = _truth(frame, router, decisions, when)
    names = {}
    for name in [*routed, *truth]:
        key = unit_key(name)
        if key:
            names.setdefault(key, str(name).strip())

    def flags(col):
        if col not in frame.columns:
            return np.full(len(frame), np.nan)
        return np.array([np.nan if f is None else float(f) for f in map(_flag, frame[col].tolist())])

    rows = _Rows(week=week, routed=np.array([unit_key(u) for u in routed], dtype=object), tier=tier,
                 category=category, truth=np.array([unit_key(u) for u in truth], dtype=object), names=names,
                 redispatch=flags("redispatch_count"), returned=flags("returned"), oov=_oov_shares(router, frame))
    return rows, source, truth_source


def _mean(values, mask=None):
    values = values if mask is None else values[mask]
    values = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    return float(values.mean()) if len(values) else np.nan


def _week_order(week):
    dated = sorted({w for w in week if w != UNDATED})
    return dated + ([UNDATED] if (week == UNDATED).any() else [])


def _training_mix(router):
    """Category shares of the training labels when the model carries their counts, else None."""
    meta = getattr(router, "metadata", None) or {}
    counts = None
    for key in ("training", "training_report"):  # where a saved model keeps its training report
        saved = meta.get(key)
        counts = counts or (saved.get("label_counts") if isinstance(saved, dict) else None)
    counts = counts or getattr(getattr(router, "training_report", None), "label_counts", None)
    catalog = getattr(router, "catalog", None)
    if not counts or catalog is None:
        return None
    mix = {}
    for code, k in counts.items():
        cat = catalog.get(code).category if code in catalog else "(none)"
        mix[cat] = mix.get(cat, 0) + float(k)
    total = sum(mix.values())
    return pd.Series(mix) / total if total > 0 else None


def _baseline_weeks(week, order, n_weeks):
    """The first ``n_weeks`` dated weeks, extended week by week until they hold :data:`MIN_BASELINE_ROWS` tickets."""
    dated = [w for w in order if w != UNDATED]
    counts = pd.Series(week).value_counts()
    first = dated[:n_weeks]
    while len(first) < len(dated) and int(counts.reindex(first).sum()) < MIN_BASELINE_ROWS:
        first.append(dated[len(first)])
    return first


def _category_mix(rows, order, router, baseline_weeks):
    """Weekly category shares, the baseline row, its description and each week's drift (total variation)."""
    cats = pd.Series(rows.category).replace("", "(none)")
    mix = pd.crosstab(pd.Series(rows.week, name="week"), cats.rename("category"), normalize="index")
    mix = mix.reindex([w for w in order if w in mix.index])
    baseline = _training_mix(router)
    if baseline is not None:
        label = "training data"
    else:
        first = _baseline_weeks(rows.week, order, baseline_weeks)
        in_first = np.isin(rows.week, first)
        baseline = cats[in_first].value_counts(normalize=True) if in_first.any() else pd.Series(dtype=float)
        label = (f"first {len(first)} week(s) of the file ({first[0]} to {first[-1]}, {int(in_first.sum())} tickets)"
                 if first else "nothing (no dated week)")
    columns = sorted(set(mix.columns) | set(baseline.index))
    mix = mix.reindex(columns=columns, fill_value=0.0)
    base = baseline.reindex(columns, fill_value=0.0)
    drift = 0.5 * (mix - base.to_numpy()).abs().sum(axis=1) if len(baseline) else pd.Series(np.nan, index=mix.index)
    full = pd.concat([pd.DataFrame([base.to_numpy()], index=["baseline"], columns=columns), mix])
    full.index.name = "week"
    return full, label, drift


def _weekly(rows, order, drift):
    out = []
    for w in order:
        m = rows.week == w
        auto = m & (rows.tier == "auto")
        out.append({"week": w, "n": int(m.sum()), "n_with_truth": int((m & rows.known).sum()),
                    "accuracy": _mean(rows.correct.astype(float), m & rows.known),
                    "automatic_share": float((rows.tier[m] == "auto").mean()) if m.any() else np.nan,
                    "automatic_accuracy": _mean(rows.correct.astype(float), auto & rows.known),
                    "redispatch_rate": _mean(rows.redispatch, m), "return_rate": _mean(rows.returned, m),
                    "oov_share": _mean(rows.oov, m),
                    "category_drift": float(drift.get(w, np.nan)) if w != UNDATED else np.nan})
    return pd.DataFrame(out)


def _tiers(rows, order):
    names = [t for t in ("auto", "suggest", "manual", "review") if (rows.tier == t).any()]
    names += sorted(set(rows.tier) - set(names))
    out = []
    for w in ["all", *order]:
        m = np.ones(len(rows.week), dtype=bool) if w == "all" else rows.week == w
        for t in names:
            mt = m & (rows.tier == t)
            out.append({"week": w, "tier": t, "n": int(mt.sum()), "share": float(mt.sum() / max(m.sum(), 1)),
                        "accuracy": _mean(rows.correct.astype(float), mt & rows.known)})
    return pd.DataFrame(out, columns=["week", "tier", "n", "share", "accuracy"])


def _units(rows, order):
    """Accuracy per true unit overall and per week (units with the most tickets first)."""
    known = rows.known
    frame = pd.DataFrame({"week": rows.week[known], "unit": [rows.names[u] for u in rows.truth[known]],
                          "correct": rows.correct[known].astype(float)})
    overall = (frame.groupby("unit").agg(n=("correct", "size"), accuracy=("correct", "mean")).reset_index()
               .sort_values(["n", "unit"], ascending=[False, True], kind="stable").reset_index(drop=True))
    weekly = frame.groupby(["week", "unit"]).agg(n=("correct", "size"), accuracy=("correct", "mean")).reset_index()
    rank = {w: i for i, w in enumerate(order)}
    weekly = weekly.sort_values(["week", "n", "unit"], key=lambda s: s.map(rank) if s.name == "week" else s,
                                ascending=[True, False, True], kind="stable").reset_index(drop=True)
    return overall, weekly


def _confused(rows):
    """Pairs of units most often confused either way: true a routed to b, and b to a."""
    wrong = rows.known & ~rows.correct & (rows.routed != "")
    counts = pd.Series(list(zip(rows.truth[wrong], rows.routed[wrong])), dtype=object).value_counts()
    pairs = {}
    for (t, p), k in counts.items():
        a, b = sorted((t, p))
        entry = pairs.setdefault((a, b), [0, 0])
        entry[0 if t == a else 1] += int(k)
    out = pd.DataFrame([{"unit_a": rows.names[a], "unit_b": rows.names[b], "a_to_b": x, "b_to_a": y, "total": x + y}
                        for (a, b), (x, y) in pairs.items()], columns=["unit_a", "unit_b", "a_to_b", "b_to_a", "total"])
    out = out.sort_values(["total", "unit_a", "unit_b"], ascending=[False, True, True], kind="stable")
    return out.head(_TOP_PAIRS).reset_index(drop=True)


def _load_router(router, frame):
    """The router given, loaded from a path, or the bundled one; none is loaded when nothing needs it."""
    needed = "lead_department" not in frame.columns or "text" in frame.columns or "label" in frame.columns
    if router is None and not needed:  # a routed file with truth columns only: no text to measure, nothing to route
        return SimpleNamespace(classifier=None, catalog=None, metadata={})
    if router is None or isinstance(router, (str, os.PathLike)):
        from ._router import Router

        return Router.load(None if router in (None, "", "default") else router)
    return router


def monitor(data, *, router=None, tickets=None, column_mapping=None, encoding=None, sheet=None,
            baseline_weeks=2, progress=False) -> MonitorReport:
    """Operator metrics of a routed or labelled export, overall and per week.

    Parameters
    ----------
    data : pandas.DataFrame or str or Path
        A file ``route-file`` wrote (routed unit in ``lead_department``, tier
        from ``tier`` or ``needs_review``), or tickets with ``text`` (routed
        here). Dates come from ``received_at`` (受理时间, 提交时间, 来电时间).
        The true unit comes from ``true_unit`` or ``department`` (主办单位),
        else from the item ``label`` through the router's rules. Re-dispatch
        columns: see :data:`REDISPATCH_COLUMNS`.
    router : Router or str, optional
        The model (or its directory) that routed the file: its vocabulary
        measures out-of-vocabulary text, and its training label counts
        (``metadata["training"]["label_counts"]``), when it has them, are
        the category baseline. The bundled model by default; none is
        loaded for a routed file without text or item labels.
    tickets : pandas.DataFrame or str or Path, optional
        The original export of a routed file, joined on ``source_row`` (or
        ``ticket_id``) for dates, text, truth and re-dispatch columns.
    column_mapping : dict, optional
        Export column -> canonical name, as for :func:`read_tickets`
        (e.g. ``{"转派次数": "redispatch_count", "办结单位": "true_unit"}``).
    encoding, sheet : optional
        As for :func:`read_tickets`.
    baseline_weeks : int, default 2
        Weeks that form the category baseline when the model does not
        carry its training label counts (more when they hold fewer than
        :data:`MIN_BASELINE_ROWS` tickets).
    progress : bool, default False
        Show a progress bar while routing.

    Returns
    -------
    MonitorReport

    Raises
    ------
    TicketSchemaError
        No date column, nothing routed and no text to route, or a routed
        file that cannot be joined with its export.
    """
    if int(baseline_weeks) < 1:
        raise ValueError(f"baseline_weeks must be at least 1, got {baseline_weeks!r}")
    frame = _rename_redispatch(_read(data, column_mapping, encoding, sheet, "data"), column_mapping)
    notes = []
    if tickets is not None:
        export = _rename_redispatch(_read(tickets, column_mapping, encoding, sheet, "tickets"), column_mapping)
        frame = _join(frame, export)
        if frame.attrs.get("unmatched"):
            notes.append(f"{frame.attrs['unmatched']} routed row(s) have no match in the export (undated)")
    if frame.empty:
        raise TicketSchemaError("monitor: the file has no rows")
    week, when, bad_dates = _weeks(frame)
    router = _load_router(router, frame)
    rows, source, truth_source = _rows(frame, router, week, when, progress)
    return _report(frame, rows, router, source, truth_source, bad_dates, int(baseline_weeks), notes)


def _report(frame, rows, router, source, truth_source, bad_dates, baseline_weeks, notes):
    order = _week_order(rows.week)
    mix, baseline, drift = _category_mix(rows, order, router, baseline_weeks)
    units, unit_weeks = _units(rows, order)
    found = tuple(c for c in ("redispatch_count", "returned") if c in frame.columns)
    if not found:
        notes.append("no re-dispatch columns (改派次数 / 退单 / redispatch_count / returned): rates not measured")
    if truth_source == "none":
        notes.append("no true unit (true_unit / department / label): accuracy not measured")
    if np.isnan(rows.oov).all():
        notes.append("no text (or no model vocabulary): out-of-vocabulary share not measured")
    return MonitorReport(
        n=len(frame), source=source, truth=truth_source,
        accuracy=None if not rows.known.any() else float(rows.correct[rows.known].mean()),
        automatic_share=float((rows.tier == "auto").mean()), weekly=_weekly(rows, order, drift),
        tiers=_tiers(rows, order), units=units, unit_weeks=unit_weeks, confused_units=_confused(rows),
        category_mix=mix, drift_baseline=baseline, bad_dates=bad_dates, redispatch_columns=found, notes=tuple(notes))
