"""Reading ticket exports (CSV in any common Chinese encoding, or XLSX) and quarantining bad rows.

Exports from hotline and intake systems are messy: GBK-encoded CSV files,
byte-order marks, a title row above the header, extra sheets, Chinese column
names that differ between systems. :func:`read_tickets` turns any of them into
one DataFrame with canonical column names and a ``source_row`` column that
names the row as a spreadsheet user sees it (the header is row 1 when it is the
first row), so every later outcome can point back at its row.

:func:`quarantine_tickets` then separates rows that cannot be used for
training or evaluation (empty text, missing or unknown label, exact duplicate)
and counts them.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._schema import columns_problem, require_columns
from .exceptions import TicketEncodingError, TicketSchemaError

__all__ = [
    "CANONICAL_COLUMNS",
    "DEFAULT_COLUMN_MAPPING",
    "QuarantineResult",
    "iter_ticket_chunks",
    "quarantine_tickets",
    "read_tickets",
]

#: Canonical column names produced by :func:`read_tickets`.
CANONICAL_COLUMNS = (
    "text",
    "label",
    "title",
    "district",
    "street",
    "received_at",
    "ticket_id",
    "department",
    "location",
)

#: Export column names recognised without a ``column_mapping``. When two
#: columns of one file map to the same canonical name, the one listed first
#: here wins and the other keeps its own name.
DEFAULT_COLUMN_MAPPING = {
    "诉求内容": "text",
    "留言详情": "text",
    "内容": "text",
    "诉求标题": "title",
    "留言主题": "title",
    "标题": "title",
    "事项编码": "label",
    "区": "district",
    "所属区": "district",
    "街道": "street",
    "所属街道": "street",
    "提交时间": "received_at",
    "受理时间": "received_at",
    "来电时间": "received_at",
    "工单编号": "ticket_id",
    "主办单位": "department",
    "事发地址": "location",
}

_HEADER_SEARCH_ROWS = 10
_BLOCK = 1 << 20
#: Longest cell accepted (characters), in CSV and XLSX alike; longer ones follow ``on_long_cell``.
MAX_CELL_CHARS = 131_072
#: Most header columns accepted (trailing empty header cells are not counted).
MAX_COLUMNS = 2_048
_HARD_CELL_CHARS = 1 << 24  # beyond this even on_long_cell="truncate" stops (memory per row)
_LONG_CELL_POLICIES = ("error", "truncate")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")


# --------------------------------------------------------------------------- decoding


def _decode_error(path, encoding, offset, line):
    return f"{path}: cannot decode as {encoding} at byte {offset} (line {line})"


def _check_decodes(path, encoding):
    """Return None when the whole file decodes strictly, else (offset, line)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    consumed = 0
    newlines = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            final = not block
            try:
                decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                pending = len(decoder.getstate()[0]) if not final else 0
                rel = max(exc.start - pending, 0)
                return consumed + rel, newlines + block[:rel].count(b"\n") + 1
            if final:
                return None
            consumed += len(block)
            newlines += block.count(b"\n")


def _detect_encoding(path):
    """Pick ``utf-8-sig`` when the whole file is valid UTF-8, else ``gb18030``.

    GB18030 is a superset of GBK and GB2312, so it reads all three.
    """
    bad_utf8 = _check_decodes(path, "utf-8-sig")
    if bad_utf8 is None:
        return "utf-8-sig"
    _refuse_mixed(path, bad_utf8)
    bad_gb = _check_decodes(path, "gb18030")
    if bad_gb is None:
        return "gb18030"
    raise TicketEncodingError(
        f"{path}: not UTF-8 (first bad byte at offset {bad_utf8[0]}, line {bad_utf8[1]}) "
        f"nor GB18030 (first bad byte at offset {bad_gb[0]}, line {bad_gb[1]}); "
        "pass encoding= explicitly"
    )


_CJK = re.compile("[\u4e00-\u9fff]")


