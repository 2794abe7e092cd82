"""Route a batch: check each ticket on its own, route them together, keep the order.

A ticket that does not match the single-route body still gets a decision:
its unusable fields are dropped, the decision is flagged ``invalid_ticket``
(``needs_review`` true) and carries an ``errors`` list naming the fields.
"""

from __future__ import annotations

from pydantic import ValidationError

from ._errors import validation_error
from ._schemas import MAX_TOP_K, RouteRequest

__all__ = ["route_batch", "CONTEXT_FIELDS"]

CONTEXT_FIELDS = ("district", "street", "received_at", "location")
_DEFAULT_TOP_K = RouteRequest.model_fields["top_k"].default


def _salvage(ticket):
    """Keep the fields of a malformed ticket that have a usable type."""
    if not isinstance(ticket, dict):
        return {"text": None, "top_k": _DEFAULT_TOP_K}
    out = {"text": ticket.get("text") if isinstance(ticket.get("text"), str) else None}
    for name in CONTEXT_FIELDS:
        value = ticket.get(name)
        out[name] = value if isinstance(value, str) else None
    top_k = ticket.get("top_k")
    usable = isinstance(top_k, int) and not isinstance(top_k, bool) and 1 <= top_k <= MAX_TOP_K
    out["top_k"] = top_k if usable else _DEFAULT_TOP_K
    return out


def _check(index, ticket):
    """Return ``(fields, errors)`` for one ticket; ``errors`` is empty when it is valid."""
    try:
        return RouteRequest.model_validate(ticket).model_dump(), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            code, message, field = validation_error([err])
            where = f"tickets[{index}]" + (f".{field}" if field else "")
            errors.append({"code": code, "message": f"{where}: {message.split(': ', 1)[-1]}", "field": where})
        return _salvage(ticket), errors


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
            d = out[i]
            d["flags"] = [*d["flags"], "invalid_ticket"]
            d["reasons"] = [*d["reasons"], "工单字段有误（" + "；".join(e["field"] for e in errors) + "），请人工核对"]
            d["needs_review"] = True
            d["errors"] = errors
    return out
