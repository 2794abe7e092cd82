"""The router: text in, :class:`RoutingDecision` out."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from ._decision import Candidate, RoutingDecision, TierThresholds, UnitCandidate, deadlines_for
from .exceptions import ModelFileError, ModelMismatchError, NotFittedError

__all__ = ["Router"]

logger = logging.getLogger(__name__)

_CONTEXT_COLUMNS = ("district", "street", "received_at", "location")

#: Candidate items scored per complaint to sum probabilities by lead unit.
UNIT_POOL = 10
#: Candidate items below this probability are not resolved to a unit (their mass is negligible).
UNIT_MIN_PROB = 0.01
#: A text with at most this many informative characters (see ``informative_chars``) names no
#: problem ("噪音", "12345", "你好", "投诉"): it is always ``manual``.
VAGUE_CHARS = 2
#: A text with fewer informative characters than this is never ``auto``: too short to be sure.
SHORT_CHARS = 6
#: Default strength of the catalog-keyword prior on the candidate items (see ``KeywordPrior``).
DEFAULT_KEYWORD_PRIOR = 0.2
#: Most (role, district, street) -> unit pairs a router remembers for further candidates.
_ROLE_UNIT_CACHE = 50_000
#: The suggest threshold of models saved before tiers existed (their auto threshold is their
#: review threshold).
DEFAULT_SUGGEST_THRESHOLD = 0.2


@lru_cache(maxsize=4096)
def _read_time(text):
    """The naive ``datetime`` of a stripped time string in one of the accepted layouts, or ``None``.

    Intake systems send the same few timestamps again and again (one per
    minute), so the answers are remembered.
    """
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S",
                "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _parse_time(value, *, where="received_at"):
    """Turn ``value`` into a naive ``datetime`` (or ``None``); raise ValueError naming it."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        # pandas.Timestamp is a datetime subclass; NaT is not usable
        if value != value:  # NaT
            return None
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        when = _read_time(s)
        if when is None:
            raise ValueError(f"{where}: cannot read {value!r} as a time; expected 'YYYY-MM-DD HH:MM'")
        return when
    raise ValueError(f"{where}: expected a datetime or 'YYYY-MM-DD HH:MM' string, got {type(value).__name__}")


class _TimeReader:
    """Reads the receipt times of a batch's rows (each distinct string is parsed once, see ``_read_time``).

    A row whose time is missing or cannot be read gets ``default``; an
    unreadable one also an error message (the row is flagged, not refused).
    """

    def __init__(self, default):
        self.default = default

    def read(self, value):
        """``(when, error)`` of one value: ``default`` for a missing or unreadable time."""
        try:
            return _parse_time(value) or self.default, None
        except ValueError as exc:
            return self.default, str(exc)

    def contexts(self, rows):
        """The rows' ``(district, street, when, location)`` with times read, and ``{row: error}``."""
        ctx, errors = [], {}
        for i, (d, s, w, loc) in enumerate(rows):
            when, error = self.read(w)
            if error is not None:
                errors[i] = error
            ctx.append((d, s, when, loc))
        return ctx, errors


