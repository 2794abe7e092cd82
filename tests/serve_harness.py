"""Run the HTTP service for tests: in a thread (uvicorn.Server) or as the real CLI in a subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=60.0, what="condition"):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _ready(client):
    try:
        return client.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


class ThreadServer:
    """A real uvicorn server on 127.0.0.1:<free port> serving ``app`` from a background thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False,
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        wait_for(lambda: self.server.started, 30, "the server to start")
        return self

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def wait_ready(self, timeout=60):
        with self.client() as c:
            wait_for(lambda: _ready(c), timeout, "/readyz to answer 200")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)


class CliServer:
    """``sujian-router serve ARGS`` in a subprocess; stderr (the logs) goes to ``log_path``."""

    def __init__(self, args, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.cmd = [sys.executable, "-c", "import sys; from sujian_router._cli import main; sys.exit(main())",
                    "serve", "--port", str(self.port), *args]

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self._log)
        return self

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def wait_ready(self, timeout=90):
        with self.client() as c:
            def ready():
                if self.proc.poll() is not None:
                    raise AssertionError(f"server exited with {self.proc.returncode}: {self.logs()[-2000:]}")
                return _ready(c)

            wait_for(ready, timeout, "/readyz to answer 200")

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a hung server
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()
