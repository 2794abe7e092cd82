"""The one writer for every CSV file the library writes, with spreadsheet-formula escaping.

Route-file outputs and quarantine lists are opened in Excel (they carry a
byte-order mark for it), and they copy text from citizens and from exports:
a ticket id or complaint starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return would run as a formula there (``=HYPERLINK(...)``).
:func:`write_csv` prefixes such text cells with an apostrophe, which
spreadsheets show as text, unless ``escape_formulas=False`` (for machine
consumers that want the bytes unchanged). Only text cells are touched:
numbers and booleans are written as they are.
"""

from __future__ import annotations

__all__ = ["FORMULA_PREFIXES", "escape_formula", "escape_formulas", "write_csv"]

#: Leading characters that make a spreadsheet treat a cell as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value):
    """Prefix ``value`` with ``'`` when it is text a spreadsheet would run as a formula.

    Examples
    --------
    >>> escape_formula('=HYPERLINK("http://x")'), escape_formula("噪音"), escape_formula(-5)
    ('\\'=HYPERLINK("http://x")', '噪音', -5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_formulas(frame):
    """A copy of ``frame`` whose text cells are escaped with :func:`escape_formula`.

    Examples
    --------
    >>> import pandas as pd
    >>> escape_formulas(pd.DataFrame({"id": ["@SUM(A1)", "7"], "n": [-1, 2]})).to_dict("list")
    {'id': ["'@SUM(A1)", '7'], 'n': [-1, 2]}
    """
    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if col.dtype == object or str(col.dtype) in ("string", "str"):
            out[name] = col.map(escape_formula)
    return out


def write_csv(frame, target, *, escape_formulas=True, header=True, bom=True):
    """Write ``frame`` as UTF-8 CSV (``\\n`` line ends, no index).

    Parameters
    ----------
    frame : pandas.DataFrame
    target : str, Path or binary file object
        A path is created or replaced; a file object is appended to.
    escape_formulas : bool, default True
        Escape text cells a spreadsheet would run as formulas.
    header : bool, default True
        Write the column names.
    bom : bool, default True
        Start with a byte-order mark (only with the header), so Excel reads UTF-8.

    Examples
    --------
    >>> import io, pandas as pd
    >>> buf = io.BytesIO()
    >>> write_csv(pd.DataFrame({"t": ["=1+1"]}), buf, bom=False)
    >>> buf.getvalue().decode()
    "t\\n'=1+1\\n"
    """
    table = _escaped(frame) if escape_formulas else frame
    encoding = "utf-8-sig" if (bom and header) else "utf-8"
    table.to_csv(target, index=False, header=header, encoding=encoding, lineterminator="\n")


def _escaped(frame):
    return escape_formulas(frame)