def _blank(value):
    """True for None, NaN and empty strings (missing context values)."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


class Router:
    """Route complaints to duty items and the units that must handle them.

    A router combines a fitted :class:`~sujian_router.TextClassifier`
    (text to duty item), the duty catalog (item to department roles) and the
    routing rules (roles, jurisdiction, urgency and the anti-buck-passing
    flags).  The model predicts duties only: departments come from the
    catalog and the rules at routing time, so reassigning a duty never needs
    retraining.

    Use :meth:`load` to get the bundled default or a saved model, and
    :func:`sujian_router.train` to fit a new one.

    Parameters
    ----------
    classifier : TextClassifier
        A fitted classifier whose labels are item codes (or free labels).
    catalog : DutyCatalog, optional
        The catalog the labels refer to; ``None`` for a free-label model,
        which names a label but no departments.
    rules : RuleSet, optional
        Routing rules; the bundled rules when ``None`` and a catalog is given.
    review_threshold : float
        Decisions whose unit confidence is below this go to a human
        (``needs_review=True``); the ``auto`` threshold when ``thresholds``
        is not given.
    thresholds : TierThresholds or dict or (auto, suggest), optional
        Unit-confidence thresholds of the ``auto`` and ``suggest`` tiers
        (chosen on validation data by ``train``). Without it, ``auto`` is
        ``review_threshold`` and ``suggest`` the lower of it and
        :data:`DEFAULT_SUGGEST_THRESHOLD`.
    keyword_prior : float, optional
        Strength of the catalog-keyword prior that re-weighs the candidate
        items (:class:`~sujian_router._prior.KeywordPrior`; 0 switches it
        off). ``None``: the value saved with the model, else
        :data:`DEFAULT_KEYWORD_PRIOR`. Ignored without a catalog.
    metadata : dict, optional
        What the model directory records (versions, hashes, metrics).

    Examples
    --------
    >>> from sujian_router import Router
    >>> router = Router.load()                                   # doctest: +SKIP
    >>> d = router.route("晚上10点后经常有人在坪联路过河大桥下跳广场舞，噪声比较大。",
    ...                  district="坪山区", street="坪山街道",
    ...                  received_at="2024-06-12 22:30")            # doctest: +SKIP
    >>> d.departments                                            # doctest: +SKIP
    ('坪山派出所', '深圳市龙岗河坪山河流域管理中心', ...)
    """

    def __init__(self, classifier, *, catalog=None, rules=None, review_threshold=0.5, metadata=None,
                 thresholds=None, keyword_prior=None):
        if not hasattr(classifier, "classes_"):
            raise NotFittedError("Router needs a fitted classifier (it has no classes_)")
        if not 0.0 <= float(review_threshold) <= 1.0:
            raise ValueError(f"review_threshold must be in [0, 1], got {review_threshold!r}")
        self._set_thresholds(thresholds, review_threshold)
        self.classifier = classifier
        self.catalog = catalog
        if rules is None and catalog is not None:
            from ._rules import load_rules

            rules = load_rules(directory=catalog.departments)
        elif rules is not None and catalog is not None:
            rules.check_catalog(catalog)  # a rule on a code or role the catalog lacks would never work
        self.rules = rules
        self.metadata = dict(metadata or {})
        self._set_prior(keyword_prior)
        self._fixed_lead: dict[str, str | None] = {}  # item code -> its lead role when no rule can change it
        self._role_units: dict[tuple, str] = {}  # (role, district, street) -> unit, from full resolutions
        self.load_warnings: tuple[str, ...] = ()
        if catalog is not None:
            missing = [c for c in classifier.classes_ if c not in catalog]
            if missing:
                raise ModelMismatchError(
                    f"{len(missing)} model label(s) are not items of the catalog, e.g. {missing[:5]}"
                )

    # ------------------------------------------------------------------ tiers
    def _set_thresholds(self, thresholds, review_threshold):
        """Store the tier thresholds; ``review_threshold`` mirrors the auto one."""
        if thresholds is None:
            auto = float(review_threshold)
            thresholds = TierThresholds(auto=auto, suggest=min(auto, DEFAULT_SUGGEST_THRESHOLD))
        self.thresholds = TierThresholds.coerce(thresholds)
        self.review_threshold = self.thresholds.auto

    def with_thresholds(self, thresholds=None, *, auto=None, suggest=None):
        """Return a copy of the router with other tier thresholds (the model is shared).

        Parameters
        ----------
        thresholds : TierThresholds or dict or (auto, suggest), optional
            The new thresholds.
        auto, suggest : float, optional
            Change only one of the current thresholds.

        Returns
        -------
        Router

        Raises
        ------
        ValueError
            The thresholds are not ``0 <= suggest <= auto <= 1``.

        Examples
        --------
        >>> from sujian_router import TierThresholds
        >>> class Clf:
        ...     classes_ = ("a", "b")
        >>> r = Router(Clf(), thresholds=(0.8, 0.3))
        >>> r.with_thresholds(auto=0.95).thresholds
        TierThresholds(auto=0.95, suggest=0.3)
        >>> r.thresholds.auto
        0.8
        """
        import copy

        if thresholds is None:
            thresholds = TierThresholds(auto=self.thresholds.auto if auto is None else auto,
                                        suggest=self.thresholds.suggest if suggest is None else suggest)
        elif auto is not None or suggest is not None:
            raise ValueError("with_thresholds: give thresholds or auto/suggest, not both")
        other = copy.copy(self)
        other.metadata = dict(self.metadata)
        other._set_thresholds(thresholds, None)
        return other

    def _set_prior(self, strength):
        """The catalog-keyword prior (``None`` without a catalog or at strength 0)."""
        from ._prior import KeywordPrior

        if strength is None:
            strength = self.metadata.get("keyword_prior", DEFAULT_KEYWORD_PRIOR)
        self.keyword_prior = float(strength)
        prior = KeywordPrior(self.catalog, strength=self.keyword_prior) if self.catalog is not None else None
        self._prior = prior if prior is not None and prior.strength > 0 else None

    def _candidates(self, texts, k, explain):
        """Top-``k`` items per prepared text (a wider pool re-weighed by the keyword prior).

        Returns ``(labels, probs, terms)``; ``terms`` is ``None`` unless
        ``explain``, and empty for a row whose first item the prior changed.
        """
        n_classes = len(self.classifier.classes_)
        pool = min(max(k, UNIT_POOL), n_classes) if self._prior is not None else min(k, n_classes)
        if hasattr(self.classifier, "predict_batch"):  # the classifier's batch entry point
            batch = self.classifier.predict_batch(texts, top_k=pool, explain=5 if explain else 0)
            labels, probs, terms = batch.labels, batch.probabilities, batch.terms
        elif explain:
            labels, probs, terms = self.classifier.top_k_explained(texts, k=pool, n_terms=5)
        else:
            labels, probs, terms = *self.classifier.top_k(texts, k=pool), None
        if self._prior is not None:
            first = np.asarray(labels, dtype=object)[:, 0].copy()
            labels, probs = self._prior.rescore(labels, probs, texts)
            if terms is not None:
                terms = [t if labels[i, 0] == first[i] else () for i, t in enumerate(terms)]
        from ._learn import apply_corrections

        labels, probs, terms = apply_corrections(self, labels, probs, texts, terms)
        return labels[:, :k], probs[:, :k], terms

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path=None, *, catalog=None, rules=None, strict=False, progress=True):
        """Load a saved model directory, or the bundled default model.

        Parameters
        ----------
        path : str or Path, optional
            A model directory written by :meth:`save`.  ``None`` (or
            ``"default"``) loads the bundled default model, building it from
            the catalog and synthetic tickets on first use (about a minute,
            with a progress bar) and caching it.
        catalog : DutyCatalog, optional
            The catalog to route with; the bundled one by default.  A
            changed catalog is fine as long as it still has every item the
            model predicts with the same name, category and subcategory
            (departments may change freely); one that gives the model's
            codes other meanings is refused, naming both catalogs.
        rules : RuleSet, optional
            The routing rules; the bundled ones by default.
        strict : bool
            Raise :class:`ModelMismatchError` on any version or catalog
            difference instead of recording it in ``load_warnings``.
        progress : bool
            Show a progress bar when the default model has to be built.

        Raises
        ------
        ModelFileError
            The directory is missing, truncated or tampered with.
        ModelMismatchError
            The model predicts items the catalog does not have (or, with
            ``strict=True``, anything differs).
        """
        from ._persist import load_model_dir
        from ._state_check import CLASSIFIER_MEMBERS

        if path is None or str(path) == "default":
            from ._default_model import ensure_default_model

            path = ensure_default_model(progress=progress)
        path = Path(path)
        arrays, meta = load_model_dir(path, members=CLASSIFIER_MEMBERS)
        return cls._from_saved(arrays, meta, path=path, catalog=catalog, rules=rules, strict=strict)

    @classmethod
    def _from_saved(cls, arrays, meta, *, path, catalog, rules, strict):
        from ._classifier import TextClassifier
        from ._persist import environment_versions, version_differences
        from ._state_check import check_catalog_match, check_router_metadata
        from ._training_report import report_from_metadata

        check_router_metadata(meta, path)
        try:
            classifier = TextClassifier.from_state(arrays, meta["classifier"])
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ModelFileError(f"{path}: the classifier state in arrays.npz/metadata.json is unusable: {exc}") from exc
        saved, current = dict(meta.get("versions", {})), environment_versions()
        if getattr(classifier.tokenizer, "backend", None) != "rjieba":  # its version cannot matter
            saved.pop("rjieba", None)
            current.pop("rjieba", None)
        problems = list(version_differences(saved, current))
        if meta.get("uses_catalog", True):
            explicit = catalog is not None
            if catalog is None:
                from ._catalog import load_catalog

                catalog = load_catalog()
            problems.extend(check_catalog_match(meta, catalog, classifier.classes_, path, explicit=explicit))
            missing = [c for c in classifier.classes_ if c not in catalog]
            if missing:
                raise ModelMismatchError(
                    f"{path}: the model predicts {len(missing)} item code(s) that the catalog lacks, "
                    f"e.g. {missing[:5]}; retrain or load it with the catalog it was trained on"
                )
        else:
            catalog = None
        if strict and problems:
            raise ModelMismatchError(f"{path}: " + "; ".join(problems))
        router = cls(
            classifier,
            catalog=catalog,
            rules=rules,
            review_threshold=meta.get("review_threshold", 0.5),
            thresholds=meta.get("tier_thresholds"),
            metadata=meta,
        )
        router.load_warnings = tuple(problems)
        router.training_report = report_from_metadata(meta)
        for p in problems:
            logger.warning("%s: %s", path, p)
        return router

    def save(self, path, *, card=None):
        """Write the model directory (arrays, metadata, model card, manifest).

        Nothing is pickled: the classifier is stored as numeric arrays plus
        JSON, and every file's SHA-256 goes into ``manifest.json``.

        Returns
        -------
        Path
            The directory written.
        """
        from ._persist import environment_versions, save_model_dir

        arrays, clf_meta = self.classifier.to_state()
        meta = dict(self.metadata)
        meta.update(
            classifier=clf_meta,
            review_threshold=self.review_threshold,
            tier_thresholds=self.thresholds.to_dict(),
            keyword_prior=self.keyword_prior,
            uses_catalog=self.catalog is not None,
            versions=environment_versions(),
        )
        if self.catalog is not None:
            from ._state_check import catalog_identity

            meta.update(catalog_identity(self.catalog, self.classifier.classes_))
        text = card if card is not None else _model_card(meta, n_labels=len(arrays["classes"]))
        return save_model_dir(Path(path), arrays, meta, text)

    def learn(self, corrections, *, similarity=None):
        """Return a new router that remembers dispatchers' corrections (this one is unchanged).

        See :func:`sujian_router.learn` (``_learn.py``) for the rows expected,
        the report (``new.learning_report``) and how corrections apply.
        """
        from ._learn import learn

        return learn(self, corrections, similarity=similarity)

    # ------------------------------------------------------------------ ranking
    @property
    def classes_(self):
        """The labels (item codes) the model can predict."""
        return self.classifier.classes_

    def rank(self, texts, top_k=5, *, k=None):
        """Return the top-``top_k`` labels and probabilities for raw texts.

        Parameters
        ----------
        texts : iterable of str
            Raw complaint texts (normalised and masked here).
        top_k : int
            How many candidates per text.
        k : int, optional
            Deprecated former name of ``top_k`` (accepted with a
            ``DeprecationWarning``; ``top_k`` is the project's one name for the
            candidate count).

        Returns
        -------
        labels : ndarray of str, shape (n, top_k)
        probs : ndarray of float, shape (n, top_k)
        """
        if k is not None:
            import warnings

            warnings.warn("Router.rank(k=) is deprecated; use top_k=", DeprecationWarning, stacklevel=2)
            top_k = k
        prepared = [p.text if p is not None and not isinstance(p, Exception) else ""
                    for p in _prepare_batch([t if isinstance(t, str) else "" for t in texts])]
        return self._rank_prepared(prepared, top_k)

    def _rank_prepared(self, prepared, k):
        k = max(1, min(int(k), len(self.classifier.classes_)))
        if not prepared:
            return np.empty((0, k), dtype=object), np.empty((0, k), dtype=float)
        labels, probs, _ = self._candidates(prepared, k, explain=False)
        return labels, probs

    # ------------------------------------------------------------------ routing
    def route(self, text, *, district=None, street=None, received_at=None, location=None, top_k=5, explain=True):
        """Route one complaint.

        Never raises on a ``str``: empty, content-free or very long texts
        give a flagged decision with ``needs_review=True``.

        Parameters
        ----------
        text : str
            The complaint as the citizen wrote it.
        district, street : str, optional
            Where it happened, when the intake system knows (e.g. ``"坪山区"``,
            ``"坪山街道"``).  When missing, places named in the text are used.
        received_at : datetime or str, optional
            When it was received (``"YYYY-MM-DD HH:MM"``); deadlines count
            from here.  ``None`` means now.
        location : str, optional
            A place description or type (``"河道"``, ``"学校"``...) used by
            place rules.
        top_k : int
            Number of candidates to return.
        explain : bool
            Name the terms behind the decision in its first reason
            (``关键词：…``); ``False`` skips that lookup, everything else is
            the same (as in :meth:`route_many`).

        Returns
        -------
        RoutingDecision

        Raises
        ------
        TypeError
            ``text`` is not a ``str``.
        ValueError
            ``received_at`` cannot be read as a time.
        """
        if not isinstance(text, str):
            raise TypeError(f"route() needs the complaint text as str, got {type(text).__name__}")
        when = _parse_time(received_at)
        if when is None:
            when = datetime.now().replace(second=0, microsecond=0)
        return self._route_batch([text], [(district, street, when, location)], top_k, explain)[0]

    def route_many(self, texts, *, district=None, street=None, received_at=None, location=None,
                   top_k=5, batch_size=2000, explain=True):
        """Route many complaints: exactly one decision per input, in input order.

        Parameters
        ----------
        texts : iterable of str or pandas.DataFrame
            Texts, or a DataFrame with a ``text`` column and optional
            ``district``, ``street``, ``received_at`` and ``location``
            columns (per-row context).
        district, street, received_at, location : optional
            Context applied to rows that do not have their own.
        top_k : int
            Candidates per decision.
        batch_size : int
            Rows classified per vectorised call.
        explain : bool
            Name the terms behind each decision in its first reason
            (``关键词：…``). ``False`` skips that lookup, which bulk jobs that
            keep no reasons (``route_file``) do; everything else is the same.

        Returns
        -------
        list of RoutingDecision
            ``None``, NaN, non-string and otherwise unusable rows give a
            flagged decision (``needs_review=True``) rather than an error.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"route_many: batch_size must be a positive integer, got {batch_size!r}")
        rows_text, rows_ctx = self._rows(texts, district, street, received_at, location)
        times = _TimeReader(datetime.now().replace(second=0, microsecond=0))
        out: list[RoutingDecision] = []
        for start in range(0, len(rows_text), int(batch_size)):
            chunk_t = rows_text[start:start + batch_size]
            ctx, errors = times.contexts(rows_ctx[start:start + batch_size])
            decisions = self._route_batch(chunk_t, ctx, top_k, explain)
            for i, msg in errors.items():
                decisions[i] = _with_flag(decisions[i], "invalid_context", f"提交时间无法识别（{msg}），按当前时间计算时限")
            out.extend(decisions)
        return out

    @staticmethod
    def _rows(texts, district, street, received_at, location):
        defaults = {"district": district, "street": street, "received_at": received_at, "location": location}
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a dependency
            pd = None
        if pd is not None and isinstance(texts, pd.DataFrame):
            if "text" not in texts.columns:
                from .exceptions import TicketSchemaError

                raise TicketSchemaError(f"route_many: expected columns ['text'], found {list(texts.columns)}")
            n = len(texts)
            cols = {}
            for c in _CONTEXT_COLUMNS:
                cols[c] = texts[c].tolist() if c in texts.columns else [defaults[c]] * n
            ctx = []
            for i in range(n):
                vals = []
                for c in _CONTEXT_COLUMNS:
                    v = cols[c][i]
                    vals.append(defaults[c] if _blank(v) else v)
                ctx.append(tuple(vals))
            return texts["text"].tolist(), ctx
        if isinstance(texts, str):
            raise TypeError("route_many() needs an iterable of texts; use route() for a single str")
        if pd is not None and isinstance(texts, pd.Series):
            texts = texts.tolist()
        rows = list(texts) if isinstance(texts, Iterable) else None
        if rows is None:
            raise TypeError(f"route_many() needs an iterable of texts or a DataFrame, got {type(texts).__name__}")
        ctx = [(district, street, received_at, location)] * len(rows)
        return rows, ctx

    # ------------------------------------------------------------ the decision path
    def _route_batch(self, texts, ctx, top_k, explain=True):
        """Route one batch; every row gets a decision, per-row failures a flagged one.

        The steps, in order: :func:`_prepare_batch` (normalise and mask each
        distinct text once), :meth:`_rank_batch` (one classifier call for the
        usable rows, then the keyword prior), :meth:`_decide` per row (refuse
        unusable rows, choose item and lead unit, apply the rules, choose the
        tier) and :func:`_check_place` (unknown district or street names).
        """
        prepared = _prepare_batch(texts)
        top_k = max(1, int(top_k))
        ranked = self._rank_batch(prepared, top_k, explain)
        out = []
        for i, p in enumerate(prepared):
            try:
                out.append(self._decide(texts[i], p, ctx[i], ranked, i, top_k))
            except Exception as exc:  # never lose a row
                logger.exception("routing row %d failed", i)
                out.append(self._flagged(ctx[i], "row_error", f"该条诉求处理出错（{type(exc).__name__}: {exc}），请人工分拨"))
        return [_check_place(self.catalog, d, c) for d, c in zip(out, ctx)]

    def _rank_batch(self, prepared, top_k, explain):
        """The candidate items of every usable row of a batch, from one classifier call."""
        usable = [i for i, p in enumerate(prepared) if p is not None and not isinstance(p, Exception) and not p.empty]
        k = min(max(top_k, UNIT_POOL), len(self.classifier.classes_))
        labels = probs = terms = error = None
        if usable:
            try:
                labels, probs, terms = self._candidates([prepared[i].text for i in usable], k, explain)
            except Exception as exc:  # pragma: no cover - defensive
                error = exc
        return _Ranked(labels, probs, terms, {i: j for j, i in enumerate(usable)}, error)

    def _decide(self, raw, prepared, ctx, ranked, i, top_k=5):
        """The decision of batch row ``i``: refused, free-label, or item and unit with the rules applied."""
        refused = self._refuse(raw, prepared, ctx, ranked, i)
        if refused is not None:
            return refused
        codes, scores, terms = ranked.row(i)
        flags, reasons = _text_notes(prepared)
        if self.catalog is None:
            return self._decide_free_label(codes, scores, prepared, ctx, flags, reasons, top_k)
        return self._decide_unit(codes, scores, terms, prepared, ctx, flags, reasons, top_k)

    def _refuse(self, raw, prepared, ctx, ranked, i):
        """A flagged decision for a row that cannot be classified, else ``None``."""
        if prepared is None:
            kind = "空值" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else type(raw).__name__
            return self._flagged(ctx, "invalid_input", f"诉求内容不是文本（{kind}），请人工分拨")
        if isinstance(prepared, Exception):
            return self._flagged(ctx, "row_error", f"文本预处理出错（{prepared}），请人工分拨")
        extra = ("truncated",) if prepared.truncated else ()
        if prepared.empty:
            return self._flagged(ctx, "empty_text", "诉求内容为空或没有可识别的文字，请人工分拨", extra)
        if ranked.error is not None or i not in ranked.position:
            return self._flagged(ctx, "row_error", f"分类出错（{ranked.error}），请人工分拨", extra)
        return None

    def _flagged(self, ctx, flag, reason, extra_flags=()):
        """A ``manual`` decision without an item; the row's deadlines and jurisdiction still stated."""
        context = _routing_context(ctx)
        flags, reasons = [flag, *extra_flags], [reason]
        conflict = self._place_conflict(context)
        if conflict:
            flags.append("jurisdiction_conflict")
            reasons.append(conflict)
        res = _bare_resolution(context.district, context.street, context.received_at)
        return _build_decision(res, flags=flags, reasons=reasons, tier="manual")

    def _place_conflict(self, context):
        """The places layer's sentence when the given district and street contradict each other."""
        directory = getattr(self.catalog, "departments", None)
        if directory is None or not (context.district and context.street):
            return None
        from ._places import check_jurisdiction

        try:
            return check_jurisdiction(context.district, context.street, directory)
        except Exception:  # pragma: no cover - defensive: a refused row must still get its decision
            logger.exception("checking the jurisdiction of a refused row failed")
            return None

    def _decide_unit(self, codes, scores, terms, prepared, ctx, flags, reasons, top_k):
        """A catalog decision: the lead unit with the most candidate mass, its best item, the rules' resolution."""
        units, resolved = self._unit_candidates(codes, scores, prepared.text, ctx)
        code = units[0].items[0]
        item = self.catalog.get(code)
        res = resolved[code] if code in resolved else self._resolution(item, prepared.text, ctx)
        confidence = scores[codes.index(code)]
        row_terms = terms if terms is not None and code == codes[0] else ()
        reasons.insert(0, _verdict(item.name, confidence, row_terms))
        if units[0].unit != resolved[codes[0]].lead_department:
            reasons.insert(1, f"按主办单位汇总：{units[0].unit}合计置信度{units[0].probability:.2f}，"
                              f"高于首选事项「{self.catalog.get(codes[0]).name}」的主办单位")
        reasons.extend(res.reasons)
        if res.joint_review and "joint_review" not in flags:
            flags.append("joint_review")
        if res.arbitration:
            flags.append("arbitration")
        flags.extend(f for f in res.flags if f not in flags)
        tier = self._tier(units[0].probability, prepared, res.joint_review, flags, reasons)
        return _build_decision(res, item=item, confidence=confidence,
                               candidates=self._item_candidates(codes, scores, top_k), flags=flags,
                               reasons=reasons, unit_confidence=units[0].probability, unit_candidates=units,
                               tier=tier)

    def _decide_free_label(self, codes, scores, prepared, ctx, flags, reasons, top_k):
        """A decision of a free-label model: no units, so the tier follows the label's confidence."""
        district, street, when, _ = ctx
        reasons.insert(0, _verdict(codes[0], scores[0], ()))
        tier = self._tier(scores[0], prepared, False, flags, reasons)
        reasons.append("自由标签模型：不解析承办部门")
        res = _bare_resolution(None if _blank(district) else district, None if _blank(street) else street, when,
                               deadlines=False)
        return _build_decision(res, label=codes[0], confidence=scores[0],
                               candidates=self._item_candidates(codes, scores, top_k), flags=flags,
                               reasons=reasons, unit_confidence=scores[0], tier=tier)

    def _item_candidates(self, codes, scores, top_k):
        """The displayed top-``top_k`` item candidates."""
        cat = self.catalog
        return tuple(Candidate(c, cat.get(c).name if cat is not None else c, round(s, 4))
                     for c, s in zip(codes[:top_k], scores[:top_k]))

    def _unit_candidates(self, codes, scores, text, ctx):
        """Sum the candidate items' probabilities by their resolved lead unit.

        Returns the unit candidates (most probable first; ties keep the order
        of their best item) and the resolution of every item resolved.
        """
        resolved = {}
        mass: dict[str, list] = {}
        first = None
        for rank, (code, score) in enumerate(zip(codes, scores)):
            if rank and score < UNIT_MIN_PROB:
                break
            unit = self._known_lead(code, first) if rank else None
            if unit is None:
                res = self._resolution(self.catalog.get(code), text, ctx)
                resolved[code] = res
                first = first or res
                unit = res.lead_department or ""
            entry = mass.get(unit)
            if entry is None:
                mass[unit] = [score, rank, [code]]
            else:
                entry[0] += score
                entry[2].append(code)
        ranked = sorted(mass.items(), key=lambda kv: (-kv[1][0], kv[1][1]))
        units = tuple(UnitCandidate(unit, round(min(1.0, p), 4), tuple(items)) for unit, (p, _, items) in ranked)
        return units, resolved

    def _known_lead(self, code, first):
        """The lead unit of a further candidate without a rules pass, or ``None`` when one is needed.

        When no rule can change the item's lead (none that sets a lead or asks
        for joint review applies to it, and it is no known gap), its lead is its
        catalog lead role in the jurisdiction already found for this text
        (``first``, the first candidate's resolution); the unit that role
        resolves to there is remembered from earlier full resolutions.
        """
        role = self._fixed_lead.get(code, False)
        if role is False:
            item = self.catalog.get(code)
            rules = self.rules.rules_for(item) if self.rules is not None else ()
            fixed = bool(item.lead_department) and not getattr(item, "gap", False) and \
                not any(r.lead or r.joint_review for r in rules)
            role = self._fixed_lead[code] = item.lead_department if fixed else None
        if role is None:
            return None
        return self._role_units.get((role, first.district, first.street))

    def _tier(self, unit_confidence, prepared, joint_review, flags, reasons):
        """Choose ``auto``/``suggest``/``manual``; append the flags and reasons that explain it."""
        t = self.thresholds
        if prepared.informative <= VAGUE_CHARS:
            flags.append("vague_text")
            reasons.append("诉求内容没有说明具体问题（只有问候、称呼、号码或笼统词语），请人工分拨或联系市民补充")
            return "manual"
        tier = t.tier_for(unit_confidence)
        if tier == "manual":
            flags.append("low_confidence")
            reasons.append(f"主办单位置信度{unit_confidence:.2f}低于建议阈值{t.suggest:.2f}，请人工分拨")
            return tier
        if tier == "suggest":
            flags.append("low_confidence")
            reasons.append(f"主办单位置信度{unit_confidence:.2f}低于自动分拨阈值{t.auto:.2f}，请从候选单位中确认")
        elif prepared.informative < SHORT_CHARS:
            tier = "suggest"
            flags.append("short_text")
            reasons.append("诉求内容过短，不自动分拨，请从候选单位中确认")
        elif joint_review:
            tier = "suggest"
        return tier

    def _resolution(self, item, text, ctx):
        """The rules' :class:`~sujian_router._rules.Resolution` of ``item`` for this text and context.

        Without rules (or a catalog) only the deadlines of a general request
        are set. Each resolution also teaches :meth:`_known_lead` which unit
        its lead role is in its jurisdiction.
        """
        context = _routing_context(ctx)
        if self.rules is None or self.catalog is None:
            return _bare_resolution(context.district, context.street, context.received_at)
        res = self.rules.apply(item, text, context, self.catalog.departments)
        if len(self._role_units) < _ROLE_UNIT_CACHE:
            self._role_units[(res.lead_role, res.district, res.street)] = res.lead_department
        return res

    def _resolve(self, item, text, ctx):
        """:meth:`_resolution` as a plain dict (what ``evaluate`` reads the lead unit from)."""
        return self._resolution(item, text, ctx).to_dict()

    def __repr__(self):
        n = len(self.classifier.classes_)
        kind = "catalog" if self.catalog is not None else "free-label"
        t = self.thresholds
        return f"Router({kind}, {n} labels, auto>={t.auto:.3f}, suggest>={t.suggest:.3f})"


