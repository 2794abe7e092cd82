"""A self-contained HTML page for a :class:`HotspotReport` (inline SVG charts, no scripts, no downloads)."""

from __future__ import annotations

from html import escape

__all__ = ["render", "bar_chart"]

_MAX_ISSUES = 30        # hot issues drawn with a timeline and samples
_MAX_PERIODS = 12       # latest periods shown in the hottest-classes tables
_MAX_AREAS = 25
_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;color:#222;
max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}h3{font-size:15px;margin:18px 0 4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;
vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}.why{color:#555;font-size:12px}
.sample{font-size:12px;color:#333;background:#fafafa;border-left:3px solid #bbb;margin:3px 0;padding:2px 6px}
.issue{margin-bottom:18px}.period{display:inline-block;vertical-align:top;margin-right:16px}.flag{color:#b00;font-weight:bold}svg text{font-size:11px}
"""


def bar_chart(labels, values, *, x_label, y_label, width=560, height=180):
    """A vertical bar chart as inline SVG with labelled axes.

    Examples
    --------
    >>> svg = bar_chart(["06-03", "06-10"], [2, 5], x_label="周期", y_label="工单数")
    >>> svg.startswith("<svg") and "工单数" in svg and svg.count("<rect") == 2
    True
    """
    left, bottom, top, right = 44, 42, 10, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax = max(max(values, default=0), 1)
    n = max(len(values), 1)
    bw = plot_w / n
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>')
    for tick in sorted({0, vmax // 2, vmax}):
        y = top + plot_h - plot_h * tick / vmax
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    step = max(1, n // 8)
    for i, (lab, v) in enumerate(zip(labels, values)):
        h = plot_h * v / vmax
        x = left + i * bw
        parts.append(f'<rect x="{x + bw * 0.1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bw * 0.8, 1):.1f}" '
                     f'height="{h:.1f}" fill="#c0392b"><title>{escape(str(lab))}: {v}</title></rect>')
        if i % step == 0:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle">'
                         f'{escape(str(lab))}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text transform="translate(12,{top + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
                 f'{escape(y_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(header, rows):
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for v in row:
            cls = ' class="n"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{escape(_text(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _text(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}"
    return str(v)


def _day(t):
    return t.strftime("%Y-%m-%d") if t is not None else ""


def _overview(report):
    rows = []
    for h in report.hotspots:
        surge = ""
        if h.surge:
            surge = f"{h.surge['count']} vs {h.surge['expected']}" + (" ⚑" if h.surge.get("flagged") else "")
        support = int(h.support) if float(h.support).is_integer() else h.support
        rows.append((h.rank, h.title, round(h.heat, 2), h.n_tickets, h.n_callers, support,
                     f"{h.item_code} {h.item_name}", h.lead_department, "、".join(h.co_departments[:3]),
                     " / ".join(x for x in (h.district, h.street) if x), f"{_day(h.start)} – {_day(h.end)}", surge))
    return _table(["排名", "热点问题", "热度", "工单", "诉求人", "点赞", "主要事项", "牵头单位", "协办单位",
                   "区 / 街道", "时间范围", "峰值周期工单 vs 基线"], rows)


def _issue_sections(report):
    out = []
    for h in report.hotspots[:_MAX_ISSUES]:
        series = report.timelines.get(h.rank, [])
        span = f"{_day(series[0][0])} 至 {_day(series[-1][0])}" if series else ""
        chart = bar_chart([_day(t)[5:] if len(series) <= 60 else _day(t)[:7] for t, _ in series],
                          [n for _, n in series], x_label=f"周期起始日期（{span}，每 {report.period}）",
                          y_label="工单数") if series else "<p>（无受理时间）</p>"
        samples = "".join(f'<div class="sample">{escape(s)}</div>' for s in h.samples)
        out.append(f'<div class="issue"><h3>{h.rank}. {escape(h.title)}（{h.n_tickets} 件）</h3>'
                   f'<div class="why">{escape(h.why)}；牵头：{escape(h.lead_department or "未定")}</div>'
                   f"{chart}{samples}</div>")
    return "".join(out)


def _areas(report):
    rows = report.area_counts[:_MAX_AREAS]
    labels = [" ".join(x for x in (d, s) if x) or "（未识别）" for d, s, _ in rows]
    chart = bar_chart(labels, [n for _, _, n in rows], x_label="区 / 街道", y_label="工单数", width=900,
                      height=220)
    return chart + _table(["区", "街道", "工单数"], [(d or "（未识别）", s or "", n) for d, s, n in rows])


def _classes(report):
    periods = sorted({c.period_start for c in report.top_classes})
    shown = periods[-_MAX_PERIODS:]
    out = [f"<p>共 {len(periods)} 个周期，显示最近 {len(shown)} 个（完整表见 JSON 的 top_classes）。</p>"]
    for p in reversed(shown):
        rows = [(c.rank, f"{c.item_code} {c.item_name}", c.lead_department, c.n_tickets)
                for c in report.top_classes if c.period_start == p]
        out.append(f'<div class="period"><h3>{_day(p)} 起的 {report.period}</h3>'
                   + _table(["名次", "事项", "牵头单位", "工单数"], rows) + "</div>")
    return "".join(out)


def _surges(report):
    rows = [(f"{s.item_code} {s.item_name}", " / ".join(x for x in (s.district, s.street) if x),
             _day(s.period_start), s.count, round(s.expected, 2), f"{s.p_value:.2g}", round(s.score, 1))
            for s in report.surges[:30]]
    if not rows:
        return "<p>没有周期达到激增标准。</p>"
    return _table(["事项", "区 / 街道", "周期起始", "工单数", "基线", "p 值", "异常分"], rows)


def render(report):
    """Return the whole HTML page of ``report``."""
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    return (
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>热点问题报告</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>热点问题报告（办好一类事）</h1><p>共 {report.n_tickets:,} 件工单，{len(report.hotspots)} 个热点问题，"
        f"{len(report.surges)} 个激增；周期 {escape(report.period)}。样本文本中的个人信息已遮盖。</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
        + "<h2>热点问题排名</h2>" + _overview(report)
        + "<h2>各热点问题的时间线与样本</h2>" + _issue_sections(report)
        + "<h2>按区、街道统计</h2>" + _areas(report)
        + "<h2>每个周期最热的 10 类诉求</h2>" + _classes(report)
        + "<h2>激增（事项 × 区域 × 周期）</h2>" + _surges(report)
        + "</body></html>"
    )