def _refuse_mixed(path, bad_utf8):
    """Raise when a file that is not all UTF-8 has UTF-8 lines with Chinese text (mixed encodings).

    Decoding such a file as GB18030 would silently turn its UTF-8 rows into
    mojibake, so it is refused, naming the first line of each kind.
    """
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if raw.isascii():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                continue
            if _CJK.search(text):
                raise TicketEncodingError(
                    f"{path}: mixed encodings: line {number} is UTF-8 with Chinese text, but the first "
                    f"line that is not UTF-8 is line {bad_utf8[1]} (first bad byte at offset {bad_utf8[0]}, "
                    f"line {bad_utf8[1]}); re-save the whole file in one encoding (UTF-8), or pass "
                    "encoding= to read it as one"
                )


def _decoded_lines(path, encoding):
    """Yield decoded lines (newline kept) of a text file, strictly, block by block."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
    except LookupError:
        raise TicketEncodingError(f"{path}: unknown encoding {encoding!r}") from None
    consumed = 0
    newlines = 0
    carry = ""
    with open(path, "rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            final = not block
            try:
                text = decoder.decode(block, final)
            except UnicodeDecodeError as exc:
                pending = len(decoder.getstate()[0]) if not final else 0
                rel = max(exc.start - pending, 0)
                line = newlines + block[:rel].count(b"\n") + 1
                raise TicketEncodingError(_decode_error(path, encoding, consumed + rel, line)) from None
            consumed += len(block)
            newlines += block.count(b"\n")
            text = carry + text
            parts = text.split("\n")
            carry = parts.pop()
            for part in parts:
                yield part + "\n"
            if final:
                if carry:
                    yield carry
                return


# --------------------------------------------------------------------------- records


def _csv_records(path, encoding):
    """Yield (spreadsheet row number, list of cell strings) for a CSV file."""
    if encoding is None:
        encoding = _detect_encoding(path)
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    reader = csv.reader(_decoded_lines(path, encoding), delimiter=delimiter, strict=True)
    row = 0
    while True:
        try:
            cells = _next_row(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            where = f"row {row + 1} (line {reader.line_num})"
            if "field larger than field limit" in str(exc):
                raise TicketSchemaError(
                    f"{path}: {where} has a cell of more than {_HARD_CELL_CHARS:,} characters, which is "
                    "not read even with on_long_cell='truncate'"
                ) from None
            if "unexpected end of data" in str(exc):
                raise TicketSchemaError(
                    f"{path}: {where} ends inside a quoted field; the file looks truncated"
                ) from None
            raise TicketSchemaError(f"{path}: malformed CSV at {where}: {exc}") from None
        row += 1
        yield row, cells


def _next_row(reader):
    """``next(reader)`` with the csv module's field limit raised to the hard cap for this call only.

    The module's limit is process-wide; it is restored at once, so other
    readers keep theirs. Cells between :data:`MAX_CELL_CHARS` and the cap
    are then handled by ``on_long_cell`` with the row and column named.
    """
    old = csv.field_size_limit(_HARD_CELL_CHARS)
    try:
        return next(reader)
    finally:
        csv.field_size_limit(old)


def _cell_str(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") and hasattr(value, "date") else value.isoformat()
    return str(value)


def _excel_records(path, sheet):
    """Yield (row number, list of cell strings) for one sheet of an XLSX workbook."""
    import zipfile

    import openpyxl

    _check_xlsx_text_runs(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise TicketSchemaError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    try:
        names = wb.sheetnames
        if sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(sheet, int):
            if not -len(names) <= sheet < len(names):
                raise TicketSchemaError(f"{path}: no sheet number {sheet}; sheets are {names}")
            ws = wb.worksheets[sheet]
        elif sheet in names:
            ws = wb[sheet]
        elif str(sheet).isdigit() and int(sheet) < len(names):
            ws = wb.worksheets[int(sheet)]
        else:
            raise TicketSchemaError(f"{path}: no sheet named {sheet!r}; sheets are {names}")
        if hasattr(ws, "reset_dimensions"):
            ws.reset_dimensions()  # the declared size (A1:XFD1048576) is not trusted: read real cells
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            yield number, _trim_trailing([_cell_str(v) for v in values])
    finally:
        wb.close()


def _trim_trailing(cells):
    end = len(cells)
    while end and not cells[end - 1]:
        end -= 1
    return cells[:end] if end < len(cells) else cells


def _check_xlsx_text_runs(path):
    """Refuse a workbook with a text run longer than the hard cell cap, before openpyxl holds it in memory.

    Streams every worksheet and the shared strings once, counting bytes
    between XML tags; nothing longer than a few blocks is held.
    """
    import zipfile

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise TicketSchemaError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    limit = _HARD_CELL_CHARS * 3  # UTF-8 bytes of the longest cell accepted
    with zf:
        for info in zf.infolist():
            name = info.filename
            if not (name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"):
                continue
            run = 0
            with zf.open(info) as fh:
                for block in iter(lambda: fh.read(_BLOCK), b""):
                    pieces = block.split(b"<")
                    if len(pieces) == 1:
                        run += len(block)
                    else:
                        inner = max((len(p) for p in pieces[1:-1]), default=0)
                        run = max(run + len(pieces[0]), inner)
                        if run <= limit:
                            run = len(pieces[-1])
                    if run > limit:
                        break
            if run > limit:
                raise TicketSchemaError(
                    f"{path}: {name} holds a text of more than {_HARD_CELL_CHARS:,} characters; "
                    "cells that long are not read"
                )


def _records(path, encoding, sheet):
    path = Path(path)
    if not path.exists():
        raise TicketSchemaError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in _EXCEL_SUFFIXES:
        return path, _excel_records(path, sheet)
    if suffix == ".xls":
        raise TicketSchemaError(
            f"{path}: legacy .xls workbooks are not supported; save the sheet as .xlsx or CSV"
        )
    return path, _csv_records(path, encoding)


# --------------------------------------------------------------------------- header


@dataclass
class _Layout:
    """How the raw columns of one file become the output columns."""

    header_row: int
    names: list  # output name of each raw column (None: dropped)
    notes: list = field(default_factory=list)
    combine: bool = False


def _effective_mapping(column_mapping):
    mapping = dict(DEFAULT_COLUMN_MAPPING)
    user = dict(column_mapping or {})
    for src, dst in user.items():
        if not isinstance(dst, str) or not dst:
            raise TicketSchemaError(f"column_mapping: {src!r} maps to {dst!r}, expected a column name")
    return mapping, user


def _map_header(cells, default, user):
    """Return output names for raw header cells (user mapping first, then defaults)."""
    stripped = [c.strip().lstrip("\ufeff") for c in cells]
    out = list(stripped)
    taken = {}
    # priority: 0 user mapping, 1 canonical name already, 2 default mapping (in its order)
    rank = {name: r for r, name in enumerate(default)}
    candidates = []
    for i, name in enumerate(stripped):
        if name in user:
            candidates.append((0, 0, i, user[name]))
        elif name in CANONICAL_COLUMNS:
            candidates.append((1, 0, i, name))
        elif name in default:
            candidates.append((2, rank[name], i, default[name]))
    for _prio, _rank, i, dst in sorted(candidates):
        if dst in taken:
            continue  # a higher-priority column already provides dst; this one keeps its name
        taken[dst] = i
        out[i] = dst
    return out, taken


def _check_width(path, number, cells):
    width = len(_trim_trailing(cells))
    if width > MAX_COLUMNS:
        raise TicketSchemaError(
            f"{path}: row {number} has {width:,} columns; at most {MAX_COLUMNS:,} are read (is this a ticket export?)"
        )


def _check_header(path, number, raw, names, default, user):
    """Every column the user mapped exists; no mapped column appears twice."""
    present = set(raw)
    missing = [src for src in user if src not in present]
    if missing:
        found = [c for c in raw if c]
        raise TicketSchemaError(
            f"{path}: column_mapping names {missing}, which header row {number} lacks; found "
            f"{found[:40]}{' ...' if len(found) > 40 else ''}"
        )
    first = {}
    for i, name in enumerate(raw):
        j = first.setdefault(name, i)
        if name and j < i and (name in user or name in default or name in CANONICAL_COLUMNS):
            raise TicketSchemaError(
                f"{path}: header row {number} has the column {name!r} more than once "
                f"(columns {j + 1} and {i + 1}); it maps to {names[j]!r}, so rename one "
                "of them or pass column_mapping"
            )


def _unique_names(names):
    """Name empty columns ``unnamed_N`` and rename repeats ``name.K``; return (names, notes)."""
    notes = []
    names = [name or f"unnamed_{i + 1}" for i, name in enumerate(names)]
    taken = set(names)
    seen = {}
    for i, name in enumerate(names):
        if name in seen:
            k = 1
            while f"{name}.{k}" in taken or f"{name}.{k}" in seen:
                k += 1
            notes.append(f"duplicated column {name!r} (column {i + 1}) renamed to '{name}.{k}'")
            names[i] = f"{name}.{k}"
            taken.add(names[i])
        seen[names[i]] = i
    if "source_row" in seen:
        names[seen["source_row"]] = "source_row_original"
        notes.append("input column 'source_row' renamed to 'source_row_original'")
    return names, notes


def _layout(path, first_rows, default, user, required, combine_title):
    for number, cells in first_rows:
        _check_width(path, number, cells)
        names, taken = _map_header(cells, default, user)
        if not all(r in taken for r in required):
            continue
        raw = [c.strip().lstrip("\ufeff") for c in cells]
        _check_header(path, number, raw, names, default, user)
        names, notes = _unique_names(names)
        combine = combine_title and "title" in taken and "text" in taken
        return _Layout(header_row=number, names=names, notes=notes, combine=combine)
    found = [c.strip() for c in first_rows[0][1]] if first_rows else []
    found = [c for c in found if c][:40]
    expected = list(required)
    known = {
        r: [src for src, dst in {**default, **user}.items() if dst == r] for r in expected
    }
    hint = "; ".join(f"{r!r} is read from {known[r] or [r]}" for r in expected)
    raise TicketSchemaError(
        f"{path}: {columns_problem(expected, found)} "
        f"(searched the first {_HEADER_SEARCH_ROWS} rows for a header; {hint}; "
        "pass column_mapping={export name: canonical name})"
    )


def _fit_row(path, layout, number, cells, on_long_cell, truncated):
    """The row's cells, stripped, fitted to the header's width, long cells handled by the policy."""
    width = len(layout.names)
    if len(cells) > width:
        if any(c.strip() for c in cells[width:]):
            raise TicketSchemaError(
                f"{path}: row {number} has {len(cells)} cells but the header (row "
                f"{layout.header_row}) has {width} columns"
            )
        cells = cells[:width]
    cells = [c.strip() for c in cells] + [""] * (width - len(cells))
    if cells and max(map(len, cells)) > MAX_CELL_CHARS:
        long = [i for i, c in enumerate(cells) if len(c) > MAX_CELL_CHARS]
        if on_long_cell == "error":
            i = long[0]
            raise TicketSchemaError(
                f"{path}: row {number}, column {layout.names[i]!r} (column {i + 1}) has a cell of "
                f"{len(cells[i]):,} characters, more than {MAX_CELL_CHARS:,}; pass on_long_cell='truncate' "
                "(--on-long-cell truncate) to shorten such cells and flag their rows"
            )
        for i in long:
            cells[i] = cells[i][:MAX_CELL_CHARS]
        truncated[number] = [layout.names[i] for i in long]
    return cells


def _frame(path, layout, rows, on_long_cell="error"):
    """Build a DataFrame from [(row number, cells)] using a layout."""
    fixed = []
    numbers = []
    truncated = {}
    for number, cells in rows:
        cells = _fit_row(path, layout, number, cells, on_long_cell, truncated)
        if any(cells):  # a blank row is not a ticket
            fixed.append(cells)
            numbers.append(number)
    if fixed:
        df = pd.DataFrame(fixed, columns=layout.names, dtype=str)
    else:
        df = pd.DataFrame({n: pd.Series([], dtype=str) for n in layout.names})
    df.insert(0, "source_row", pd.Series(numbers, dtype="int64"))
    if layout.combine:
        df["text"] = [_combine(t, c) for t, c in zip(df["title"].tolist(), df["text"].tolist())]
    df.attrs["source"] = str(path)
    df.attrs["header_row"] = layout.header_row
    df.attrs["notes"] = list(layout.notes) + [
        f"row {n}: {cols} shortened to {MAX_CELL_CHARS:,} characters" for n, cols in truncated.items()]
    df.attrs["truncated_cells"] = truncated
    return df


def _combine(title, content):
    if not title:
        return content
    if not content:
        return title
    if content == title or content.startswith(title + "\n"):
        return content  # the export already starts the content with its title line
    return f"{title}\n{content}"


def _check_required(required):
    if isinstance(required, str):
        required = (required,)
    required = tuple(required)
    unknown = [r for r in required if not isinstance(r, str)]
    if unknown:
        raise TypeError(f"required must be column names, got {unknown}")
    return required


def _check_policy(on_long_cell):
    if on_long_cell not in _LONG_CELL_POLICIES:
        raise ValueError(f"on_long_cell must be one of {list(_LONG_CELL_POLICIES)}, got {on_long_cell!r}")


def _start(path, column_mapping, encoding, sheet, combine_title, required):
    required = _check_required(required)
    default, user = _effective_mapping(column_mapping)
    path, records = _records(path, encoding, sheet)
    first = []
    for item in records:
        first.append(item)
        if len(first) >= _HEADER_SEARCH_ROWS:
            break
    layout = _layout(path, first, default, user, required, combine_title)
    head_rest = [r for r in first if r[0] > layout.header_row]
    return path, layout, head_rest, records


def read_tickets(
    path,
    *,
    column_mapping=None,
    encoding=None,
    sheet=None,
    combine_title=True,
    required=("text",),
    on_long_cell="error",
):
    """Read a ticket export (CSV or XLSX) into a DataFrame with canonical columns.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` (``.tsv`` is read tab-separated) or ``.xlsx`` file. Legacy
        ``.xls`` workbooks are refused with a message asking for ``.xlsx``.
    column_mapping : dict, optional
        Export column name -> canonical name (one of :data:`CANONICAL_COLUMNS`
        or any other name), e.g. ``{"诉求内容": "text", "事项编码": "label"}``.
        It takes precedence over :data:`DEFAULT_COLUMN_MAPPING`, which is always
        applied; columns already named canonically pass through.
    encoding : str, optional
        Text encoding of a CSV file. When None, the file is read as UTF-8 (a
        byte-order mark is dropped) if all of it decodes strictly, otherwise as
        GB18030 (which also reads GBK and GB2312).
    sheet : str or int, optional
        Sheet name or 0-based index of a workbook; the first sheet by default.
    combine_title : bool, default True
        When both ``title`` and ``text`` exist, replace ``text`` by
        ``title + "\\n" + text`` (unless the text already starts with the
        title; an empty part is left out).
    required : sequence of str, default ("text",)
        Canonical columns that must exist. The header is the first of the
        first 10 rows that provides all of them (title rows and merged
        headers above it are skipped).
    on_long_cell : {"error", "truncate"}, default "error"
        A cell over :data:`MAX_CELL_CHARS` characters raises naming row and
        column, or is shortened and listed in ``df.attrs["truncated_cells"]``.

    Returns
    -------
    pandas.DataFrame
        Every cell as a stripped string (codes keep leading zeros), canonical
        column names, and first ``source_row``: the 1-based row number a
        spreadsheet shows. Blank rows are skipped; ``df.attrs`` holds
        ``notes``, ``header_row`` and ``truncated_cells``.

    Raises
    ------
    TicketSchemaError
        No header with the required columns (expected and found listed); a
        mapped column missing or twice (other repeated names become
        ``name.1``, ... and are noted); over :data:`MAX_COLUMNS` columns; a
        row wider than the header; a long cell; a truncated quoted field.
    TicketEncodingError
        Undecodable bytes (offset and line named) or mixed encodings.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "export.csv")
    >>> with open(p, "w", encoding="gbk") as fh:
    ...     _ = fh.write('工单编号,诉求标题,诉求内容,事项编码\\n007,噪音,"楼下施工,很吵",08-01-001\\n')
    >>> df = read_tickets(p)
    >>> df.loc[0, "ticket_id"], df.loc[0, "label"], df.loc[0, "source_row"]
    ('007', '08-01-001', np.int64(2))
    >>> df.loc[0, "text"]
    '噪音\\n楼下施工,很吵'
    """
    _check_policy(on_long_cell)
    path, layout, head_rest, records = _start(
        path, column_mapping, encoding, sheet, combine_title, required
    )
    rows = head_rest + list(records)
    return _frame(path, layout, rows, on_long_cell)


def iter_ticket_chunks(
    path,
    *,
    chunk_size=50_000,
    column_mapping=None,
    encoding=None,
    sheet=None,
    combine_title=True,
    required=("text",),
    on_long_cell="error",
) -> Iterator[pd.DataFrame]:
    """Stream a ticket export as DataFrames of at most ``chunk_size`` rows.

    Same normalisation as :func:`read_tickets` (encoding detection, header
    search, column mapping, title combining), and ``source_row`` keeps
    counting across chunks, so a row of the 3rd chunk still names its row in
    the file. Memory stays bounded by one chunk (CSV files are parsed line by
    line; workbooks are read with openpyxl's read-only mode).

    Parameters
    ----------
    path : str or path-like
        CSV or XLSX file.
    chunk_size : int, default 50_000
        Maximum rows per chunk (blank rows are skipped, so a chunk can hold
        fewer).
    column_mapping, encoding, sheet, combine_title, required, on_long_cell
        As in :func:`read_tickets`.

    Yields
    ------
    pandas.DataFrame

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> with open(p, "w", encoding="utf-8") as fh:
    ...     _ = fh.write("text\\n" + "".join(f"投诉{i}\\n" for i in range(5)))
    >>> [list(c["source_row"]) for c in iter_ticket_chunks(p, chunk_size=2)]
    [[2, 3], [4, 5], [6]]
    """
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    _check_policy(on_long_cell)
    path, layout, head_rest, records = _start(
        path, column_mapping, encoding, sheet, combine_title, required
    )

    def chunks():
        buf = []
        for item in itertools.chain(head_rest, records):
            buf.append(item)
            if len(buf) >= chunk_size:
                yield buf
                buf = []
        if buf:
            yield buf

    emitted = False
    for rows in chunks():
        df = _frame(path, layout, rows, on_long_cell)
        if len(df):
            emitted = True
            yield df.reset_index(drop=True)
    if not emitted:
        yield _frame(path, layout, [])


# --------------------------------------------------------------------------- quarantine

#: Quarantine reasons, in the order they are checked (a row gets the first that applies).
QUARANTINE_REASONS = ("empty text", "missing label", "unknown label", "duplicate")

_FALLBACK_PII = [
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "IDMASK"),
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)"), "PHONEMASK"),
    (re.compile(r"(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)"), "PHONEMASK"),
]


def _mask(text):
    """Mask phone and ID numbers for reports (uses :mod:`sujian_router._text` when present)."""
    text = str(text)
    try:
        from ._text import mask_personal_data, normalize_text
    except ImportError:  # pragma: no cover - _text is part of the package
        for pattern, token in _FALLBACK_PII:
            text = pattern.sub(f" {token} ", text)
        return text
    masked = mask_personal_data(normalize_text(text))
    return masked[0] if isinstance(masked, tuple) else masked


def _catalog_codes(catalog):
    if isinstance(catalog, (set, frozenset, list, tuple, dict)):
        return {str(c) for c in catalog}
    codes = getattr(catalog, "codes", None)
    if codes is not None:
        return {str(c) for c in (codes() if callable(codes) else codes)}
    items = getattr(catalog, "items", None)
    if items is not None:
        items = items() if callable(items) else items
        return {str(getattr(it, "code", it)) for it in items}
    return {str(getattr(it, "code", it)) for it in catalog}


@dataclass(frozen=True)
class QuarantineResult:
    """Rows fit for use and rows set aside, with the reason for each.

    Attributes
    ----------
    clean : pandas.DataFrame
        The usable rows, in input order, with the input columns.
    quarantined : pandas.DataFrame
        Columns ``source_row``, ``reason`` (one of :data:`QUARANTINE_REASONS`),
        ``text`` (phone and ID numbers masked), ``label`` and ``duplicate_of``
        (the ``source_row`` of the kept copy, for duplicates; else empty).
    counts : dict
        Reason -> number of rows, every reason present (0 when none).
    """

    clean: pd.DataFrame
    quarantined: pd.DataFrame
    counts: dict

    def summary(self) -> str:
        """One line per reason, e.g. ``'kept 10, quarantined 2 (duplicate 2)'``."""
        parts = ", ".join(f"{r} {n}" for r, n in self.counts.items() if n)
        return f"kept {len(self.clean)}, quarantined {len(self.quarantined)}" + (
            f" ({parts})" if parts else ""
        )


def _mark_duplicates(text, label, rows, reason):
    """Mark repeats of an earlier kept (text, label) pair in ``reason``; return each one's first ``source_row``."""
    ok = reason.eq("")
    key = pd.DataFrame({"t": text[ok], "l": label[ok]})
    dup = key.duplicated(keep="first")
    reason[dup[dup].index] = "duplicate"
    duplicate_of = pd.Series([""] * len(reason), index=reason.index, dtype=object)
    if dup.any():
        first_pos = key.reset_index(drop=True).groupby(["t", "l"], sort=False).ngroup()
        first_row = {}
        for g, r in zip(first_pos, rows[ok.to_numpy()]):
            first_row.setdefault(g, r)
        dup_series = pd.Series([str(first_row[g]) for g in first_pos], index=key.index)
        duplicate_of[dup[dup].index] = dup_series[dup[dup].index]
    return duplicate_of


def quarantine_tickets(df, *, catalog=None, free_labels=False) -> QuarantineResult:
    """Set aside ticket rows that cannot be used to train or evaluate a model.

    Each row is checked in the order of :data:`QUARANTINE_REASONS` and gets
    the first reason that applies: ``"empty text"`` (blank after stripping),
    ``"missing label"``, ``"unknown label"`` (not a code of ``catalog``;
    checked only when a catalog is given and ``free_labels`` is False) and
    ``"duplicate"`` (same text and label as an earlier kept row; the first is
    kept). ``len(clean) + len(quarantined) == len(df)`` always holds.

    Parameters
    ----------
    df : pandas.DataFrame
        Needs ``text`` and ``label`` columns (as from :func:`read_tickets`);
        ``source_row`` is used when present, else the 1-based position.
    catalog : DutyCatalog or collection of str, optional
        Known item codes. None: labels are not checked against a catalog.
    free_labels : bool, default False
        True for models whose labels are not catalog codes (no unknown check).

    Returns
    -------
    QuarantineResult

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"text": ["路灯坏了", "", "路灯坏了", "噪音 13812345678"],
    ...                    "label": ["01-01-001", "01-01-001", "01-01-001", "99"]})
    >>> res = quarantine_tickets(df, catalog={"01-01-001"})
    >>> res.counts
    {'empty text': 1, 'missing label': 0, 'unknown label': 1, 'duplicate': 1}
    >>> len(res.clean), list(res.quarantined["source_row"])
    (1, [2, 3, 4])
    >>> "13812345678" in res.quarantined.to_csv()
    False
    """
    require_columns(df.columns, ("text", "label"), where="quarantine_tickets")
    n = len(df)
    text = df["text"].astype(str).where(df["text"].notna(), "").str.strip()
    label = df["label"].astype(str).where(df["label"].notna(), "").str.strip()
    if "source_row" in df.columns:
        rows = df["source_row"].to_numpy()
    else:
        rows = pd.RangeIndex(1, n + 1).to_numpy()
    reason = pd.Series([""] * n, index=df.index, dtype=object)
    reason[text.eq("")] = "empty text"
    reason[reason.eq("") & label.eq("")] = "missing label"
    if catalog is not None and not free_labels:
        codes = _catalog_codes(catalog)
        reason[reason.eq("") & ~label.isin(codes)] = "unknown label"
    duplicate_of = _mark_duplicates(text, label, rows, reason)
    bad = ~reason.eq("")
    quarantined = pd.DataFrame(
        {
            "source_row": rows[bad.to_numpy()],
            "reason": reason[bad].to_numpy(),
            "text": [_mask(t) for t in text[bad]],
            "label": label[bad].to_numpy(),
            "duplicate_of": duplicate_of[bad].to_numpy(),
        }
    )
    counts = {r: int((reason == r).sum()) for r in QUARANTINE_REASONS}
    clean = df.loc[~bad.to_numpy()].copy()
    return QuarantineResult(clean=clean, quarantined=quarantined, counts=counts)