@dataclass(frozen=True)
class _Ranked:
    """The classifier's answer for the usable rows of one batch.

    ``labels``/``probs`` have one row per usable batch row (``position`` maps
    batch row to that row); ``terms`` holds the words behind each first item
    (``None`` unless explanations were asked for); ``error`` is the exception
    of a failed classifier call.
    """

    labels: object
    probs: object
    terms: list | None
    position: dict
    error: Exception | None

    def row(self, i):
        """``(codes, scores, terms)`` of batch row ``i`` as plain Python values."""
        j = self.position[i]
        terms = self.terms[j] if self.terms is not None else None
        return [str(c) for c in self.labels[j]], [float(s) for s in self.probs[j]], terms


def _prepare_batch(texts):
    """Normalise and mask every text of a batch once (repeated texts share the work).

    Each entry is a ``PreparedText``, ``None`` for a non-string, or the
    exception preparing it raised (the row is then flagged, never lost).
    """
    from ._text import prepare_text

    done, out = {}, []
    for t in texts:
        if not isinstance(t, str):
            out.append(None)
            continue
        p = done.get(t)
        if p is None:
            try:
                p = prepare_text(t)
            except Exception as exc:  # defensive: never lose a row
                p = exc
            done[t] = p
        out.append(p)
    return out


