"""Route whole exports in bounded memory, resumably."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

__all__ = ["route_file", "RouteFileReport", "OUTPUT_COLUMNS", "decisions_to_frame"]

#: Columns written after the input's id columns, in order.
OUTPUT_COLUMNS = (
    "item_code", "item_name", "category", "subcategory", "confidence",
    "lead_department", "co_departments", "urgency", "dispatch_deadline", "contact_deadline",
    "needs_review", "arbitration", "joint_review", "flags",
)
#: Input columns copied to the output when present (ids and context).
ID_COLUMNS = ("source_row", "ticket_id")
_PROGRESS_VERSION = 1


@dataclass(frozen=True)
class RouteFileReport:
    """What a :func:`route_file` run did."""

    input: str
    output: str
    rows_in: int
    rows_written: int
    rows_needing_review: int
    rows_resumed: int
    chunks: int
    seconds: float
    engine: str

    @property
    def rows_per_second(self) -> float:
        """Throughput of this run (resumed rows excluded)."""
        done = self.rows_written - self.rows_resumed
        return done / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict."""
        d = asdict(self)
        d["rows_per_second"] = self.rows_per_second
        return d


def decisions_to_frame(decisions, ids=None):
    """Turn decisions into the flat output table of :func:`route_file`.

    Parameters
    ----------
    decisions : list of RoutingDecision
    ids : pandas.DataFrame, optional
        Id columns to put first, one row per decision.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from sujian_router._decision import RoutingDecision
    >>> d = RoutingDecision(item_code=None, item_name=None, category=None, subcategory=None,
    ...                     confidence=0.0, candidates=(), lead_department=None,
    ...                     co_departments=(), urgency="一般", needs_review=True,
    ...                     flags=("empty_text",))
    >>> decisions_to_frame([d])[["needs_review", "flags"]].to_dict("records")
    [{'needs_review': True, 'flags': 'empty_text'}]
    """
    import pandas as pd

    def fmt_time(t):
        return t.strftime("%Y-%m-%d %H:%M") if t is not None else ""

    cols = {c: [] for c in OUTPUT_COLUMNS}
    for d in decisions:
        cols["item_code"].append(d.item_code or "")
        cols["item_name"].append(d.item_name or "")
        cols["category"].append(d.category or "")
        cols["subcategory"].append(d.subcategory or "")
        cols["confidence"].append(round(float(d.confidence), 4))
        cols["lead_department"].append(d.lead_department or "")
        cols["co_departments"].append("|".join(d.co_departments))
        cols["urgency"].append(d.urgency)
        cols["dispatch_deadline"].append(fmt_time(d.dispatch_deadline))
        cols["contact_deadline"].append(fmt_time(d.contact_deadline))
        cols["needs_review"].append(bool(d.needs_review))
        cols["arbitration"].append(bool(d.arbitration))
        cols["joint_review"].append(bool(d.joint_review))
        cols["flags"].append("|".join(d.flags))
    out = pd.DataFrame(cols)
    if ids is not None and len(ids.columns):
        out = pd.concat([ids.reset_index(drop=True), out], axis=1)
    return out


