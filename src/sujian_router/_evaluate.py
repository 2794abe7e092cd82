"""Evaluating a router on labelled tickets: metrics, coverage curve and a readable report.

The router sends a complaint automatically when its confidence reaches the
review threshold and to a human otherwise. :func:`coverage_curve` shows the
trade-off (share routed automatically against accuracy of that share) for
every possible threshold, :func:`choose_threshold` picks one for a target
accuracy, and :func:`evaluate` puts everything into an :class:`EvaluationReport`.
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .exceptions import TicketSchemaError

__all__ = ["EvaluationReport", "RankMetrics", "TierOutcomes", "choose_suggest_threshold", "choose_threshold",
           "coverage_curve", "evaluate", "rank_metrics", "reliability_table", "tier_outcomes", "tier_summary",
           "unit_outcomes"]

_WORST_ERRORS = 20
_TEXT_CHARS = 200
_RELIABILITY_BINS = 10
_SHOWN_UNITS = 3


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


def _true_units(router, tickets, decisions):
    """The lead unit the router's rules give each true item for the same text and place (None: unknown item)."""
    from ._text import prepare_text

    catalog = router.catalog
    locations = tickets["location"].tolist() if "location" in tickets.columns else [None] * len(tickets)
    out = []
    for text, label, d, loc in zip(tickets["text"].tolist(), tickets["label"].tolist(), decisions, locations):
        if not isinstance(text, str) or label not in catalog:
            out.append(None)
            continue
        ctx = (d.district, d.street, d.received_at, loc)
        out.append(router._resolve(catalog.get(label), prepare_text(text).text, ctx)["lead_department"])
    return out


def _unit_hits(decisions, accepted, n_shown):
    """``correct`` (lead unit accepted) and ``in_top`` (an accepted unit among the first ``n_shown``)."""
    correct = np.array([d.lead_department in ok for d, ok in zip(decisions, accepted)], dtype=bool)
    in_top = np.array([any(u.unit in ok for u in d.unit_candidates[:n_shown]) or d.lead_department in ok
                       for d, ok in zip(decisions, accepted)], dtype=bool)
    return correct, in_top


@dataclass(frozen=True, eq=False)
class TierOutcomes:
    """Each routed ticket's unit outcome: the step behind the tier table, unit accuracy and per-unit F1.

    ``train`` calls :func:`tier_outcomes` on validation rows to choose the
    tier thresholds; :func:`evaluate` calls it on test rows.

    Attributes
    ----------
    decisions : tuple of RoutingDecision
    true_units, predicted_units : tuple of str or None
        The true item's lead unit and the decision's lead unit (for a
        free-label model: the true and the predicted label).
    correct : numpy.ndarray of bool
        The decision's unit is the true unit.
    in_top : numpy.ndarray of bool
        The true unit is among the units shown to a dispatcher.
    unit_confidence : numpy.ndarray of float
    """

    decisions: tuple
    true_units: tuple
    predicted_units: tuple
    correct: np.ndarray
    in_top: np.ndarray
    unit_confidence: np.ndarray

    @property
    def accuracy(self) -> float:
        """Share of decisions naming the true unit (NaN without decisions)."""
        return float(self.correct.mean()) if self.correct.size else float("nan")

    def table(self, thresholds=None) -> pd.DataFrame:
        """:func:`tier_summary`-style table; tiers re-decided with ``thresholds`` (a TierThresholds) when given."""
        if thresholds is None:
            tiers = np.array([d.tier for d in self.decisions], dtype=object)
        else:
            tiers = np.array([thresholds.tier_for(c) for c in self.unit_confidence], dtype=object)
        return _tier_frame(tiers, self.correct, self.in_top)

    def coverage(self) -> pd.DataFrame:
        """:func:`coverage_curve` of the unit confidence against unit correctness."""
        return coverage_curve(self.unit_confidence, self.correct)

    def per_unit(self) -> pd.DataFrame:
        """Precision, recall, F1 and support of each unit (tickets with an unknown true unit left out)."""
        known = [i for i, t in enumerate(self.true_units) if t is not None]
        truth = np.array([self.true_units[i] for i in known], dtype=object)
        pred = np.array([self.predicted_units[i] or "(none)" for i in known], dtype=object)
        return _f1_table(truth, pred, "unit")

    def to_dict(self) -> dict:
        """Counts and accuracy as a JSON-ready dict."""
        return {"n": len(self.decisions), "unit_accuracy": _opt(self.accuracy),
                "n_unknown_truth": sum(t is None for t in self.true_units)}


