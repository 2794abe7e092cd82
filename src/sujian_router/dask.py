"""Route tickets on a Dask cluster (optional extra: ``pip install sujian-router[dask]``).

The router is loaded **once per worker process** from a model directory
(only the path travels with each task, never the model), partitions and row
order are preserved, and the answers are identical to single-process routing.

Examples
--------
>>> import dask.dataframe as dd                                     # doctest: +SKIP
>>> from sujian_router.dask import route_dataframe                  # doctest: +SKIP
>>> ddf = dd.read_parquet("tickets.parquet")                        # doctest: +SKIP
>>> routed = route_dataframe(ddf, "models/my-model")                # doctest: +SKIP
>>> routed.to_parquet("routed.parquet")                             # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from datetime import datetime
from pathlib import Path

from ._output_table import ID_COLUMNS, OUTPUT_COLUMNS, decisions_to_frame, route_frame
from ._schema import require_columns

__all__ = ["route_dataframe", "load_worker_router"]

_ROUTERS: dict = {}
_ROUTERS_LOCK = threading.Lock()


def load_worker_router(model_path, catalog=None):
    """Return the router for ``model_path``, loading it once per process.

    Parameters
    ----------
    model_path : str
        A model directory, or ``"default"`` for the bundled default model
        (which must already be built: run ``sujian-router build-default``).
    catalog : DutyCatalog, optional
        The catalog to load it with (the bundled one by default), for models
        trained on a custom catalog.
    """
    key = (str(model_path), None if catalog is None else catalog.fingerprint)
    with _ROUTERS_LOCK:
        router = _ROUTERS.get(key)
        if router is None:
            from ._router import Router

            router = Router.load(None if key[0] == "default" else key[0], catalog=catalog, progress=False)
            _ROUTERS[key] = router
    return router


def _route_partition(pdf, model_path, reference_time, keep, catalog=None):
    """Route one pandas partition on a worker; the result keeps the partition's index."""
    return route_frame(load_worker_router(model_path, catalog), pdf, reference_time, keep)


def _worker_catalog(router):
    """The catalog workers must load the model with: ``None`` when it is the bundled one."""
    catalog = getattr(router, "catalog", None)
    if catalog is None:
        return None
    from ._catalog import load_catalog

    return None if catalog.fingerprint == load_catalog().fingerprint else catalog


def _model_path_for(router, model_path=None):
    """A directory the workers can load; saves an in-memory router to a temporary one."""
    if router is None:
        from ._default_model import ensure_default_model

        ensure_default_model(progress=False)
        return "default", None
    if isinstance(router, (str, os.PathLike)):
        return str(router), None
    if model_path is not None:
        return str(model_path), None
    tmp = tempfile.mkdtemp(prefix="sujian-router-dask-")
    router.save(Path(tmp) / "model")
    return str(Path(tmp) / "model"), tmp


def _meta(keep, ddf_columns):
    import pandas as pd

    cols = [c for c in keep if c in ddf_columns]
    meta = {c: pd.Series(dtype="object") for c in cols}
    for c in OUTPUT_COLUMNS:
        if c == "confidence":
            meta[c] = pd.Series(dtype="float64")
        elif c in ("needs_review", "arbitration", "joint_review"):
            meta[c] = pd.Series(dtype="bool")
        else:
            meta[c] = pd.Series(dtype="object")
    return pd.DataFrame(meta)


def route_dataframe(ddf, router=None, *, reference_time=None, keep_columns=ID_COLUMNS):
    """Route every row of a Dask DataFrame, partition by partition.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        Must have a ``text`` column; ``district``, ``street``,
        ``received_at`` and ``location`` columns are used when present.
    router : str, Path or Router, optional
        A model directory (preferred: workers load it once each), a
        :class:`Router` (saved to a temporary directory that the workers
        read, so the cluster must share this machine's disk), or ``None``
        for the bundled default model.
    reference_time : datetime or str, optional
        Receipt time for rows without one (default: now), so deadlines are
        reproducible across runs.
    keep_columns : tuple of str
        Input columns copied in front of the routing columns.

    Returns
    -------
    dask.dataframe.DataFrame
        One output row per input row, same partitions and index.
    """
    require_columns(ddf.columns, ("text",), where="route_dataframe")
    model_path, _tmp = _model_path_for(router)
    catalog = None if router is None or isinstance(router, (str, os.PathLike)) else _worker_catalog(router)
    if reference_time is None:
        reference_time = datetime.now().replace(second=0, microsecond=0)
    elif isinstance(reference_time, str):
        reference_time = datetime.strptime(reference_time, "%Y-%m-%d %H:%M")
    keep = tuple(keep_columns)
    return ddf.map_partitions(_route_partition, model_path, reference_time, keep, catalog,
                              meta=_meta(keep, list(ddf.columns)))


class _ChunkRouter:
    """Route pandas chunks on a Dask cluster (used by ``route_file(engine="dask")``)."""

    def __init__(self, router, *, model_path=None, scheduler=None, n_workers=2):
        from dask.distributed import Client, LocalCluster

        self._cluster = None
        if scheduler:
            self._client = Client(scheduler)
        else:
            self._cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                         dashboard_address=":0")
            self._client = Client(self._cluster)
        self._model_path, self._tmp = _model_path_for(router, model_path)
        catalog = _worker_catalog(router)  # sent to every worker once, not with each task
        self._catalog = None if catalog is None else self._client.scatter(catalog, broadcast=True)
        self._n = max(1, len(self._client.scheduler_info().get("workers", {})) or n_workers)

    def route(self, chunk, reference_time):
        import numpy as np
        import pandas as pd

        pieces = [p for p in np.array_split(np.arange(len(chunk)), self._n) if len(p)]
        futures = [
            self._client.submit(_route_partition, chunk.iloc[idx], self._model_path, reference_time,
                                ID_COLUMNS, self._catalog, pure=False)
            for idx in pieces
        ]
        tables = self._client.gather(futures)
        if not tables:
            return decisions_to_frame([], chunk[[c for c in ID_COLUMNS if c in chunk.columns]])
        return pd.concat(tables).reset_index(drop=True)

    def close(self):
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
