"""The evaluation HTML report: headline figures once, then each view as a plot beside its table."""

from __future__ import annotations

from ._report_html import esc, figure, page, sample_rows, table

_TOP_CONFUSIONS = 30
_PER_CLASS_ROWS = 300
_BARS = 30
_HEATMAP_LABELS = 20


def _fmt(x):
    return "n/a" if x is None else f"{x:.4f}"


def summary_rows(report) -> list:
    """``(name, value, meaning)`` of the headline figures, in reading order."""
    r = report
    rows = [
        ("tickets", str(r.n), "labelled tickets evaluated"),
        ("labels", str(len(r.per_class)), "labels present in truth or prediction"),
        ("accuracy", _fmt(r.accuracy), "top prediction is the true label"),
        ("macro F1", _fmt(r.macro_f1), "F1 averaged over labels, each label counting once"),
        ("weighted F1", _fmt(r.weighted_f1), "F1 averaged over labels, weighted by tickets"),
        (f"top-{r.top_k} accuracy", _fmt(r.top_k_accuracy), f"true label among the first {r.top_k} candidates"),
        ("department accuracy", _fmt(r.department_accuracy), "predicted item has the true item's lead role"),
        ("review threshold", f"{r.threshold:.4f}", "model's confidence threshold for automatic routing"),
        ("routed automatically", _fmt(r.automatic_share), "share at or above the threshold"),
        ("accuracy of automatic", _fmt(r.accuracy_automatic), "accuracy of that share"),
        ("calibration error", _fmt(r.expected_calibration_error), "mean gap between confidence and accuracy"),
    ]
    if r.n_unknown_labels:
        rows.append(("labels not in catalog", str(r.n_unknown_labels), "true labels the catalog does not know"))
    if r.tiers is not None:
        rows.append(("unit accuracy", _fmt(r.unit_accuracy), "decision names the true item's lead unit"))
        for t in r.tiers.to_dict("records"):
            if t["tier"] != "all":
                values = " / ".join(_fmt(_nan_none(t[c])) for c in ("share", "accuracy", "accuracy_top"))
                rows.append((f"tier {t['tier']}: share / accuracy / top-3", values,
                             "unit right; top-3: true unit among the three shown"))
    if r.suggested_threshold is not None:
        rows.append((f"threshold for {r.target_accuracy:.0%} accuracy", f"{r.suggested_threshold:.4f}",
                     "lowest threshold whose automatic share reaches the target"))
    return rows


def _nan_none(x):
    return None if x is None or x != x else float(x)


def _headline(report):
    import pandas as pd

    frame = pd.DataFrame(summary_rows(report), columns=["figure", "value", "meaning"])
    return table(frame, "Headline figures")


def _tier_section(report):
    from ._evaluate_plots import plot_tiers

    if report.tiers is None:
        return []
    return ["<h2>Tiers</h2>",
            '<div class="row">',
            figure(plot_tiers, "Share of tickets in each tier and how often it is right", report,
                   figsize=(6.5, 3.4)),
            table(report.tiers, "Tiers (accuracy: lead unit right; accuracy_top: among the three shown)"),
            "</div>"]


def _coverage_section(report):
    from ._evaluate_plots import plot_coverage, plot_reliability

    return ["<h2>Coverage and calibration</h2>",
            '<div class="row">',
            figure(plot_coverage, "Each point is one review threshold: raising it routes fewer tickets "
                   "automatically, more accurately", report, figsize=(5.6, 4.2)),
            figure(plot_reliability, "A well-calibrated model's points lie on the diagonal", report,
                   figsize=(5.2, 4.2)),
            "</div>",
            '<div class="row">',
            table(sample_rows(report.coverage), "Coverage at selected thresholds"),
            table(report.reliability, "Reliability bins", float_format="{:.3f}"),
            "</div>"]


def _bars_height(n):
    return max(2.6, 0.26 * min(n, _BARS) + 1.3)


def _f1_sections(report):
    from ._evaluate_plots import plot_per_class_f1, plot_per_unit_f1

    per_class = report.per_class
    caption = "Per label"
    if len(per_class) > _PER_CLASS_ROWS:
        per_class = per_class.head(_PER_CLASS_ROWS)
        caption = f"Per label ({_PER_CLASS_ROWS} most frequent of {len(report.per_class)})"
    parts = ["<h2>F1 per label</h2>",
             figure(plot_per_class_f1, f"The {_BARS} labels with the most true tickets", report, top=_BARS,
                    figsize=(8, _bars_height(len(report.per_class)))),
             table(per_class, caption, float_format="{:.3f}")]
    if report.per_unit is not None and len(report.per_unit):
        parts += ["<h2>F1 per unit</h2>",
                  figure(plot_per_unit_f1, f"The {_BARS} lead units with the most true tickets", report,
                         top=_BARS, figsize=(8, _bars_height(len(report.per_unit)))),
                  table(report.per_unit.head(_PER_CLASS_ROWS), "Per lead unit", float_format="{:.3f}")]
    return parts


def _confused_labels(report, n):
    """Up to ``n`` labels: those of the most frequent confusions first, then the labels with the most tickets."""
    labels = []
    pairs = report.top_confusions
    for t, p in zip(pairs["true"], pairs["predicted"]):
        labels += [x for x in (t, p) if x not in labels]
    by_support = report.confusion.sum(axis=1).sort_values(ascending=False, kind="stable").index
    labels += [x for x in by_support if x not in labels]
    return labels[:n]


def _confusion_section(report):
    from ._evaluate_plots import plot_confusion

    labels = _confused_labels(report, _HEATMAP_LABELS)
    size = max(4.5, 0.36 * len(labels) + 3.2)
    return ["<h2>Confusions</h2>",
            figure(plot_confusion, f"Rows: true label, columns: predicted label; the {len(labels)} labels of the "
                   "most frequent confusions; the diagonal is each label's recall", report, labels=labels,
                   figsize=(size + 1.6, size)),
            table(report.top_confusions.head(_TOP_CONFUSIONS), "Most frequent confusions (true → predicted)")]


def render_html(report) -> str:
    """The whole evaluation report as one HTML document."""
    parts = ["<h1>Evaluation report</h1>",
             f'<p class="lead">{esc(report.n)} labelled tickets, {esc(len(report.per_class))} labels; '
             f"review threshold {report.threshold:.3f}.</p>",
             _headline(report),
             *_tier_section(report),
             *_coverage_section(report),
             *_f1_sections(report),
             *_confusion_section(report),
             "<h2>Most confident errors</h2>",
             table(report.worst_errors, "Most confident errors (personal data masked)")]
    return page("sujian_router evaluation report", parts)
