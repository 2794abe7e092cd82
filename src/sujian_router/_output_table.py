"""The routed output table shared by ``route_file`` and the Dask integration.

Decisions become one flat row each (id columns first, then
:data:`OUTPUT_COLUMNS`), the same in a file written by ``route_file`` and in
a Dask DataFrame from ``sujian_router.dask``.
"""

from __future__ import annotations

__all__ = ["OUTPUT_COLUMNS", "ID_COLUMNS", "decisions_to_frame", "route_frame"]

#: Columns written after the input's id columns, in order.
OUTPUT_COLUMNS = (
    "item_code", "item_name", "category", "subcategory", "confidence", "unit_confidence",
    "lead_department", "co_departments", "urgency", "dispatch_deadline", "contact_deadline",
    "tier", "needs_review", "arbitration", "joint_review", "flags",
)
#: Input columns copied to the output when present (ids and context).
ID_COLUMNS = ("source_row", "ticket_id")

def decisions_to_frame(decisions, ids=None):
    """Turn decisions into the flat output table of :func:`route_file`.

    Parameters
    ----------
    decisions : list of RoutingDecision
    ids : pandas.DataFrame, optional
        Id columns to put first, one row per decision.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from sujian_router._decision import RoutingDecision
    >>> d = RoutingDecision(item_code=None, item_name=None, category=None, subcategory=None,
    ...                     confidence=0.0, candidates=(), lead_department=None,
    ...                     co_departments=(), urgency="一般", needs_review=True,
    ...                     flags=("empty_text",))
    >>> decisions_to_frame([d])[["tier", "needs_review", "flags"]].to_dict("records")
    [{'tier': 'manual', 'needs_review': True, 'flags': 'empty_text'}]
    """
    import pandas as pd

    def fmt_time(t):
        return t.strftime("%Y-%m-%d %H:%M") if t is not None else ""

    cols = {c: [] for c in OUTPUT_COLUMNS}
    for d in decisions:
        cols["item_code"].append(d.item_code or "")
        cols["item_name"].append(d.item_name or "")
        cols["category"].append(d.category or "")
        cols["subcategory"].append(d.subcategory or "")
        cols["confidence"].append(round(float(d.confidence), 4))
        cols["unit_confidence"].append(round(float(d.unit_confidence), 4))
        cols["lead_department"].append(d.lead_department or "")
        cols["co_departments"].append("|".join(d.co_departments))
        cols["urgency"].append(d.urgency)
        cols["dispatch_deadline"].append(fmt_time(d.dispatch_deadline))
        cols["contact_deadline"].append(fmt_time(d.contact_deadline))
        cols["tier"].append(d.tier)
        cols["needs_review"].append(bool(d.needs_review))
        cols["arbitration"].append(bool(d.arbitration))
        cols["joint_review"].append(bool(d.joint_review))
        cols["flags"].append("|".join(d.flags))
    out = pd.DataFrame(cols)
    if ids is not None and len(ids.columns):
        out = pd.concat([ids.reset_index(drop=True), out], axis=1)
    return out


def route_frame(router, frame, reference_time, keep=ID_COLUMNS):
    """Route a pandas frame into the output table; rows without a receipt time use ``reference_time``.

    The table keeps ``frame``'s index, so Dask partitions stay aligned. Rows
    whose cells :func:`read_tickets` shortened (``on_long_cell="truncate"``)
    get the ``cell_truncated`` flag and go to review (an ``auto`` tier becomes
    ``suggest``: the dispatcher sees the candidates and the whole original text).
    """
    decisions = router.route_many(frame, received_at=reference_time, explain=False)  # reasons are not written
    table = decisions_to_frame(decisions, frame[[c for c in keep if c in frame.columns]])
    table.index = frame.index
    cut = frame.attrs.get("truncated_cells") or {}
    if cut and "source_row" in frame.columns:
        hit = frame["source_row"].isin([int(r) for r in cut]).to_numpy()
        table.loc[hit, "flags"] = [f"{f}|cell_truncated" if f else "cell_truncated" for f in table.loc[hit, "flags"]]
        table.loc[hit, "needs_review"] = True
        table.loc[hit & (table["tier"] == "auto").to_numpy(), "tier"] = "suggest"
    return table
