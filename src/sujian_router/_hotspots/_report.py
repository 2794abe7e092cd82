"""Typed results of :func:`~sujian_router.find_hotspots`: hot issues, hottest classes, the report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["Hotspot", "ClassCount", "HotspotReport"]


def _fmt(t):
    return t.strftime("%Y-%m-%d %H:%M") if t is not None else None


@dataclass(frozen=True)
class Hotspot:
    """One hot issue: many tickets about one problem at one place in one period.

    Attributes
    ----------
    rank : int
        1 is the hottest.
    title : str
        Place and the words the tickets share.
    item_code, item_name : str
        The dominant duty item of the tickets.
    lead_department : str
        Lead unit of a special campaign (专项整治): the item's lead, or the
        coordinating unit when the tickets span several units' duties.
    co_departments : tuple of str
    place, district, street : str or None
    start, end : datetime or None
        First and last ticket.
    n_tickets, n_callers : int
    support : float
        Summed likes/votes (0 without a ``support`` column).
    heat : float
        The heat index (see ``heat_parts`` and ``why``).
    surge : dict or None
        The issue's busiest period against the surge model's baseline of its
        dominant item in its area: ``period_start, period_end, count,
        expected, p_value, score, flagged`` (None without receipt times).
    ticket_ids : tuple of str
        The input's ``ticket_id`` values (row numbers when it has none).
    heat_parts : dict
        The parts of ``heat``.
    why : str
        Why the issue is at its rank.
    samples : tuple of str
        A few texts, personal data masked.
    """

    rank: int
    title: str
    item_code: str
    item_name: str
    lead_department: str
    co_departments: tuple
    place: str | None
    district: str | None
    street: str | None
    start: object
    end: object
    n_tickets: int
    n_callers: int
    support: float
    heat: float
    surge: dict | None
    ticket_ids: tuple
    heat_parts: dict = field(default_factory=dict)
    why: str = ""
    samples: tuple = ()

    def to_dict(self) -> dict:
        """Return the hot issue in the JSON schema of the report (plus ``heat_parts`` and ``why``)."""
        return {
            "rank": self.rank, "title": self.title, "item_code": self.item_code, "item_name": self.item_name,
            "lead_department": self.lead_department, "co_departments": list(self.co_departments),
            "place": self.place, "district": self.district, "street": self.street,
            "start": _fmt(self.start), "end": _fmt(self.end), "n_tickets": self.n_tickets,
            "n_callers": self.n_callers, "support": self.support, "heat": self.heat, "surge": self.surge,
            "ticket_ids": list(self.ticket_ids),
            "heat_parts": {k: round(v, 3) for k, v in self.heat_parts.items()}, "why": self.why,
        }


@dataclass(frozen=True)
class ClassCount:
    """One row of a period's "10 hottest classes" table.

    Attributes
    ----------
    period_start : datetime
    rank : int
    item_code, item_name, lead_department : str
    n_tickets : int
    """

    period_start: object
    rank: int
    item_code: str
    item_name: str
    lead_department: str
    n_tickets: int

    def to_dict(self) -> dict:
        """Return the row as a JSON-ready dict."""
        return {"period_start": _fmt(self.period_start), "rank": self.rank, "item_code": self.item_code,
                "item_name": self.item_name, "lead_department": self.lead_department,
                "n_tickets": self.n_tickets}


@dataclass(frozen=True)
class HotspotReport:
    """What :func:`~sujian_router.find_hotspots` found.

    Attributes
    ----------
    hotspots : tuple of Hotspot
        Ranked, hottest first.
    surges : tuple of Surge
        Every flagged (item, area, period), most unusual first.
    top_classes : tuple of ClassCount
        The 10 hottest classes (duty items) of every period.
    area_counts : tuple of (district, street, n_tickets)
        Tickets per district and street, most first.
    period : str
        The period used for surges and the class tables (``"7D"``).
    n_tickets : int
        Tickets read.
    timelines : dict
        Hot issue rank -> list of (period start, tickets), for the HTML timeline.
    notes : tuple of str
        What the input lacked or how it was read.
    """

    hotspots: tuple
    surges: tuple
    top_classes: tuple
    area_counts: tuple
    period: str
    n_tickets: int
    timelines: dict = field(default_factory=dict)
    notes: tuple = ()

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict; ``hotspots`` follows the documented schema."""
        return {
            "hotspots": [h.to_dict() for h in self.hotspots],
            "surges": [s.to_dict() for s in self.surges],
            "top_classes": [c.to_dict() for c in self.top_classes],
            "area_counts": [{"district": d, "street": s, "n_tickets": n} for d, s, n in self.area_counts],
            "period": self.period, "n_tickets": self.n_tickets, "notes": list(self.notes),
        }

    def to_json(self, path=None, *, indent=None) -> str:
        """Return the report as JSON text, and write it to ``path`` when given (UTF-8)."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text

    def to_html(self, path=None) -> str:
        """Return a self-contained HTML report, and write it to ``path`` when given.

        It holds a timeline per hot issue, the counts by district and street,
        sample texts with personal data masked, and the 10 hottest classes per
        period.
        """
        from ._html import render

        html = render(self)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(html)
        return html

    def summary(self, top=15) -> str:
        """A plain-text table of the ``top`` hottest issues."""
        lines = [f"{self.n_tickets} tickets, {len(self.hotspots)} hot issues, {len(self.surges)} surges "
                 f"(period {self.period})"]
        for h in self.hotspots[:top]:
            span = f"{_fmt(h.start) or '?'}..{_fmt(h.end) or '?'}"
            lines.append(f"{h.rank:>3}  {h.heat:6.2f}  {h.n_tickets:>4} tickets  {span}  {h.title}  "
                         f"[{h.item_code} {h.item_name}; lead {h.lead_department}]")
        return "\n".join(lines)
