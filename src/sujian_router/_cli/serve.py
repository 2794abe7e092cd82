"""``sujian-router serve``: run the HTTP service (needs the ``serve`` extra)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Seconds uvicorn waits for a new worker to load its model before giving up on it.
_WORKER_STARTUP_TIMEOUT = 600
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def build_parser(subparsers):
    """Register the ``serve`` sub-command."""
    p = subparsers.add_parser(
        "serve",
        help="run the HTTP service (REST API, metrics, health checks)",
        description="Serve routing over HTTP for intake systems not written in Python. "
                    "Needs: pip install 'sujian-router[serve]'. Logs are JSON lines on stderr and never "
                    "hold complaint text or keys. Send SIGHUP or POST /admin/reload to reload the model.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--model", default=None, help="model directory (default: the bundled default model)")
    p.add_argument("--api-key-file", default=None,
                   help="file of accepted keys, one per line or 'sha256:<hex>'; then /v1/* needs 'Bearer KEY'")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024,
                   help="larger request bodies get 413 (default 4 MiB)")
    p.add_argument("--max-batch", type=int, default=1000, help="most tickets per batch request (default 1000)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                   help="log level (default info)")
    p.set_defaults(func=run)
    return p


def _settings(args):
    """Check the arguments and turn them into ServiceSettings (one clear error each)."""
    from ..exceptions import ServiceConfigError
    from ..service import ServiceSettings

    model = None if args.model in (None, "default") else str(Path(args.model).resolve())
    if model is not None and not Path(model).is_dir():
        raise ServiceConfigError(f"--model: {args.model} is not a directory")
    if not 0 < args.port < 65536:
        raise ServiceConfigError(f"--port: {args.port} is not a TCP port (1-65535)")
    if model is None and args.workers > 1:  # build once here, not in every worker at the same time
        from .._default_model import ensure_default_model

        model = str(ensure_default_model(progress=True))
    key_file = str(Path(args.api_key_file).resolve()) if args.api_key_file else None
    return ServiceSettings(model=model, api_key_file=key_file, max_body_bytes=args.max_body_bytes,
                           max_batch=args.max_batch, workers=args.workers,
                           load_in_background=args.workers == 1)


def run(args) -> int:
    """Check the extra and the settings, then hand over to uvicorn until stopped."""
    from ..service import INSTALL_HINT, missing_extra

    if missing_extra():
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    import uvicorn

    from .._service._logging import log_config
    from .._service._settings import ENV_VAR, ApiKeys

    settings = _settings(args)
    if settings.api_key_file:
        ApiKeys.from_file(settings.api_key_file)  # fail now, not in every worker
    if not settings.api_key_file and args.host not in _LOOPBACK:
        print(f"sujian-router serve: warning: listening on {args.host} without --api-key-file: /v1/* and "
              "/admin/reload are open to anyone who can reach this port", file=sys.stderr)
    os.environ[ENV_VAR] = settings.to_json()
    uvicorn.run("sujian_router._service._app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_config=log_config(args.log_level.upper()), access_log=False,
                timeout_worker_healthcheck=_WORKER_STARTUP_TIMEOUT, lifespan="on")
    return 0
