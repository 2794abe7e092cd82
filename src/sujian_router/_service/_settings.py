"""What the HTTP service is configured with, and how the API keys are read."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..exceptions import ServiceConfigError

__all__ = ["ServiceSettings", "ApiKeys", "ENV_VAR"]

#: Environment variable carrying the settings to each uvicorn worker process.
ENV_VAR = "SUJIAN_ROUTER_SERVE_SETTINGS"

_HASH_PREFIX = "sha256:"


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of one service instance.

    Parameters
    ----------
    model : str or None
        Model directory; ``None`` serves the bundled default model (built on
        first use, during which ``/readyz`` answers 503).
    api_key_file : str or None
        File of accepted keys, one per line, either the key itself or
        ``sha256:<hex digest of the key>``; ``#`` starts a comment.  When
        set, every ``/v1/*`` and ``/admin/*`` request needs
        ``Authorization: Bearer KEY``.
    max_body_bytes : int
        Larger request bodies get 413 before they are parsed.
    max_batch : int
        Most tickets accepted by ``/v1/route/batch`` (more gives 413).
    workers : int
        Number of uvicorn worker processes; with more than one the model is
        loaded before a worker accepts connections, and a reload restarts the
        workers one at a time.
    load_in_background : bool
        Start serving ``/healthz`` at once and load the model in a thread
        (one worker); ``False`` loads it before serving.

    Examples
    --------
    >>> s = ServiceSettings(model="models/m", max_batch=10)
    >>> ServiceSettings.from_json(s.to_json()) == s
    True
    """

    model: str | None = None
    api_key_file: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch: int = 1000
    workers: int = 1
    load_in_background: bool = True

    def __post_init__(self):
        for name in ("max_body_bytes", "max_batch", "workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ServiceConfigError(f"{name} must be a positive integer, got {value!r}")

    def to_json(self) -> str:
        """Return the settings as JSON (for the worker processes' environment)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ServiceSettings":
        """Read settings written by :meth:`to_json`."""
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as exc:
            raise ServiceConfigError(f"${ENV_VAR}: unreadable service settings ({exc})") from exc

    @classmethod
    def from_env(cls) -> "ServiceSettings":
        """Read the settings the ``serve`` command put in the environment (defaults when unset)."""
        text = os.environ.get(ENV_VAR)
        return cls() if not text else cls.from_json(text)


class ApiKeys:
    """The accepted API keys, kept only as SHA-256 digests.

    Presented keys are hashed and compared in constant time, so the keys
    themselves are never held, logged or echoed.

    Examples
    --------
    >>> keys = ApiKeys.from_lines(["s3cret", "# comment", "", "sha256:" + "0" * 64])
    >>> len(keys), keys.accepts("s3cret"), keys.accepts("wrong")
    (2, True, False)
    """

    def __init__(self, digests):
        self._digests = tuple(digests)

    def __len__(self) -> int:
        return len(self._digests)

    @staticmethod
    def digest(key: str) -> str:
        """The hex SHA-256 of ``key`` (what a hashed key line holds after ``sha256:``)."""
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    @classmethod
    def from_lines(cls, lines, *, source="<keys>") -> "ApiKeys":
        """Parse key lines (see :class:`ServiceSettings`); the error names the line, never the key."""
        digests = []
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(_HASH_PREFIX):
                hexdigest = line[len(_HASH_PREFIX):].strip().lower()
                if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
                    raise ServiceConfigError(f"{source}: line {number}: 'sha256:' must be followed by 64 hex digits")
                digests.append(hexdigest)
            else:
                digests.append(cls.digest(line))
        if not digests:
            raise ServiceConfigError(f"{source}: no API keys found (one key or 'sha256:<hex>' per line)")
        return cls(digests)

    @classmethod
    def from_file(cls, path) -> "ApiKeys":
        """Read a key file (UTF-8, BOM allowed)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ServiceConfigError(f"{path}: cannot read the API key file ({exc.strerror})") from exc
        return cls.from_lines(text.splitlines(), source=str(path))

    def accepts(self, key: str) -> bool:
        """True when ``key`` is one of the accepted keys."""
        presented = self.digest(key)
        found = False
        for d in self._digests:  # no early exit: timing does not depend on which key matched
            found |= hmac.compare_digest(presented, d)
        return found
