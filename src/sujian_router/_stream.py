"""Route whole exports in bounded memory, resumably."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from ._csvout import write_csv
from ._output_table import OUTPUT_COLUMNS, decisions_to_frame, route_frame

__all__ = ["route_file", "RouteFileReport", "OUTPUT_COLUMNS", "decisions_to_frame"]

_PROGRESS_VERSION = 2  # 2: fingerprints of the model, catalog, options and output


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


# --------------------------------------------------------------------------- output safety


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _check_paths(input_path, output_path):
    """Resolve and check the input and output before anything is loaded or written."""
    from .exceptions import OutputFileError, TicketSchemaError

    input_path, out = Path(input_path), Path(output_path)
    fmt = "parquet" if out.suffix.lower() in (".parquet", ".pq") else "csv"
    if not input_path.is_file():
        raise TicketSchemaError(f"{input_path}: no such input file")
    for p in (out, _progress_path(out), out.with_name(out.name + ".lock")):
        if _same_file(input_path, p):
            raise OutputFileError(f"{out}: the output would overwrite the input {input_path}; choose another --out")
    if not out.parent.is_dir():
        raise OutputFileError(f"{out}: the folder {out.parent} does not exist (it is not created for you)")
    if fmt == "csv" and out.is_dir():
        raise OutputFileError(f"{out}: is a directory; a .csv output must be a file")
    return input_path, out, fmt


def _require(module, extra, what):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ImportError(f"{what} needs {module}: install sujian-router[{extra}]")


class _OutputLock:
    """Exclusive, non-blocking lock on ``OUT.lock``: one route-file run per output at a time.

    Taking it also proves, before the model is loaded, that the output folder is writable.
    """

    def __init__(self, out: Path):
        self.out = out
        self.path = out.with_name(out.name + ".lock")
        self._fh = None

    def __enter__(self):
        from .exceptions import OutputFileError

        try:
            self._fh = open(self.path, "a+b")
        except OSError as exc:
            raise OutputFileError(f"{self.out}: cannot write in {self.out.parent} ({exc.strerror})") from None
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks
            return self
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            raise OutputFileError(f"{self.out}: another route-file run is writing this output "
                                  f"(lock {self.path}); wait for it or choose another --out") from None
        return self

    def __exit__(self, *exc):
        try:
            self.path.unlink()
        except OSError:  # pragma: no cover
            pass
        self._fh.close()
        return False


# --------------------------------------------------------------------------- progress record


def _model_fingerprint(router, model_dir) -> str:
    """SHA-256 naming the model: of its manifest when loaded from a directory, else of its state."""
    if model_dir is not None:
        return hashlib.sha256((Path(model_dir) / "manifest.json").read_bytes()).hexdigest()
    import numpy as np

    arrays, meta = router.classifier.to_state()
    h = hashlib.sha256(json.dumps(meta, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    for name in sorted(arrays):
        h.update(name.encode("utf-8"))
        h.update(np.ascontiguousarray(arrays[name]).tobytes())
    h.update(repr(router.review_threshold).encode("utf-8"))
    return h.hexdigest()


def _tail_sha256(path: Path, end: int) -> str:
    """SHA-256 of the last 64 KiB before byte ``end`` of ``path``."""
    start = max(0, end - (1 << 16))
    with open(path, "rb") as fh:
        fh.seek(start)
        return hashlib.sha256(fh.read(end - start)).hexdigest()


def _output_intact(out: Path, fmt: str, state: dict) -> bool:
    """Does the output still hold everything the progress record says was written?"""
    try:
        if fmt == "csv":
            done = int(state["bytes_done"])
            if not out.is_file() or out.stat().st_size < done:
                return False
            return done == 0 or _tail_sha256(out, done) == state.get("tail_sha256")
        parts = state.get("parts") or {}
        return out.is_dir() and all((out / n).is_file() and (out / n).stat().st_size == size
                                    for n, size in parts.items())
    except (OSError, KeyError, TypeError, ValueError):
        return False


def _load_state(ppath: Path, out: Path, fmt: str, expected: dict):
    """The recorded progress when it fits this run exactly, else ``(None, why not)``."""
    if not ppath.is_file():
        return None, ""
    try:
        state = json.loads(ppath.read_text(encoding="utf-8"))
        if not isinstance(state, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as exc:
        return None, f"the progress record {ppath.name} is unreadable ({exc})"
    labels = {"input_fingerprint": "input file", "model_fingerprint": "model", "catalog_fingerprint": "catalog",
              "options": "column mapping or reading options", "format": "output format", "version": "record format"}
    for key, value in expected.items():
        if state.get(key) != value:
            return None, f"the {labels.get(key, key)} differs from the recorded run"
    if not _output_intact(out, fmt, state):
        return None, "the output no longer holds what the progress record says was written"
    return state, ""


def _clear_output(out: Path, fmt: str) -> None:
    """Remove an earlier output before starting afresh (never a folder holding other files)."""
    from .exceptions import OutputFileError

    if fmt == "csv":
        if out.exists():
            out.unlink()
        return
    if out.is_dir():
        foreign = [p.name for p in out.iterdir() if not re.fullmatch(r"part-\d{6}\.parquet", p.name)]
        if foreign:
            raise OutputFileError(f"{out}: the folder holds files route-file did not write ({foreign[:3]}); "
                                  "choose another --out")
        for p in out.iterdir():
            p.unlink()
    elif out.exists():
        out.unlink()


def _fresh_state(input_path, expected: dict) -> dict:
    return {
        **expected,
        "input": str(input_path),
        "rows_done": 0,
        "chunks_done": 0,
        "bytes_done": 0,
        "tail_sha256": None,
        "parts": {},
        "needs_review": 0,
        "reference_time": datetime.now().strftime("%Y-%m-%d %H:%M"),
        "complete": False,
    }


# --------------------------------------------------------------------------- the run


def route_file(input_path, output_path, *, router=None, catalog=None, column_mapping=None, encoding=None,
               sheet=None, chunk_size=50_000, resume=True, progress=True, engine="local", scheduler=None,
               max_rows=None, escape_formulas=True, on_long_cell="error"):
    """Route a whole export, chunk by chunk, to CSV or Parquet.

    Memory stays bounded by ``chunk_size`` whatever the file size: one
    chunk is read, routed and appended at a time.  Progress is recorded in
    ``OUTPUT.progress.json`` after each chunk, with fingerprints of the
    input, the model, the catalog, the reading options and the output
    written so far; started again with the same arguments, an interrupted
    run continues where it stopped, without duplicating or losing rows, and
    a finished one is not redone. Anything else (another model, mapping or
    input; an output deleted, cut or changed) starts afresh. One run at a
    time may write an output (``OUTPUT.lock``), and the output may not be
    the input.

    Parameters
    ----------
    input_path : str or Path
        CSV (any supported encoding) or XLSX export.
    output_path : str or Path
        ``*.csv`` (UTF-8 with BOM) or ``*.parquet`` (a directory of part
        files, one per chunk, readable by pandas, pyarrow and Dask). Its
        folder must exist.
    router : Router or str or Path, optional
        The router or a model directory; the default model when ``None``.
    catalog : DutyCatalog, optional
        The catalog to load a model directory with (see :meth:`Router.load`).
    column_mapping : dict, optional
        Export column -> canonical name (see :func:`read_tickets`).
    encoding : str, optional
        Input encoding (detected when ``None``).
    sheet : str or int, optional
        Sheet of an XLSX export (the first by default).
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
    escape_formulas : bool, default True
        Prefix CSV text cells that a spreadsheet would run as formulas with
        ``'`` (``False`` for machine consumers).
    on_long_cell : {"error", "truncate"}
        A cell longer than the limit of :func:`read_tickets` stops the run
        naming row and column (``"error"``), or is shortened and its row
        flagged ``cell_truncated`` (``"truncate"``).

    Returns
    -------
    RouteFileReport
    """
    _check_options(engine, chunk_size, on_long_cell)
    input_path, out, fmt = _check_paths(input_path, output_path)
    if fmt == "parquet":
        _require("pyarrow", "parquet", "Parquet output")
    if engine == "dask":
        _require("distributed", "dask", "engine='dask'")
    with _OutputLock(out):
        router, model_path, model_dir = _load_router(router, catalog, progress)
        options = {"column_mapping": dict(column_mapping or {}), "encoding": encoding, "sheet": sheet,
                   "escape_formulas": bool(escape_formulas), "on_long_cell": on_long_cell}
        expected = _expected(input_path, fmt, router, model_dir, options)
        ppath = _progress_path(out)
        state, _why = _load_state(ppath, out, fmt, expected) if resume else (None, "")
        if state is None:
            _clear_output(out, fmt)
            state = _fresh_state(input_path, expected)
        run = _Run(input_path, out, fmt, ppath, state, dict(options, max_rows=max_rows), chunk_size, progress)
        return run.execute(router, model_path, engine, scheduler)


def _expected(input_path, fmt, router, model_dir, options) -> dict:
    """What a recorded run must match to be resumed: input, format, model, catalog and options."""
    return {
        "version": _PROGRESS_VERSION, "format": fmt, "input_fingerprint": _file_fingerprint(input_path),
        "model_fingerprint": _model_fingerprint(router, model_dir),
        "catalog_fingerprint": getattr(router.catalog, "fingerprint", None), "options": options,
    }


def _check_options(engine, chunk_size, on_long_cell):
    if engine not in ("local", "dask"):
        raise ValueError(f"engine must be 'local' or 'dask', got {engine!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if on_long_cell not in ("error", "truncate"):
        raise ValueError(f"on_long_cell must be 'error' or 'truncate', got {on_long_cell!r}")


def _load_router(router, catalog, progress):
    """``(router, model path as given, model directory or None)``."""
    if router is not None and not isinstance(router, (str, os.PathLike)):
        return router, None, None
    from ._router import Router

    model_path = router
    if router is None or str(router) == "default":
        from ._default_model import ensure_default_model

        model_dir = ensure_default_model(progress=progress)
    else:
        model_dir = Path(router)
    return Router.load(model_dir, catalog=catalog), model_path, model_dir


class _Run:
    """One route-file run: reads chunks, routes the unwritten ones, appends and records progress."""

    def __init__(self, input_path, out, fmt, ppath, state, options, chunk_size, progress):
        self.input_path, self.out, self.fmt, self.ppath = input_path, out, fmt, ppath
        self.state, self.options, self.chunk_size, self.progress = state, options, chunk_size, progress
        self.rows_resumed = int(state["rows_done"])

    def execute(self, router, model_path, engine, scheduler):
        t0 = time.perf_counter()
        if self.state.get("complete"):
            return self._report(int(self.state["rows_done"]), 0, t0, engine)
        if self.fmt == "csv" and self.out.exists():
            with open(self.out, "r+b") as fh:  # drop a chunk written after the last recorded progress
                fh.truncate(int(self.state["bytes_done"]))
        if self.fmt == "parquet":
            self.out.mkdir(exist_ok=True)
            for p in self.out.glob("part-*.parquet"):
                if p.name not in self.state["parts"]:
                    p.unlink()  # a part written after the last recorded progress
        dask_ctx = None
        if engine == "dask":
            from .dask import _ChunkRouter

            dask_ctx = _ChunkRouter(router, model_path=model_path, scheduler=scheduler)
        try:
            rows_seen, chunks = self._loop(router, dask_ctx, t0)
        finally:
            if dask_ctx is not None:
                dask_ctx.close()
        self._finish_empty()
        self.state["complete"] = self.options["max_rows"] is None or rows_seen < self.options["max_rows"]
        _write_json_atomic(self.ppath, self.state)
        return self._report(rows_seen, chunks, t0, engine)

    def _chunks(self):
        from ._tickets import iter_ticket_chunks

        o = self.options
        return iter_ticket_chunks(self.input_path, chunk_size=self.chunk_size,
                                  column_mapping=o["column_mapping"] or None, encoding=o["encoding"],
                                  sheet=o["sheet"], on_long_cell=o["on_long_cell"])

    def _loop(self, router, dask_ctx, t0):
        from tqdm import tqdm

        state, max_rows = self.state, self.options["max_rows"]
        reference_time = datetime.strptime(state["reference_time"], "%Y-%m-%d %H:%M")
        bar = tqdm(desc=f"routing {self.input_path.name}", unit="rows", initial=self.rows_resumed,
                   disable=not self.progress, dynamic_ncols=True)
        rows_seen = chunks = 0
        try:
            for chunk in self._chunks():
                if max_rows is not None and rows_seen >= max_rows:
                    break
                if max_rows is not None and rows_seen + len(chunk) > max_rows:
                    chunk = chunk.iloc[: max_rows - rows_seen]
                start, rows_seen = rows_seen, rows_seen + len(chunk)
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
                self._append(table)
                chunks += 1
                bar.update(len(chunk))
                elapsed = time.perf_counter() - t0
                if elapsed > 0:
                    bar.set_postfix(rows_s=f"{(state['rows_done'] - self.rows_resumed) / elapsed:,.0f}")
        finally:
            bar.close()
        return rows_seen, chunks

    def _append(self, table):
        """Write one routed chunk, then record it (a crash in between is undone on resume)."""
        from .exceptions import OutputFileError

        state, out = self.state, self.out
        try:
            if self.fmt == "csv":
                with open(out, "ab") as fh:
                    write_csv(table, fh, escape_formulas=self.options["escape_formulas"],
                              header=state["bytes_done"] == 0)
                    fh.flush()
                    os.fsync(fh.fileno())
                    state["bytes_done"] = fh.tell()
                state["tail_sha256"] = _tail_sha256(out, state["bytes_done"])
            else:
                part = out / f"part-{state['chunks_done']:06d}.parquet"
                table.to_parquet(part, index=False)
                state["parts"][part.name] = part.stat().st_size
            state["rows_done"] += len(table)
            state["chunks_done"] += 1
            state["needs_review"] += int(table["needs_review"].sum())
            _write_json_atomic(self.ppath, state)
        except OSError as exc:
            raise OutputFileError(f"{out}: cannot write the output ({exc.strerror or exc}); the rows "
                                  f"recorded so far ({state['rows_done']}) are kept and a rerun resumes") from None

    def _finish_empty(self):
        if self.fmt == "csv" and self.state["rows_done"] == 0 and self.state["bytes_done"] == 0:
            write_csv(decisions_to_frame([]), self.out)
            self.state["bytes_done"] = self.out.stat().st_size
            self.state["tail_sha256"] = _tail_sha256(self.out, self.state["bytes_done"])

    def _report(self, rows_seen, chunks, t0, engine):
        state = self.state
        return RouteFileReport(
            input=str(self.input_path), output=str(self.out), rows_in=max(rows_seen, int(state["rows_done"])),
            rows_written=int(state["rows_done"]), rows_needing_review=int(state["needs_review"]),
            rows_resumed=self.rows_resumed, chunks=chunks, seconds=time.perf_counter() - t0, engine=engine,
        )