def tier_outcomes(router, tickets, *, n_shown=_SHOWN_UNITS, received_at="2024-06-12 10:00") -> TierOutcomes:
    """Route labelled tickets and compare each decision's unit with the true one.

    With a catalog the true unit is the lead unit the router's rules give the
    true item for the same text and jurisdiction, so a wrong item that names
    the right unit counts as right; a free-label model is right when it names
    the label.

    Parameters
    ----------
    router : Router
    tickets : pandas.DataFrame
        ``text`` and ``label`` columns; ``district``, ``street``,
        ``received_at`` and ``location`` are used when present.
    n_shown : int, default 3
        Units shown in the ``suggest`` tier.
    received_at : str, optional
        Reception time of tickets without one (deadlines do not affect units).

    Returns
    -------
    TierOutcomes
    """
    decisions = router.route_many(tickets, explain=False, received_at=received_at)
    truth = tickets["label"].tolist()
    if getattr(router, "catalog", None) is not None:
        true_units = _true_units(router, tickets, decisions)
        predicted = [d.lead_department for d in decisions]
        correct, in_top = _unit_hits(decisions, [() if t is None else (t,) for t in true_units], n_shown)
    else:  # free labels: the label is the answer
        true_units = [t if isinstance(t, str) and t else None for t in truth]
        predicted = [d.item_code for d in decisions]
        correct = np.array([p == t for p, t in zip(predicted, truth)], dtype=bool)
        in_top = np.array([t in [c.code for c in d.candidates[:n_shown]] for d, t in zip(decisions, truth)],
                          dtype=bool)
    conf = np.array([d.unit_confidence for d in decisions], dtype=float)
    return TierOutcomes(tuple(decisions), tuple(true_units), tuple(predicted), correct, in_top, conf)


def unit_outcomes(router, tickets, *, n_shown=_SHOWN_UNITS):
    """Route labelled tickets and compare each decision's units with the true item's lead unit.

    The tuple form of :func:`tier_outcomes` (for callers that unpack it).

    Returns
    -------
    decisions : list of RoutingDecision
    correct : ndarray of bool
        The decision's lead unit is the true unit.
    in_top : ndarray of bool
        The true unit is among the first ``n_shown`` unit candidates.
    """
    out = tier_outcomes(router, tickets, n_shown=n_shown)
    return list(out.decisions), out.correct, out.in_top


