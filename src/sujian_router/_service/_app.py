"""Assemble the FastAPI application: state, middleware, error handlers, endpoints, lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from ._settings import ApiKeys, ServiceSettings
from ._state import ModelState, ReloadBusy, ReloadRefused

__all__ = ["create_app", "app_from_env"]

logger = logging.getLogger("sujian_router.service")

_DESCRIPTION = (
    "Route citizens' complaints to duty items and the units that must handle them. "
    "Decisions are `RoutingDecision.to_dict()` plus the `model` that answered; new fields may appear. "
    "With an API key file, `/v1/*` and `/admin/*` need `Authorization: Bearer KEY`."
)


def _reload_on_signal(state, metrics):
    """SIGHUP in a single-worker server: reload the configured model, keep the old one on failure."""
    try:
        state.reload()
        metrics.reloads.labels("ok").inc()
    except ReloadRefused:
        metrics.reloads.labels("refused").inc()
    except ReloadBusy:
        logger.warning("SIGHUP ignored: a reload is already running")


def _install_sighup(state, metrics) -> bool:
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, _reload_on_signal, state, metrics))
    except (ValueError, RuntimeError, NotImplementedError, AttributeError):  # not the main thread, or no SIGHUP
        return False
    return True


def _lifespan(settings: ServiceSettings):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        state = app.state.models
        sighup = False
        if settings.workers == 1 and settings.load_in_background:
            threading.Thread(target=state.load_initial, name="sujian-model-load", daemon=True).start()
        else:  # the worker accepts connections only once its model is loaded
            await asyncio.to_thread(state.load_initial)
            if state.current is None:
                raise RuntimeError(f"model could not be loaded: {state.error}")
        if settings.workers == 1:
            sighup = _install_sighup(state, app.state.metrics)
        yield
        if sighup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    return lifespan


def _openapi_with_limits(app, settings):
    """Publish the configured batch limit as the schema's ``maxItems`` (the route still answers 413 past it)."""
    build = app.openapi

    def openapi():
        schema = build()  # cached by FastAPI; setting the limit again is a no-op
        body = schema.get("components", {}).get("schemas", {}).get("BatchRequest", {})
        tickets = body.get("properties", {}).get("tickets")
        if tickets is not None:
            tickets["maxItems"] = settings.max_batch
        return schema

    app.openapi = openapi


def _openapi_without_security(app):
    """Without API keys no operation needs a key: drop the bearer scheme from the published schema."""
    build = app.openapi

    def openapi():
        schema = build()  # cached by FastAPI; stripping it again is a no-op
        schema.get("components", {}).pop("securitySchemes", None)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.pop("security", None)
        return schema

    app.openapi = openapi


def create_app(settings: ServiceSettings | None = None, *, loader=None):
    """Build the service application (see :mod:`sujian_router.service`)."""
    from fastapi import FastAPI

    from .. import __version__
    from ._errors import install_error_handlers
    from ._metrics import ServiceMetrics
    from ._middleware import AccessLogMiddleware, ApiKeyMiddleware, BodyLimitMiddleware
    from ._routes import api, ops

    settings = settings or ServiceSettings()
    keys = ApiKeys.from_file(settings.api_key_file) if settings.api_key_file else None
    app = FastAPI(title="sujian_router", version=__version__, description=_DESCRIPTION,
                  lifespan=_lifespan(settings))
    app.state.settings = settings
    app.state.models = ModelState(settings.model, loader=loader)
    app.state.metrics = ServiceMetrics()
    install_error_handlers(app)
    app.include_router(api)
    app.include_router(ops)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, keys=keys)
    app.add_middleware(AccessLogMiddleware, metrics=app.state.metrics)  # outermost: sees every answer
    _openapi_with_limits(app, settings)
    if keys is None:
        _openapi_without_security(app)
    return app


def app_from_env():
    """The uvicorn factory of the ``serve`` command: settings come from the environment."""
    return create_app(ServiceSettings.from_env())
