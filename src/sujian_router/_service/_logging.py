"""Structured (one JSON object per line) logs for the ``serve`` command.

Only the command installs this; importing the library never touches logging.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

__all__ = ["JsonFormatter", "log_config"]


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line; a message that already is JSON is merged in.

    Examples
    --------
    >>> rec = logging.LogRecord("x", logging.INFO, "f", 1, '{"event": "access"}', None, None)
    >>> json.loads(JsonFormatter().format(rec))["event"]
    'access'
    """

    def format(self, record):
        out = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name}
        message = record.getMessage()
        parsed = None
        if message.startswith("{"):
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict):
            out.update(parsed)
        else:
            out["message"] = message
        if record.exc_info:
            out["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(out, ensure_ascii=False)


def log_config(level: str = "INFO") -> dict:
    """A ``logging.config.dictConfig`` for uvicorn and the service: JSON lines on stderr.

    uvicorn's own access log is off (the service writes its own, without
    query strings); exceptions are logged by type only, so no text that a
    traceback might carry reaches the log.
    """
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "sujian_router": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
