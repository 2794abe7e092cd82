"""``find_hotspots``: from tickets to ranked hot issues, surges and the hottest classes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ._collect import Routing, collect
from ._group import group_tickets, merge_named_groups
from ._heat import explain, heat_parts
from ._mentions import ADMIN_NAMES as _ADMIN
from ._mentions import merge_aliases
from ._report import ClassCount, Hotspot, HotspotReport
from ._surge import Periods, Surge, surge_table

__all__ = ["find_hotspots"]

_COORDINATOR_DISTRICT = "区政务服务和数据管理局"
_COORDINATOR_CITY = "市政务服务和数据管理局"
_TITLE_STOP = frozenset(
    "问题 投诉 反映 关于 请求 要求 希望 建议 咨询 请问 严重 相关 部门 政府 领导 市民 业主 居民 群众 我们 "
    "小区 处理 解决 一直 多次 现在 目前 能否 何时 什么 为什么 没有 进行 情况 影响 存在 长期 恳请 尽快 "
    "市长 书记 您好 你好 尊敬 谢谢 感谢 phonemask idcardmask bankcardmask platemask emailmask".split()
)


def _check(period, top, min_tickets, max_gap, area, level, engine):
    """Validate the parameters once; return the parsed period and gap."""
    if engine not in ("local", "dask"):
        raise ValueError(f"engine must be 'local' or 'dask', got {engine!r}")
    periods = Periods.parse(period)
    if top is not None and (not isinstance(top, int) or top < 1):
        raise ValueError(f"top must be a positive integer or None, got {top!r}")
    if not isinstance(min_tickets, int) or min_tickets < 2:
        raise ValueError(f"min_tickets must be an integer >= 2, got {min_tickets!r}")
    if area not in ("street", "district"):
        raise ValueError(f"surge_area must be 'street' or 'district', got {area!r}")
    if level not in ("item", "subcategory"):
        raise ValueError(f"surge_level must be 'item' or 'subcategory', got {level!r}")
    gap = None
    if max_gap is not None:
        try:
            gap = pd.Timedelta(max_gap).to_timedelta64().astype("m8[ns]")
        except ValueError:
            raise ValueError(f"max_gap must be a duration such as '60D', got {max_gap!r}") from None
    return periods, gap


def _codes(column):
    """Integer codes (-1 for missing) and category labels of a categorical column."""
    col = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    return col.cat.codes.to_numpy().astype(np.int64), [str(c) for c in col.cat.categories]


def _cells(table, area, level):
    """Integer cell (item or subcategory x area) per ticket, and each cell's (code, district, street).

    Works on category codes, so no per-ticket strings are built.
    """
    ic, items = _codes(table["item_code"])
    if level == "subcategory":
        subs = [c.rsplit("-", 1)[0] if c.count("-") == 2 else c for c in items]
        labels, inverse = np.unique(np.array(subs + [""], dtype=object), return_inverse=True)
        ic = np.where(ic >= 0, inverse[ic], -1)
        items = [str(x) for x in labels]
    dc, districts = _codes(table["district"])
    sc, streets = _codes(table["street"])
    if area == "district":
        sc = np.full(len(sc), -1)
    key = ((ic + 1) * (len(districts) + 1) + dc + 1) * (len(streets) + 1) + sc + 1
    uniq, cell = np.unique(key, return_inverse=True)
    parts = []
    for k in uniq.tolist():
        k, s = divmod(k, len(streets) + 1)
        i, d = divmod(k, len(districts) + 1)
        parts.append((items[i - 1] if i else "", districts[d - 1] if d else "", streets[s - 1] if s else ""))
    empty = np.array([p[0] == "" for p in parts])
    cell = np.where(empty[cell], -1, cell)
    return cell, parts


def _item_names(table):
    """Item code -> item name, from the distinct pairs only."""
    pairs = table[["item_code", "item_name"]].drop_duplicates()
    return {str(c): str(n) for c, n in zip(pairs["item_code"], pairs["item_name"]) if str(c)}


def _surges(table, periods, pidx, area, level, catalog, surge_kw, names):
    """Flagged surges (most unusual first), the cell of each ticket and the raw table of the surge model."""
    cell, parts = _cells(table, area, level)
    res = surge_table(cell, pidx, **surge_kw)
    out = {}
    for i in np.flatnonzero(res["flagged"]):
        code, district, street = parts[int(res["cell"][i])]
        p = int(res["period"][i])
        pv = float(res["p_value"][i])
        score = min(50.0, -np.log10(max(pv, 1e-300)))
        out[(int(res["cell"][i]), p)] = Surge(
            code, names.get(code) or _subcat_name(code, catalog), district or None, street or None,
            periods.start(p), periods.end(p), int(res["count"][i]), float(res["expected"][i]), pv, float(score))
    ranked = sorted(out.values(), key=lambda s: (-s.score, -s.count, s.item_code, s.district or "",
                                                 s.street or "", s.period_start))
    return tuple(ranked), cell, res


def _subcat_name(code, catalog):
    """Name of a subcategory code (surges counted per subcategory)."""
    return next((it.subcategory for it in catalog.items if it.subcategory_code == code), "")


def _similarity_texts(table):
    """What each ticket's problem is: its title (or opening words) without place or administrative names."""
    out = []
    for text, place in zip(table["text"].tolist(), table["place"].astype(str).tolist()):
        head = text.split("\n", 1)[0]
        t = _ADMIN.sub(" ", head if len(head) >= 4 else text[:60])
        if place:
            t = t.replace(place, " ")
        out.append(t)
    return out


