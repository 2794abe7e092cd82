"""The one check that a table has the columns a step needs, and its message.

Every reader of tabular input (ticket exports, seeds, catalogs, data frames)
fails the same way when a column is missing: ``expected columns [...], found
[...] (missing [...])``, prefixed by where the table came from.

Examples
--------
>>> columns_problem(["text", "label"], ["text", "district"])
"expected columns ['text', 'label'], found ['text', 'district'] (missing ['label'])"
>>> require_columns(["text"], ["text"], where="route_dataframe")
>>> require_columns(["body"], ["text"], where="route_dataframe")
Traceback (most recent call last):
...
sujian_router.exceptions.TicketSchemaError: route_dataframe: expected columns ['text'], found ['body'] (missing ['text'])
"""

from __future__ import annotations

from .exceptions import TicketSchemaError

__all__ = ["columns_problem", "require_columns"]


def columns_problem(expected, found) -> str:
    """The message for a table whose columns ``found`` lack some of ``expected`` (no location)."""
    expected, found = [str(c) for c in expected], [str(c) for c in (found or [])]
    missing = [c for c in expected if c not in found]
    tail = f" (missing {missing})" if missing else ""
    return f"expected columns {expected}, found {found}{tail}"


def require_columns(found, expected, *, where, hint=None):
    """Raise :class:`TicketSchemaError` naming ``where`` unless every ``expected`` column is in ``found``.

    Parameters
    ----------
    found : iterable of str
        The table's columns (a DataFrame's ``columns``, a CSV header).
    expected : sequence of str
        The columns the step needs.
    where : str
        The function or file the table was given to, put first in the message.
    hint : str, optional
        How to fix it (e.g. which export names map to each column), appended.
    """
    found = list(found if found is not None else [])
    if all(c in found for c in expected):
        return
    message = f"{where}: {columns_problem(expected, found)}"
    raise TicketSchemaError(f"{message} ({hint})" if hint else message)
