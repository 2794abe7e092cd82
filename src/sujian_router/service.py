"""The HTTP service (optional extra: ``pip install "sujian-router[serve]"``).

``sujian-router serve`` runs it; :func:`create_app` builds the ASGI
application for embedding it in another server or for tests.  Endpoints:
``POST /v1/route``, ``POST /v1/route/batch``, ``GET /v1/items/{code}``,
``GET /v1/catalog/search``, ``GET /v1/units/resolve``, ``GET /healthz``,
``GET /readyz``, ``GET /metrics``, ``POST /admin/reload``, ``GET /openapi.json``
and ``GET /docs``.  See ``docs/service.md``.

Examples
--------
>>> from sujian_router.service import ServiceSettings, create_app   # doctest: +SKIP
>>> app = create_app(ServiceSettings(model="models/my-model"))      # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)   # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util

from ._service._settings import ServiceSettings

__all__ = ["create_app", "ServiceSettings", "missing_extra", "INSTALL_HINT"]

#: What to tell a user who lacks the extra.
INSTALL_HINT = "install sujian-router[serve]"
_EXTRA_MODULES = ("fastapi", "uvicorn", "prometheus_client")


def missing_extra() -> list:
    """The modules of the ``serve`` extra that cannot be imported (empty when all are there).

    Examples
    --------
    >>> isinstance(missing_extra(), list)
    True
    """
    return [m for m in _EXTRA_MODULES if importlib.util.find_spec(m) is None]


def create_app(settings=None, *, loader=None):
    """Build the service's ASGI application.

    Parameters
    ----------
    settings : ServiceSettings, optional
        Model directory, API key file, size limits; defaults serve the
        bundled default model without keys.
    loader : callable, optional
        ``loader(path)`` returning the model to serve; for tests and for
        embedding a router built in the same process.  The default loads a
        model directory with :meth:`sujian_router.Router.load` and checks it
        routes a complaint before serving it.

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    ImportError
        Without the ``serve`` extra (the message says how to install it).
    ServiceConfigError
        When the API key file is unreadable or holds no key.
    """
    missing = missing_extra()
    if missing:
        raise ImportError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")
    from ._service._app import create_app as _create_app

    return _create_app(settings, loader=loader)
