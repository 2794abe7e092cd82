"""Reading tickets chunk by chunk into the compact table the hotspot steps work on.

Input is a ticket export (read with the library's one reader,
:func:`~sujian_router._tickets.iter_ticket_chunks`), an already routed file
(``route-file`` output with ``item_code`` and friends), or a DataFrame of
either. Tickets that are not routed yet are routed one chunk at a time. Of
each ticket only what the later steps need is kept: ids, time, routing,
place, caller, support, and a short masked text (the first
``TEXT_CHARS`` characters) when the input has text, so memory grows with a
few hundred bytes per ticket, never with the whole export.
"""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pandas as pd

from ..exceptions import TicketSchemaError
from ._mentions import extract_places, locate, place_key

__all__ = ["Routing", "collect", "TEXT_CHARS", "ROUTED_COLUMNS"]

#: Characters of each ticket's text kept for grouping, titles and samples.
TEXT_CHARS = 160
#: Columns that mark an input as already routed (``route-file`` output).
ROUTED_COLUMNS = ("item_code",)
_CATEGORICAL = ("item_code", "item_name", "category", "lead", "co", "district", "street", "place", "title_place",
                "caller")
_KEEP = ("ticket_id", "time", "item_code", "item_name", "category", "lead", "co", "urgent", "district",
         "street", "place", "title_place", "caller", "support", "text")


def _chunks(tickets, column_mapping, encoding, chunk_size):
    """Yield DataFrames of at most ``chunk_size`` rows with canonical column names."""
    from .._tickets import _combine, iter_ticket_chunks

    if isinstance(tickets, pd.DataFrame):
        frame = tickets.rename(columns=dict(column_mapping or {}))
        if "title" in frame.columns and "text" in frame.columns:
            titles, texts = frame["title"].fillna("").astype(str), frame["text"].fillna("").astype(str)
            frame = frame.assign(text=[_combine(a, b) for a, b in zip(titles, texts)])
        if "source_row" not in frame.columns:
            frame = frame.assign(source_row=np.arange(len(frame)))
        for lo in range(0, max(len(frame), 1), chunk_size):
            yield frame.iloc[lo:lo + chunk_size].reset_index(drop=True)
        return
    yield from iter_ticket_chunks(tickets, chunk_size=chunk_size, column_mapping=column_mapping,
                                  encoding=encoding, required=())


def _check_columns(chunk, where):
    if "item_code" not in chunk.columns and "text" not in chunk.columns:
        raise TicketSchemaError(
            f"{where}: expected a 'text' column (a ticket export) or an 'item_code' column (a routed file), "
            f"found {list(chunk.columns)}; map yours with column_mapping / --column-map"
        )


class Routing:
    """Routes the chunks that are not routed yet, locally or on a Dask cluster; loads the model on first need.

    Parameters
    ----------
    router : Router or str or path-like or None
        A router, a model directory, or None for the default model.
    engine : {"local", "dask"}
        ``"dask"`` routes each chunk on a Dask cluster (a local 2-process one
        unless ``scheduler`` is given), as ``route-file --engine dask`` does.
    scheduler : str, optional
    """

    def __init__(self, router=None, *, engine="local", scheduler=None):
        self.router, self.engine, self.scheduler = router, engine, scheduler
        self._loaded = self._dask = None

    def _router(self):
        if self._loaded is None:
            from .._router import Router

            is_path = self.router is None or isinstance(self.router, (str, os.PathLike))
            self._loaded = Router.load(self.router) if is_path else self.router
        return self._loaded

    def route(self, chunk):
        """Routing columns of every row of ``chunk`` (one row per ticket, in order)."""
        cols = [c for c in ("text", "district", "street", "received_at", "location") if c in chunk.columns]
        if self.engine == "dask":
            if self._dask is None:
                try:
                    import dask.distributed  # noqa: F401
                except ImportError:
                    from ..exceptions import SujianRouterError

                    raise SujianRouterError("engine='dask' needs the dask extra: "
                                            "pip install sujian-router[dask]") from None
                from ..dask import _ChunkRouter

                model_path = self.router if isinstance(self.router, (str, os.PathLike)) else None
                self._dask = _ChunkRouter(self._router(), model_path=model_path, scheduler=self.scheduler)
            table = self._dask.route(chunk[cols], datetime.now().replace(second=0, microsecond=0))
            return table.assign(district=_col(chunk, "district").to_numpy(), street=_col(chunk, "street").to_numpy())
        decisions = self._router().route_many(chunk[cols], explain=False)
        return pd.DataFrame({
            "item_code": [d.item_code or "" for d in decisions],
            "item_name": [d.item_name or "" for d in decisions],
            "category": [d.category or "" for d in decisions],
            "lead_department": [d.lead_department or "" for d in decisions],
            "co_departments": ["|".join(d.co_departments) for d in decisions],
            "urgency": [d.urgency for d in decisions],
            "district": [d.district or "" for d in decisions],
            "street": [d.street or "" for d in decisions],
        })

    def close(self):
        """Shut the Dask cluster down if one was started."""
        if self._dask is not None:
            self._dask.close()
            self._dask = None