def _text_notes(prepared):
    """The flags and reasons a prepared text brings by itself (cut to length, personal data masked)."""
    flags, reasons = [], []
    if prepared.truncated:
        from ._text import MAX_TEXT_CHARS

        flags.append("truncated")
        reasons.append(f"诉求内容过长，只按前{MAX_TEXT_CHARS}个字符分拨")
    if prepared.masked:
        reasons.append("已屏蔽个人信息：" + "、".join(prepared.masked))
    return flags, reasons


def _routing_context(ctx):
    """The rules' :class:`RoutingContext` of a row's ``(district, street, when, location)``."""
    from ._rules import RoutingContext

    district, street, when, location = ctx
    return RoutingContext(
        district=None if _blank(district) else str(district),
        street=None if _blank(street) else str(street),
        received_at=when,
        location=None if _blank(location) else str(location),
    )


def _bare_resolution(district, street, when, *, deadlines=True):
    """A resolution without rules: no units, a general request's deadlines (when asked for)."""
    from ._rules import Resolution

    dispatch, contact = deadlines_for("一般", when) if deadlines else (None, None)
    return Resolution(lead_department=None, co_departments=(), lead_role=None, co_roles=(), urgency="一般",
                      received_at=when, dispatch_deadline=dispatch, contact_deadline=contact,
                      arbitration=False, joint_review=False, district=district, street=street,
                      fired_rules=(), reasons=())


