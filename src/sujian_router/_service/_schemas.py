"""Request and response bodies of the HTTP API (they define ``/openapi.json``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "RouteRequest", "BatchRequest", "ModelInfo", "DecisionOut", "BatchResponse",
    "ErrorBody", "ErrorResponse", "ReloadRequest", "MAX_TOP_K",
]

#: The most candidates a client may ask for.
MAX_TOP_K = 50

_TICKET_FIELDS = {
    "text": "The complaint as the citizen wrote it (empty text gives a flagged decision).",
    "district": "District of the incident, e.g. 坪山区.",
    "street": "Street (街道) of the incident, e.g. 坪山街道.",
    "received_at": "When it was received, ISO 8601 ('2024-06-12T22:30', '2024-06-12 22:30', "
                   "'2024-06-12T14:30:00Z'); a time with a zone is converted to China Standard Time (UTC+8), "
                   "one without is taken as Shenzhen local time. Default: now.",
    "location": "Place type or description, e.g. 河道, 学校.",
}


def _integral(value):
    """JSON Schema counts 5.0 as an integer: accept it as 5 (strings stay refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _time_text(value):
    """Only a string (or null) may carry a time: numbers would otherwise be read as Unix timestamps."""
    if value is not None and not isinstance(value, (str, datetime)):
        raise ValueError("expected an ISO 8601 date-time string such as '2024-06-12T22:30'")
    if isinstance(value, str) and value.strip().isdigit():
        raise ValueError("expected an ISO 8601 date-time string such as '2024-06-12T22:30', not a number")
    return value


class RouteRequest(BaseModel):
    """One complaint to route."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description=_TICKET_FIELDS["text"])
    district: str | None = Field(None, description=_TICKET_FIELDS["district"])
    street: str | None = Field(None, description=_TICKET_FIELDS["street"])
    received_at: Annotated[datetime | None, BeforeValidator(_time_text)] = Field(
        None, strict=False, description=_TICKET_FIELDS["received_at"])
    location: str | None = Field(None, description=_TICKET_FIELDS["location"])
    top_k: Annotated[int, BeforeValidator(_integral)] = Field(5, ge=1, le=MAX_TOP_K,
                                                              description="Candidates to return.")


class BatchRequest(BaseModel):
    """Many complaints; each is checked on its own so a bad one never fails the batch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    tickets: list[Any] = Field(
        description="Tickets shaped like RouteRequest (the body of POST /v1/route). Any item is accepted: "
                    "one that is not a valid RouteRequest gives a decision flagged 'invalid_ticket' with an "
                    "'errors' list, so one bad ticket never fails the batch. More than the configured "
                    "maximum (1,000 by default) gives 413.",
    )


class ModelInfo(BaseModel):
    """Which model answered."""

    name: str
    version: str
    catalog_version: str | None


class DecisionOut(BaseModel):
    """``RoutingDecision.to_dict()`` plus ``model``; further fields may appear as the library grows."""

    model_config = ConfigDict(extra="allow")

    item_code: str | None
    item_name: str | None
    category: str | None
    confidence: float
    candidates: list[dict[str, Any]]
    lead_department: str | None
    co_departments: list[str]
    departments: list[str]
    urgency: str
    needs_review: bool
    flags: list[str]
    reasons: list[str]
    model: ModelInfo


class BatchResponse(BaseModel):
    """One decision per ticket, in the order sent."""

    decisions: list[DecisionOut]


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message and, when one field is at fault, its name."""

    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    """Every error answer has this shape."""

    error: ErrorBody


class ReloadRequest(BaseModel):
    """Which model directory to load (the configured one when omitted)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str | None = Field(None, description="A model directory on the server.")