def _file_fingerprint(path: Path) -> str:
    """Size, mtime and a hash of the first and last MiB: cheap, and changes when the file does."""
    st = path.stat()
    h = hashlib.sha256(f"{st.st_size}:{int(st.st_mtime)}".encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if st.st_size > 2 << 20:
            fh.seek(-(1 << 20), os.SEEK_END)
            h.update(fh.read())
    return h.hexdigest()


def _progress_path(out: Path) -> Path:
    return out.with_name(out.name + ".progress.json")


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def route_frame(router, frame, reference_time, keep=ID_COLUMNS):
    """Route a pandas frame into the output table; rows without a receipt time use ``reference_time``.

    The table keeps ``frame``'s index, so Dask partitions stay aligned.
    """
    decisions = router.route_many(frame, received_at=reference_time, explain=False)  # reasons are not written
    table = decisions_to_frame(decisions, frame[[c for c in keep if c in frame.columns]])
    table.index = frame.index
    return table


def route_file(input_path, output_path, *, router=None, column_mapping=None, encoding=None,
               chunk_size=50_000, resume=True, progress=True, engine="local", scheduler=None,
               max_rows=None):
    """Route a whole export, chunk by chunk, to CSV or Parquet.

    Memory stays bounded by ``chunk_size`` whatever the file size: one
    chunk is read, routed and appended at a time.  Progress is recorded in
    ``OUTPUT.progress.json`` after each chunk, so an interrupted run started
    again with the same arguments continues where it stopped, without
    duplicating or losing rows.

    Parameters
    ----------
    input_path : str or Path
        CSV (any supported encoding) or XLSX export.
    output_path : str or Path
        ``*.csv`` (UTF-8 with BOM) or ``*.parquet`` (a directory of part
        files, one per chunk, readable by pandas, pyarrow and Dask).
    router : Router or str or Path, optional
        The router or a model directory; the default model when ``None``.
    column_mapping : dict, optional
        Export column -> canonical name (see :func:`read_tickets`).
    encoding : str, optional
        Input encoding (detected when ``None``).
    chunk_size : int
        Rows per chunk.
    resume : bool
        Continue an interrupted run (``False`` starts again from scratch).
    progress : bool
        Show a progress bar with rows/s.
    engine : {"local", "dask"}
        ``"dask"`` routes chunks on a Dask cluster (a local one unless
        ``scheduler`` gives an address); reading and writing stay here, so
        the output is identical.
    scheduler : str, optional
        Address of an existing Dask scheduler (with ``engine="dask"``).
    max_rows : int, optional
        Stop after this many input rows (for trials).

    Returns
    -------
    RouteFileReport
    """
    from tqdm import tqdm

    from ._tickets import iter_ticket_chunks

    if engine not in ("local", "dask"):
        raise ValueError(f"engine must be 'local' or 'dask', got {engine!r}")
    if int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    input_path = Path(input_path)
    out = Path(output_path)
    fmt = "parquet" if out.suffix.lower() in (".parquet", ".pq") else "csv"
    if not input_path.is_file():
        raise FileNotFoundError(f"input file not found: {input_path}")
    model_path = None
    if router is None or isinstance(router, (str, os.PathLike)):
        from ._router import Router

        model_path = router
        router = Router.load(router)
    fingerprint = _file_fingerprint(input_path)
    ppath = _progress_path(out)
    state = None
    if resume and ppath.is_file():
        try:
            state = json.loads(ppath.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = None
        if state is not None and (state.get("input_fingerprint") != fingerprint
                                  or state.get("format") != fmt or state.get("version") != _PROGRESS_VERSION):
            state = None  # a different input or format: start afresh
    if state is None:
        state = {
            "version": _PROGRESS_VERSION,
            "input": str(input_path),
            "input_fingerprint": fingerprint,
            "format": fmt,
            "rows_done": 0,
            "chunks_done": 0,
            "bytes_done": 0,
            "needs_review": 0,
            "reference_time": datetime.now().strftime("%Y-%m-%d %H:%M"),
            "complete": False,
        }
        if fmt == "csv" and out.exists():
            out.unlink()
        if fmt == "parquet" and out.exists():
            import shutil

            shutil.rmtree(out) if out.is_dir() else out.unlink()
    rows_resumed = int(state["rows_done"])
    reference_time = datetime.strptime(state["reference_time"], "%Y-%m-%d %H:%M")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv" and out.exists():
        with open(out, "r+b") as fh:  # drop a chunk written after the last recorded progress
            fh.truncate(int(state["bytes_done"]))
    if fmt == "parquet":
        out.mkdir(parents=True, exist_ok=True)

    dask_ctx = None
    if engine == "dask":
        from .dask import _ChunkRouter

        dask_ctx = _ChunkRouter(router, model_path=model_path, scheduler=scheduler)
    t0 = time.perf_counter()
    bar = tqdm(desc=f"routing {input_path.name}", unit="rows", initial=rows_resumed, disable=not progress,
               dynamic_ncols=True)
    rows_seen = 0
    chunks = 0
    try:
        for chunk in iter_ticket_chunks(input_path, chunk_size=chunk_size, column_mapping=column_mapping,
                                        encoding=encoding):
            if max_rows is not None and rows_seen >= max_rows:
                break
            if max_rows is not None and rows_seen + len(chunk) > max_rows:
                chunk = chunk.iloc[: max_rows - rows_seen]
            n = len(chunk)
            start = rows_seen
            rows_seen += n
            if rows_seen <= state["rows_done"]:
                continue  # already written in an earlier run
            if start < state["rows_done"]:
                chunk = chunk.iloc[state["rows_done"] - start:]
            if dask_ctx is not None:
                table = dask_ctx.route(chunk, reference_time)
            else:
                table = route_frame(router, chunk, reference_time).reset_index(drop=True)
            if len(table) != len(chunk):  # pragma: no cover - route_many guarantees this
                raise RuntimeError(f"routing returned {len(table)} rows for a chunk of {len(chunk)}")
            if fmt == "csv":
                header = state["bytes_done"] == 0
                with open(out, "ab") as fh:
                    table.to_csv(fh, index=False, header=header, encoding="utf-8-sig" if header else "utf-8",
                                 lineterminator="\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                    state["bytes_done"] = fh.tell()
            else:
                part = out / f"part-{state['chunks_done']:06d}.parquet"
                table.to_parquet(part, index=False)
            state["rows_done"] += len(chunk)
            state["chunks_done"] += 1
            state["needs_review"] += int(table["needs_review"].sum())
            _write_json_atomic(ppath, state)
            chunks += 1
            bar.update(len(chunk))
            elapsed = time.perf_counter() - t0
            if elapsed > 0:
                bar.set_postfix(rows_s=f"{(state['rows_done'] - rows_resumed) / elapsed:,.0f}")
    finally:
        bar.close()
        if dask_ctx is not None:
            dask_ctx.close()
    if fmt == "csv" and state["rows_done"] == 0 and not out.exists():
        decisions_to_frame([]).to_csv(out, index=False, encoding="utf-8-sig")
    state["complete"] = True
    _write_json_atomic(ppath, state)
    seconds = time.perf_counter() - t0
    return RouteFileReport(
        input=str(input_path), output=str(out), rows_in=rows_seen, rows_written=int(state["rows_done"]),
        rows_needing_review=int(state["needs_review"]), rows_resumed=rows_resumed, chunks=chunks,
        seconds=seconds, engine=engine,
    )
