"""The typed result of routing one complaint."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

__all__ = ["Candidate", "RoutingDecision", "deadlines_for", "DISPATCH_LIMITS", "CONTACT_LIMIT"]

#: Shenzhen's dispatch limits: emergencies within 30 minutes, general requests within 2 hours.
DISPATCH_LIMITS = {"紧急": timedelta(minutes=30), "一般": timedelta(hours=2)}
#: The handling unit contacts the citizen within 24 hours of receipt.
CONTACT_LIMIT = timedelta(hours=24)


def deadlines_for(urgency, received_at):
    """Return ``(dispatch_deadline, contact_deadline)`` for an urgency and receipt time.

    Examples
    --------
    >>> from datetime import datetime
    >>> d, c = deadlines_for("紧急", datetime(2024, 6, 12, 22, 30))
    >>> d.isoformat(), c.isoformat()
    ('2024-06-12T23:00:00', '2024-06-13T22:30:00')
    >>> deadlines_for("一般", None)
    (None, None)
    """
    if received_at is None:
        return None, None
    try:
        limit = DISPATCH_LIMITS[urgency]
    except KeyError:
        raise ValueError(f"unknown urgency {urgency!r}; expected one of {sorted(DISPATCH_LIMITS)}") from None
    return received_at + limit, received_at + CONTACT_LIMIT


@dataclass(frozen=True)
class Candidate:
    """One duty item the classifier considered, with its probability.

    Examples
    --------
    >>> Candidate("08-04-001", "广场舞噪声", 0.91).to_dict()
    {'code': '08-04-001', 'name': '广场舞噪声', 'score': 0.91}
    """

    code: str
    name: str
    score: float

    def to_dict(self) -> dict:
        """Return the candidate as a plain dict."""
        return {"code": self.code, "name": self.name, "score": self.score}


@dataclass(frozen=True)
class RoutingDecision:
    """Where one complaint goes, how sure the router is, and why.

    The same type is returned for every input, including empty or invalid
    text (then ``item_code`` is ``None`` and ``needs_review`` is ``True``).

    Attributes
    ----------
    item_code, item_name, category, subcategory : str or None
        The predicted duty item (``None`` when no item could be named).
    confidence : float
        Calibrated probability of ``item_code`` (0 when no item).
    candidates : tuple of Candidate
        The top-k items, best first.
    lead_department : str or None
        The concrete unit that leads (主办); ``None`` when no item.
    co_departments : tuple of str
        Concrete co-handling units (协办), never containing the lead.
    urgency : str
        ``"紧急"`` or ``"一般"``.
    received_at, dispatch_deadline, contact_deadline : datetime or None
        When the complaint arrived; dispatch within 30 minutes (紧急) or
        2 hours (一般); the handling unit contacts the citizen within 24 hours.
    needs_review : bool
        ``True`` when a human dispatcher should check the decision.
    arbitration : bool
        争议事项快速裁决: the item is disputed or rules conflicted.
    joint_review : bool
        监管空白点会商研判: no unit is clearly responsible.
    district, street : str or None
        The jurisdiction used to resolve units.
    flags : tuple of str
        Machine-readable markers such as ``"empty_text"``, ``"truncated"``,
        ``"invalid_input"``, ``"low_confidence"``, ``"row_error"``.
    reasons : tuple of str
        Plain-Chinese explanations a dispatcher can check in seconds.

    Examples
    --------
    >>> d = RoutingDecision(item_code=None, item_name=None, category=None,
    ...                     subcategory=None, confidence=0.0, candidates=(),
    ...                     lead_department=None, co_departments=(), urgency="一般",
    ...                     needs_review=True, flags=("empty_text",))
    >>> d.departments
    ()
    >>> d.to_dict()["flags"]
    ['empty_text']
    """

    item_code: str | None
    item_name: str | None
    category: str | None
    subcategory: str | None
    confidence: float
    candidates: tuple[Candidate, ...]
    lead_department: str | None
    co_departments: tuple[str, ...]
    urgency: str
    received_at: datetime | None = None
    dispatch_deadline: datetime | None = None
    contact_deadline: datetime | None = None
    needs_review: bool = False
    arbitration: bool = False
    joint_review: bool = False
    district: str | None = None
    street: str | None = None
    flags: tuple[str, ...] = field(default=())
    reasons: tuple[str, ...] = field(default=())

    @property
    def departments(self) -> tuple[str, ...]:
        """All units that act on the complaint: the lead first, then co-handlers."""
        if self.lead_department is None:
            return tuple(self.co_departments)
        return (self.lead_department, *self.co_departments)

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (datetimes as ISO strings, tuples as lists)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                value = value.isoformat(timespec="minutes")
            elif f.name == "candidates":
                value = [c.to_dict() for c in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["departments"] = list(self.departments)
        return out
