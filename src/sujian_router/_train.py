"""Training: labelled tickets in, a :class:`Router` out (the bundled default model is in ``_default_model``)."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .exceptions import TicketSchemaError

__all__ = ["train", "TrainingReport"]

logger = logging.getLogger(__name__)

#: Default target accuracies of the ``auto`` tier (lead unit right) and of the ``suggest`` tier
#: (right unit among the three shown), for which ``train()`` chooses the tier thresholds.
DEFAULT_AUTO_ACCURACY = 0.9
DEFAULT_SUGGEST_ACCURACY = 0.9

#: Classifier parameters for catalog (item-code) models (``train()`` passes categories and
#: subcategories, so they have three levels).
#: A looser SVM tolerance than scikit-learn's 1e-4 fits faster at the same held-out accuracy
#: (see ``TextClassifier``'s ``tol``).
CATALOG_PARAMS = {"tol": 1e-2}
#: Classifier parameters for free-label models (few classes: one flat model). Chosen by 5-fold
#: cross-validation on the Teddy Cup train split (README, "Real-data benchmark"): the first line
#: (title) as its own feature block, every block L2-normalised separately.
FREE_LABEL_PARAMS = {"title_block": True, "min_df": 1, "C": 1.0, "word_ngram_range": (1, 1),
                     "char_ngram_range": (1, 2)}


def _tokenizer_for(catalog):
    """The tokenizer of a new model: jieba's dictionary plus the catalog's words (keywords, places, units).

    Segmented by the ``"rjieba"`` backend: the same dictionary and word
    frequencies as jieba, about ten times faster (see :class:`Tokenizer`).
    """
    from ._tokenize import DEFAULT_USER_WORDS, Tokenizer

    words = list(DEFAULT_USER_WORDS)
    if catalog is not None:
        words += sorted(catalog.vocabulary() - set(words))
    return Tokenizer(words, backend="rjieba")


@dataclass(frozen=True)
class TrainingReport:
    """What happened to every input row during training.

    ``rows_in == rows_used + rows_quarantined`` always holds; catalog-derived
    examples added for thin items are counted separately in ``rows_augmented``.
    """

    rows_in: int
    rows_used: int
    rows_quarantined: int
    quarantine_counts: dict = field(default_factory=dict)
    rows_augmented: int = 0
    labels: int = 0
    validation_rows: int = 0
    review_threshold: float = 0.5
    target_accuracy: float = 0.9
    metrics: dict = field(default_factory=dict)
    tier_thresholds: dict = field(default_factory=dict)
    suggest_accuracy: float = 0.9
    data_sha256: str = ""
    seed: int = 0
    free_labels: bool = False
    synthetic: bool = False
    label_kind: str = "item"
    department_mapping: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return the report as a JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """A few readable lines for the console."""
        q = ", ".join(f"{k} {v}" for k, v in sorted(self.quarantine_counts.items())) or "none"
        m = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in sorted(self.metrics.items()))
        return (
            f"rows in {self.rows_in}: used {self.rows_used}, quarantined {self.rows_quarantined} ({q})\n"
            f"catalog-derived examples added: {self.rows_augmented}; labels: {self.labels}\n"
            f"validation rows: {self.validation_rows}; review threshold {self.review_threshold:.3f} "
            f"for target accuracy {self.target_accuracy:.2f}; tiers {self.tier_thresholds}\n"
            f"validation: {m}"
        )


def _data_hash(texts, labels) -> str:
    h = hashlib.sha256()
    for t, y in zip(texts, labels):
        h.update(str(t).encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
        h.update(str(y).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()


def _fit_with_bar(clf, X, y, groups, subgroups, progress):
    """Fit ``clf`` with a progress bar over its featurisation chunks and linear models."""
    from tqdm import tqdm

    with tqdm(desc="  models", unit="model", disable=not progress, leave=False) as bar:
        def update(done, total, stage):
            bar.total = total
            bar.n = done
            bar.set_postfix_str(stage, refresh=False)
            bar.refresh()

        clf.fit(X, y, groups=groups, subgroups=subgroups, progress=update)


_MAP_CHUNK = 10000  # rows per task when train() prepares or scores texts in worker processes


def _prepare_chunk(texts, start):
    from ._text import prepare_text

    return [prepare_text(t).text for t in texts[start:start + _MAP_CHUNK]]


def _top_k_chunk(state, start):
    clf, texts, k = state
    return clf.top_k(texts[start:start + _MAP_CHUNK], k=k)


def _chunked(fn, state, n_rows, n_jobs):
    """``fn(state, start)`` for every ``_MAP_CHUNK`` rows, in order, on ``n_jobs`` forked workers."""
    from ._classifier import _ordered_map

    return list(_ordered_map(fn, range(0, n_rows, _MAP_CHUNK), state, n_jobs, window=2))


def _split(labels, fraction, seed):
    """Seeded validation split that keeps at least one example of each label in training."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    val = np.zeros(len(labels), dtype=bool)
    if fraction <= 0:
        return val
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    bounds = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = order[a:b]
        if len(idx) < 3:  # keep both examples of a two-example label for training
            continue
        n_val = min(len(idx) - 1, max(1, int(round(len(idx) * fraction))))
        if n_val > 0:
            val[rng.choice(idx, size=n_val, replace=False)] = True
    return val


