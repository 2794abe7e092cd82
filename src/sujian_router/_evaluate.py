"""Evaluating a router on labelled tickets: metrics, coverage curve and a readable report.

The router sends a complaint automatically when its confidence reaches the
review threshold and to a human otherwise. :func:`coverage_curve` shows the
trade-off (share routed automatically against accuracy of that share) for
every possible threshold, :func:`choose_threshold` picks one for a target
accuracy, and :func:`evaluate` puts everything into an :class:`EvaluationReport`.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import TicketSchemaError

__all__ = ["EvaluationReport", "choose_suggest_threshold", "choose_threshold", "coverage_curve", "evaluate",
           "tier_summary", "unit_outcomes"]

_WORST_ERRORS = 20
_TOP_CONFUSIONS = 50
_FULL_CONFUSION_HTML = 30
_TEXT_CHARS = 200
_PLOT_NAME_CHARS = 16
_PLOT_CONFUSION_LABELS = 30
_PLOT_ANNOTATE_CELLS = 12
_CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
              "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "Arial Unicode MS")


def _as_arrays(confidence, correct):
    conf = np.asarray(confidence, dtype=float).ravel()
    ok = np.asarray(correct, dtype=bool).ravel()
    if conf.shape != ok.shape:
        raise ValueError(
            f"confidence and correct must have the same length, got {conf.size} and {ok.size}"
        )
    if conf.size and not np.all(np.isfinite(conf)):
        raise ValueError("confidence contains NaN or infinite values")
    return conf, ok


def coverage_curve(confidence, correct) -> pd.DataFrame:
    """Share routed automatically and its accuracy, for every distinct threshold.

    A ticket is routed automatically when ``confidence >= threshold``.

    Parameters
    ----------
    confidence : array-like of float
        Confidence of each top-1 prediction.
    correct : array-like of bool
        Whether each top-1 prediction is right.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold`` (the distinct confidences, ascending),
        ``automatic_share`` (non-increasing), ``accuracy_automatic`` and
        ``n_automatic`` (non-increasing). Empty input gives an empty frame.

    Examples
    --------
    >>> coverage_curve([0.9, 0.6, 0.6, 0.3], [True, True, False, False])
       threshold  automatic_share  accuracy_automatic  n_automatic
    0        0.3             1.00            0.500000            4
    1        0.6             0.75            0.666667            3
    2        0.9             0.25            1.000000            1
    """
    conf, ok = _as_arrays(confidence, correct)
    n = conf.size
    if n == 0:
        return pd.DataFrame(
            {
                "threshold": pd.Series([], dtype=float),
                "automatic_share": pd.Series([], dtype=float),
                "accuracy_automatic": pd.Series([], dtype=float),
                "n_automatic": pd.Series([], dtype="int64"),
            }
        )
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    hits = np.cumsum(ok[order])
    # last position of each run of equal confidence (descending order)
    last = np.flatnonzero(np.r_[c[1:] != c[:-1], True])
    n_auto = last + 1
    frame = pd.DataFrame(
        {
            "threshold": c[last],
            "automatic_share": n_auto / n,
            "accuracy_automatic": hits[last] / n_auto,
            "n_automatic": n_auto.astype("int64"),
        }
    )
    return frame.iloc[::-1].reset_index(drop=True)


def choose_threshold(confidence, correct, *, target_accuracy=0.9, min_share=0.0) -> float:
    """Lowest threshold whose automatically routed tickets reach a target accuracy.

    Parameters
    ----------
    confidence, correct : array-like
        As in :func:`coverage_curve` (use validation data, not the test set).
    target_accuracy : float, default 0.9
        Required accuracy of the tickets routed automatically.
    min_share : float, default 0.0
        Required share of tickets routed automatically.

    Returns
    -------
    float
        The lowest distinct confidence ``t`` such that the tickets with
        ``confidence >= t`` are at least ``target_accuracy`` accurate and at
        least ``min_share`` of all tickets. When no threshold qualifies (or
        there is no data), returns ``1.0``: every ticket below full confidence
        goes to review.

    Examples
    --------
    >>> conf = [0.95, 0.9, 0.8, 0.7, 0.4]
    >>> ok = [True, True, True, False, False]
    >>> choose_threshold(conf, ok, target_accuracy=0.75)
    0.7
    >>> choose_threshold(conf, ok, target_accuracy=1.0)
    0.8
    >>> choose_threshold(conf, ok, target_accuracy=1.0, min_share=0.8)
    1.0
    """
    if not 0.0 <= float(target_accuracy) <= 1.0:
        raise ValueError(f"target_accuracy must be in [0, 1], got {target_accuracy!r}")
    if not 0.0 <= float(min_share) <= 1.0:
        raise ValueError(f"min_share must be in [0, 1], got {min_share!r}")
    curve = coverage_curve(confidence, correct)
    good = curve[
        (curve["accuracy_automatic"] >= target_accuracy - 1e-12)
        & (curve["automatic_share"] >= min_share - 1e-12)
    ]
    if good.empty:
        return 1.0
    return float(good["threshold"].iloc[0])


def choose_suggest_threshold(confidence, in_top, *, auto, target_accuracy=0.9) -> float:
    """Lowest threshold below ``auto`` whose ``suggest`` band shows the right answer often enough.

    The ``suggest`` tier holds decisions with ``suggest <= confidence < auto``;
    it is right when the true unit is among the units shown to the dispatcher
    (``in_top``). The threshold is the lowest distinct confidence for which
    that band reaches ``target_accuracy``; ``auto`` itself (an empty band)
    when none does.

    Parameters
    ----------
    confidence : array-like of float
        Unit confidence of each decision (validation data).
    in_top : array-like of bool
        Whether the true unit is among the units the dispatcher is shown.
    auto : float
        The ``auto`` threshold already chosen.
    target_accuracy : float, default 0.9
        Required share of ``suggest`` decisions showing the true unit.

    Returns
    -------
    float

    Examples
    --------
    >>> conf = [0.95, 0.7, 0.6, 0.5, 0.2]
    >>> top = [True, True, True, False, False]
    >>> choose_suggest_threshold(conf, top, auto=0.9, target_accuracy=0.6)
    0.5
    >>> choose_suggest_threshold(conf, top, auto=0.9, target_accuracy=1.0)
    0.6
    """
    conf, ok = _as_arrays(confidence, in_top)
    if not 0.0 <= float(target_accuracy) <= 1.0:
        raise ValueError(f"target_accuracy must be in [0, 1], got {target_accuracy!r}")
    below = conf < auto
    curve = coverage_curve(conf[below], ok[below])
    good = curve[curve["accuracy_automatic"] >= target_accuracy - 1e-12]
    return float(auto) if good.empty else float(good["threshold"].iloc[0])


def unit_outcomes(router, tickets, *, n_shown=3):
    """Route labelled tickets and compare each decision's units with the true item's lead unit.

    The true unit is the lead unit the router's rules give the true item for
    the same text and jurisdiction, so a wrong item that names the right unit
    counts as right.

    Parameters
    ----------
    router : Router
        A router with a catalog.
    tickets : pandas.DataFrame
        ``text`` and ``label`` (item codes) columns; ``district``, ``street``,
        ``received_at`` and ``location`` are used when present.
    n_shown : int, default 3
        Units shown in the ``suggest`` tier.

    Returns
    -------
    decisions : list of RoutingDecision
    correct : ndarray of bool
        The decision's lead unit is the true unit.
    in_top : ndarray of bool
        The true unit is among the first ``n_shown`` unit candidates.
    """
    from ._text import prepare_text

    decisions = router.route_many(tickets, explain=False, received_at="2024-06-12 10:00")
    catalog = router.catalog
    locations = tickets["location"].tolist() if "location" in tickets.columns else [None] * len(tickets)
    truth = []
    for text, label, d, loc in zip(tickets["text"].tolist(), tickets["label"].tolist(), decisions, locations):
        if not isinstance(text, str) or label not in catalog:
            truth.append(None)
            continue
        ctx = (d.district, d.street, d.received_at, loc)
        truth.append(router._resolve(catalog.get(label), prepare_text(text).text, ctx)["lead_department"])
    return decisions, *_unit_hits(decisions, [() if t is None else (t,) for t in truth], n_shown)


def _unit_hits(decisions, accepted, n_shown):
    """``correct`` (lead unit accepted) and ``in_top`` (an accepted unit among the first ``n_shown``)."""
    correct = np.array([d.lead_department in ok for d, ok in zip(decisions, accepted)], dtype=bool)
    in_top = np.array([any(u.unit in ok for u in d.unit_candidates[:n_shown]) or d.lead_department in ok
                       for d, ok in zip(decisions, accepted)], dtype=bool)
    return correct, in_top


def tier_summary(decisions, accepted_units, *, n_shown=3) -> pd.DataFrame:
    """Share and accuracy of each tier for decisions with known acceptable lead units.

    Parameters
    ----------
    decisions : sequence of RoutingDecision
    accepted_units : sequence
        Per decision, the lead unit(s) a dispatcher would accept: a ``str``
        or a collection of ``str``.
    n_shown : int, default 3
        Units shown in the ``suggest`` tier (for ``accuracy_top``).

    Returns
    -------
    pandas.DataFrame
        One row per tier (``auto``, ``suggest``, ``manual``) and ``all``:
        ``n``, ``share``, ``accuracy`` (lead unit accepted) and
        ``accuracy_top`` (an accepted unit among the first ``n_shown``).
        Accuracies are NaN for an empty tier.

    Examples
    --------
    >>> from sujian_router import RoutingDecision
    >>> def dec(unit, tier):
    ...     return RoutingDecision(item_code="x", item_name="x", category=None, subcategory=None,
    ...                            confidence=0.5, candidates=(), lead_department=unit,
    ...                            co_departments=(), urgency="一般", tier=tier)
    >>> t = tier_summary([dec("A", "auto"), dec("B", "auto"), dec("C", "manual")], ["A", {"A"}, "C"])
    >>> t["n"].tolist(), t["accuracy"].round(2).tolist()
    ([2, 0, 1, 3], [0.5, nan, 1.0, 0.67])
    """
    decisions = list(decisions)
    accepted = [{a} if isinstance(a, str) else set(a) for a in accepted_units]
    if len(accepted) != len(decisions):
        raise ValueError(f"tier_summary: {len(decisions)} decisions but {len(accepted)} accepted-unit entries")
    correct, in_top = _unit_hits(decisions, accepted, n_shown)
    return _tier_frame(np.array([d.tier for d in decisions], dtype=object), correct, in_top)


def _tier_frame(tiers, correct, in_top):
    rows = []
    n = len(tiers)
    from ._decision import TIERS

    for name in (*TIERS, "all"):
        m = np.ones(n, dtype=bool) if name == "all" else tiers == name
        k = int(m.sum())
        rows.append({"tier": name, "n": k, "share": k / n if n else float("nan"),
                     "accuracy": float(correct[m].mean()) if k else float("nan"),
                     "accuracy_top": float(in_top[m].mean()) if k else float("nan")})
    return pd.DataFrame(rows)


def _mask(text):
    from ._tickets import _mask as mask

    text = mask(text)
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def _opt(x):
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics of a router on labelled tickets.

    Attributes
    ----------
    n : int
        Tickets evaluated.
    accuracy, macro_f1, weighted_f1 : float
        Top-1 metrics; F1 averages over the labels present in truth or prediction.
    top3_accuracy : float
        Share of tickets whose true label is among the top ``k`` candidates
        (the name keeps the default ``k=3``).
    k : int
        The ``k`` used for ``top3_accuracy``.
    department_accuracy : float or None
        Share of tickets (with a true label known to the catalog) whose
        predicted item has the same lead department role as the true item.
        None for free-label models or when no true label is in the catalog.
    n_unknown_labels : int
        Tickets whose true label is not in the model's catalog (0 without one).
    per_class : pandas.DataFrame
        ``label``, ``name`` (with a catalog), ``precision``, ``recall``,
        ``f1``, ``support``; sorted by support, largest first.
    confusion : pandas.DataFrame
        Counts, rows = true label, columns = predicted label, restricted to
        labels present in truth or prediction.
    top_confusions : pandas.DataFrame
        ``true``, ``predicted``, ``count`` for the off-diagonal cells, most
        frequent first (readable when there are thousands of labels).
    coverage : pandas.DataFrame
        The :func:`coverage_curve`.
    threshold : float
        The model's review threshold.
    automatic_share, accuracy_automatic : float or None
        Share of tickets at or above the threshold and their accuracy
        (None when none are).
    worst_errors : pandas.DataFrame
        The most confident wrong predictions: ``source_row``, ``text``
        (personal data masked), ``label``, ``predicted``, ``confidence``.
    target_accuracy : float or None
        The target passed to :func:`evaluate`.
    suggested_threshold : float or None
        :func:`choose_threshold` for ``target_accuracy`` on these tickets.
    unit_accuracy : float or None
        Share of tickets whose decision names the true item's lead unit
        (the item's own label for a free-label model); None when the model
        cannot route (it has no ``route_many``).
    tiers : pandas.DataFrame or None
        :func:`tier_summary`-style table: ``tier``, ``n``, ``share``,
        ``accuracy`` and ``accuracy_top`` (right answer among the three
        shown) for ``auto``, ``suggest``, ``manual`` and ``all``.
    unit_coverage : pandas.DataFrame or None
        :func:`coverage_curve` of the unit confidence against unit correctness.
    """

    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    top3_accuracy: float
    k: int
    department_accuracy: float | None
    n_unknown_labels: int
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    top_confusions: pd.DataFrame
    coverage: pd.DataFrame
    threshold: float
    automatic_share: float | None
    accuracy_automatic: float | None
    worst_errors: pd.DataFrame
    target_accuracy: float | None = None
    suggested_threshold: float | None = None
    unit_accuracy: float | None = None
    tiers: pd.DataFrame | None = None
    unit_coverage: pd.DataFrame | None = None

    def to_dict(self) -> dict:
        """Return the scalar metrics as a flat, JSON-serialisable dict.

        Examples
        --------
        >>> import numpy as np
        >>> class Fake:
        ...     catalog = None
        ...     review_threshold = 0.5
        ...     def rank(self, texts, k=5):
        ...         lab = np.array([["a", "b"]] * len(texts), dtype=object)
        ...         return lab, np.tile([0.8, 0.2], (len(texts), 1))
        >>> import pandas as pd
        >>> r = evaluate(Fake(), pd.DataFrame({"text": ["x", "y"], "label": ["a", "b"]}), k=2)
        >>> d = r.to_dict()
        >>> d["accuracy"], d["top3_accuracy"], d["automatic_share"]
        (0.5, 1.0, 1.0)
        """
        out = {
            "n": int(self.n),
            "accuracy": float(self.accuracy),
            "macro_f1": float(self.macro_f1),
            "weighted_f1": float(self.weighted_f1),
            "top3_accuracy": float(self.top3_accuracy),
            "k": int(self.k),
            "department_accuracy": _opt(self.department_accuracy),
            "n_unknown_labels": int(self.n_unknown_labels),
            "n_labels": int(len(self.per_class)),
            "threshold": float(self.threshold),
            "automatic_share": _opt(self.automatic_share),
            "accuracy_automatic": _opt(self.accuracy_automatic),
            "target_accuracy": _opt(self.target_accuracy),
            "suggested_threshold": _opt(self.suggested_threshold),
        }
        if self.tiers is not None:
            out["unit_accuracy"] = _opt(self.unit_accuracy)
            for row in self.tiers.to_dict("records"):
                if row["tier"] != "all":
                    out[f"{row['tier']}_share"] = _opt(row["share"])
                    out[f"{row['tier']}_accuracy"] = _opt(row["accuracy"])
                    out[f"{row['tier']}_accuracy_top3"] = _opt(row["accuracy_top"])
        return out

    def tier_records(self) -> dict:
        """The tier table and a sampled unit coverage curve as JSON-ready lists (empty without tiers).

        Returns
        -------
        dict
            ``{"tiers": [...], "unit_curve": [...]}``; each curve point has
            ``threshold``, ``automatic_share`` and ``accuracy_automatic``.
        """
        if self.tiers is None:
            return {"tiers": [], "unit_curve": []}
        tiers = [{k: (_opt(v) if isinstance(v, float) else v) for k, v in r.items()}
                 for r in self.tiers.to_dict("records")]
        curve = _coverage_sample(self.unit_coverage)[["threshold", "automatic_share", "accuracy_automatic"]]
        return {"tiers": tiers, "unit_curve": [{k: float(v) for k, v in r.items()} for r in curve.to_dict("records")]}

    def summary(self) -> str:
        """A short plain-text table of the main figures."""

        def fmt(x):
            return "n/a" if x is None else f"{x:.4f}"

        rows = [
            ("tickets", str(self.n)),
            ("labels", str(len(self.per_class))),
            ("accuracy", fmt(self.accuracy)),
            ("macro F1", fmt(self.macro_f1)),
            ("weighted F1", fmt(self.weighted_f1)),
            (f"top-{self.k} accuracy", fmt(self.top3_accuracy)),
            ("department accuracy", fmt(self.department_accuracy)),
            ("review threshold", f"{self.threshold:.4f}"),
            ("routed automatically", fmt(self.automatic_share)),
            ("accuracy of automatic", fmt(self.accuracy_automatic)),
        ]
        if self.n_unknown_labels:
            rows.append(("labels not in catalog", str(self.n_unknown_labels)))
        if self.tiers is not None:
            rows.append(("unit accuracy", fmt(self.unit_accuracy)))
            for r in self.tiers.to_dict("records"):
                if r["tier"] != "all":
                    rows.append((f"tier {r['tier']}: share / accuracy / top-3",
                                 " / ".join(fmt(_opt(r[c])) for c in ("share", "accuracy", "accuracy_top"))))
        if self.suggested_threshold is not None:
            rows.append(
                (f"threshold for {self.target_accuracy:.0%} accuracy", f"{self.suggested_threshold:.4f}")
            )
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    def to_html(self, path) -> None:
        """Write a self-contained HTML report (no scripts; every text escaped).

        Parameters
        ----------
        path : str or path-like
            Output file, written as UTF-8.
        """
        from pathlib import Path

        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="zh"><head><meta charset="utf-8">',
            "<title>sujian_router evaluation report</title>",
            "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;"
            "padding:2px 6px;text-align:right}td:first-child,th:first-child{text-align:left}"
            "caption{font-weight:bold;text-align:left}.txt{text-align:left;max-width:40em}</style>",
            "</head><body>",
            "<h1>Evaluation report</h1>",
            f"<pre>{esc(self.summary())}</pre>",
        ]
        metrics = pd.DataFrame(
            [(k, "" if v is None else v) for k, v in self.to_dict().items()],
            columns=["metric", "value"],
        )
        parts.append(_table(metrics, "Metrics"))
        if self.tiers is not None:
            parts.append(_table(self.tiers, "Tiers (accuracy: lead unit right; accuracy_top: among the three shown)"))
        parts.append("<h2>Coverage: automatic routing versus accuracy</h2>")
        parts.append(_coverage_svg(self.coverage, self.threshold))
        parts.append(_table(_coverage_sample(self.coverage), "Coverage at selected thresholds"))
        per_class = self.per_class
        caption = "Per class"
        if len(per_class) > 300:
            per_class = per_class.head(300)
            caption = f"Per class (300 most frequent of {len(self.per_class)})"
        parts.append(_table(per_class, caption, float_format="{:.3f}"))
        if 0 < len(self.confusion) <= _FULL_CONFUSION_HTML:
            parts.append(_table(self.confusion.reset_index(), "Confusion matrix (rows: true)"))
        parts.append(_table(self.top_confusions.head(_TOP_CONFUSIONS), "Most frequent confusions"))
        parts.append(_table(self.worst_errors, "Most confident errors (personal data masked)"))
        parts.append("</body></html>")
        Path(path).write_text("\n".join(parts), encoding="utf-8")

    # -- plots (matplotlib is imported only here) --------------------------------

    def _class_names(self, codes):
        """Axis labels for label codes: ``code name`` when the report has item names."""
        names = {}
        if "name" in self.per_class.columns:
            names = dict(zip(self.per_class["label"], self.per_class["name"]))
        out = []
        for code in codes:
            name = names.get(code) or ""
            if len(name) > _PLOT_NAME_CHARS:
                name = name[: _PLOT_NAME_CHARS - 1] + "…"
            out.append(f"{code} {name}" if name and name != code else str(code))
        return out

    def plot_per_class_f1(self, ax=None, top=None):
        """Horizontal bars of the F1 score of each label, most frequent label on top.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure is created when None.
        top : int, optional
            Show only the ``top`` most frequent labels (all by default).

        Returns
        -------
        matplotlib.axes.Axes
            One bar per label shown (``len(ax.patches)``), bar width = F1.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np, pandas as pd
        >>> class Fake:
        ...     catalog = None
        ...     review_threshold = 0.5
        ...     def rank(self, texts, k=5):
        ...         lab = np.array([["a", "b"]] * len(texts), dtype=object)
        ...         return lab, np.tile([0.8, 0.2], (len(texts), 1))
        >>> rep = evaluate(Fake(), pd.DataFrame({"text": ["x", "y", "z"], "label": ["a", "b", "a"]}))
        >>> ax = rep.plot_per_class_f1()
        >>> [round(float(p.get_width()), 2) for p in ax.patches]
        [0.8, 0.0]
        >>> import matplotlib.pyplot as plt; plt.close("all")
        """
        table = self.per_class
        if top is not None:
            top = int(top)
            if top < 1:
                raise ValueError(f"top must be at least 1, got {top}")
            table = table.head(top)
        ax = _axes(ax, figsize=(7, max(2.5, 0.28 * len(table) + 1.2)))
        y = np.arange(len(table))
        ax.barh(y, table["f1"].to_numpy(dtype=float), color="#1f77b4")
        ax.set_yticks(y, self._class_names(table["label"].tolist()))
        _use_cjk_font(ax.get_yticklabels())
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("F1")
        shown = f"{len(table)} of {len(self.per_class)}" if len(table) < len(self.per_class) else str(len(table))
        ax.set_title(f"F1 per label ({shown} labels, macro F1 {self.macro_f1:.3f})")
        ax.axvline(self.macro_f1, color="#d62728", linestyle="--", linewidth=1)
        return ax

    def plot_confusion(self, ax=None, labels=None, normalize=True):
        """Heatmap of the confusion matrix, rows = true label, columns = predicted.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure is created when None.
        labels : sequence of str, optional
            Labels to show, in order (rows and columns). By default the
            labels of the report, limited to the 30 with the most true tickets
            (readable even with thousands of duty items).
        normalize : bool, default True
            Divide each row by its number of true tickets (recall on the
            diagonal); rows without tickets stay 0. Otherwise show counts.

        Returns
        -------
        matplotlib.axes.Axes
            The image (``ax.images[0]``) has shape ``(len(labels), len(labels))``.

        Raises
        ------
        ValueError
            A label is not in the report's confusion matrix.
        """
        conf = self.confusion
        if labels is None:
            order = conf.sum(axis=1).sort_values(ascending=False, kind="stable")
            labels = order.index[:_PLOT_CONFUSION_LABELS].tolist()
        else:
            labels = [str(x) for x in labels]
            unknown = [x for x in labels if x not in conf.index]
            if unknown:
                raise ValueError(
                    f"plot_confusion: labels {unknown[:5]} are not in the confusion matrix "
                    f"(it has {len(conf.index)} labels, e.g. {conf.index[:5].tolist()})"
                )
        matrix = conf.loc[labels, labels].to_numpy(dtype=float)
        if normalize:
            totals = conf.loc[labels].sum(axis=1).to_numpy(dtype=float)[:, None]
            matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
        size = max(3.5, 0.45 * len(labels) + 2)
        ax = _axes(ax, figsize=(size + 1, size))
        image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalize else None)
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        ticks = np.arange(len(labels))
        names = self._class_names(labels)
        ax.set_xticks(ticks, names, rotation=90)
        ax.set_yticks(ticks, names)
        _use_cjk_font([*ax.get_xticklabels(), *ax.get_yticklabels()])
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("Confusion (share of true label)" if normalize else "Confusion (tickets)")
        if len(labels) <= _PLOT_ANNOTATE_CELLS:
            high = matrix.max() / 2 if matrix.size else 0
            for i in range(len(labels)):
                for j in range(len(labels)):
                    v = matrix[i, j]
                    ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                            fontsize=8, color="white" if v > high else "black")
        return ax

    def plot_coverage(self, ax=None):
        """The coverage curve: share routed automatically against its accuracy.

        Each point of the curve is one possible review threshold; the model's
        own threshold is marked.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure is created when None.

        Returns
        -------
        matplotlib.axes.Axes
            ``ax.lines[0]`` is the curve (x = ``coverage.automatic_share``,
            y = ``coverage.accuracy_automatic``); ``ax.lines[1]``, when some
            ticket reaches the threshold, is the model's operating point
            (``automatic_share``, ``accuracy_automatic``).
        """
        curve = self.coverage
        ax = _axes(ax, figsize=(6, 4))
        ax.plot(curve["automatic_share"].to_numpy(), curve["accuracy_automatic"].to_numpy(),
                color="#1f77b4", linewidth=2, label="every threshold")
        if self.accuracy_automatic is not None:
            ax.plot([self.automatic_share], [self.accuracy_automatic], marker="o", markersize=8,
                    linestyle="none", color="#d62728",
                    label=f"model threshold {self.threshold:.3f}: {self.automatic_share:.1%} automatic, "
                          f"{self.accuracy_automatic:.1%} accurate")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("share routed automatically")
        ax.set_ylabel("accuracy of the automatic share")
        ax.set_title(f"Coverage on {self.n} tickets")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
        return ax