def tier_summary(decisions, accepted_units, *, n_shown=_SHOWN_UNITS) -> pd.DataFrame:
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
    from ._decision import TIERS

    rows = []
    n = len(tiers)
    for name in (*TIERS, "all"):
        m = np.ones(n, dtype=bool) if name == "all" else tiers == name
        k = int(m.sum())
        rows.append({"tier": name, "n": k, "share": k / n if n else float("nan"),
                     "accuracy": float(correct[m].mean()) if k else float("nan"),
                     "accuracy_top": float(in_top[m].mean()) if k else float("nan")})
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class RankMetrics:
    """Top-1 and top-k outcomes of ranked labels against the truth: the step :func:`evaluate` and ``train`` share.

    Attributes
    ----------
    top_k : int
    threshold : float
        Confidence at or above which a ticket counts as routed automatically.
    predicted : numpy.ndarray of object
    confidence : numpy.ndarray of float
    correct, in_top_k : numpy.ndarray of bool
    """

    top_k: int
    threshold: float
    predicted: np.ndarray
    confidence: np.ndarray
    correct: np.ndarray
    in_top_k: np.ndarray

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy."""
        return float(self.correct.mean())

    @property
    def top_k_accuracy(self) -> float:
        """Share of tickets whose true label is among the first ``top_k``."""
        return float(self.in_top_k.mean())

    @property
    def automatic_share(self) -> float:
        """Share of tickets with ``confidence >= threshold``."""
        return float((self.confidence >= self.threshold).mean())

    @property
    def accuracy_automatic(self):
        """Accuracy of the automatic share (None when it is empty)."""
        auto = self.confidence >= self.threshold
        return float(self.correct[auto].mean()) if auto.any() else None

    def to_dict(self, prefix="") -> dict:
        """The four figures as a JSON-ready dict, keys prefixed with ``prefix`` (e.g. ``"val_"``)."""
        return {f"{prefix}accuracy": self.accuracy, f"{prefix}top_k_accuracy": self.top_k_accuracy,
                f"{prefix}automatic_share": self.automatic_share,
                f"{prefix}accuracy_automatic": self.accuracy_automatic}


def rank_metrics(labels, probs, truth, *, threshold=0.0) -> RankMetrics:
    """Compare ranked labels with the truth.

    Parameters
    ----------
    labels : array-like of shape (n, k)
        Ranked labels per ticket, best first.
    probs : array-like of shape (n, k)
        Their probabilities.
    truth : array-like of shape (n,)
    threshold : float, default 0.0
        Review threshold on the top-1 probability.

    Returns
    -------
    RankMetrics

    Examples
    --------
    >>> m = rank_metrics([["a", "b"], ["a", "b"]], [[0.9, 0.1], [0.6, 0.4]], ["a", "b"], threshold=0.7)
    >>> m.accuracy, m.top_k_accuracy, m.automatic_share, m.accuracy_automatic
    (0.5, 1.0, 0.5, 1.0)
    """
    labels = np.asarray(labels, dtype=object)
    probs = np.asarray(probs, dtype=float)
    truth = np.asarray(truth, dtype=object)
    if labels.ndim != 2 or probs.shape != labels.shape or labels.shape[0] != truth.shape[0]:
        raise ValueError(f"rank_metrics: labels {labels.shape} and probs {probs.shape} "
                         f"must be (n, k) for {truth.shape[0]} true labels")
    pred = labels[:, 0].astype(str).astype(object)
    return RankMetrics(top_k=int(labels.shape[1]), threshold=float(threshold), predicted=pred,
                       confidence=probs[:, 0], correct=pred == truth,
                       in_top_k=(labels == truth[:, None]).any(axis=1))


def reliability_table(confidence, correct, *, bins=_RELIABILITY_BINS) -> pd.DataFrame:
    """Accuracy against mean confidence in equal-width confidence bins (a reliability diagram's data).

    Parameters
    ----------
    confidence, correct : array-like
        As in :func:`coverage_curve`.
    bins : int, default 10

    Returns
    -------
    pandas.DataFrame
        ``lower``, ``upper``, ``n``, ``mean_confidence`` and ``accuracy``
        per bin (NaN for an empty bin); the last bin includes 1.0.

    Examples
    --------
    >>> t = reliability_table([0.15, 0.95, 0.9, 0.92], [False, True, True, False], bins=2)
    >>> t[["n", "accuracy"]].to_dict("list")
    {'n': [1, 3], 'accuracy': [0.0, 0.6666666666666666]}
    """
    conf, ok = _as_arrays(confidence, correct)
    bins = int(bins)
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    n = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=bins) / n
        acc = np.bincount(which, weights=ok.astype(float), minlength=bins) / n
    return pd.DataFrame({"lower": edges[:-1], "upper": edges[1:], "n": n.astype("int64"),
                         "mean_confidence": mean_conf, "accuracy": acc})


def _calibration_error(table):
    """Expected calibration error: the ticket-weighted mean gap between confidence and accuracy."""
    used = table[table["n"] > 0]
    if used.empty:
        return None
    gap = (used["accuracy"] - used["mean_confidence"]).abs()
    return float((gap * used["n"]).sum() / used["n"].sum())


def _f1_table(truth, pred, key):
    """Precision, recall, F1 and support of every value present in truth or prediction, most support first."""
    from sklearn.metrics import precision_recall_fscore_support

    present = np.array(sorted(set(truth) | set(pred)), dtype=object)
    if not present.size:
        return pd.DataFrame({key: pd.Series([], dtype=str), "precision": [], "recall": [], "f1": [],
                             "support": pd.Series([], dtype="int64")})
    p, r, f, s = precision_recall_fscore_support(truth, pred, labels=present, average=None, zero_division=0)
    table = pd.DataFrame({key: present.astype(str), "precision": p, "recall": r, "f1": f,
                          "support": s.astype("int64")})
    return table.sort_values(["support", key], ascending=[False, True], kind="stable").reset_index(drop=True)


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
    top_k_accuracy : float
        Share of tickets whose true label is among the first ``top_k`` candidates.
    top_k : int
        The candidate count used for ``top_k_accuracy``.
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
    reliability : pandas.DataFrame or None
        :func:`reliability_table` of the top-1 confidence.
    per_unit : pandas.DataFrame or None
        ``unit``, ``precision``, ``recall``, ``f1``, ``support`` of the lead
        unit (None when the model cannot route).
    """

    n: int
    accuracy: float
    macro_f1: float
    weighted_f1: float
    top_k_accuracy: float
    top_k: int
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
    reliability: pd.DataFrame | None = None
    per_unit: pd.DataFrame | None = field(default=None)

    @property
    def top3_accuracy(self) -> float:
        """The former name of :attr:`top_k_accuracy` (whatever ``top_k`` was)."""
        return self.top_k_accuracy

    @property
    def k(self) -> int:
        """The former name of :attr:`top_k`."""
        return self.top_k

    @property
    def expected_calibration_error(self):
        """Ticket-weighted mean gap between confidence and accuracy over the reliability bins (None without)."""
        return None if self.reliability is None else _calibration_error(self.reliability)

    def to_dict(self) -> dict:
        """Return the scalar metrics as a flat, JSON-serialisable dict.

        ``top3_accuracy`` repeats ``top_k_accuracy`` when ``top_k`` is 3 (its
        former name).

        Examples
        --------
        >>> import numpy as np
        >>> class Fake:
        ...     catalog = None
        ...     review_threshold = 0.5
        ...     def rank(self, texts, top_k=5):
        ...         lab = np.array([["a", "b"]] * len(texts), dtype=object)
        ...         return lab, np.tile([0.8, 0.2], (len(texts), 1))
        >>> import pandas as pd
        >>> r = evaluate(Fake(), pd.DataFrame({"text": ["x", "y"], "label": ["a", "b"]}), top_k=2)
        >>> d = r.to_dict()
        >>> d["accuracy"], d["top_k_accuracy"], d["top_k"], d["automatic_share"]
        (0.5, 1.0, 2, 1.0)
        """
        out = {"n": int(self.n), "accuracy": float(self.accuracy), "macro_f1": float(self.macro_f1),
               "weighted_f1": float(self.weighted_f1), "top_k_accuracy": float(self.top_k_accuracy),
               "top_k": int(self.top_k)}
        if self.top_k == 3:
            out["top3_accuracy"] = float(self.top_k_accuracy)
        out.update({
            "department_accuracy": _opt(self.department_accuracy),
            "n_unknown_labels": int(self.n_unknown_labels),
            "n_labels": int(len(self.per_class)),
            "threshold": float(self.threshold),
            "automatic_share": _opt(self.automatic_share),
            "accuracy_automatic": _opt(self.accuracy_automatic),
            "target_accuracy": _opt(self.target_accuracy),
            "suggested_threshold": _opt(self.suggested_threshold),
            "expected_calibration_error": _opt(self.expected_calibration_error),
        })
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
        from ._report_html import sample_rows

        if self.tiers is None:
            return {"tiers": [], "unit_curve": []}
        tiers = [{k: (_opt(v) if isinstance(v, float) else v) for k, v in r.items()}
                 for r in self.tiers.to_dict("records")]
        curve = sample_rows(self.unit_coverage)[["threshold", "automatic_share", "accuracy_automatic"]]
        return {"tiers": tiers, "unit_curve": [{k: float(v) for k, v in r.items()} for r in curve.to_dict("records")]}

    def summary_rows(self) -> list:
        """``(name, value, meaning)`` rows of the headline figures, shared by :meth:`summary` and the HTML report."""
        from ._evaluate_html import summary_rows

        return summary_rows(self)

    def summary(self) -> str:
        """A short plain-text table of the main figures."""
        rows = self.summary_rows()
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value, _ in rows)

    def to_html(self, path) -> None:
        """Write a self-contained HTML report (no scripts; every text escaped; plots as inline SVG).

        Plots need the ``report`` extra (matplotlib); without it the page
        says so in one line and still shows every table.

        Parameters
        ----------
        path : str or path-like
            Output file, written as UTF-8.
        """
        from pathlib import Path

        from ._evaluate_html import render_html

        Path(path).write_text(render_html(self), encoding="utf-8")

    # -- plots (matplotlib is imported only in _evaluate_plots) --------------------

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
        ...     def rank(self, texts, top_k=5):
        ...         lab = np.array([["a", "b"]] * len(texts), dtype=object)
        ...         return lab, np.tile([0.8, 0.2], (len(texts), 1))
        >>> rep = evaluate(Fake(), pd.DataFrame({"text": ["x", "y", "z"], "label": ["a", "b", "a"]}))
        >>> ax = rep.plot_per_class_f1()
        >>> [round(float(p.get_width()), 2) for p in ax.patches]
        [0.8, 0.0]
        >>> import matplotlib.pyplot as plt; plt.close("all")
        """
        from ._evaluate_plots import plot_per_class_f1

        return plot_per_class_f1(self, ax=ax, top=top)

    def plot_per_unit_f1(self, ax=None, top=30):
        """Horizontal bars of the F1 score of each lead unit, most frequent unit on top.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        top : int, default 30
            Units shown.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ValueError
            The report has no unit figures (the model cannot route).
        """
        from ._evaluate_plots import plot_per_unit_f1

        return plot_per_unit_f1(self, ax=ax, top=top)

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
        from ._evaluate_plots import plot_confusion

        return plot_confusion(self, ax=ax, labels=labels, normalize=normalize)

    def plot_coverage(self, ax=None):
        """The coverage curve: share routed automatically against its accuracy.

        Each point of the curve is one possible review threshold; the model's
        own threshold is marked.

        Returns
        -------
        matplotlib.axes.Axes
            ``ax.lines[0]`` is the curve (x = ``coverage.automatic_share``,
            y = ``coverage.accuracy_automatic``); ``ax.lines[1]``, when some
            ticket reaches the threshold, is the model's operating point
            (``automatic_share``, ``accuracy_automatic``).
        """
        from ._evaluate_plots import plot_coverage

        return plot_coverage(self, ax=ax)

    def plot_reliability(self, ax=None):
        """Reliability diagram: accuracy against mean confidence per confidence bin, with the diagonal.

        Returns
        -------
        matplotlib.axes.Axes
            ``ax.lines[0]`` is the diagonal, ``ax.lines[1]`` the bins with tickets.
        """
        from ._evaluate_plots import plot_reliability

        return plot_reliability(self, ax=ax)

    def plot_tiers(self, ax=None):
        """Bars of each tier's share of tickets, annotated with its accuracy.

        Returns
        -------
        matplotlib.axes.Axes
            One bar per tier (``auto``, ``suggest``, ``manual``).
        """
        from ._evaluate_plots import plot_tiers

        return plot_tiers(self, ax=ax)


@dataclass(frozen=True)
class _Inputs:
    """Validated evaluation input: the tickets frame, texts, stripped true labels and spreadsheet row numbers."""

    frame: pd.DataFrame
    texts: list
    truth: np.ndarray
    rows: np.ndarray


def _inputs(tickets) -> _Inputs:
    """Read a path, check the columns and refuse rows without a label or an empty set."""
    if isinstance(tickets, (str, os.PathLike)):
        from ._tickets import read_tickets

        tickets = read_tickets(tickets, required=("text", "label"))
    if not isinstance(tickets, pd.DataFrame):
        raise TypeError(f"evaluate() needs a DataFrame or a path, got {type(tickets).__name__}")
    if any(c not in tickets.columns for c in ("text", "label")):
        raise TicketSchemaError(f"evaluate: expected columns ['text', 'label'], found {list(tickets.columns)}")
    texts = ["" if not isinstance(t, str) else t for t in tickets["text"].tolist()]
    truth = np.array(["" if not isinstance(v, str) else v.strip() for v in tickets["label"].tolist()], dtype=object)
    rows = tickets["source_row"].to_numpy() if "source_row" in tickets.columns else np.arange(1, len(tickets) + 1)
    empty = np.flatnonzero(truth == "")
    if empty.size:
        shown = [int(r) for r in rows[empty[:5]]]
        raise TicketSchemaError(f"evaluate: {empty.size} ticket(s) have no label (rows {shown}); "
                                "drop them first, e.g. with quarantine_tickets")
    if not texts:
        raise TicketSchemaError("evaluate: no tickets to evaluate")
    return _Inputs(tickets.assign(text=texts, label=list(truth)), texts, truth, rows)


def _top_k_argument(top_k, k):
    """``top_k``, or the deprecated ``k`` with a warning; at least 1."""
    if k is not None:
        warnings.warn("evaluate(k=...) is deprecated; use top_k=...", DeprecationWarning, stacklevel=3)
        top_k = k
    top_k = int(top_k)
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    return top_k


def _ranked(model, texts, top_k):
    labels, probs = model.rank(texts, top_k)
    labels, probs = np.asarray(labels, dtype=object), np.asarray(probs, dtype=float)
    if labels.ndim != 2 or labels.shape[0] != len(texts) or probs.shape != labels.shape:
        raise ValueError(f"model.rank returned shapes {labels.shape} and {probs.shape} for {len(texts)} texts")
    return labels, probs


def _label_tables(truth, pred, catalog):
    """Per-class table (with item names when there is a catalog), macro and weighted F1."""
    from sklearn.metrics import f1_score

    present = np.array(sorted(set(truth) | set(pred)), dtype=object)
    macro = float(f1_score(truth, pred, labels=present, average="macro", zero_division=0))
    weighted = float(f1_score(truth, pred, labels=present, average="weighted", zero_division=0))
    per_class = _f1_table(truth, pred, "label")
    if catalog is not None:
        per_class.insert(1, "name", [catalog.get(c).name if c in catalog else "" for c in per_class["label"]])
    return per_class, macro, weighted


def _confusions(truth, pred):
    """Full confusion matrix and the off-diagonal cells as a sorted ``true, predicted, count`` table."""
    present = np.array(sorted(set(truth) | set(pred)), dtype=object)
    index = {c: i for i, c in enumerate(present)}
    ti = np.fromiter((index[c] for c in truth), dtype=np.int64, count=len(truth))
    pi = np.fromiter((index[c] for c in pred), dtype=np.int64, count=len(pred))
    cm = np.zeros((len(present), len(present)), dtype=np.int64)
    np.add.at(cm, (ti, pi), 1)
    names = present.astype(str)
    confusion = pd.DataFrame(cm, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))
    pairs = pd.DataFrame({"true": truth[ti != pi].astype(str), "predicted": pred[ti != pi].astype(str)})
    top = (pairs.groupby(["true", "predicted"], sort=True).size().rename("count").reset_index()
           .sort_values(["count", "true", "predicted"], ascending=[False, True, True], kind="stable")
           .reset_index(drop=True))
    top["count"] = top["count"].astype("int64")
    return confusion, top


def _department_accuracy(catalog, truth, pred):
    """Share of known true labels whose predicted item has the same lead role, and the unknown count."""
    if catalog is None:
        return None, 0
    known = np.array([t in catalog for t in truth], dtype=bool)
    if not known.any():
        return None, int((~known).sum())
    lead = {}

    def role(code):
        if code not in lead:
            lead[code] = catalog.get(code).lead_department if code in catalog else None
        return lead[code]

    same = [role(t) == role(q) for t, q in zip(truth[known], pred[known])]
    return float(np.mean(same)), int((~known).sum())


def _worst_errors(inputs, ranked):
    wrong = np.flatnonzero(~ranked.correct)
    wrong = wrong[np.argsort(-ranked.confidence[wrong], kind="stable")][:_WORST_ERRORS]
    return pd.DataFrame({"source_row": inputs.rows[wrong], "text": [_mask(inputs.texts[i]) for i in wrong],
                         "label": inputs.truth[wrong].astype(str), "predicted": ranked.predicted[wrong].astype(str),
                         "confidence": ranked.confidence[wrong]})


def _unit_figures(model, frame):
    """Unit accuracy, tier table, unit coverage and per-unit table (all None when the model cannot route)."""
    if not hasattr(model, "route_many"):
        return {}
    out = tier_outcomes(model, frame)
    return {"unit_accuracy": out.accuracy, "tiers": out.table(), "unit_coverage": out.coverage(),
            "per_unit": out.per_unit()}


def evaluate(model, tickets, *, top_k=3, target_accuracy=None, k=None) -> EvaluationReport:
    """Evaluate a router on labelled tickets.

    Parameters
    ----------
    model : Router
        Anything with ``rank(texts, k) -> (labels, probs)``, ``catalog``
        (a DutyCatalog or None) and ``review_threshold``; with
        ``route_many`` the report also has unit and tier figures.
    tickets : pandas.DataFrame or str or Path
        ``text`` and ``label`` columns (as from :func:`read_tickets`), or a
        path to an export; ``source_row`` is carried into ``worst_errors``.
        Rows must have a non-empty label (use :func:`quarantine_tickets`).
    top_k : int, default 3
        Candidates counted for ``top_k_accuracy``.
    target_accuracy : float, optional
        Also compute ``suggested_threshold`` with :func:`choose_threshold`.
    k : int, optional
        Deprecated name of ``top_k``.

    Returns
    -------
    EvaluationReport

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> class Fake:
    ...     catalog = None
    ...     review_threshold = 0.7
    ...     def rank(self, texts, top_k=5):
    ...         top = {"路灯": ("a", "b", 0.9), "噪音": ("b", "a", 0.6)}
    ...         rows = [top["路灯" if "路灯" in t else "噪音"] for t in texts]
    ...         lab = np.array([[r[0], r[1]] for r in rows], dtype=object)
    ...         return lab, np.array([[r[2], 1 - r[2]] for r in rows])
    >>> df = pd.DataFrame({"text": ["路灯坏了", "噪音扰民", "路灯不亮"], "label": ["a", "b", "b"]})
    >>> rep = evaluate(Fake(), df, top_k=2)
    >>> round(rep.accuracy, 3), rep.top_k_accuracy, round(rep.automatic_share, 3)
    (0.667, 1.0, 0.667)
    """
    top_k = _top_k_argument(top_k, k)
    inputs = _inputs(tickets)
    catalog = getattr(model, "catalog", None)
    ranked = rank_metrics(*_ranked(model, inputs.texts, top_k), inputs.truth,
                          threshold=float(getattr(model, "review_threshold", 0.0)))
    per_class, macro, weighted = _label_tables(inputs.truth, ranked.predicted, catalog)
    confusion, top_confusions = _confusions(inputs.truth, ranked.predicted)
    department_accuracy, n_unknown = _department_accuracy(catalog, inputs.truth, ranked.predicted)
    suggested = None
    if target_accuracy is not None:
        suggested = choose_threshold(ranked.confidence, ranked.correct, target_accuracy=target_accuracy)
    return EvaluationReport(
        n=len(inputs.texts), accuracy=ranked.accuracy, macro_f1=macro, weighted_f1=weighted,
        top_k_accuracy=ranked.top_k_accuracy, top_k=top_k, department_accuracy=department_accuracy,
        n_unknown_labels=n_unknown, per_class=per_class, confusion=confusion, top_confusions=top_confusions,
        coverage=coverage_curve(ranked.confidence, ranked.correct), threshold=ranked.threshold,
        automatic_share=ranked.automatic_share, accuracy_automatic=ranked.accuracy_automatic,
        worst_errors=_worst_errors(inputs, ranked),
        target_accuracy=None if target_accuracy is None else float(target_accuracy),
        suggested_threshold=suggested, reliability=reliability_table(ranked.confidence, ranked.correct),
        **_unit_figures(model, inputs.frame),
    )
