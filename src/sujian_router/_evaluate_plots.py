"""Plots of an :class:`~sujian_router.EvaluationReport` (matplotlib, imported only here).

Each function draws on a given Axes or on a new figure and returns the Axes,
so notebooks can arrange them and the HTML report can render them as SVG.
"""

from __future__ import annotations

import numpy as np

from ._report_html import new_axes, require_matplotlib, short, use_cjk_font

_PLOT_NAME_CHARS = 16
_PLOT_CONFUSION_LABELS = 30
_PLOT_ANNOTATE_CELLS = 12
_BLUE, _RED, _GREY = "#1f77b4", "#d62728", "#7f7f7f"
_TIER_COLOURS = {"auto": "#2ca02c", "suggest": "#ff7f0e", "manual": "#d62728"}


def class_names(report, codes):
    """Axis labels for label codes: ``code name`` when the report has item names."""
    names = {}
    if "name" in report.per_class.columns:
        names = dict(zip(report.per_class["label"], report.per_class["name"]))
    out = []
    for code in codes:
        name = short(names.get(code) or "", _PLOT_NAME_CHARS)
        out.append(f"{code} {name}" if name and name != code else str(code))
    return out


def _f1_bars(ax, table, names, mean, what, total):
    ax = new_axes(ax, figsize=(7, max(2.5, 0.28 * len(table) + 1.2)))
    y = np.arange(len(table))
    ax.barh(y, table["f1"].to_numpy(dtype=float), color=_BLUE)
    ax.set_yticks(y, names)
    use_cjk_font(ax.get_yticklabels())
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 (0 = never right, 1 = always right)")
    ax.set_ylabel(f"{what}, most tickets first")
    shown = f"{len(table)} of {total}" if len(table) < total else str(len(table))
    ax.set_title(f"F1 per {what} ({shown} {what}s; dashed: mean F1 {mean:.3f})")
    ax.axvline(mean, color=_RED, linestyle="--", linewidth=1)
    ax.grid(True, axis="x", alpha=0.3)
    return ax


def _head(table, top):
    if top is None:
        return table
    top = int(top)
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    return table.head(top)


def plot_per_class_f1(report, ax=None, top=None):
    """See :meth:`EvaluationReport.plot_per_class_f1`."""
    table = _head(report.per_class, top)
    return _f1_bars(ax, table, class_names(report, table["label"].tolist()), report.macro_f1, "label",
                    len(report.per_class))


def plot_per_unit_f1(report, ax=None, top=30):
    """See :meth:`EvaluationReport.plot_per_unit_f1`."""
    if report.per_unit is None or report.per_unit.empty:
        raise ValueError("the report has no per-unit figures (the model cannot route, or no true unit is known)")
    table = _head(report.per_unit, top)
    mean = float(report.per_unit["f1"].mean())
    names = [short(u, 20) for u in table["unit"]]
    return _f1_bars(ax, table, names, mean, "unit", len(report.per_unit))


def _confusion_labels(conf, labels):
    if labels is None:
        order = conf.sum(axis=1).sort_values(ascending=False, kind="stable")
        return order.index[:_PLOT_CONFUSION_LABELS].tolist()
    labels = [str(x) for x in labels]
    unknown = [x for x in labels if x not in conf.index]
    if unknown:
        raise ValueError(f"plot_confusion: labels {unknown[:5]} are not in the confusion matrix "
                         f"(it has {len(conf.index)} labels, e.g. {conf.index[:5].tolist()})")
    return labels


def heatmap(ax, matrix, row_names, col_names, *, normalize, title, xlabel, ylabel, bar_label=None, cmap="Blues"):
    """Draw a matrix as a heatmap with a colour bar, named ticks and (when small) annotated cells (NaN left blank)."""
    size = max(3.5, 0.45 * len(row_names) + 2)
    ax = new_axes(ax, figsize=(size + 1, size))
    colours = require_matplotlib().colormaps[cmap].with_extremes(bad="#e6e6e6")
    image = ax.imshow(matrix, cmap=colours, vmin=0, vmax=1 if normalize else None, aspect="auto")
    bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(bar_label or ("share of the row's tickets" if normalize else "tickets"))
    ax.set_xticks(np.arange(len(col_names)), col_names, rotation=90)
    ax.set_yticks(np.arange(len(row_names)), row_names)
    use_cjk_font([*ax.get_xticklabels(), *ax.get_yticklabels()])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if len(row_names) <= _PLOT_ANNOTATE_CELLS and len(col_names) <= _PLOT_ANNOTATE_CELLS:
        high = np.nanmax(matrix) / 2 if np.isfinite(matrix).any() else 0
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                v = matrix[i, j]
                if np.isnan(v):
                    continue
                ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                        fontsize=8, color="white" if v > high else "black")
    return ax