def _build_decision(res, *, item=None, label=None, confidence=0.0, candidates=(), flags=(), reasons=(),
                    unit_confidence=0.0, unit_candidates=(), tier="manual"):
    """The one place a :class:`RoutingDecision` is assembled from a resolution and the choices made.

    ``item`` (a catalog item) or ``label`` (a free label) names what was
    chosen; neither for a refused row. ``needs_review`` follows the tier.
    """
    return RoutingDecision(
        item_code=item.code if item is not None else label,
        item_name=item.name if item is not None else label,
        category=item.category if item is not None else None,
        subcategory=item.subcategory if item is not None else None,
        confidence=confidence, candidates=candidates,
        lead_department=res.lead_department, co_departments=tuple(res.co_departments), urgency=res.urgency,
        received_at=res.received_at, dispatch_deadline=res.dispatch_deadline,
        contact_deadline=res.contact_deadline, needs_review=tier != "auto",
        arbitration=res.arbitration, joint_review=res.joint_review, district=res.district, street=res.street,
        flags=tuple(flags), reasons=tuple(reasons),
        unit_confidence=unit_confidence, unit_candidates=unit_candidates, tier=tier,
    )


def _verdict(label_name, confidence, row_terms):
    """The first reason: the item chosen, its confidence and the words behind it."""
    top_terms = [t for t, w in row_terms if w > 0 and len(t) > 1] or [t for t, w in row_terms if w > 0]
    if top_terms:
        return f"判定为「{label_name}」（置信度{confidence:.2f}），关键词：" + "、".join(top_terms)
    return f"判定为「{label_name}」（置信度{confidence:.2f}）"


