"""Ticket exports: reading them, setting unusable rows aside, generating synthetic ones, routing whole files.

:func:`read_tickets` reads a CSV (UTF-8, BOM, GBK/GB18030) or Excel export
with a column mapping; :func:`iter_ticket_chunks` streams a large one;
:func:`quarantine_tickets` sets aside rows that cannot train or evaluate
(:class:`QuarantineResult`); :func:`generate_tickets` writes synthetic,
labelled tickets from the catalog; :func:`route_file` routes a whole export
in bounded memory, resumably (:class:`RouteFileReport`).
"""

from __future__ import annotations

from ._stream import RouteFileReport, route_file
from ._synth import generate_tickets
from ._tickets import QuarantineResult, iter_ticket_chunks, quarantine_tickets, read_tickets

__all__ = ["QuarantineResult", "RouteFileReport", "generate_tickets", "iter_ticket_chunks", "quarantine_tickets",
           "read_tickets", "route_file"]
