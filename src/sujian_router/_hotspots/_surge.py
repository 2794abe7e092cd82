"""Surges: a cell (item x area) with far more tickets in one period than its own history predicts.

Periods are fixed windows counted from a fixed origin (Monday 2000-01-03),
so a ticket's period never depends on the rest of the input. For every cell
the expected count in period *t* is its ratio to all other tickets, smoothed by an
exponentially weighted moving average (EWMA) over the periods before *t*,
times the number of all other tickets in *t*. Scaling by that total absorbs
seasons and growth that all cells share (summer noise, a holiday dip); the
EWMA follows a cell's own slow drift. The ratio starts from the cell's mean
ratio over the whole input, so the first periods have a baseline too. The
count is then compared with a Poisson distribution around that expectation:
a surge is a count of at least ``min_count`` that is at least ``min_ratio``
times the expectation and whose upper-tail probability is below ``max_p``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Periods", "Surge", "surge_table"]

_ORIGIN = np.datetime64("2000-01-03T00:00", "ns")  # a Monday
_UNITS = {"D": "D", "W": "W", "H": "h"}
_CELL_BLOCK = 20_000


@dataclass(frozen=True)
class Periods:
    """Fixed-length periods (``"7D"``, ``"1W"``, ``"24H"``) or calendar months (``"M"``).

    Examples
    --------
    >>> p = Periods.parse("7D")
    >>> t = np.array(["2024-06-03 10:00", "2024-06-09 23:00", "2024-06-10 00:00"], dtype="datetime64[ns]")
    >>> idx = p.index(t); (idx[1] - idx[0], idx[2] - idx[0])
    (np.int64(0), np.int64(1))
    >>> str(p.start(idx[2]))
    '2024-06-10 00:00:00'
    """

    spec: str
    months: int = 0
    length: np.timedelta64 | None = None

    @classmethod
    def parse(cls, spec):
        """Read a period spec; raise ValueError naming it when it is not understood."""
        s = str(spec).strip().upper()
        m = re.fullmatch(r"(\d*)\s*(D|W|H|M)", s)
        if not m or (m.group(1) and int(m.group(1)) < 1):
            raise ValueError(f"period must look like '7D', '1W', '24H' or 'M' (a month), got {spec!r}")
        n = int(m.group(1) or 1)
        if m.group(2) == "M":
            return cls(spec=f"{n}M", months=n)
        return cls(spec=f"{n}{m.group(2)}", length=np.timedelta64(n, _UNITS[m.group(2)]).astype("m8[ns]"))

    def index(self, times):
        """Period number of each time (NaT gives -1)."""
        times = np.asarray(times, dtype="datetime64[ns]")
        nat = np.isnat(times)
        safe = np.where(nat, _ORIGIN, times)
        if self.months:
            idx = safe.astype("datetime64[M]").astype(np.int64) // self.months
        else:
            idx = (safe - _ORIGIN) // self.length
        return np.where(nat, -1, idx).astype(np.int64)

    def start(self, index):
        """First instant of period ``index``."""
        if self.months:
            return np.datetime64(int(index) * self.months, "M").astype("datetime64[s]").item()
        return (_ORIGIN + int(index) * self.length).astype("datetime64[s]").item()

    def end(self, index):
        """First instant after period ``index``."""
        return self.start(int(index) + 1)


@dataclass(frozen=True)
class Surge:
    """One cell's unusual period.

    Attributes
    ----------
    item_code, item_name : str
    district, street : str or None
        The area of the cell (street when the cell is per street).
    period_start, period_end : datetime
    count : int
    expected : float
        Baseline count for the period.
    p_value : float
        Poisson upper-tail probability of at least ``count``.
    score : float
        ``-log10(p_value)``, capped at 50: how unusual the count is.
    """

    item_code: str
    item_name: str
    district: str | None
    street: str | None
    period_start: object
    period_end: object
    count: int
    expected: float
    p_value: float
    score: float

    def to_dict(self) -> dict:
        """Return the surge as a JSON-ready dict (times as ``YYYY-MM-DD HH:MM``)."""
        return {
            "item_code": self.item_code, "item_name": self.item_name, "district": self.district,
            "street": self.street, "period_start": self.period_start.strftime("%Y-%m-%d %H:%M"),
            "period_end": self.period_end.strftime("%Y-%m-%d %H:%M"), "count": self.count,
            "expected": round(self.expected, 3), "p_value": float(f"{self.p_value:.3g}"),
            "score": round(self.score, 2),
        }


def _block_baseline(counts, totals, alpha, floor):
    """Expected counts of a block of cells (rows) over periods (columns).

    A cell's level is its count relative to all *other* tickets of the
    period, so a surge never inflates its own baseline.
    """
    others = totals[None, :] - counts
    has = others > 0
    ratio = np.divide(counts, others, out=np.zeros_like(counts), where=has)
    n_has = has.sum(axis=1)
    level = np.divide(ratio.sum(axis=1), n_has, out=np.zeros(len(counts)), where=n_has > 0)
    expected = np.empty_like(counts)
    for t in range(counts.shape[1]):
        expected[:, t] = np.maximum(level * others[:, t], floor)
        col = has[:, t]
        level[col] = (1.0 - alpha) * level[col] + alpha * ratio[col, t]
    return expected


def surge_table(cells, periods, *, alpha=0.1, floor=0.2, min_count=5, min_ratio=2.0, max_p=1e-4):
    """Score every (cell, period) that has tickets against the cell's baseline.

    Parameters
    ----------
    cells : ndarray of int
        Cell number of each ticket (0..n_cells-1; -1 is ignored).
    periods : ndarray of int
        Period number of each ticket (-1 is ignored).
    alpha : float
        EWMA weight of the latest period.
    floor : float
        Smallest expected count (a cell never seen still has a baseline).
    min_count, min_ratio, max_p
        A (cell, period) is flagged when all three hold.

    Returns
    -------
    dict of ndarray
        ``cell, period, count, expected, p_value, flagged``, one entry per
        (cell, period) with at least one ticket, sorted by cell then period.

    Examples
    --------
    >>> cells = np.array([0] * 12 + [0] * 15 + [1] * 12)
    >>> periods = np.array(list(range(12)) + [12] * 15 + list(range(12)))
    >>> t = surge_table(cells, periods)
    >>> t["period"][t["flagged"]].tolist(), t["count"][t["flagged"]].tolist()
    ([12], [15])
    """
    from scipy.stats import poisson

    ok = (cells >= 0) & (periods >= 0)
    cells, periods = cells[ok], periods[ok]
    empty = {"cell": np.zeros(0, np.int64), "period": np.zeros(0, np.int64), "count": np.zeros(0, np.int64),
             "expected": np.zeros(0), "p_value": np.zeros(0), "flagged": np.zeros(0, bool)}
    if not len(cells):
        return empty
    p0 = periods.min()
    rel = periods - p0
    n_p = int(rel.max()) + 1
    totals = np.bincount(rel, minlength=n_p).astype(np.float64)
    out = {k: [] for k in empty}
    n_cells = int(cells.max()) + 1
    for lo in range(0, n_cells, _CELL_BLOCK):
        hi = min(lo + _CELL_BLOCK, n_cells)
        sel = (cells >= lo) & (cells < hi)
        flat = np.bincount((cells[sel] - lo) * n_p + rel[sel], minlength=(hi - lo) * n_p)
        counts = flat.reshape(hi - lo, n_p).astype(np.float64)
        expected = _block_baseline(counts, totals, alpha, floor)
        r, c = np.nonzero(counts)
        out["cell"].append(r + lo)
        out["period"].append(c + p0)
        out["count"].append(counts[r, c].astype(np.int64))
        out["expected"].append(expected[r, c])
    res = {k: np.concatenate(v) for k, v in out.items() if v}
    res["p_value"] = poisson.sf(res["count"] - 1, res["expected"])
    res["flagged"] = ((res["count"] >= min_count) & (res["count"] >= min_ratio * res["expected"])
                      & (res["p_value"] < max_p))
    return res
