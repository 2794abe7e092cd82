"""Training: labelled tickets in, a :class:`Router` out (the bundled default model is in ``_default_model``)."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass

import numpy as np

from ._training_report import TrainingReport
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



@dataclass(frozen=True)
class _Options:
    """The validated options of one ``train`` call."""

    catalog: object
    free_labels: bool
    seed: int
    validation_fraction: float
    target_accuracy: float
    suggest_accuracy: float
    min_examples_per_item: int
    refit: bool
    classifier_params: dict
    progress: bool
    synthetic: bool
    n_jobs: object
    tier_tickets: object
    label_kind: str
    base_router: object
    on_unmapped: str


@dataclass
class _Rows:
    """The training rows after labelling, quarantine and catalog augmentation."""

    rows_in: int
    quarantine: object
    texts: list
    labels: list
    rows_augmented: int = 0
    department_mapping: dict = None


@dataclass
class _Fitted:
    """The classifier fitted on the training split, with the arrays it was fitted from."""

    clf: object
    X: np.ndarray
    y: np.ndarray
    val: np.ndarray
    groups: object = None
    subgroups: object = None


@dataclass(frozen=True)
class _Calibration:
    """Validation metrics and the tier thresholds chosen on validation (or tier) tickets."""

    metrics: dict
    thresholds: object


def _check_options(opts: _Options) -> _Options:
    """Validate the options once; fill in the bundled catalog for catalog models."""
    from dataclasses import replace

    if opts.label_kind not in ("item", "department"):
        raise ValueError(f"label_kind must be one of ['item', 'department'], got {opts.label_kind!r}")
    if opts.label_kind == "department" and opts.free_labels:
        raise ValueError("label_kind='department' labels catalog items: it cannot be combined with free_labels")
    if not 0.0 <= opts.validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {opts.validation_fraction!r}")
    if not 0.0 < opts.target_accuracy <= 1.0:
        raise ValueError(f"target_accuracy must be in (0, 1], got {opts.target_accuracy!r}")
    if not 0.0 < opts.suggest_accuracy <= 1.0:
        raise ValueError(f"suggest_accuracy must be in (0, 1], got {opts.suggest_accuracy!r}")
    if opts.catalog is None and not opts.free_labels:
        from ._catalog import load_catalog

        opts = replace(opts, catalog=load_catalog())
    return opts


def _read(tickets, opts):
    """The tickets as a DataFrame with the columns the label kind needs."""
    import pandas as pd

    from ._tickets import read_tickets

    label_column = "department" if opts.label_kind == "department" else "label"
    if isinstance(tickets, (str, os.PathLike)):
        tickets = read_tickets(tickets, required=("text", label_column))
    if not isinstance(tickets, pd.DataFrame):
        raise TypeError(f"train() needs a DataFrame or a path, got {type(tickets).__name__}")
    if "text" not in tickets.columns or label_column not in tickets.columns:
        raise TicketSchemaError(f"train(): expected columns ['text', '{label_column}'], found {list(tickets.columns)}")
    return tickets


def _augment(catalog, labels, min_examples, seed):
    """Catalog-derived synthetic tickets for items with fewer than ``min_examples`` rows."""
    import pandas as pd

    from ._synth import generate_tickets

    counts = pd.Series(labels).value_counts() if labels else pd.Series(dtype=int)
    thin = [it.code for it in catalog.items if counts.get(it.code, 0) < min_examples]
    if not thin:
        return [], []
    extra = generate_tickets(catalog, n_per_item=min_examples, seed=seed, items=thin)
    have = counts.reindex(thin).fillna(0).astype(int).to_dict()
    keep, seen = [], dict.fromkeys(thin, 0)
    for code in extra["label"]:
        keep.append(seen[code] < min_examples - have[code])
        seen[code] += 1
    extra = extra[np.asarray(keep, dtype=bool)]
    return extra["text"].tolist(), extra["label"].tolist()


def _training_rows(tickets, opts) -> _Rows:
    """Label (department-only exports), quarantine and augment: the rows the classifier sees."""
    from ._tickets import quarantine_tickets

    rows_in, mapping = len(tickets), {}
    if opts.label_kind == "department":
        from ._router import Router
        from ._weak import department_labels

        base = opts.base_router if opts.base_router is not None else \
            Router.load(catalog=opts.catalog, progress=opts.progress)
        tickets, report = department_labels(tickets, catalog=opts.catalog, base_router=base,
                                            on_unmapped=opts.on_unmapped, progress=opts.progress)
        mapping = report.to_dict()
    q = quarantine_tickets(tickets, catalog=None if opts.free_labels else opts.catalog, free_labels=opts.free_labels)
    texts = q.clean["text"].astype(str).tolist()
    labels = q.clean["label"].astype(str).str.strip().tolist()
    rows = _Rows(rows_in, q, texts, labels, 0, mapping)
    if not opts.free_labels:
        extra_texts, extra_labels = _augment(opts.catalog, labels, opts.min_examples_per_item, opts.seed)
        rows.texts += extra_texts
        rows.labels += extra_labels
        rows.rows_augmented = len(extra_texts)
    if len(set(rows.labels)) < 2:
        raise TicketSchemaError(
            f"train(): need at least 2 distinct labels among usable rows, found {len(set(rows.labels))} "
            f"(rows in {rows_in}, quarantined {len(q.quarantined)}: {q.counts})"
        )
    return rows


def _classifier_params(opts):
    """The classifier's parameters: the defaults of the model kind, the caller's, seed, jobs, tokenizer."""
    params = dict(FREE_LABEL_PARAMS if opts.free_labels else CATALOG_PARAMS)
    params.update(opts.classifier_params or {})
    params.setdefault("random_state", opts.seed)
    params.setdefault("n_jobs", opts.n_jobs)
    if "tokenizer" not in params:
        params["tokenizer"] = _tokenizer_for(None if opts.free_labels else opts.catalog)
    return params


def _fit(rows: _Rows, opts) -> _Fitted:
    """Prepare the texts, split off validation rows and fit the classifier on the rest."""
    from ._classifier import TextClassifier

    prepared = [p for part in _chunked(_prepare_chunk, rows.texts, len(rows.texts), opts.n_jobs) for p in part]
    groups = subgroups = None
    if not opts.free_labels:  # categories, then subcategories: a three-level model
        items = [opts.catalog.get(c) for c in rows.labels]
        groups = np.asarray([it.category_code for it in items], dtype=object)
        subgroups = np.asarray([it.subcategory_code for it in items], dtype=object)
    val = _split(rows.labels, opts.validation_fraction, opts.seed)
    fitted = _Fitted(TextClassifier(**_classifier_params(opts)), np.asarray(prepared, dtype=object),
                     np.asarray(rows.labels, dtype=object), val, groups, subgroups)
    tr = ~val
    _fit_with_bar(fitted.clf, fitted.X[tr], fitted.y[tr],
                  *[None if h is None else h[tr] for h in (groups, subgroups)], opts.progress)
    return fitted


def _item_metrics(fitted: _Fitted, opts):
    """Calibrate on the validation rows; item-level metrics, confidences and top-3 hits."""
    clf, val = fitted.clf, fitted.val
    clf.calibrate(fitted.X[val], fitted.y[val])
    val_texts = list(fitted.X[val])
    parts = _chunked(_top_k_chunk, (clf, val_texts, min(3, len(clf.classes_))), len(val_texts), opts.n_jobs)
    top, probs = (np.vstack(a) for a in zip(*parts))
    y_val = fitted.y[val]
    correct = top[:, 0] == y_val
    in_top = (top == y_val[:, None]).any(axis=1)
    return correct, in_top, probs[:, 0]


def _calibrate(fitted: _Fitted, router, opts) -> _Calibration:
    """Temperatures, validation metrics and the tier thresholds (unit-level with a catalog)."""
    from ._evaluate import choose_suggest_threshold, choose_threshold

    if not fitted.val.any():
        return _Calibration({}, (0.0, 0.0))
    correct, in_top, conf = _item_metrics(fitted, opts)
    threshold = float(choose_threshold(conf, correct, target_accuracy=opts.target_accuracy))
    auto = conf >= threshold
    metrics = {
        "val_accuracy": float(correct.mean()),
        "val_top3_accuracy": float(in_top.mean()),
        "val_automatic_share": float(auto.mean()),
        "val_accuracy_automatic": float(correct[auto].mean()) if auto.any() else float("nan"),
    }
    if opts.free_labels:  # no units: the tiers follow the label's confidence
        suggest = choose_suggest_threshold(conf, in_top, auto=threshold, target_accuracy=opts.suggest_accuracy)
        return _Calibration(metrics, (threshold, suggest))
    if opts.tier_tickets is not None:
        texts, labels = list(opts.tier_tickets["text"]), list(opts.tier_tickets["label"])
    else:
        texts, labels = list(fitted.X[fitted.val]), list(fitted.y[fitted.val])
    thresholds, unit_metrics = _tier_thresholds(router, texts, labels, opts.target_accuracy, opts.suggest_accuracy)
    metrics.update(unit_metrics)
    return _Calibration(metrics, thresholds)


def _tier_thresholds(router, texts, labels, target_accuracy, suggest_accuracy):
    """Choose the ``auto`` and ``suggest`` thresholds on validation rows; return them and their metrics.

    The thresholds apply to the unit confidence (the summed probability of
    the items a unit leads) and a decision counts as right when its lead unit
    is the true item's. ``router`` is the router being trained (its
    thresholds do not matter here).
    """
    import pandas as pd

    from ._decision import TierThresholds
    from ._evaluate import _tier_frame, choose_suggest_threshold, choose_threshold, unit_outcomes

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


def _refit_all(fitted: _Fitted, opts):
    """Refit on every row, keeping the temperatures fitted on the held-out rows."""
    clf = fitted.clf
    temperatures, calibration = clf.temperatures_, getattr(clf, "calibration_", None)
    _fit_with_bar(clf, fitted.X, fitted.y, fitted.groups, fitted.subgroups, opts.progress)
    clf.temperatures_ = temperatures
    if calibration is not None:
        clf.calibration_ = calibration


def _report(rows: _Rows, fitted: _Fitted, cal: _Calibration, thresholds, opts) -> TrainingReport:
    """The :class:`TrainingReport` of a finished training."""
    q = rows.quarantine
    return TrainingReport(
        rows_in=rows.rows_in, rows_used=len(q.clean), rows_quarantined=len(q.quarantined),
        quarantine_counts=dict(q.counts), rows_augmented=rows.rows_augmented, labels=len(fitted.clf.classes_),
        validation_rows=int(fitted.val.sum()), review_threshold=thresholds.auto,
        target_accuracy=float(opts.target_accuracy), metrics=cal.metrics, tier_thresholds=thresholds.to_dict(),
        suggest_accuracy=float(opts.suggest_accuracy), data_sha256=_data_hash(rows.texts, rows.labels),
        seed=int(opts.seed), free_labels=bool(opts.free_labels), synthetic=bool(opts.synthetic),
        label_kind=opts.label_kind, department_mapping=rows.department_mapping or {},
    )


def train(tickets, *, catalog=None, free_labels=False, seed=0, validation_fraction=0.1,
          target_accuracy=DEFAULT_AUTO_ACCURACY, min_examples_per_item=3, refit=True, classifier_params=None,
          progress=True, synthetic=False, n_jobs=-1, suggest_accuracy=DEFAULT_SUGGEST_ACCURACY,
          tier_tickets=None, label_kind="item", base_router=None, on_unmapped="quarantine"):
    """Train a router from labelled tickets (item codes, free labels, or handling units only).

    Parameters
    ----------
    tickets : pandas.DataFrame or str or Path
        Labelled tickets with ``text`` and ``label`` columns (as returned by
        :func:`read_tickets`), or a path to an export; with
        ``label_kind="department"`` a ``department`` column instead of ``label``.
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
        thresholds instead of the validation rows: a differently worded set
        gives more honest confidence figures than alike (synthetic) ones.
    label_kind : {"item", "department"}
        ``"department"``: only the handling unit is known (a ``department``
        column, e.g. 主办单位); each ticket gets the most likely item its
        unit's role leads (weak supervision, ``_weak.py``), and the report's
        ``department_mapping`` lists unmapped unit names with row counts.
    base_router : Router, optional
        With ``label_kind="department"``: the router that ranks the candidate
        items (the bundled default model by default).
    on_unmapped : {"quarantine", "error"}
        With ``label_kind="department"``: rows whose unit name cannot be
        mapped are quarantined (``missing label``) or make training fail.

    Returns
    -------
    Router
        The trained router; ``router.training_report`` accounts for every row
        (saved with the model: ``Router.load(path).training_report``).

    Raises
    ------
    TicketSchemaError
        The text or label (department) column is missing, or no usable rows remain.
    """
    opts = _check_options(_Options(
        catalog, bool(free_labels), seed, validation_fraction, target_accuracy, suggest_accuracy,
        min_examples_per_item, refit, classifier_params, progress, synthetic, n_jobs, tier_tickets, label_kind,
        base_router, on_unmapped))
    return _train(_read(tickets, opts), opts)


def _train(tickets, opts):
    """The training steps, with a progress bar over them."""
    from tqdm import tqdm

    from ._decision import TierThresholds
    from ._router import Router

    steps = tqdm(total=5, desc="training", unit="step", disable=not opts.progress)
    rows = _training_rows(tickets, opts)
    steps.update(1)
    steps.set_description("fitting classifier")
    fitted = _fit(rows, opts)
    steps.update(2)
    steps.set_description("calibrating")
    catalog = None if opts.free_labels else opts.catalog
    router = Router(fitted.clf, catalog=catalog)  # scores the validation rows, then becomes the result
    cal = _calibrate(fitted, router, opts)
    steps.update(1)
    if opts.refit and fitted.val.any():
        steps.set_description("refitting on all rows")
        _refit_all(fitted, opts)
    steps.update(1)
    steps.set_description("done")
    steps.close()
    thresholds = TierThresholds.coerce(cal.thresholds)
    report = _report(rows, fitted, cal, thresholds, opts)
    router = router.with_thresholds(thresholds)
    router.metadata = {"training": report.to_dict(), "metrics": cal.metrics}
    router.training_report = report
    router.quarantined = rows.quarantine.quarantined
    return router
