"""Plain ASGI middleware: access log and metrics, API-key check, request-size limit.

They run before FastAPI parses anything, so an unauthenticated or oversized
request is refused without its body being read or validated.  The access log
holds the method, the path of a known endpoint without its query string, the
status, the latency and the request id: never a body, a query (search words
may be complaint text), an unknown path or a header (the key).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from ._errors import error_response

__all__ = ["AccessLogMiddleware", "ApiKeyMiddleware", "BodyLimitMiddleware", "PROTECTED_PREFIXES"]

access_logger = logging.getLogger("sujian_router.service.access")

#: Paths that need a key when keys are configured; health, metrics and docs stay open.
PROTECTED_PREFIXES = ("/v1/", "/admin/")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _send_error(scope, receive, send, status, code, message, headers=None):
    await error_response(status, code, message, headers=headers)(scope, receive, send)


class AccessLogMiddleware:
    """Give each request an id (``X-Request-ID``), log one JSON line and count it."""

    def __init__(self, app, metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = _header(scope, b"x-request-id")
        rid = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        status = {"code": 500}
        start = time.perf_counter()

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, rid, status["code"], time.perf_counter() - start)

    def _record(self, scope, rid, status, seconds):
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.observe_request(scope["method"], template, status, seconds)
        access_logger.info(json.dumps({  # an unmatched path could be anything a client typed: not logged
            "event": "access", "request_id": rid, "method": scope["method"],
            "path": scope["path"] if route is not None else None,
            "route": template, "status": status, "latency_ms": round(seconds * 1000, 2),
        }, ensure_ascii=False))


class ApiKeyMiddleware:
    """Require ``Authorization: Bearer KEY`` on protected paths when keys are configured."""

    def __init__(self, app, keys):
        self.app, self.keys = app, keys

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or self.keys is None or not scope["path"].startswith(PROTECTED_PREFIXES):
            return await self.app(scope, receive, send)
        auth = _header(scope, b"authorization") or ""
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip() or not self.keys.accepts(key.strip()):
            message = "missing or invalid API key; send 'Authorization: Bearer KEY'"
            return await _send_error(scope, receive, send, 401, "unauthorized", message,
                                     headers={"WWW-Authenticate": "Bearer"})
        return await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, int(limit)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            return await self._too_large(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return await self._too_large(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send):
        message = f"request body is larger than the limit of {self.limit} bytes"
        return await _send_error(scope, receive, send, 413, "too_large", message)
