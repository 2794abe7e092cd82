"""Doctest collection under ``src/``: skip the HTTP service's modules when the ``serve`` extra is missing.

They import FastAPI and Starlette at module level, so collecting their doctests without the extra would be a
collection error rather than a skip (``tests/test_serve*.py`` skip on their own with a reason).
"""

import importlib.util

collect_ignore_glob = []
if any(importlib.util.find_spec(m) is None for m in ("fastapi", "uvicorn", "prometheus_client", "pydantic")):
    collect_ignore_glob.append("src/sujian_router/_service/*.py")