def _check_place(catalog, decision, ctx):
    """Flag ``invalid_context`` (and review) when the given district or street is unknown or they disagree.

    Unknown names are found here; a contradiction between a known district
    and a known street is the places layer's finding (its
    ``jurisdiction_conflict`` flag and reason), so it is not explained twice.
    """
    directory = getattr(catalog, "departments", None)
    district, street = ctx[0], ctx[1]
    if directory is None or (_blank(district) and _blank(street)):
        return decision
    problems = []
    if not _blank(district) and directory.normalize_district(str(district)) is None:
        problems.append(f"区“{str(district)[:40]}”无法识别")
    if not _blank(street) and directory.normalize_street(str(street)) is None:
        problems.append(f"街道“{str(street)[:40]}”无法识别")
    if problems:
        return _with_flag(decision, "invalid_context", "事发地有误：" + "；".join(problems) + "，请人工核实")
    if "jurisdiction_conflict" in decision.flags:
        return _with_flag(decision, "invalid_context")
    return decision


def _with_flag(decision, flag, reason=None):
    """``decision`` with one more flag (and reason), sent to review: ``auto`` becomes ``suggest``."""
    from dataclasses import replace

    tier = "suggest" if decision.tier == "auto" else decision.tier
    reasons = decision.reasons if reason is None else (*decision.reasons, reason)
    return replace(decision, flags=(*decision.flags, flag), reasons=reasons, needs_review=True, tier=tier)


