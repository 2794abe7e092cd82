"""The model a service instance answers with, and its atomic replacement.

Requests take one snapshot (:class:`LoadedModel`) at their start and use it
to the end, so a reload never changes the model under a request in flight;
the new model is loaded and checked beside the old one and then swapped in
with a single reference assignment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import SujianRouterError

__all__ = ["LoadedModel", "ModelState", "ReloadBusy", "ReloadRefused"]

logger = logging.getLogger("sujian_router.service")

#: A complaint every catalog model must route without error before it is swapped in.
_SMOKE_TEXT = "晚上十点后楼下广场舞音响声音很大，影响休息"


class ReloadBusy(RuntimeError):
    """Another reload is still running."""


class ReloadRefused(RuntimeError):
    """The new model could not be loaded or failed its check; the old one keeps serving."""


@dataclass(frozen=True)
class LoadedModel:
    """A loaded router with what identifies it to clients.

    Attributes
    ----------
    router : Router
        The router answering requests.
    name : str
        The model directory's name (``"default"`` for the bundled model).
    version : str
        The first 12 hex digits of the SHA-256 of the model's manifest (of its
        metadata for an in-memory router): it changes whenever any model file does.
    catalog_version : str or None
        The first 12 hex digits of the routing catalog's fingerprint.
    path : str or None
        Where it was loaded from.
    """

    router: object
    name: str
    version: str
    catalog_version: str | None
    path: str | None = None

    def info(self) -> dict:
        """The ``model`` object added to every decision."""
        return {"name": self.name, "version": self.version, "catalog_version": self.catalog_version}


def describe(router, path=None) -> LoadedModel:
    """Wrap ``router`` with its name and versions."""
    manifest = Path(path) / "manifest.json" if path else None
    if manifest is not None and manifest.is_file():
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    else:
        digest = hashlib.sha256(json.dumps(router.metadata, sort_keys=True, default=str).encode()).hexdigest()
    catalog = getattr(router, "catalog", None)
    return LoadedModel(
        router=router,
        name=Path(path).name if path else "in-memory",
        version=digest[:12],
        catalog_version=catalog.fingerprint[:12] if catalog is not None else None,
        path=str(path) if path else None,
    )


def load_model(path) -> LoadedModel:
    """Load a model directory (``None``: the bundled default) and check that it routes."""
    from .._router import Router

    router = Router.load(path, progress=False)
    if path is None:
        from .._default_model import default_model_dir

        path = default_model_dir()
    router.route(_SMOKE_TEXT)
    return describe(router, path)


class ModelState:
    """Holds the current model and the service's readiness.

    Parameters
    ----------
    loader : callable
        ``loader(path) -> LoadedModel``; :func:`load_model` by default
        (tests pass one they control).
    path : str or None
        The configured model directory.
    """

    def __init__(self, path=None, loader=None):
        self.path = path
        self._loader = loader or load_model
        self.current: LoadedModel | None = None
        self.status = "starting"
        self.error: str | None = None
        self._reload_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        """True when a model is loaded and no load or reload is running."""
        return self.current is not None and self.status == "ready"

    def load_initial(self) -> None:
        """Load the configured model; on failure the service stays unready and says why."""
        self.status = "loading"
        try:
            self.current = self._loader(self.path)
        except (SujianRouterError, OSError, ValueError) as exc:
            self.status, self.error = "failed", str(exc)
            logger.error("model could not be loaded: %s", exc)
            return
        self.status = "ready"
        logger.info("model loaded: %s", json.dumps(self.current.info()))

    def check(self, path) -> LoadedModel:
        """Load ``path`` without serving it; :class:`ReloadRefused` when it is unusable."""
        try:
            return self._loader(path)
        except (SujianRouterError, OSError, ValueError) as exc:
            logger.error("new model refused, the current model keeps serving: %s", exc)
            raise ReloadRefused(str(exc)) from exc

    def reload(self, path=None) -> LoadedModel:
        """Load ``path`` (or the configured one again) beside the current model and swap.

        Raises
        ------
        ReloadBusy
            When another reload has not finished.
        ReloadRefused
            When the new model cannot be loaded; the current one keeps serving.
        """
        if not self._reload_lock.acquire(blocking=False):
            raise ReloadBusy("a reload is already running")
        previous = self.status
        self.status = "reloading"
        try:
            target = self.path if path is None else path
            new = self.check(target)
            self.current, self.path, self.error = new, target, None
            previous = "ready"
            logger.info("model reloaded: %s", json.dumps(new.info()))
            return new
        finally:
            self.status = previous
            self._reload_lock.release()