def plot_confusion(report, ax=None, labels=None, normalize=True):
    """See :meth:`EvaluationReport.plot_confusion`."""
    conf = report.confusion
    labels = _confusion_labels(conf, labels)
    matrix = conf.loc[labels, labels].to_numpy(dtype=float)
    if normalize:
        totals = conf.loc[labels].sum(axis=1).to_numpy(dtype=float)[:, None]
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    names = class_names(report, labels)
    title = "Confusion (share of each true label's tickets)" if normalize else "Confusion (tickets)"
    return heatmap(ax, matrix, names, names, normalize=normalize, title=title,
                   xlabel="predicted label", ylabel="true label")


def plot_coverage(report, ax=None):
    """See :meth:`EvaluationReport.plot_coverage`."""
    curve = report.coverage
    ax = new_axes(ax, figsize=(6, 4))
    ax.plot(curve["automatic_share"].to_numpy(), curve["accuracy_automatic"].to_numpy(),
            color=_BLUE, linewidth=2, label="every possible threshold")
    if report.accuracy_automatic is not None:
        ax.plot([report.automatic_share], [report.accuracy_automatic], marker="o", markersize=8,
                linestyle="none", color=_RED,
                label=f"model threshold {report.threshold:.3f}: {report.automatic_share:.1%} automatic, "
                      f"{report.accuracy_automatic:.1%} accurate")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("share of tickets routed automatically")
    ax.set_ylabel("accuracy of the automatic share")
    ax.set_title(f"Coverage on {report.n} tickets")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return ax


def plot_reliability(report, ax=None):
    """See :meth:`EvaluationReport.plot_reliability`."""
    table = report.reliability
    if table is None:
        raise ValueError("the report has no reliability table")
    ax = new_axes(ax, figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], color=_GREY, linestyle="--", linewidth=1, label="perfect calibration")
    used = table[table["n"] > 0]
    ax.plot(used["mean_confidence"].to_numpy(), used["accuracy"].to_numpy(), marker="o", color=_BLUE,
            linewidth=2, label="tickets binned by confidence")
    width = float(table["upper"].iloc[0] - table["lower"].iloc[0])
    share = table["n"].to_numpy(dtype=float) / max(int(table["n"].sum()), 1)
    ax.bar(table["lower"].to_numpy(), share, width=width, align="edge", color=_BLUE, alpha=0.15,
           label="share of tickets in the bin")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("confidence of the top prediction")
    ax.set_ylabel("accuracy (line) / share of tickets (bars)")
    ece = report.expected_calibration_error
    ax.set_title("Reliability" + ("" if ece is None else f" (expected calibration error {ece:.3f})"))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_tiers(report, ax=None):
    """See :meth:`EvaluationReport.plot_tiers`."""
    if report.tiers is None:
        raise ValueError("the report has no tier figures (the model cannot route)")
    rows = report.tiers[report.tiers["tier"] != "all"]
    ax = new_axes(ax, figsize=(6, 3.2))
    x = np.arange(len(rows))
    shares = rows["share"].fillna(0).to_numpy(dtype=float)
    ax.bar(x, shares, color=[_TIER_COLOURS.get(t, _GREY) for t in rows["tier"]])
    for xi, share, (_, r) in zip(x, shares, rows.iterrows()):
        acc = r["accuracy_top"] if r["tier"] == "suggest" else r["accuracy"]
        note = "" if np.isnan(acc) else f"\n{acc:.1%} right" + (" (top 3)" if r["tier"] == "suggest" else "")
        ax.text(xi, share + 0.02, f"{share:.1%}{note}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, rows["tier"].tolist())
    ax.set_ylim(0, 1.25)
    ax.set_xlabel("tier (auto: dispatched directly; suggest: three units shown; manual: dispatcher decides)")
    ax.set_ylabel("share of tickets")
    ax.set_title(f"Tiers on {report.n} tickets (unit accuracy {report.unit_accuracy:.1%})")
    ax.grid(True, axis="y", alpha=0.3)
    return ax