def _tier_thresholds(clf, catalog, texts, labels, target_accuracy, suggest_accuracy):
    """Choose the ``auto`` and ``suggest`` thresholds on validation rows; return them and their metrics.

    With a catalog the thresholds apply to the unit confidence (the summed
    probability of the items a unit leads) and a decision counts as right
    when its lead unit is the true item's; for free labels they apply to the
    label's confidence.
    """
    import pandas as pd

    from ._decision import TierThresholds
    from ._evaluate import _tier_frame, choose_suggest_threshold, choose_threshold, unit_outcomes
    from ._router import Router

    router = Router(clf, catalog=catalog)
    decisions, correct, in_top = unit_outcomes(router, pd.DataFrame({"text": texts, "label": labels}))
    conf = np.array([d.unit_confidence for d in decisions], dtype=float)
    auto = float(choose_threshold(conf, correct, target_accuracy=target_accuracy))
    suggest = choose_suggest_threshold(conf, in_top, auto=auto, target_accuracy=suggest_accuracy)
    thresholds = TierThresholds(auto=auto, suggest=suggest)
    tiers = np.array([thresholds.tier_for(c) for c in conf], dtype=object)
    frame = _tier_frame(tiers, correct, in_top).set_index("tier")
    metrics = {"val_unit_accuracy": float(correct.mean())}
    for name in ("auto", "suggest", "manual"):
        acc = float(frame.loc[name, "accuracy" if name != "suggest" else "accuracy_top"])
        metrics[f"val_{name}_share"] = float(frame.loc[name, "share"])
        metrics[f"val_{name}_accuracy"] = None if np.isnan(acc) else acc  # None: an empty tier
    return thresholds, metrics