def _text_groups(table, gap, min_tickets, thresholds):
    """Group labels from place and text (inputs with text)."""
    keys = table["place"].astype(str).to_numpy()
    title_keys = table["title_place"].astype(str).to_numpy()
    alias = merge_aliases(set(keys.tolist()) | set(title_keys.tolist()))
    canon = np.array([alias.get(k, k) for k in keys.tolist()], dtype=object)
    canon_title = np.array([alias.get(k, k) for k in title_keys.tolist()], dtype=object)
    texts = _similarity_texts(table)
    table["place"] = pd.Categorical(canon)
    blocks = table["category"].astype(str).to_numpy()
    labels = group_tickets(texts, canon, blocks, table["time"].to_numpy(), conflict_keys=canon_title,
                           place_threshold=thresholds[0], dup_threshold=thresholds[1], max_gap=gap,
                           min_size=min_tickets)
    return merge_named_groups(labels, table["text"].tolist(), canon, table["time"].to_numpy())


_KEY = np.int64(1 << 24)  # period numbers stay far below this (hours since 2000 reach it only after 1900 years)


def _lookup(keys, values, query, default):
    """``values`` at the positions of ``query`` in the sorted ``keys`` (``default`` where absent)."""
    pos = np.clip(np.searchsorted(keys, query), 0, max(len(keys) - 1, 0))
    hit = (len(keys) > 0) & (keys[pos] == query) if len(keys) else np.zeros(len(query), bool)
    return np.where(hit, values[pos] if len(keys) else default, default)


def _surge_groups(cell, pidx, res, min_tickets):
    """Group labels from flagged surges (inputs without text): a run of flagged periods of one cell."""
    fc = res["cell"][res["flagged"]].astype(np.int64)
    fp = res["period"][res["flagged"]].astype(np.int64)
    order = np.lexsort((fp, fc))
    fc, fp = fc[order], fp[order]
    new_run = np.r_[True, (fc[1:] != fc[:-1]) | (fp[1:] != fp[:-1] + 1)] if len(fc) else np.zeros(0, bool)
    run = np.cumsum(new_run) - 1
    keys = fc * _KEY + fp
    labels = _lookup(keys, run, cell.astype(np.int64) * _KEY + pidx, -1)
    labels = np.where((cell >= 0) & (pidx >= 0), labels, -1)
    sizes = np.bincount(labels[labels >= 0], minlength=max(len(fc), 1))
    return np.where((labels >= 0) & (sizes[np.maximum(labels, 0)] >= min_tickets), labels, -1)


def _mode(values):
    """Most common non-empty value; ties go to the smallest (deterministic)."""
    counts = Counter(v for v in values if v)
    if not counts:
        return ""
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)


def _leads(sub, district, directory):
    """Lead unit (item lead, or the coordinator when duties are split) and co-units of one group."""
    leads = Counter(v for v in sub["lead"].astype(str) if v)
    co = Counter(u for v in sub["co"].astype(str) for u in v.split("|") if u)
    if not leads:
        return "", ()
    ranked = sorted(leads.items(), key=lambda kv: (-kv[1], kv[0]))
    lead = ranked[0][0]
    if len(ranked) >= 2 and ranked[0][1] < 0.5 * sum(leads.values()) and ranked[1][1] >= 2:
        role = _COORDINATOR_DISTRICT if district else _COORDINATOR_CITY
        lead = directory.resolve(role, district=district or None)
    others = Counter({k: v for k, v in leads.items()}) + co
    co_units = [u for u, _ in sorted(others.items(), key=lambda kv: (-kv[1], kv[0])) if u != lead]
    return lead, tuple(co_units[:6])


