"""The HTTP service behind ``sujian-router serve`` (needs the ``serve`` extra).

Small modules, one concept each: settings and keys, the model holder with
atomic reload, metrics, middleware, error shape, request schemas, batch
routing, endpoints and the app assembly.  The public entry points are in
:mod:`sujian_router.service`.
"""