def _routed(chunk, routing, catalog):
    """Item, lead, co-units, urgency, district and street of each row of ``chunk`` (routing it if needed)."""
    if "item_code" not in chunk.columns:
        chunk = routing.route(chunk)
    codes = chunk["item_code"].fillna("").astype(str).str.strip()
    names = chunk["item_name"].fillna("").astype(str) if "item_name" in chunk.columns else \
        codes.map(lambda c: catalog.get(c).name if c and c in catalog else "")
    cats = chunk["category"].fillna("").astype(str) if "category" in chunk.columns else \
        codes.map(lambda c: catalog.get(c).category if c and c in catalog else "")
    out = pd.DataFrame({
        "item_code": codes, "item_name": names, "category": cats,
        "lead": _col(chunk, "lead_department"), "co": _col(chunk, "co_departments"),
        "urgent": _col(chunk, "urgency").eq("紧急"),
        "district": _col(chunk, "district"), "street": _col(chunk, "street"),
    })
    if "lead_department" not in chunk.columns:
        out["lead"], out["co"] = _catalog_units(out, catalog)
    return out.reset_index(drop=True)


def _catalog_units(routed, catalog):
    """Lead and co-units from the catalog, resolved by district and street (routed files without them)."""
    directory = catalog.departments
    cache = {}

    def resolve(role, district, street):
        try:
            return directory.resolve(role, district=district or None, street=street or None)
        except (KeyError, ValueError):
            return role

    leads, cos = [], []
    for code, district, street in zip(routed["item_code"], routed["district"], routed["street"]):
        key = (code, district, street)
        if key not in cache:
            item = catalog.get(code) if code and code in catalog else None
            cache[key] = ("", "") if item is None else (
                resolve(item.lead_department, district, street),
                "|".join(resolve(r, district, street) for r in item.co_departments))
        leads.append(cache[key][0])
        cos.append(cache[key][1])
    return leads, cos


def _col(chunk, name):
    if name in chunk.columns:
        return chunk[name].fillna("").astype(str).str.strip()
    return pd.Series([""] * len(chunk), index=chunk.index, dtype=object)


def _places(texts, district, street, directory):
    """Place key (title first, then body), title place key, district and street of each text.

    A given district/street wins over the text.
    """
    keys, title_keys, dists, streets = [], [], [], []
    for text, d, s in zip(texts, district, street):
        head, _, body = text.partition("\n")
        m_head = extract_places(head, directory)
        m_all = m_head + extract_places(body[:300], directory)
        title_keys.append(place_key(m_head) or "")
        keys.append(title_keys[-1] or place_key(m_all) or "")
        dd, ss = locate(m_all, district=d or None, street=s or None)
        dists.append(dd or "")
        streets.append(ss or "")
    return keys, title_keys, dists, streets


def _times(values):
    """Parse receipt times; unreadable or empty ones become NaT (and are counted in the notes)."""
    values = values.where(values != "")
    return pd.to_datetime(values, errors="coerce", format="mixed")


def _short_texts(texts):
    from .._text import mask_personal_data, normalize_text

    return [mask_personal_data(normalize_text(t)[: TEXT_CHARS * 2])[0][:TEXT_CHARS] for t in texts]


def _compact(chunk, routing, catalog, directory, where):
    """The compact rows of one chunk."""
    _check_columns(chunk, where)
    routed = _routed(chunk, routing, catalog) if len(chunk) else pd.DataFrame(
        {c: pd.Series([], dtype=object) for c in ("item_code", "item_name", "category", "lead", "co", "district",
                                                  "street")}).assign(urgent=pd.Series([], dtype=bool))
    n = len(chunk)
    out = pd.DataFrame({
        "ticket_id": _col(chunk, "ticket_id") if "ticket_id" in chunk.columns
        else chunk["source_row"].astype(str),
        "time": _times(_col(chunk, "received_at")),
        "caller": _col(chunk, "caller"),
        "support": pd.to_numeric(_col(chunk, "support"), errors="coerce").fillna(0.0),
    })
    for c in ("item_code", "item_name", "category", "lead", "co", "urgent", "district", "street"):
        out[c] = routed[c].to_numpy()
    if "text" in chunk.columns:
        texts = chunk["text"].fillna("").astype(str).tolist()
        out["place"], out["title_place"], out["district"], out["street"] = _places(
            texts, out["district"], out["street"], directory)
        out["text"] = _short_texts(texts)
    else:
        out["place"] = out["title_place"] = [""] * n
        out["text"] = [""] * n
    for c in _CATEGORICAL:
        out[c] = out[c].astype("category")
    return out[list(_KEEP)]


def _concat(parts):
    """Concatenate chunk tables, keeping the repeated columns categorical (a few bytes per ticket)."""
    from pandas.api.types import union_categoricals

    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype="category" if c in _CATEGORICAL else object) for c in _KEEP})
    columns = {}
    for c in _KEEP:
        if c in _CATEGORICAL:
            columns[c] = pd.Series(union_categoricals([p[c] for p in parts]))
        else:
            columns[c] = pd.concat([p[c] for p in parts], ignore_index=True)
    return pd.DataFrame(columns)


def collect(tickets, *, routing, catalog, directory, column_mapping=None, encoding=None, chunk_size=50_000,
            progress=False):
    """Read all tickets into the compact table; return it and notes on the input.

    ``routing`` (a :class:`Routing`) is used only for chunks that are not
    routed yet, so a routed file never loads a model.
    """
    from tqdm import tqdm

    where = str(tickets) if not isinstance(tickets, pd.DataFrame) else "tickets"
    parts = []
    bar = tqdm(desc="reading tickets", unit="rows", disable=not progress, dynamic_ncols=True)
    try:
        for chunk in _chunks(tickets, column_mapping, encoding, chunk_size):
            parts.append(_compact(chunk, routing, catalog, directory, where))
            bar.update(len(chunk))
    finally:
        bar.close()
        routing.close()
    table = _concat(parts)
    notes = []
    bad_time = int(table["time"].isna().sum())
    if bad_time:
        notes.append(f"{bad_time} ticket(s) without a readable received_at: grouped, but not counted in periods")
    return table, notes