def _title(place, texts, tokenizer):
    """Place plus the words most of the group's texts share."""
    df = Counter()
    for t in texts:
        head = _ADMIN.sub(" ", t.split("\n", 1)[0])
        head = head.replace(place, " ") if place else head
        df.update({w for w in tokenizer(head) if len(w) >= 2 and w not in _TITLE_STOP
                   and not w.isdigit() and (not place or w not in place)})
    words = [w for w, _ in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[:3]]
    head = place or ""
    return (head + "：" if head else "") + "、".join(words)


def _group_surge(rows, code, ctx):
    """The group's busiest period against the baseline of its dominant item in its area.

    ``count`` is the group's tickets in that period, ``expected`` the cell's
    baseline (the surge model's floor when the cell had no history), so a
    new group that appears all at once has a high score.
    """
    from scipy.stats import poisson

    pidx = ctx["pidx"][rows]
    valid = pidx[pidx >= 0]
    if not len(valid):
        return None
    periods_, counts = np.unique(valid, return_counts=True)
    peak = int(periods_[np.argmax(counts)])  # the earliest of the busiest periods
    count = int(counts.max())
    cells = ctx["cell"][rows][ctx["arrays"]["item"][rows] == code]
    cell = int(np.bincount(cells[cells >= 0]).argmax()) if (cells >= 0).any() else -1
    kw = ctx["surge_kw"]
    exp_keys, exp_values = ctx["expected"]
    expected = max(float(_lookup(exp_keys, exp_values, np.array([cell * _KEY + peak]), kw["floor"])[0]), kw["floor"])
    pv = float(poisson.sf(count - 1, expected))
    flagged = count >= kw["min_count"] and count >= kw["min_ratio"] * expected and pv < kw["max_p"]
    periods = ctx["periods"]
    return {"period_start": periods.start(peak).strftime("%Y-%m-%d %H:%M"),
            "period_end": periods.end(peak).strftime("%Y-%m-%d %H:%M"), "count": count,
            "expected": round(float(expected), 3), "p_value": float(f"{pv:.3g}"),
            "score": round(min(50.0, -np.log10(max(pv, 1e-300))), 2), "flagged": bool(flagged)}


def _arrays(table):
    """The per-ticket columns the heat needs, as numpy arrays (empty callers become -1)."""
    caller, callers = _codes(table["caller"])
    if "" in callers:
        caller = np.where(caller == callers.index(""), -1, caller)
    item, items = _codes(table["item_code"])
    return {"time": table["time"].to_numpy(), "caller": caller, "support": table["support"].to_numpy(float),
            "urgent": table["urgent"].to_numpy(bool), "item": item, "items": items,
            "ticket_id": table["ticket_id"].to_numpy()}


def _score(rows, ctx):
    """Heat, its parts, the surge and the dominant item of one group (numpy only: every group is scored)."""
    arr = ctx["arrays"]
    item = arr["item"][rows]
    code = int(np.bincount(item[item >= 0]).argmax()) if (item >= 0).any() else -1
    callers = arr["caller"][rows]
    n_callers = len(np.unique(callers[callers >= 0])) if (callers >= 0).any() else len(rows)
    surge = _group_surge(rows, code, ctx)
    parts = heat_parts(arr["time"][rows], n_callers, float(arr["support"][rows].sum()),
                       float(arr["urgent"][rows].mean()), surge["score"] if surge else 0.0)
    times = arr["time"][rows]
    start = times[~np.isnat(times)].min() if (~np.isnat(times)).any() else np.datetime64("NaT")
    return {"rows": rows, "heat": round(sum(parts.values()), 4), "parts": parts, "surge": surge,
            "code": arr["items"][code] if code >= 0 else "", "n_callers": n_callers,
            "key": (-round(sum(parts.values()), 4), -len(rows),
                    start if not np.isnat(start) else np.datetime64("9999-12-31"), min(arr["ticket_id"][rows]))}


def _one_hotspot(scored, table, ctx):
    """Build the (unranked) hot issue of one scored group."""
    sub = table.iloc[scored["rows"]]
    code = scored["code"]
    district = _mode(sub["district"].astype(str))
    street = _mode(sub[sub["district"].astype(str) == district]["street"].astype(str))
    lead, co = _leads(sub, district, ctx["directory"])
    place = _mode(sub["place"].astype(str))
    texts = [t for t in sub["text"].tolist() if t]
    title = _title(place, texts, ctx["tokenizer"]) if texts else ""
    return dict(
        title=title or f"{place or street or district or ''} {ctx['names'].get(code, '')}".strip(),
        item_code=code, item_name=ctx["names"].get(code, ""), lead_department=lead, co_departments=co,
        place=place or None, district=district or None, street=street or None,
        start=_pytime(sub["time"].min()), end=_pytime(sub["time"].max()), n_tickets=len(sub),
        n_callers=scored["n_callers"], support=float(sub["support"].sum()), heat=scored["heat"],
        surge=scored["surge"], ticket_ids=tuple(sub["ticket_id"].astype(str)), heat_parts=scored["parts"],
        samples=tuple(texts[:3]),
    )