def _model_card(meta, n_labels):
    """A short human-readable model card from the metadata (the labels are stored with the arrays)."""
    lines = ["# sujian_router model", ""]
    lines.append(f"- kind: {'duty items of a catalog' if meta.get('uses_catalog', True) else 'free labels'}")
    lines.append(f"- labels: {n_labels}")
    if meta.get("classifier", {}).get("hierarchy"):
        lines.append(f"- classifier: {meta['classifier']['hierarchy']} sparse linear model")
    if meta.get("training"):
        t = meta["training"]
        lines.append(f"- training rows used: {t.get('rows_used')} (quarantined {t.get('rows_quarantined')}, "
                     f"catalog-derived examples added {t.get('rows_augmented')})")
        lines.append(f"- training data SHA-256: {t.get('data_sha256')}")
        if t.get("synthetic"):
            lines.append("- **trained on SYNTHETIC tickets** generated from the catalog; not real complaints")
        lines.append(f"- seed: {t.get('seed')}")
    if meta.get("metrics"):
        lines.append("- validation metrics: " + ", ".join(f"{k}={v}" for k, v in sorted(meta["metrics"].items())))
    lines.append(f"- review threshold: {meta.get('review_threshold')}")
    if meta.get("tier_thresholds"):
        lines.append(f"- tier thresholds (unit confidence): {meta['tier_thresholds']}")
    if meta.get("catalog_fingerprint"):
        lines.append(f"- catalog fingerprint: {meta['catalog_fingerprint']}")
    lines.append(f"- versions: {meta.get('versions')}")
    lines.append("")
    lines.append("Load with `sujian_router.Router.load(path)`; the files are verified against manifest.json.")
    return "\n".join(lines) + "\n"
