"""The endpoints: routing, catalog and directory look-ups, health, metrics, reload."""

from __future__ import annotations

import logging
import os
import signal

from fastapi import APIRouter, Body, Query, Request, Security
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from ..exceptions import UnknownDepartmentError, UnknownDutyError
from ._batch import local_time, mark_invalid, route_batch
from ._errors import ApiError
from ._schemas import BatchRequest, BatchResponse, DecisionOut, ErrorResponse, ReloadRequest, RouteRequest
from ._state import ReloadBusy, ReloadRefused

__all__ = ["api", "ops"]

logger = logging.getLogger("sujian_router.service")

_bearer = HTTPBearer(auto_error=False, description="One of the keys in --api-key-file (when it is set).")


def _errors(*codes):
    return {code: {"model": ErrorResponse} for code in (401, 422, 503, *codes)}


api = APIRouter(prefix="/v1", dependencies=[Security(_bearer)])
ops = APIRouter()


def _model(request: Request):
    """The model snapshot this request will use to the end, or 503 while none is loaded."""
    state = request.app.state.models
    current = state.current
    if current is None:
        raise ApiError(503, "not_ready", f"the model is not loaded yet (status: {state.status})",
                       headers={"Retry-After": "5"})
    return current


def _catalog(request: Request):
    catalog = _model(request).router.catalog
    if catalog is None:
        raise ApiError(404, "no_catalog", "the loaded model is a free-label model without a duty catalog")
    return catalog


@api.post("/route", response_model=DecisionOut, responses=_errors(400, 413), summary="Route one complaint")
def route_one(request: Request, body: RouteRequest):
    """Route one complaint: ``RoutingDecision.to_dict()`` plus the ``model`` that answered."""
    loaded = _model(request)
    received_at, problem = local_time(body.received_at)
    decision = loaded.router.route(body.text, district=body.district, street=body.street,
                                   received_at=received_at, location=body.location, top_k=body.top_k)
    out = decision.to_dict()
    if problem:
        mark_invalid(out, [{"code": "invalid_request", "message": problem, "field": "received_at"}])
    request.app.state.metrics.observe_decisions([out])
    out["model"] = loaded.info()
    return JSONResponse(out)


@api.post("/route/batch", response_model=BatchResponse, responses=_errors(400, 413), summary="Route many complaints")
def route_many(request: Request, body: BatchRequest):
    """Route up to the configured maximum of tickets; one decision each, in order."""
    limit = request.app.state.settings.max_batch
    if len(body.tickets) > limit:
        raise ApiError(413, "too_many_tickets", f"tickets: {len(body.tickets)} sent, at most {limit} per batch",
                       "tickets")
    loaded = _model(request)
    decisions = route_batch(loaded.router, body.tickets)
    request.app.state.metrics.observe_decisions(decisions)
    info = loaded.info()
    for d in decisions:
        d["model"] = info
    return JSONResponse({"decisions": decisions})


@api.get("/items/{code}", responses=_errors(404), summary="One duty item of the catalog")
def get_item(request: Request, code: str):
    """The duty item with this code (``CC-SS-III``)."""
    try:
        return JSONResponse(_catalog(request).get(code).to_dict())
    except UnknownDutyError as exc:
        raise ApiError(404, "unknown_item", str(exc), "code") from None


@api.get("/catalog/search", responses=_errors(), summary="Search the duty catalog")
def search_catalog(request: Request, q: str = Query(min_length=1, max_length=2000),
                   limit: int = Query(10, ge=1, le=100)):
    """Items whose name, keywords, phrasings or scope match ``q``, best first."""
    hits = _catalog(request).search(q, limit=limit)
    return JSONResponse({"results": [{"score": round(float(s), 4), "item": it.to_dict()} for it, s in hits]})


@api.get("/units/resolve", responses=_errors(404), summary="The unit playing a role at a place")
def resolve_unit(request: Request, role: str = Query(min_length=1, max_length=200),
                 district: str | None = Query(None, max_length=200), street: str | None = Query(None, max_length=200)):
    """Resolve a department role to a concrete unit by district and street, with how it was found."""
    directory = _catalog(request).departments
    try:
        return JSONResponse(directory.resolve_unit(role, district=district, street=street).to_dict())
    except UnknownDepartmentError as exc:
        raise ApiError(404, "unknown_role", str(exc), "role") from None


@ops.get("/healthz", summary="The process is up")
async def healthz():
    """Always 200 while the process runs."""
    return {"status": "ok"}


@ops.get("/readyz", responses={503: {"description": "loading, reloading or failed"}}, summary="A model is serving")
async def readyz(request: Request):
    """200 with the model when ready; 503 while the model is built, loaded or reloaded."""
    state = request.app.state.models
    body = {"status": "ready" if state.ready else state.status,
            "model": state.current.info() if state.current is not None else None, "pid": os.getpid()}
    if state.error and not state.ready:
        body["error"] = state.error
    return JSONResponse(body, status_code=200 if state.ready else 503)


@ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request):
    """Requests, latency, decisions by tier and category, the model serving."""
    state, m = request.app.state.models, request.app.state.metrics
    m.set_model(state.current, state.ready)
    body, content_type = m.render()
    return Response(body, media_type=content_type)


@ops.post("/admin/reload", responses=_errors(400, 409), dependencies=[Security(_bearer)], summary="Swap in a model")
async def reload_model(request: Request, body: ReloadRequest | None = Body(None)):
    """Load a model beside the current one and swap; a broken model is refused (422)."""
    settings, state = request.app.state.settings, request.app.state.models
    path = body.model if body is not None else None
    if settings.workers > 1:
        return await _reload_workers(request, path)
    try:
        loaded = await run_in_threadpool(state.reload, path)
    except ReloadBusy as exc:
        raise ApiError(409, "reload_in_progress", str(exc)) from None
    except ReloadRefused as exc:
        request.app.state.metrics.reloads.labels("refused").inc()
        raise ApiError(422, "model_refused", f"new model refused, the current one keeps serving: {exc}",
                       "model") from None
    request.app.state.metrics.reloads.labels("ok").inc()
    return {"status": "reloaded", "model": loaded.info()}


async def _reload_workers(request: Request, path):
    """Several workers: check the configured model here, then have uvicorn replace the workers one by one."""
    state = request.app.state.models
    if path is not None and path != state.path:
        raise ApiError(422, "invalid_request", "model: with several workers only the configured model "
                       "directory can be reloaded (replace its files, then reload)", "model")
    try:
        checked = await run_in_threadpool(state.check, state.path)
    except ReloadRefused as exc:
        request.app.state.metrics.reloads.labels("refused").inc()
        raise ApiError(422, "model_refused", f"new model refused, the workers keep serving: {exc}",
                       "model") from None
    os.kill(os.getppid(), signal.SIGHUP)
    request.app.state.metrics.reloads.labels("ok").inc()
    return JSONResponse({"status": "restarting_workers", "model": checked.info()}, status_code=202)