def _pytime(t):
    return None if pd.isna(t) else t.to_pydatetime()


def _rank(groups, table, ctx, top):
    """Score every group, keep the ``top`` hottest and build only those; returns hot issues and their rows.

    Order: heat, then more tickets, then earlier start, then the smallest
    ticket id, so the ranking does not depend on the input's row order.
    """
    scored = sorted((_score(rows, ctx) for rows in groups), key=lambda g: g["key"])
    out, rows = [], {}
    for r, g in enumerate(scored[:top] if top else scored, start=1):
        h = _one_hotspot(g, table, ctx)
        rows[r] = g["rows"]
        out.append(Hotspot(rank=r, why=explain(h["heat_parts"], r), **h))
    return tuple(out), rows


def _top_classes(table, pidx, periods, names, n=10):
    """The ``n`` most reported items of every period (counted on category codes)."""
    code, codes = _codes(table["item_code"])
    lead, leads = _codes(table["lead"])
    ok = (pidx >= 0) & (code >= 0)
    frame = pd.DataFrame({"p": pidx[ok], "code": code[ok], "lead": lead[ok]})
    counts = frame.groupby(["p", "code"], sort=True).size().reset_index(name="n")
    top_lead = frame.groupby(["p", "code", "lead"], sort=True).size().reset_index(name="k")
    top_lead = top_lead.sort_values(["p", "code", "k", "lead"], ascending=[True, True, False, True])
    top_lead = top_lead.drop_duplicates(["p", "code"])[["p", "code", "lead"]]
    counts = counts.merge(top_lead, on=["p", "code"])
    counts["name"] = [codes[c] for c in counts["code"]]
    counts = counts[counts["name"] != ""].sort_values(["p", "n", "name"], ascending=[True, False, True])
    out = []
    for p, grp in counts.groupby("p", sort=True):
        for r, row in enumerate(grp.head(n).itertuples(index=False), start=1):
            unit = leads[row.lead] if row.lead >= 0 else ""
            out.append(ClassCount(periods.start(p), r, row.name, names.get(row.name, ""), unit, int(row.n)))
    return tuple(out)


def _timelines(rows_by_rank, pidx, periods):
    """Tickets per period of each hot issue, from its first to its last period."""
    out = {}
    for rank, rows in rows_by_rank.items():
        counts = Counter(int(i) for i in pidx[rows] if i >= 0)
        if counts:
            out[rank] = [(periods.start(p), counts.get(p, 0)) for p in range(min(counts), max(counts) + 1)]
    return out


def _area_counts(table):
    """Tickets per (district, street), most first, ties by name."""
    dc, districts = _codes(table["district"])
    sc, streets = _codes(table["street"])
    key, counts = np.unique((dc + 1) * (len(streets) + 1) + sc + 1, return_counts=True)
    rows = []
    for k, n in zip(key.tolist(), counts.tolist()):
        d, s = divmod(k, len(streets) + 1)
        rows.append((districts[d - 1] if d else "", streets[s - 1] if s else "", n))
    rows.sort(key=lambda r: (-r[2], r[0], r[1]))
    return tuple((d or None, s or None, n) for d, s, n in rows)