def train(tickets, *, catalog=None, free_labels=False, seed=0, validation_fraction=0.1,
          target_accuracy=DEFAULT_AUTO_ACCURACY, min_examples_per_item=3, refit=True, classifier_params=None,
          progress=True, synthetic=False, n_jobs=-1, suggest_accuracy=DEFAULT_SUGGEST_ACCURACY,
          tier_tickets=None, label_kind="item", base_router=None, on_unmapped="quarantine"):
    """Train a router from labelled tickets (item codes, free labels, or handling units only).

    Parameters
    ----------
    tickets : pandas.DataFrame or str or Path
        Labelled tickets with ``text`` and ``label`` columns (as returned by
        :func:`read_tickets`), or a path to an export.
    catalog : DutyCatalog, optional
        The catalog the labels refer to (the bundled one by default).
    free_labels : bool
        Train a plain text classifier on any label set (a different taxonomy,
        categories only...).  Labels are then not checked against the
        catalog and the router names no departments.
    seed : int
        Seeds the validation split and the classifier.
    validation_fraction : float
        Share of rows held out (per label) to calibrate probabilities and
        choose the review threshold.
    target_accuracy : float
        Accuracy wanted on the automatically routed share (the ``auto``
        tier): the ``auto`` threshold is the lowest unit confidence that
        reaches it on validation (with a catalog, a decision is right when
        its lead unit is the true item's lead unit).
    min_examples_per_item : int
        Catalog items with fewer tickets get catalog-derived synthetic
        examples up to this many, so every item stays reachable
        (ignored with ``free_labels``).
    refit : bool
        After calibration, refit on all rows (training + validation).
    classifier_params : dict, optional
        Parameters for :class:`TextClassifier`.
    progress : bool
        Show a progress bar.
    synthetic : bool
        Record that the tickets are synthetic (shown in the model card).
    n_jobs : int or None
        Worker processes for tokenising and for fitting the linear models
        (``-1``, the default: one per core; ``None`` or 1: none). The trained
        model is the same for every value.
    suggest_accuracy : float
        Share of ``suggest`` decisions whose true unit must be among the
        three units shown; the ``suggest`` threshold is the lowest unit
        confidence below ``auto`` that reaches it on validation.
    tier_tickets : pandas.DataFrame, optional
        Labelled tickets (``text``, ``label``) used only to choose the tier
        thresholds, instead of the validation rows: useful when the training
        tickets are all alike (synthetic ones) and a differently worded set
        gives more honest confidence figures.
    label_kind : {"item", "department"}
        ``"department"``: the tickets carry only the unit that handled them
        (a ``department`` column, e.g. 主办单位) instead of item codes; each
        ticket is labelled with the most likely item among those its unit's
        role leads (weak supervision, see ``_weak.py``) and the report's
        ``department_mapping`` lists every unit name that could not be
        mapped, with its row count.
    base_router : Router, optional
        With ``label_kind="department"``: the router that ranks the candidate
        items (the bundled default model by default).
    on_unmapped : {"quarantine", "error"}
        With ``label_kind="department"``: rows whose unit name cannot be
        mapped are quarantined (``missing label``) or make training fail.

    Returns
    -------
    Router
        The trained router; ``router.training_report`` accounts for every row.

    Raises
    ------
    TicketSchemaError
        ``text`` or ``label`` columns are missing, or no usable rows remain.
    """
    import pandas as pd
    from tqdm import tqdm

    from ._classifier import TextClassifier
    from ._decision import TierThresholds
    from ._evaluate import choose_suggest_threshold, choose_threshold
    from ._router import Router
    from ._tickets import quarantine_tickets, read_tickets

    if label_kind not in ("item", "department"):
        raise ValueError(f"label_kind must be one of ['item', 'department'], got {label_kind!r}")
    if label_kind == "department" and free_labels:
        raise ValueError("label_kind='department' labels catalog items: it cannot be combined with free_labels")
    label_column = "department" if label_kind == "department" else "label"
    if isinstance(tickets, (str, os.PathLike)):
        tickets = read_tickets(tickets, required=("text", label_column))
    if not isinstance(tickets, pd.DataFrame):
        raise TypeError(f"train() needs a DataFrame or a path, got {type(tickets).__name__}")
    department_mapping = {}
    if label_kind == "department":
        from ._weak import department_labels

        if catalog is None:
            from ._catalog import load_catalog

            catalog = load_catalog()
        tickets, mapping = department_labels(tickets, catalog=catalog, base_router=base_router,
                                             on_unmapped=on_unmapped, progress=progress)
        department_mapping = mapping.to_dict()
    missing = [c for c in ("text", "label") if c not in tickets.columns]
    if missing:
        raise TicketSchemaError(f"train(): expected columns ['text', 'label'], found {list(tickets.columns)}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction!r}")
    if not 0.0 < target_accuracy <= 1.0:
        raise ValueError(f"target_accuracy must be in (0, 1], got {target_accuracy!r}")
    if not 0.0 < suggest_accuracy <= 1.0:
        raise ValueError(f"suggest_accuracy must be in (0, 1], got {suggest_accuracy!r}")

    steps = tqdm(total=5, desc="training", unit="step", disable=not progress)
    if catalog is None and not free_labels:
        from ._catalog import load_catalog

        catalog = load_catalog()
    q = quarantine_tickets(tickets, catalog=None if free_labels else catalog, free_labels=free_labels)
    clean = q.clean
    texts = clean["text"].astype(str).tolist()
    labels = clean["label"].astype(str).str.strip().tolist()
    rows_augmented = 0
    if not free_labels:
        from ._synth import generate_tickets

        counts = pd.Series(labels).value_counts() if labels else pd.Series(dtype=int)
        thin = [it.code for it in catalog.items if counts.get(it.code, 0) < min_examples_per_item]
        if thin:
            extra = generate_tickets(catalog, n_per_item=min_examples_per_item, seed=seed, items=thin)
            have = counts.reindex(thin).fillna(0).astype(int).to_dict()
            keep = []
            seen = dict.fromkeys(thin, 0)
            for code in extra["label"]:
                need = min_examples_per_item - have[code]
                keep.append(seen[code] < need)
                seen[code] += 1
            extra = extra[np.asarray(keep, dtype=bool)]
            texts += extra["text"].tolist()
            labels += extra["label"].tolist()
            rows_augmented = len(extra)
    if len(set(labels)) < 2:
        raise TicketSchemaError(
            f"train(): need at least 2 distinct labels among usable rows, found {len(set(labels))} "
            f"(rows in {len(tickets)}, quarantined {len(q.quarantined)}: {q.counts})"
        )
    steps.update(1)
    steps.set_description("preparing text")
    prepared = [p for part in _chunked(_prepare_chunk, texts, len(texts), n_jobs) for p in part]
    groups = subgroups = None
    if not free_labels:  # categories, then subcategories: a three-level model
        items = [catalog.get(c) for c in labels]
        groups = np.asarray([it.category_code for it in items], dtype=object)
        subgroups = np.asarray([it.subcategory_code for it in items], dtype=object)
    params = dict(FREE_LABEL_PARAMS if free_labels else CATALOG_PARAMS)
    params.update(classifier_params or {})
    params.setdefault("random_state", seed)
    params.setdefault("n_jobs", n_jobs)
    if "tokenizer" not in params:
        params["tokenizer"] = _tokenizer_for(None if free_labels else catalog)
    val = _split(labels, validation_fraction, seed)
    tr = ~val
    steps.update(1)
    steps.set_description("fitting classifier")
    clf = TextClassifier(**params)
    X = np.asarray(prepared, dtype=object)
    y = np.asarray(labels, dtype=object)
    _fit_with_bar(clf, X[tr], y[tr], *[None if h is None else h[tr] for h in (groups, subgroups)], progress)
    steps.update(1)
    steps.set_description("calibrating")
    metrics = {}
    threshold = 0.0
    thresholds = None
    if val.any():
        clf.calibrate(X[val], y[val])
        val_texts = list(X[val])
        parts = _chunked(_top_k_chunk, (clf, val_texts, min(3, len(clf.classes_))), len(val_texts), n_jobs)
        top, probs = (np.vstack(a) for a in zip(*parts))
        correct = top[:, 0] == y[val]
        conf = probs[:, 0]
        threshold = float(choose_threshold(conf, correct, target_accuracy=target_accuracy))
        auto = conf >= threshold
        metrics = {
            "val_accuracy": float(correct.mean()),
            "val_top3_accuracy": float((top == y[val][:, None]).any(axis=1).mean()),
            "val_automatic_share": float(auto.mean()),
            "val_accuracy_automatic": float(correct[auto].mean()) if auto.any() else float("nan"),
        }
        if free_labels:  # no units: the tiers follow the label's confidence
            in_top = (top == y[val][:, None]).any(axis=1)
            thresholds = (threshold, choose_suggest_threshold(conf, in_top, auto=threshold,
                                                              target_accuracy=suggest_accuracy))
        else:
            tier_rows = tier_tickets if tier_tickets is not None else {"text": val_texts, "label": list(y[val])}
            thresholds, unit_metrics = _tier_thresholds(clf, catalog, list(tier_rows["text"]),
                                                        list(tier_rows["label"]), target_accuracy, suggest_accuracy)
            metrics.update(unit_metrics)
    steps.update(1)
    if refit and val.any():
        steps.set_description("refitting on all rows")
        # keep the temperatures fitted on held-out rows: the refit model sees them all
        temperatures, calibration = clf.temperatures_, getattr(clf, "calibration_", None)
        _fit_with_bar(clf, X, y, groups, subgroups, progress)
        clf.temperatures_ = temperatures
        if calibration is not None:
            clf.calibration_ = calibration
    steps.update(1)
    steps.set_description("done")
    steps.close()
    thresholds = TierThresholds.coerce(thresholds if thresholds is not None else (threshold, threshold))
    report = TrainingReport(
        rows_in=len(tickets),
        rows_used=len(clean),
        rows_quarantined=len(q.quarantined),
        quarantine_counts=dict(q.counts),
        rows_augmented=rows_augmented,
        labels=len(clf.classes_),
        validation_rows=int(val.sum()),
        review_threshold=thresholds.auto,
        target_accuracy=float(target_accuracy),
        metrics=metrics,
        tier_thresholds=thresholds.to_dict(),
        suggest_accuracy=float(suggest_accuracy),
        data_sha256=_data_hash(texts, labels),
        seed=int(seed),
        free_labels=bool(free_labels),
        synthetic=bool(synthetic),
        label_kind=label_kind,
        department_mapping=department_mapping,
    )
    router = Router(
        clf,
        catalog=None if free_labels else catalog,
        thresholds=thresholds,
        metadata={"training": report.to_dict(), "metrics": metrics},
    )
    router.training_report = report
    router.quarantined = q.quarantined
    return router
