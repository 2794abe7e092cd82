"""The typed result of routing one complaint."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

__all__ = ["Candidate", "RoutingDecision", "TierThresholds", "UnitCandidate", "deadlines_for",
           "DISPATCH_LIMITS", "CONTACT_LIMIT", "TIERS"]

#: The three dispatch tiers, most automatic first: ``auto`` (dispatch to the lead
#: unit without a human), ``suggest`` (show the dispatcher the top units, one
#: click) and ``manual`` (a dispatcher reads and decides).
TIERS = ("auto", "suggest", "manual")

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
class UnitCandidate:
    """One unit that could lead, with the summed probability of the items it leads.

    Attributes
    ----------
    unit : str
        The concrete lead unit after rules and jurisdiction.
    probability : float
        Sum of the probabilities of the candidate items whose lead is ``unit``.
    items : tuple of str
        Codes of those items, most probable first.

    Examples
    --------
    >>> UnitCandidate("福田区城市管理和综合执法局", 0.83, ("01-01-001", "01-02-003")).to_dict()
    {'unit': '福田区城市管理和综合执法局', 'probability': 0.83, 'items': ['01-01-001', '01-02-003']}
    """

    unit: str
    probability: float
    items: tuple[str, ...]

    def to_dict(self) -> dict:
        """Return the unit candidate as a plain dict."""
        return {"unit": self.unit, "probability": self.probability, "items": list(self.items)}


@dataclass(frozen=True)
class TierThresholds:
    """Unit-confidence thresholds of the ``auto`` and ``suggest`` tiers.

    A decision whose unit confidence reaches ``auto`` is dispatched
    automatically; one that reaches ``suggest`` (but not ``auto``) shows the
    dispatcher the top units; anything lower is ``manual``. :func:`train`
    chooses both on validation data for target accuracies and stores them
    with the model.

    Examples
    --------
    >>> t = TierThresholds(auto=0.8, suggest=0.3)
    >>> t.tier_for(0.9), t.tier_for(0.5), t.tier_for(0.1)
    ('auto', 'suggest', 'manual')
    >>> TierThresholds.coerce({"auto": 0.7, "suggest": 0.2}).to_dict()
    {'auto': 0.7, 'suggest': 0.2}
    >>> TierThresholds(auto=0.2, suggest=0.5)
    Traceback (most recent call last):
    ...
    ValueError: tier thresholds need 0 <= suggest <= auto <= 1, got auto=0.2, suggest=0.5
    """

    auto: float
    suggest: float

    def __post_init__(self):
        try:
            auto, suggest = float(self.auto), float(self.suggest)
        except (TypeError, ValueError):
            raise ValueError(
                f"tier thresholds must be numbers, got auto={self.auto!r}, suggest={self.suggest!r}"
            ) from None
        if not 0.0 <= suggest <= auto <= 1.0:
            raise ValueError(
                f"tier thresholds need 0 <= suggest <= auto <= 1, got auto={auto!r}, suggest={suggest!r}"
            )
        object.__setattr__(self, "auto", auto)
        object.__setattr__(self, "suggest", suggest)

    @classmethod
    def coerce(cls, value):
        """Accept a ``TierThresholds``, a mapping with ``auto``/``suggest`` or an ``(auto, suggest)`` pair."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            unknown = sorted(set(value) - {"auto", "suggest"})
            if unknown or "auto" not in value or "suggest" not in value:
                raise ValueError(f"thresholds need exactly the keys ['auto', 'suggest'], got {sorted(value)}")
            return cls(auto=value["auto"], suggest=value["suggest"])
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return cls(auto=value[0], suggest=value[1])
        raise ValueError(f"thresholds must be TierThresholds, a dict or an (auto, suggest) pair, got {value!r}")

    def tier_for(self, unit_confidence: float) -> str:
        """The tier a unit confidence falls in."""
        if unit_confidence >= self.auto:
            return "auto"
        return "suggest" if unit_confidence >= self.suggest else "manual"

    def to_dict(self) -> dict:
        """Return the thresholds as a plain dict."""
        return {"auto": self.auto, "suggest": self.suggest}


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
        ``True`` when a human dispatcher should check the decision (always
        when ``tier`` is not ``"auto"``).
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
    unit_confidence : float
        Probability that ``lead_department`` is the right lead: the summed
        probability of the candidate items it leads (0 when no item).
    unit_candidates : tuple of UnitCandidate
        The units that could lead, most probable first.
    tier : str
        ``"auto"``, ``"suggest"`` or ``"manual"`` (see :data:`TIERS`),
        decided on ``unit_confidence`` and on the text itself.

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
    unit_confidence: float = 0.0
    unit_candidates: tuple[UnitCandidate, ...] = field(default=())
    tier: str = "manual"

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
            elif f.name in ("candidates", "unit_candidates"):
                value = [c.to_dict() for c in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["departments"] = list(self.departments)
        return out