def find_hotspots(tickets, *, router=None, column_mapping=None, encoding=None, period="7D", top=None,
                  min_tickets=3, max_gap="90D", surge_area="street", surge_level="item",
                  place_threshold=0.1, dup_threshold=0.5, surge_min_count=5, surge_max_p=1e-4,
                  chunk_size=50_000, engine="local", scheduler=None, catalog=None,
                  progress=False) -> HotspotReport:
    """Find hot issues: many tickets about one problem at one place in one period, ranked by heat.

    Parameters
    ----------
    tickets : str, path-like or pandas.DataFrame
        A ticket export (CSV/XLSX with ``text``, optionally ``title``,
        ``received_at``, ``district``, ``street``, ``ticket_id``, ``caller``,
        ``support``) or an already routed file (``route-file`` output, with
        ``item_code``; add ``received_at`` for periods). Files are read in
        chunks of ``chunk_size`` rows.
    router : Router or str or path-like, optional
        Routes tickets that are not routed yet (the default model when None;
        loaded only if needed).
    column_mapping : dict, optional
        Export column -> canonical name, as in :func:`read_tickets`, e.g.
        ``{"posted_at": "received_at", "user": "caller", "likes": "support"}``.
    encoding : str, optional
        CSV encoding (detected when None).
    period : str
        Period of the surge model and the class tables: ``"7D"``, ``"1D"``, ``"M"``.
    top : int, optional
        Keep only the ``top`` hottest issues (all when None).
    min_tickets : int
        Fewest tickets of a hot issue.
    max_gap : str or None
        A hot issue is cut where its tickets are further apart than this.
    surge_area : {"street", "district"}
    surge_level : {"item", "subcategory"}
        The cells of the surge model.
    place_threshold, dup_threshold : float
        Text-similarity thresholds of same-place links and of near duplicates.
    surge_min_count, surge_max_p
        A surge needs at least this many tickets and at most this Poisson tail.
    chunk_size : int
    engine : {"local", "dask"}
        Where tickets that need routing are routed: here, or chunk by chunk
        on a Dask cluster (``pip install sujian-router[dask]``; a local
        2-process cluster unless ``scheduler`` gives an address).
    scheduler : str, optional
    catalog : DutyCatalog, optional
        Names items and provides the department directory (bundled by default).
    progress : bool
        Show a progress bar while reading.

    Returns
    -------
    HotspotReport

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [("丽发新城小区旁搅拌站夜间噪音扰民", "08-01-001", f"2024-05-0{i} 23:00") for i in range(1, 6)]
    >>> rows += [("公交车绕路", "04-01-001", "2024-05-02 09:00")]
    >>> df = pd.DataFrame(rows, columns=["text", "item_code", "received_at"])
    >>> report = find_hotspots(df)
    >>> [(h.rank, h.place, h.n_tickets, h.ticket_ids) for h in report.hotspots]
    [(1, '丽发新城', 5, ('0', '1', '2', '3', '4'))]
    """
    periods, gap = _check(period, top, min_tickets, max_gap, surge_area, surge_level, engine)
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    routing = Routing(router, engine=engine, scheduler=scheduler)
    return _find(tickets, routing, column_mapping, encoding, periods, top, min_tickets, gap, surge_area,
                 surge_level, (place_threshold, dup_threshold),
                 dict(min_count=surge_min_count, max_p=surge_max_p, min_ratio=2.0, floor=0.2), chunk_size,
                 catalog, progress)


def _find(tickets, routing, mapping, encoding, periods, top, min_tickets, gap, area, level, thresholds, surge_kw,
          chunk_size, catalog, progress):
    """The steps of :func:`find_hotspots` after validation."""
    from .._catalog import load_catalog
    from .._tokenize import Tokenizer

    catalog = catalog if catalog is not None else load_catalog()
    directory = catalog.departments
    table, notes = collect(tickets, routing=routing, catalog=catalog, directory=directory,
                           column_mapping=mapping, encoding=encoding, chunk_size=chunk_size, progress=progress)
    pidx = periods.index(table["time"].to_numpy())
    unknown = sorted(c for c in table["item_code"].cat.categories if c and c not in catalog)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 5 else "")
        notes.append(f"item codes not in the catalog (no name or units): {shown}")
    names = _item_names(table)
    surges, cell, res = _surges(table, periods, pidx, area, level, catalog, surge_kw, names)
    if (table["text"] != "").any():
        labels = _text_groups(table, gap, min_tickets, thresholds)
    else:
        labels = _surge_groups(cell, pidx, res, min_tickets)
        notes.append("no text: a hot issue is a run of surging periods of one item in one area")
    exp_keys = res["cell"].astype(np.int64) * _KEY + res["period"].astype(np.int64)
    order = np.argsort(exp_keys, kind="stable")
    expected = (exp_keys[order], res["expected"][order])
    ctx = dict(directory=directory, cell=cell, pidx=pidx, expected=expected, periods=periods, names=names,
               surge_kw=surge_kw, tokenizer=Tokenizer(backend="rjieba"), arrays=_arrays(table))
    order = np.argsort(labels, kind="stable")
    order = order[labels[order] >= 0]
    bounds = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1], True]) if len(order) else []
    groups = [order[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    hotspots, rows_by_rank = _rank(groups, table, ctx, top)
    return HotspotReport(
        hotspots=hotspots, surges=surges, top_classes=_top_classes(table, pidx, periods, names),
        area_counts=_area_counts(table), period=periods.spec, n_tickets=len(table),
        timelines=_timelines(rows_by_rank, pidx, periods), notes=tuple(notes),
    )
