"""Route a batch: check each ticket on its own, route them together, keep the order.

A ticket that does not match the single-route body still gets a decision:
its unusable fields are dropped, the decision is flagged ``invalid_ticket``
(``needs_review`` true) and carries an ``errors`` list naming the fields.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import ValidationError

from ._errors import validation_error
from ._schemas import RouteRequest

__all__ = ["route_batch", "local_time", "mark_invalid", "CONTEXT_FIELDS"]

CONTEXT_FIELDS = ("district", "street", "received_at", "location")
_SHENZHEN = timezone(timedelta(hours=8))
#: Deadlines run up to a day past receipt; later times cannot be represented.
_LATEST = datetime.max - timedelta(days=2)
_DEFAULT_TOP_K = RouteRequest.model_fields["top_k"].default


def local_time(value):
    """Return ``(naive Shenzhen time or None, problem or None)`` for a validated ``received_at``.

    Aware times are converted to UTC+8; times so close to the end of the
    calendar that a deadline cannot be computed are dropped with a problem.
    """
    if value is None:
        return None, None
    if value.tzinfo is not None:
        try:
            value = value.astimezone(_SHENZHEN).replace(tzinfo=None)
        except OverflowError:
            return None, "received_at: out of the supported range"
    if value > _LATEST:
        return None, "received_at: out of the supported range"
    return value, None


def _salvage(ticket):
    """Keep each field of a malformed ticket that is valid on its own; the rest become empty."""
    out = {"text": None, **dict.fromkeys(CONTEXT_FIELDS), "top_k": _DEFAULT_TOP_K}
    if not isinstance(ticket, dict):
        return out
    for name in ("text", *CONTEXT_FIELDS, "top_k"):
        if name in ticket:
            try:
                out[name] = getattr(RouteRequest.model_validate({"text": "", name: ticket[name]}), name)
            except ValidationError:
                pass
    out["received_at"] = local_time(out["received_at"])[0]
    return out


def _check(index, ticket):
    """Return ``(fields, errors)`` for one ticket; ``errors`` is empty when it is valid."""
    try:
        fields = RouteRequest.model_validate(ticket).model_dump()
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            code, message, field = validation_error([err])
            where = f"tickets[{index}]" + (f".{field}" if field else "")
            errors.append({"code": code, "message": f"{where}: {message.split(': ', 1)[-1]}", "field": where})
        return _salvage(ticket), errors
    fields["received_at"], problem = local_time(fields["received_at"])
    if problem:
        return fields, [{"code": "invalid_request", "message": f"tickets[{index}].{problem}",
                         "field": f"tickets[{index}].received_at"}]
    return fields, []


def _route_group(router, rows):
    import pandas as pd

    frame = pd.DataFrame(
        {"text": [r["text"] for r in rows], **{c: [r.get(c) for r in rows] for c in CONTEXT_FIELDS}},
        dtype=object,
    )
    return router.route_many(frame, top_k=rows[0]["top_k"])


def route_batch(router, tickets) -> list[dict]:
    """Return one decision dict per ticket, in order (see the module docstring)."""
    checked = [_check(i, t) for i, t in enumerate(tickets)]
    by_top_k: dict[int, list[int]] = {}
    for i, (fields, _) in enumerate(checked):
        by_top_k.setdefault(fields["top_k"], []).append(i)
    out: list = [None] * len(tickets)
    for positions in by_top_k.values():
        decisions = _route_group(router, [checked[i][0] for i in positions])
        for i, decision in zip(positions, decisions):
            out[i] = decision.to_dict()
    for i, (_, errors) in enumerate(checked):
        if errors:
            mark_invalid(out[i], errors)
    return out


def mark_invalid(decision: dict, errors: list) -> dict:
    """Flag a decision whose request had unusable fields (dropped before routing) and list them."""
    decision["flags"] = [*decision["flags"], "invalid_ticket"]
    decision["reasons"] = [*decision["reasons"], "工单字段有误（" + "；".join(e["field"] for e in errors) + "），请人工核对"]
    decision["needs_review"] = True
    decision["errors"] = errors
    return decision
