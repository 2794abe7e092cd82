"""Plots and the HTML page of a :class:`~sujian_router.MonitorReport` (matplotlib imported only when drawing)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._evaluate_plots import heatmap
from ._report_html import esc, figure, new_axes, page, short, table, use_cjk_font

#: Week label of rows whose date is missing or unreadable (they are kept and counted there).
UNDATED = "undated"

_RATES = (("accuracy", "dispatch accuracy (派单准确率)", "#1f77b4"),
          ("automatic_share", "automatic share", "#2ca02c"),
          ("automatic_accuracy", "accuracy of the automatic share", "#17becf"),
          ("redispatch_rate", "re-dispatch rate (改派)", "#d62728"),
          ("return_rate", "return rate (退单)", "#9467bd"))
_TIER_COLOURS = {"auto": "#2ca02c", "suggest": "#ff7f0e", "manual": "#d62728", "review": "#d62728"}
_HEAT_UNITS = 15
_MIX_CATEGORIES = 8
_MAX_WEEK_TICKS = 26


def _dated(report):
    return report.weekly[report.weekly["week"] != UNDATED]


def _week_ticks(ax, weeks, axis="x"):
    """Name the weeks on an axis, at most about 26 names (a long file shows every k-th week)."""
    weeks = list(weeks)
    step = max(1, -(-len(weeks) // _MAX_WEEK_TICKS))
    where = np.arange(0, len(weeks), step)
    if axis == "x":
        ax.set_xticks(where, [weeks[i] for i in where], rotation=45 if step == 1 else 90,
                      ha="right" if step == 1 else "center")
    else:
        ax.set_yticks(where, [weeks[i] for i in where])


def _week_axis(ax, weeks):
    _week_ticks(ax, weeks)
    ax.set_xlabel("week (its Monday)")


def _weekly_axes(report, ax, figsize):
    """The dated weekly rows, the Axes and the x positions of a per-week line plot."""
    weekly = _dated(report)
    if weekly.empty:
        raise ValueError("no dated week")
    return weekly, new_axes(ax, figsize=figsize), np.arange(len(weekly))


def plot_weekly_rates(report, ax=None):
    """Dispatch accuracy, automatic share (and its accuracy), re-dispatch and return rates per week."""
    weekly, ax, x = _weekly_axes(report, ax, (8, 4))
    for col, label, colour in _RATES:
        values = weekly[col].to_numpy(dtype=float)
        if not np.isnan(values).all():
            ax.plot(x, values, marker="o", color=colour, label=label, linewidth=2)
    _week_axis(ax, weekly["week"])
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share of the week's tickets")
    ax.set_title("Operator metrics per week")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    use_cjk_font(ax.get_legend().get_texts())
    return ax


def plot_tier_weeks(report, ax=None):
    """Stacked bars: each tier's share of the week's tickets."""
    tiers = report.tiers[~report.tiers["week"].isin(["all", UNDATED])]
    if tiers.empty:
        raise ValueError("no dated week")
    shares = tiers.pivot(index="week", columns="tier", values="share").reindex(_dated(report)["week"])
    ax = new_axes(ax, figsize=(8, 3.6))
    x = np.arange(len(shares))
    bottom = np.zeros(len(shares))
    for tier in [t for t in report.tiers["tier"].unique() if t in shares.columns]:
        values = shares[tier].fillna(0).to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, label=tier, color=_TIER_COLOURS.get(tier, "#7f7f7f"))
        bottom += values
    _week_axis(ax, shares.index)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of the week's tickets")
    ax.set_title("Tiers per week")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def plot_unit_weeks(report, ax=None):
    """Heatmap of dispatch accuracy per true unit (rows, most tickets first) and week (columns)."""
    if report.units.empty:
        raise ValueError("no ticket has a known true unit")
    units = report.units["unit"].head(_HEAT_UNITS).tolist()
    weeks = [w for w in _dated(report)["week"]]
    grid = report.unit_weeks.pivot(index="unit", columns="week", values="accuracy").reindex(index=units, columns=weeks)
    ax = heatmap(ax, grid.to_numpy(dtype=float), [short(u, 18) for u in units], weeks, normalize=True,
                 title=f"Dispatch accuracy of the {len(units)} units with the most tickets (grey: no ticket)",
                 xlabel="week (its Monday)", ylabel="true unit", bar_label="dispatch accuracy", cmap="RdYlGn")
    _week_ticks(ax, weeks)
    return ax


def plot_drift(report, ax=None):
    """Out-of-vocabulary share and category drift per week."""
    weekly, ax, x = _weekly_axes(report, ax, (8, 3.6))
    ax.plot(x, weekly["oov_share"].to_numpy(dtype=float), marker="o", color="#8c564b",
            label="out-of-vocabulary words\n(mean share per ticket)")
    ax.plot(x, weekly["category_drift"].to_numpy(dtype=float), marker="s", color="#e377c2",
            label="category mix distance\nfrom the baseline\n(0 = same, 1 = disjoint)")
    _week_axis(ax, weekly["week"])
    top = np.nanmax(weekly[["oov_share", "category_drift"]].to_numpy(dtype=float), initial=0.0)
    ax.set_ylim(0, max(0.1, min(1.0, top * 1.3)))
    ax.set_ylabel("share / distance")
    ax.set_title("Drift per week")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return ax


def _top_mix(report):
    mix = report.category_mix.drop(index=[UNDATED], errors="ignore")
    top = mix.drop(index="baseline").mean().sort_values(ascending=False, kind="stable").index[:_MIX_CATEGORIES]
    out = mix[top].copy()
    out["(other)"] = (1 - out.sum(axis=1)).clip(lower=0)
    return out


def plot_category_mix(report, ax=None):
    """Stacked bars of the routed category mix per week, the baseline first."""
    mix = _top_mix(report)
    if len(mix) < 2:
        raise ValueError("no dated week")
    ax = new_axes(ax, figsize=(8, 4))
    x = np.arange(len(mix))
    bottom = np.zeros(len(mix))
    colours = [f"C{i}" for i in range(10)]
    for i, cat in enumerate(mix.columns):
        values = mix[cat].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, label=short(cat, 14), color=colours[i % 10] if cat != "(other)" else "#cccccc")
        bottom += values
    _week_ticks(ax, mix.index)
    ax.set_xlabel(f"week (its Monday); baseline: {report.drift_baseline}")
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of the week's tickets")
    ax.set_title("Routed category mix")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    use_cjk_font(ax.get_legend().get_texts())
    return ax


def plot_confused_units(report, ax=None):
    """Horizontal bars of the unit pairs confused most often, split by direction."""
    pairs = report.confused_units
    if pairs.empty:
        raise ValueError("no confusion between units")
    ax = new_axes(ax, figsize=(8, max(2.5, 0.32 * len(pairs) + 1.2)))
    y = np.arange(len(pairs))
    ax.barh(y, pairs["a_to_b"], color="#1f77b4", label="true first unit, routed to the second")
    ax.barh(y, pairs["b_to_a"], left=pairs["a_to_b"], color="#ff7f0e", label="true second unit, routed to the first")
    ax.set_yticks(y, [f"{short(a, 14)} ↔ {short(b, 14)}" for a, b in zip(pairs["unit_a"], pairs["unit_b"])])
    use_cjk_font(ax.get_yticklabels())
    ax.invert_yaxis()
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("tickets routed to the other unit of the pair")
    ax.set_ylabel("unit pair")
    ax.set_title("Units most confused with each other")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def _headline(report):
    acc = "n/a" if report.accuracy is None else f"{report.accuracy:.1%}"
    rows = [("rows", str(report.n), "every row of the file, dated or not"),
            ("weeks", str(int((report.weekly["week"] != UNDATED).sum())), "ISO weeks with at least one ticket"),
            ("source", report.source, "routed file, or labelled tickets routed by the monitor"),
            ("true unit from", report.truth, "unit column, item label through the rules, or none"),
            ("dispatch accuracy (派单准确率)", acc, "routed lead unit is the true unit"),
            ("automatic share", f"{report.automatic_share:.1%}", "tickets in the auto tier"),
            ("rows with a bad date", str(len(report.bad_dates)), "counted in week 'undated', listed below"),
            ("category baseline", report.drift_baseline, "what the weekly category mix is compared with")]
    return table(pd.DataFrame(rows, columns=["figure", "value", "meaning"]), "Overall")


def render_html(report) -> str:
    """The whole monitoring report as one HTML document."""
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in report.notes)
    tiers = report.tiers.copy()
    parts = ["<h1>Routing monitor</h1>",
             f'<p class="lead">{esc(report.n)} tickets; weeks start on Monday; rows with a bad date are kept '
             "in week <em>undated</em>.</p>", notes, _headline(report),
             "<h2>Week by week</h2>",
             figure(plot_weekly_rates, "Rates per week, for the weeks with tickets in date order (a line is missing "
                    "when the file cannot measure it)", report,
                    figsize=(10, 4.2)),
             table(report.weekly, "Per week", float_format="{:.3f}"),
             "<h2>Tiers</h2>", figure(plot_tier_weeks, "Share of each tier per week", report, figsize=(9, 3.6)),
             table(tiers, "Tiers per week (accuracy: lead unit right)", float_format="{:.3f}"),
             "<h2>Units</h2>", figure(plot_unit_weeks, "Dispatch accuracy per unit and week", report,
                                      figsize=(9, 6.5)),
             table(report.units, "Dispatch accuracy per true unit", float_format="{:.3f}"),
             "<h2>Units most confused with each other</h2>",
             figure(plot_confused_units, "Both directions of each pair", report, figsize=(9, 5)),
             table(report.confused_units, "Unit pairs (a_to_b: true a routed to b)"),
             "<h2>Drift</h2>",
             figure(plot_drift, "Out-of-vocabulary share against the model's vocabulary; category mix against "
                    f"{report.drift_baseline}", report, figsize=(9, 3.8)),
             figure(plot_category_mix, "Routed category mix (the largest categories; the rest as other)", report,
                    figsize=(10, 4.2)),
             table(_top_mix(report).T.rename_axis("category").reset_index(),
                   "Category mix per week (share of the week's tickets; the largest categories)", float_format="{:.3f}"),
             "<h2>Rows with a bad date</h2>",
             table(report.bad_dates, "Rows whose date is missing or unreadable (kept, in week 'undated')")]
    return page("sujian_router routing monitor", parts)