def _axes(ax, figsize):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _cjk_family():
    """The first installed font family that has Chinese glyphs, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in installed), None)


def _use_cjk_font(texts):
    """Give Chinese tick labels a CJK font when one is installed (else leave them)."""
    texts = [t for t in texts if not t.get_text().isascii()]
    family = _cjk_family() if texts else None
    if family is None:
        return
    for t in texts:
        t.set_fontfamily([family, "sans-serif"])


def _table(df, caption, float_format="{:.4f}"):
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, (float, np.floating)):
                s = "" if math.isnan(v) else float_format.format(v)
                cells.append(f"<td>{s}</td>")
            elif isinstance(v, str) and len(v) > 30:
                cells.append(f'<td class="txt">{esc(v)}</td>')
            else:
                cells.append(f"<td>{esc(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _coverage_sample(curve):
    if len(curve) <= 20:
        return curve
    idx = np.unique(np.linspace(0, len(curve) - 1, 20).round().astype(int))
    return curve.iloc[idx].reset_index(drop=True)


def _coverage_svg(curve, threshold):
    """An inline SVG line chart: x = threshold, y = share (blue) and accuracy (red)."""
    w, h, pad = 480, 240, 30
    if curve.empty:
        return "<p>No tickets.</p>"

    def pts(col):
        xs = pad + curve["threshold"].to_numpy() * (w - 2 * pad)
        ys = h - pad - curve[col].to_numpy() * (h - 2 * pad)
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))

    tx = pad + float(threshold) * (w - 2 * pad)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
        'aria-label="coverage curve">'
        f'<rect x="{pad}" y="{pad}" width="{w - 2 * pad}" height="{h - 2 * pad}" fill="none" stroke="#999"/>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{pts("automatic_share")}"/>'
        f'<polyline fill="none" stroke="#d62728" stroke-width="2" points="{pts("accuracy_automatic")}"/>'
        f'<line x1="{tx:.1f}" y1="{pad}" x2="{tx:.1f}" y2="{h - pad}" stroke="#333" stroke-dasharray="4"/>'
        f'<text x="{pad}" y="{h - 8}" font-size="11">threshold 0 → 1 (dashed: model threshold)</text>'
        f'<text x="{pad}" y="{pad - 8}" font-size="11" fill="#1f77b4">share automatic</text>'
        f'<text x="{pad + 120}" y="{pad - 8}" font-size="11" fill="#d62728">accuracy of automatic</text>'
        "</svg>"
    )


def evaluate(model, tickets, *, k=3, target_accuracy=None) -> EvaluationReport:
    """Evaluate a router on labelled tickets.

    Parameters
    ----------
    model : Router
        Anything with ``rank(texts, k) -> (labels, probs)``, ``catalog``
        (a DutyCatalog or None) and ``review_threshold``.
    tickets : pandas.DataFrame
        ``text`` and ``label`` columns (as from :func:`read_tickets`);
        ``source_row`` is carried into ``worst_errors`` when present.
        Rows must have a non-empty label (use :func:`quarantine_tickets`).
    k : int, default 3
        Candidates counted for ``top3_accuracy``.
    target_accuracy : float, optional
        Also compute ``suggested_threshold`` with :func:`choose_threshold`.

    Returns
    -------
    EvaluationReport

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> class Fake:
    ...     catalog = None
    ...     review_threshold = 0.7
    ...     def rank(self, texts, k=5):
    ...         top = {"路灯": ("a", "b", 0.9), "噪音": ("b", "a", 0.6)}
    ...         rows = [top["路灯" if "路灯" in t else "噪音"] for t in texts]
    ...         lab = np.array([[r[0], r[1]] for r in rows], dtype=object)
    ...         return lab, np.array([[r[2], 1 - r[2]] for r in rows])
    >>> df = pd.DataFrame({"text": ["路灯坏了", "噪音扰民", "路灯不亮"], "label": ["a", "b", "b"]})
    >>> rep = evaluate(Fake(), df, k=2)
    >>> round(rep.accuracy, 3), rep.top3_accuracy, round(rep.automatic_share, 3)
    (0.667, 1.0, 0.667)
    """
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    missing = [c for c in ("text", "label") if c not in tickets.columns]
    if missing:
        raise TicketSchemaError(
            f"evaluate: expected columns ['text', 'label'], found {list(tickets.columns)}"
        )
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    texts = ["" if not isinstance(t, str) else t for t in tickets["text"].tolist()]
    truth = np.array(
        ["" if not isinstance(v, str) else v.strip() for v in tickets["label"].tolist()], dtype=object
    )
    rows = (
        tickets["source_row"].to_numpy()
        if "source_row" in tickets.columns
        else np.arange(1, len(tickets) + 1)
    )
    empty = np.flatnonzero(truth == "")
    if empty.size:
        shown = [int(r) for r in rows[empty[:5]]]
        raise TicketSchemaError(
            f"evaluate: {empty.size} ticket(s) have no label (rows {shown}); "
            "drop them first, e.g. with quarantine_tickets"
        )
    n = len(texts)
    if n == 0:
        raise TicketSchemaError("evaluate: no tickets to evaluate")
    labels, probs = model.rank(texts, k=k)
    labels = np.asarray(labels, dtype=object)
    probs = np.asarray(probs, dtype=float)
    if labels.shape[0] != n or probs.shape != labels.shape:
        raise ValueError(
            f"model.rank returned shapes {labels.shape} and {probs.shape} for {n} texts"
        )
    pred = labels[:, 0].astype(str).astype(object)
    conf = probs[:, 0]
    correct = pred == truth
    accuracy = float(correct.mean())
    topk = float((labels[:, :k] == truth[:, None]).any(axis=1).mean())
    present = np.array(sorted(set(truth) | set(pred)), dtype=object)
    macro = float(f1_score(truth, pred, labels=present, average="macro", zero_division=0))
    weighted = float(f1_score(truth, pred, labels=present, average="weighted", zero_division=0))
    p, r, f, s = precision_recall_fscore_support(
        truth, pred, labels=present, average=None, zero_division=0
    )
    catalog = getattr(model, "catalog", None)
    per_class = pd.DataFrame({"label": present.astype(str)})
    if catalog is not None:
        per_class["name"] = [catalog.get(c).name if c in catalog else "" for c in present]
    per_class["precision"] = p
    per_class["recall"] = r
    per_class["f1"] = f
    per_class["support"] = s.astype("int64")
    per_class = per_class.sort_values(["support", "label"], ascending=[False, True], kind="stable")
    per_class = per_class.reset_index(drop=True)

    index = {c: i for i, c in enumerate(present)}
    ti = np.fromiter((index[c] for c in truth), dtype=np.int64, count=n)
    pi = np.fromiter((index[c] for c in pred), dtype=np.int64, count=n)
    m = len(present)
    cm = np.zeros((m, m), dtype=np.int64)
    np.add.at(cm, (ti, pi), 1)
    confusion = pd.DataFrame(cm, index=pd.Index(present.astype(str), name="true"),
                             columns=pd.Index(present.astype(str), name="predicted"))
    off = ti != pi
    if off.any():
        pairs = pd.DataFrame({"true": truth[off].astype(str), "predicted": pred[off].astype(str)})
        top_conf = (
            pairs.groupby(["true", "predicted"], sort=True).size().rename("count").reset_index()
            .sort_values(["count", "true", "predicted"], ascending=[False, True, True], kind="stable")
            .reset_index(drop=True)
        )
    else:
        top_conf = pd.DataFrame({"true": pd.Series([], dtype=str),
                                 "predicted": pd.Series([], dtype=str),
                                 "count": pd.Series([], dtype="int64")})
    top_conf["count"] = top_conf["count"].astype("int64")

    department_accuracy = None
    n_unknown = 0
    if catalog is not None:
        known = np.array([t in catalog for t in truth])
        n_unknown = int((~known).sum())
        if known.any():
            lead = {}

            def role(code):
                if code not in lead:
                    lead[code] = catalog.get(code).lead_department if code in catalog else None
                return lead[code]

            same = [role(t) == role(q) for t, q in zip(truth[known], pred[known])]
            department_accuracy = float(np.mean(same))

    curve = coverage_curve(conf, correct)
    threshold = float(getattr(model, "review_threshold", 0.0))
    auto = conf >= threshold
    automatic_share = float(auto.mean())
    accuracy_automatic = float(correct[auto].mean()) if auto.any() else None
    suggested = None
    if target_accuracy is not None:
        suggested = choose_threshold(conf, correct, target_accuracy=target_accuracy)

    unit_acc, tiers, unit_curve = _tier_figures(model, tickets, truth)

    wrong = np.flatnonzero(~correct)
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:_WORST_ERRORS]
    worst = pd.DataFrame(
        {
            "source_row": rows[wrong],
            "text": [_mask(texts[i]) for i in wrong],
            "label": truth[wrong].astype(str),
            "predicted": pred[wrong].astype(str),
            "confidence": conf[wrong],
        }
    )
    return EvaluationReport(
        n=n,
        accuracy=accuracy,
        macro_f1=macro,
        weighted_f1=weighted,
        top3_accuracy=topk,
        k=k,
        department_accuracy=department_accuracy,
        n_unknown_labels=n_unknown,
        per_class=per_class,
        confusion=confusion,
        top_confusions=top_conf,
        coverage=curve,
        threshold=threshold,
        automatic_share=automatic_share,
        accuracy_automatic=accuracy_automatic,
        worst_errors=worst,
        target_accuracy=None if target_accuracy is None else float(target_accuracy),
        suggested_threshold=suggested,
        unit_accuracy=unit_acc,
        tiers=tiers,
        unit_coverage=unit_curve,
    )


def _tier_figures(model, tickets, truth):
    """Unit accuracy, tier table and unit coverage curve (``None`` each when the model cannot route)."""
    if not hasattr(model, "route_many"):
        return None, None, None
    frame = tickets.assign(text=["" if not isinstance(t, str) else t for t in tickets["text"].tolist()],
                           label=list(truth))
    if getattr(model, "catalog", None) is not None:
        decisions, correct, in_top = unit_outcomes(model, frame)
    else:  # free labels: the label is the answer
        decisions = model.route_many(frame, explain=False)
        correct = np.array([d.item_code == t for d, t in zip(decisions, truth)], dtype=bool)
        in_top = np.array([t in [c.code for c in d.candidates[:3]] for d, t in zip(decisions, truth)], dtype=bool)
    tiers = _tier_frame(np.array([d.tier for d in decisions], dtype=object), correct, in_top)
    unit_conf = np.array([d.unit_confidence for d in decisions], dtype=float)
    return float(correct.mean()), tiers, coverage_curve(unit_conf, correct)


def _json_default(obj):  # pragma: no cover - used by the CLI
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    raise TypeError(type(obj).__name__)


def report_json(report: EvaluationReport) -> str:
    """Serialise :meth:`EvaluationReport.to_dict` as JSON (UTF-8 text, keys in order)."""
    return json.dumps(report.to_dict(), ensure_ascii=False, default=_json_default)
