"""The heat index: one documented number that ranks hot issues, and the parts it is made of.

``heat`` is the sum of seven parts, each from one property of the group:

=============== =========================================== ==========================================
part            value                                       why
=============== =========================================== ==========================================
tickets         ln(1 + tickets)                             how much was reported
callers         ln(1 + distinct callers)                    how many people (tickets when unknown)
support         0.5 ln(1 + likes/votes)                     how many more agree without writing
growth          0.5 clip(ln((1 + later half)/(1 + earlier   a rising issue outranks a fading one
                half)), -1, 1)
urgency         0.5 x share of urgent (紧急) tickets         danger to people comes first
concentration   0.5 / (1 + span in days / 30)               many tickets in a short time is "hot"
surge           0.1 x min(surge score, 10)                  unusual against the place's own baseline
=============== =========================================== ==========================================

Logarithms keep one very large group from drowning all others, and make
doubling the callers worth the same at any size. The ranking explains itself:
each hot issue lists its parts and names the largest ones.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["heat_parts", "explain"]

_LABELS = {
    "tickets": "工单多", "callers": "诉求人多", "support": "点赞/附议多", "growth": "呈上升趋势",
    "urgency": "含紧急诉求", "concentration": "时间集中", "surge": "较本地基线激增",
}


def heat_parts(times, n_callers, support, urgent_share, surge_score):
    """Return the heat parts of one group as an ordered dict of floats.

    Parameters
    ----------
    times : ndarray of datetime64
        Times of the group's tickets (NaT allowed).
    n_callers : int
    support : float
    urgent_share : float
    surge_score : float

    Examples
    --------
    >>> t = np.array(["2024-01-01", "2024-01-02", "2024-01-09"], dtype="datetime64[ns]")
    >>> parts = heat_parts(t, 3, 0.0, 0.0, 0.0)
    >>> round(parts["tickets"], 3), round(parts["growth"], 3)
    (1.386, -0.203)
    """
    n = len(times)
    valid = times[~np.isnat(times)]
    growth = 0.0
    span_days = 0.0
    if len(valid) >= 2:
        lo, hi = valid.min(), valid.max()
        mid = lo + (hi - lo) / 2
        later = int((valid > mid).sum())
        earlier = len(valid) - later
        growth = max(-1.0, min(1.0, math.log((1 + later) / (1 + earlier))))
        span_days = float((hi - lo) / np.timedelta64(1, "D"))
    return {
        "tickets": math.log1p(n),
        "callers": math.log1p(n_callers),
        "support": 0.5 * math.log1p(max(float(support), 0.0)),
        "growth": 0.5 * growth,
        "urgency": 0.5 * float(urgent_share),
        "concentration": 0.5 / (1.0 + span_days / 30.0),
        "surge": 0.1 * min(max(float(surge_score), 0.0), 10.0),
    }


def explain(parts, rank):
    """One plain-Chinese sentence naming the parts that put a group at ``rank``.

    Examples
    --------
    >>> explain({"tickets": 3.0, "callers": 2.9, "support": 1.2, "growth": 0.1, "urgency": 0.0,
    ...          "concentration": 0.2, "surge": 0.0}, 1)
    '第1位：热度 7.40，主要因为工单多（3.00）、诉求人多（2.90）、点赞/附议多（1.20）'
    """
    total = sum(parts.values())
    top = sorted((v, k) for k, v in parts.items() if v > 0)[::-1][:3]
    named = "、".join(f"{_LABELS[k]}（{v:.2f}）" for v, k in top)
    return f"第{rank}位：热度 {total:.2f}，主要因为{named}"
