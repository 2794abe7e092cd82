"""Every error leaves the service as ``{"error": {"code", "message", "field"?}}``, never a traceback."""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response", "install_error_handlers"]

logger = logging.getLogger("sujian_router.service")

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
                 422: "invalid_request", 503: "not_ready"}
_LOCATIONS = {"body", "query", "path", "header"}


class ApiError(Exception):
    """An error answer with its HTTP status, stable code, message and offending field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers


def error_response(status, code, message, field=None, headers=None) -> JSONResponse:
    """Build the JSON error answer."""
    body = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field_name(loc) -> str | None:
    parts = [str(p) for p in loc if str(p) not in _LOCATIONS]
    name = ""
    for p in parts:
        name += f"[{p}]" if p.isdigit() else (f".{p}" if name else p)
    return name or None


def validation_error(errors) -> tuple[str, str, str | None]:
    """The code, message and field of the first pydantic error (its input is never echoed)."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    field = _field_name(first.get("loc", ()))
    if first.get("type") == "json_invalid":
        return "invalid_json", "the request body is not valid JSON", None
    msg = str(first.get("msg", "invalid value"))
    if field is None and first.get("type") in ("model_attributes_type", "dict_type"):
        return "invalid_request", "the request body must be a JSON object sent as Content-Type: application/json", None
    if field is None:
        return "invalid_request", f"request body: {msg}", None
    return "invalid_request", f"{field}: {msg}", field


async def _on_api_error(request, exc: ApiError):
    return error_response(exc.status, exc.code, exc.message, exc.field, exc.headers)


async def _on_validation(request, exc):
    code, message, field = validation_error(exc.errors())
    return error_response(422, code, message, field)


async def _on_http(request, exc):
    if exc.status_code == 400:  # FastAPI could not decode the body at all
        return error_response(400, "invalid_json", "the request body could not be read as UTF-8 JSON")
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), None, getattr(exc, "headers", None))


async def _on_crash(request, exc):
    rid = request.scope.get("state", {}).get("request_id", "-")
    logger.error("unhandled %s in request %s", type(exc).__name__, rid)
    return error_response(500, "internal_error", f"internal error (request id {rid})")


def install_error_handlers(app) -> None:
    """Register the handlers that turn every failure into the JSON error shape."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(Exception, _on_crash)
