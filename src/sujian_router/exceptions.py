"""Exceptions raised by :mod:`sujian_router`.

Every error the library raises on purpose derives from :class:`SujianRouterError`
and from the matching built-in exception, so callers can catch either.
Each message names the offending value and where it was found.
"""

from __future__ import annotations

__all__ = [
    "SujianRouterError",
    "CatalogError",
    "UnknownDutyError",
    "UnknownDepartmentError",
    "TicketSchemaError",
    "TicketEncodingError",
    "ModelFileError",
    "ModelMismatchError",
    "RulesError",
    "NotFittedError",
    "ServiceConfigError",
    "OutputFileError",
]


class SujianRouterError(Exception):
    """Base class of every error raised on purpose by sujian_router."""


class CatalogError(SujianRouterError, ValueError):
    """A duty catalog or department directory is malformed.

    Parameters
    ----------
    problems : list of str
        One line per problem, each naming the row (and column) it was found in.
    source : str, optional
        The file or object the problems were found in.

    Examples
    --------
    >>> err = CatalogError(["row 3: empty name"], source="my.csv")
    >>> print(err)
    my.csv: 1 problem(s)
      row 3: empty name
    >>> err.problems
    ['row 3: empty name']
    """

    def __init__(self, problems, source=None):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        body = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s)\n{body}")


class UnknownDutyError(SujianRouterError, KeyError):
    """A duty item code is not in the catalog."""

    def __init__(self, code, *, where=None, hint=None):
        self.code = code
        msg = f"unknown duty item code {code!r}"
        if where:
            msg += f" ({where})"
        if hint:
            msg += f"; {hint}"
        self.message = msg
        super().__init__(msg)

    def __str__(self):  # KeyError would otherwise quote the whole message
        return self.message


class UnknownDepartmentError(SujianRouterError, KeyError):
    """A department role or unit name is not in the department directory."""

    def __init__(self, role, *, where=None, known=None):
        self.role = role
        msg = f"unknown department role {role!r}"
        if where:
            msg += f" ({where})"
        if known:
            shown = ", ".join(sorted(known)[:12])
            more = "" if len(known) <= 12 else f", ... ({len(known)} in all)"
            msg += f"; known roles: {shown}{more}"
        self.message = msg
        super().__init__(msg)

    def __str__(self):
        return self.message


class TicketSchemaError(SujianRouterError, ValueError):
    """A ticket export lacks a required column or has unusable content."""


class TicketEncodingError(SujianRouterError, UnicodeError):
    """A ticket export cannot be decoded with any supported encoding."""


class ModelFileError(SujianRouterError, ValueError):
    """A model directory is missing, truncated, tampered with or foreign."""


class ModelMismatchError(ModelFileError):
    """A model was saved with a different catalog or incompatible versions."""


class RulesError(SujianRouterError, ValueError):
    """A routing-rules file is malformed (the message names the rule and field)."""


class NotFittedError(SujianRouterError, ValueError):
    """An estimator or router was used before it was fitted or loaded."""


class ServiceConfigError(SujianRouterError, ValueError):
    """The HTTP service was given unusable settings (the message names the setting or file line)."""


class OutputFileError(SujianRouterError, ValueError):
    """An output file cannot be written safely (it is the input, it is busy, or its folder is missing)."""
