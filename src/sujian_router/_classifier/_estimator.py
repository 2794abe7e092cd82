"""The :class:`TextClassifier` façade: parameters, fitting and prediction entry points.

The work happens in the sibling modules (features, hierarchy, search,
calibration, explanations, state); this module validates input once and
delegates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..exceptions import NotFittedError
from . import _calibration, _features, _hierarchy, _state
from ._explain import Explainer
from ._params import check_params
from ._search import CHUNK, Scorer, Temperatures

_TOP_K_CHUNK = 2048  # rows featurised and searched at once by top_k (fewer, larger sparse products)
_DEFAULT_TEMPERATURE = 0.1
# attributes derived from the fitted state on first use; never pickled, dropped by fit
_DERIVED = ("_featurizer_cache", "_scorer_cache", "_explainer_cache")


@dataclass(frozen=True)
class BatchPrediction:
    """Top-k labels of a batch of texts, one row per input text, in order.

    Attributes
    ----------
    labels : ndarray of str, shape (n_texts, k)
        Best label first.
    probabilities : ndarray of float, shape (n_texts, k)
        Probability of each label (the full model's, never approximated).
    terms : tuple of tuple of (str, float), or None
        The terms behind each text's best label (see
        :meth:`TextClassifier.explain`); None unless asked for.

    Examples
    --------
    >>> clf = TextClassifier(min_df=1).fit(["广场舞太吵", "马路有坑"] * 3, ["噪音", "道路"] * 3)
    >>> batch = clf.predict_batch(["广场舞噪音", "路面有坑"], top_k=1)
    >>> len(batch), batch.to_dict()["labels"]
    (2, [['噪音'], ['道路']])
    """

    labels: np.ndarray
    probabilities: np.ndarray
    terms: tuple | None = None

    def __len__(self):
        return self.labels.shape[0]

    def to_dict(self):
        """Plain lists (JSON-able): ``labels``, ``probabilities`` and ``terms``."""
        terms = None if self.terms is None else [[[t, float(c)] for t, c in row] for row in self.terms]
        return {"labels": self.labels.tolist(), "probabilities": self.probabilities.tolist(), "terms": terms}


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Map prepared complaint texts to labels (duty items) with calibrated probabilities.

    TF-IDF features of word and character n-grams, then a hierarchy of
    pruned sparse linear SVMs (groups, optionally subgroups, items) whose
    scores become probabilities with one softmax temperature per level; see
    the :mod:`sujian_router._classifier` package for the algorithm.

    Parameters
    ----------
    tokenizer : Tokenizer or None, default=None
        Segmenter applied to every text; ``None`` uses ``Tokenizer()``.
    word_ngram_range : tuple of int, default=(1, 1)
        Word n-gram lengths (n-grams are joined by a space).
    char_ngram_range : tuple of int or None, default=(1, 2)
        Character n-gram lengths (over the lower-cased text without spaces
        and line breaks), or ``None``. Characters catch what the segmenter
        splits differently from the training texts.
    title_block : bool, default=False
        Also featurise the title: the first line of a text, when another
        non-blank line follows. Its words and character n-grams get the
        prefixes ``"t:"`` and ``"tc:"`` and form a third block; a text
        without a line break has no title features.
    min_df : int, default=2
        Keep a term only if it occurs in at least this many training texts.
    max_features : int or None, default=None
        Keep only the most frequent terms.
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)`` instead of raw counts.
    C : float, default=1.0
        Inverse regularisation strength of every linear SVM.
    hierarchy : {"auto", "flat", "two-level", "three-level"}, default="auto"
        ``"auto"`` fits one flat model up to 50 classes or without ``groups``;
        otherwise three levels when :meth:`fit` gets ``subgroups`` and some
        group has more than one, else two levels. ``"two-level"`` ignores
        ``subgroups``; ``"three-level"`` needs them.
    max_weights_per_class : int or None, default=400
        Non-zero weights kept per item (level 2 / flat model). A flat model
        with at most 50 classes is never pruned: a few hundred weights per
        class would discard most of what a few-class model learns.
    max_weights_per_group : int or None, default=20000
        Pruning budget per group of the group model.
    max_weights_per_subgroup : int or None, default=2000
        Pruning budget per subgroup of the subgroup models (three levels).
    negative_ratio : float, default=3.0
        Three levels: the item model of each subgroup also trains on rows of
        the other subgroups of its group, this many times its own rows (or
        all of them, if fewer), drawn with a seed, as one extra class whose
        weights are then dropped, so that it sees texts of its group that
        belong elsewhere.
    exact_above : float, default=0.01
        Candidate search bound of :meth:`top_k`: the best candidate and every
        candidate with probability >= ``exact_above`` are the ones a full
        scoring would list; lower-ranked ones below it come from the groups
        scored so far. ``0`` certifies the whole list (slower). Reported
        probabilities are always the full model's.
    tol : float, default=1e-4
        Stopping tolerance of each linear SVM.
    max_iter : int, default=1000
        Iteration cap of each linear SVM.
    n_jobs : int or None, default=None
        Forked processes that featurise and fit the linear models; ``None``
        is 1, ``-1`` all cores. The fitted model is the same for every value.
    random_state : int, default=0
        Seed of the SVM solvers and of drawn rows; same seed and data, same model.

    Attributes
    ----------
    classes_ : ndarray of str
        Labels, sorted.
    groups_ : ndarray of str
        Group labels (``["*"]`` for a flat model).
    class_group_ : ndarray of int
        Index into ``groups_`` of each class.
    subgroups_, class_subgroup_ : ndarray or None
        Subgroup labels and each class's subgroup (three levels only).
    vocabulary_ : dict
        Term -> feature column.
    term_block_ : ndarray of int8
        Feature block of each column: 0 words, 1 characters, 2 title.
    idf_ : ndarray of float64
        Inverse document frequency of each term.
    hierarchy_ : str
        ``"three-level"``, ``"two-level"`` or ``"flat"``.
    temperatures_ : tuple of float
        Softmax temperatures: (group, item), or (group, subgroup, item).
    calibration_ : dict or None
        Result of :meth:`calibrate` (temperatures, NLL and ECE before/after).

    Examples
    --------
    >>> texts = ["楼下广场舞太吵", "广场舞音响扰民", "马路上有坑", "路面坑洼破损"] * 3
    >>> labels = ["噪音", "噪音", "道路", "道路"] * 3
    >>> clf = TextClassifier(min_df=1).fit(texts, labels)
    >>> clf.predict(["广场舞噪音"]).tolist()
    ['噪音']
    >>> labels, probs = clf.top_k(["路面有坑"], k=2)
    >>> str(labels[0, 0]), bool(probs[0, 0] > probs[0, 1])
    ('道路', True)

    With ``title_block=True`` the first line of a multi-line text is also
    featurised on its own:

    >>> titled = ["噪音投诉\\n楼下广场舞太吵", "道路破损\\n马路上有坑"] * 3
    >>> clf = TextClassifier(min_df=1, title_block=True).fit(titled, ["噪音", "道路"] * 3)
    >>> sorted(str(t) for t in clf.get_feature_names_out() if t.startswith("t:"))
    ['t:噪音', 't:投诉', 't:破损', 't:道路']

    Groups and subgroups (for duty items: category and subcategory) give
    three levels:

    >>> texts = ["广场舞太吵", "餐馆油烟大", "马路有坑", "路灯不亮"] * 3
    >>> clf = TextClassifier(min_df=1, hierarchy="three-level").fit(
    ...     texts, ["噪音", "油烟", "路面", "路灯"] * 3, groups=["环境", "环境", "市政", "市政"] * 3,
    ...     subgroups=["噪声", "大气", "道路", "照明"] * 3)
    >>> clf.hierarchy_, len(clf.temperatures_)
    ('three-level', 3)
    >>> clf.predict(["路灯坏了不亮"]).tolist()
    ['路灯']
    """

    def __init__(self, *, tokenizer=None, word_ngram_range=(1, 1), char_ngram_range=(1, 2),
                 title_block=False, min_df=2, max_features=None, sublinear_tf=True, C=1.0,
                 hierarchy="auto", max_weights_per_class=400, max_weights_per_group=20000,
                 max_weights_per_subgroup=2000, negative_ratio=3.0, exact_above=0.01, tol=1e-4,
                 max_iter=1000, n_jobs=None, random_state=0):
        self.tokenizer = tokenizer
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.title_block = title_block
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.C = C
        self.hierarchy = hierarchy
        self.max_weights_per_class = max_weights_per_class
        self.max_weights_per_group = max_weights_per_group
        self.max_weights_per_subgroup = max_weights_per_subgroup
        self.negative_ratio = negative_ratio
        self.exact_above = exact_above
        self.tol = tol
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __getstate__(self):
        state = super().__getstate__()  # derived helpers are rebuilt on demand
        for name in _DERIVED:
            state.pop(name, None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

    def _check_params(self):
        """Raise ValueError naming the first parameter out of range (also used when loading a state)."""
        check_params(self)

    # ------------------------------------------------------------ derived helpers
    def _derived(self, name, build):
        value = self.__dict__.get(name)
        if value is None:
            value = self.__dict__[name] = build()
        return value

    def _featurizer(self):
        """The batch :class:`~._features.Featurizer` of the fitted vocabulary."""
        if "vocabulary_" not in self.__dict__:
            raise NotFittedError("this TextClassifier is not fitted yet; call fit() or from_state()")
        return self._derived("_featurizer_cache", lambda: _features.Featurizer(
            _features.GramSpec.of(self), self._terms_, self.idf_, self.term_block_, self.sublinear_tf))

    def _scorer(self):
        """The :class:`~._search.Scorer` of the fitted weights."""
        return self._derived("_scorer_cache", lambda: Scorer(self.W1_, self.b1_, self.Ws_, self.bs_, self.W2_,
                                                             self.b2_, self._bounds, self._leaf_bounds))

    def _explainer(self):
        return self._derived("_explainer_cache", lambda: Explainer(self._terms_, self._scorer(), self._perm,
                                                                   self.class_group_))

    def _analyzer(self):
        """Function ``text -> list of terms`` (prefixed n-grams), as the vocabulary spells them."""
        return _features.GramSpec.of(self).terms

    def _transform(self, texts):
        """:class:`~._features.Features` of a list of texts."""
        return self._featurizer().transform(texts)

    def _check_fitted(self):
        if "W2_" not in self.__dict__:
            raise NotFittedError("this TextClassifier is not fitted yet; call fit() or from_state()")

    # ----------------------------------------------------------------------- fit
    def fit(self, X, y, *, groups=None, subgroups=None, progress=None):
        """Fit vocabulary, TF-IDF weights and the linear model(s).

        Parameters
        ----------
        X : sequence of str
            Prepared texts (see :func:`sujian_router._text.prepare_text`).
        y : sequence of str
            Labels.
        groups : sequence of str, optional
            Group label of each row (the item's category); a label must always
            come with the same group.
        subgroups : sequence of str, optional
            Subgroup label of each row (the item's subcategory), with
            ``groups``; a label must always come with the same subgroup and a
            subgroup with the same group. Gives a three-level model.
        progress : callable, optional
            Called as ``progress(done, total, stage)`` once featurising is done
            and after each linear model, for progress bars.

        Returns
        -------
        self
        """
        self._check_params()
        for name in _DERIVED:  # helpers of a previous fit
            self.__dict__.pop(name, None)
        texts, y = _features.as_texts(X), _features.as_labels(y)
        if len(texts) != len(y):
            raise ValueError(f"X has {len(texts)} texts but y has {len(y)} labels")
        if len(texts) == 0:
            raise ValueError("cannot fit on zero texts")
        classes, y_idx = np.unique(y, return_inverse=True)
        hier = _hierarchy.hierarchy_of(self.hierarchy, y_idx, classes, groups, subgroups)
        step = [0, None]  # models done, total steps (known once featurising is done)

        def tick(stage):
            step[0] += 1
            if progress is not None and step[1] is not None:
                progress(step[0], step[1], stage)

        vocab, Xw = _features.fit_tfidf(texts, _features.GramSpec.of(self), self.min_df, self.max_features,
                                        self.sublinear_tf, self.n_jobs, tick)
        layout = _hierarchy.layout_of(hier, y_idx, classes.size)
        step[1] = step[0] + len(_hierarchy.tasks_of(hier.kind, layout))
        if progress is not None:
            progress(step[0], step[1], "features")
        upper, middle, items = _hierarchy.fit_levels(Xw, y_idx, hier.kind, layout,
                                                     self._fit_settings(hier.kind, classes.size), self.n_jobs, tick)
        self._set_fitted(vocab, hier, layout, classes, (upper, middle, items), len(texts))
        return self

    def _fit_settings(self, kind, n_classes):
        # a flat model with few classes is small enough to keep whole (see max_weights_per_class)
        few = kind == "flat" and n_classes <= _hierarchy.FEW_CLASSES
        return _hierarchy.FitSettings(
            self.C, self.tol, self.max_iter, int(self.random_state) if self.random_state is not None else 0,
            self.max_weights_per_group, self.max_weights_per_subgroup,
            None if few else self.max_weights_per_class, self.negative_ratio)

    def _set_fitted(self, vocab, hier, layout, classes, levels, n_texts):
        upper, middle, items = levels
        self._terms_ = vocab.terms
        self.vocabulary_ = {t: i for i, t in enumerate(vocab.terms)}
        self.idf_, self.term_block_ = vocab.idf, vocab.blocks
        self.W1_, self.b1_ = (None, None) if upper is None else (upper.W, upper.b)
        self.Ws_, self.bs_ = (None, None) if middle is None else (middle.W, middle.b)
        self.W2_, self.b2_ = items.W, items.b
        self.classes_, self.groups_, self.class_group_ = classes, hier.group_names, hier.class_group
        three = layout.leaf_subgroup is not None
        self.subgroups_ = hier.subgroup_names if three else None
        self.class_subgroup_ = hier.class_subgroup if three else None
        self.hierarchy_ = hier.kind
        self._perm, self._bounds = layout.perm, layout.bounds
        self._leaf_bounds, self._leaf_subgroup = layout.leaf_bounds, layout.leaf_subgroup
        self.temperatures_ = (_DEFAULT_TEMPERATURE,) * (3 if hier.kind == "three-level" else 2)
        self.calibration_ = None
        self.n_training_texts_ = n_texts

    # ------------------------------------------------------------------ features
    def transform(self, X):
        """Return the TF-IDF matrix (CSR, one row per text, each block of a row L2-normalised).

        Parameters
        ----------
        X : sequence of str
            Prepared texts.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_texts, n_terms)
        """
        feats = self._transform(_features.as_texts(X))
        return feats.matrix(len(self.vocabulary_))

    def get_feature_names_out(self, input_features=None):
        """Return the vocabulary terms in column order.

        Word n-grams are joined by a space; character n-grams carry the prefix
        ``"c:"``, the title's words ``"t:"`` and its character n-grams ``"tc:"``.
        """
        if "vocabulary_" not in self.__dict__:
            raise NotFittedError("this TextClassifier is not fitted yet")
        return np.asarray(self._terms_)

    # --------------------------------------------------------------- prediction
    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`."""
        self._check_fitted()
        texts = _features.as_texts(X)
        scorer, temps = self._scorer(), Temperatures.of(self.temperatures_)
        out = np.empty((len(texts), self.classes_.size))
        for start in range(0, len(texts), CHUNK):
            X = self._transform(texts[start:start + CHUNK]).matrix(len(self.vocabulary_))
            out[start:start + X.shape[0], self._perm] = scorer.log_proba(scorer.scores(X), temps)
        return out

    def predict_proba(self, X):
        """Probability of every class (columns follow ``classes_``; rows sum to 1).

        Every item is scored: slower than :meth:`top_k` with many classes.
        """
        return np.exp(self.predict_log_proba(X))

    def decision_function(self, X):
        """Scores whose arg-max is :meth:`predict` (log-probabilities).

        For two classes, returns the 1-D score of ``classes_[1]`` minus that of
        ``classes_[0]``, as scikit-learn expects.
        """
        lp = self.predict_log_proba(X)
        return lp[:, 1] - lp[:, 0] if self.classes_.size == 2 else lp

    def predict(self, X):
        """Most probable label of each text."""
        return self.predict_batch(X, top_k=1).labels[:, 0]

    def top_k(self, X, k=5):
        """The ``k`` most probable labels of each text, best first, with their probabilities.

        ``k`` is capped at the number of classes. Returns ``labels`` (str) and
        ``probs`` (float), both of shape ``(n_texts, k)``; see :meth:`predict_batch`.
        """
        batch = self.predict_batch(X, top_k=k)
        return batch.labels, batch.probabilities

    def top_k_explained(self, X, k=5, n_terms=5):
        """:meth:`top_k` plus, for each text, the terms behind its best label.

        The texts are featurised once for both. Returns ``labels``, ``probs``
        and ``terms`` (a list, per text, of what :meth:`explain` returns).

        Examples
        --------
        >>> clf = TextClassifier(min_df=1).fit(["广场舞太吵", "马路有坑"] * 3, ["噪音", "道路"] * 3)
        >>> labels, probs, terms = clf.top_k_explained(["广场舞太吵"], k=1)
        >>> str(labels[0, 0]), terms[0] == clf.explain("广场舞太吵", "噪音")
        ('噪音', True)
        """
        batch = self.predict_batch(X, top_k=k, explain=int(n_terms))
        terms = None if batch.terms is None else [list(t) for t in batch.terms]
        return batch.labels, batch.probabilities, terms

    def predict_batch(self, X, top_k=5, *, explain=0):
        """Top-``top_k`` labels of every text, best first, as one :class:`BatchPrediction`.

        The batch entry point: texts are featurised and searched in blocks of
        a few thousand with array operations, and a text gets the same answer
        alone as in any batch.

        Parameters
        ----------
        X : sequence of str
            Prepared texts (not a single str; not tokens: the tokenizer is
            part of the fitted model, so texts are segmented exactly as in
            training).
        top_k : int, default=5
            Candidates per text (capped at the number of classes, at least 1).
        explain : int, default=0
            Also return this many terms behind each text's best label
            (``0``: no explanations, which is cheaper).

        Returns
        -------
        BatchPrediction
        """
        self._check_fitted()
        texts = _features.as_texts(X)
        k = int(min(max(top_k, 1), self.classes_.size))
        explain = int(explain)
        labels = np.empty((len(texts), k), dtype=self.classes_.dtype)
        probs = np.empty((len(texts), k))
        terms = [] if explain > 0 else None
        for pos in range(0, len(texts), _TOP_K_CHUNK):
            feats = self._transform(texts[pos:pos + _TOP_K_CHUNK])
            best, lp = self._scorer().search(feats.matrix(len(self.vocabulary_)), k,
                                             Temperatures.of(self.temperatures_), self.exact_above)
            order = np.lexsort((self._perm[best], -lp), axis=1)  # best first, ties by label
            cls = self._perm[np.take_along_axis(best, order, axis=1)]
            labels[pos:pos + cls.shape[0]] = self.classes_[cls]
            probs[pos:pos + cls.shape[0]] = np.exp(np.take_along_axis(lp, order, axis=1))
            if terms is not None:
                terms.extend(tuple(t) for t in self._explainer().contributions(feats, cls[:, 0], explain))
        return BatchPrediction(labels, probs, None if terms is None else tuple(terms))

    def explain(self, text, label, n=5):
        """Terms of ``text`` that push its score for ``label`` up the most.

        Returns a list of ``(term, contribution)``, largest first, only
        positive ones: the term's TF-IDF value times the weights of the label
        and of its group (and subgroup). Block prefixes are removed and terms
        that are then equal (a word and the same character n-gram) are merged.
        Raises UnknownDutyError when ``label`` is not in ``classes_``.
        """
        self._check_fitted()
        pos = np.searchsorted(self.classes_, str(label))
        if pos >= self.classes_.size or self.classes_[pos] != str(label):
            from ..exceptions import UnknownDutyError

            raise UnknownDutyError(str(label), where="TextClassifier.explain")
        feats = self._transform([text if isinstance(text, str) else str(text)])
        return self._explainer().contributions(feats, np.array([pos]), n)[0]

    # --------------------------------------------------------------- calibration
    def calibrate(self, X, y, *, max_rows=20000):
        """Fit the softmax temperatures (one per level) on held-out data by minimising the NLL.

        Rows whose label is not in ``classes_`` are ignored; at most
        ``max_rows`` rows are used (a seeded sample). ``calibration_``
        records the temperatures and the negative log-likelihood and expected
        calibration error (15 bins of the top-1 probability) before and after.

        Returns
        -------
        self
        """
        self._check_fitted()
        texts, y = _features.as_texts(X), _features.as_labels(y)
        pos = np.searchsorted(self.classes_, y).clip(0, self.classes_.size - 1)
        known = np.flatnonzero(self.classes_[pos] == y)
        if known.size == 0:
            raise ValueError("calibrate() needs rows whose labels are in classes_")
        if known.size > max_rows:
            rng = np.random.default_rng(self.random_state)
            known = np.sort(rng.choice(known, max_rows, replace=False))
        inv = np.empty_like(self._perm)
        inv[self._perm] = np.arange(self._perm.size)
        n_terms = len(self.vocabulary_)
        self.temperatures_, self.calibration_ = _calibration.fit_temperatures(
            lambda part: self._transform(part).matrix(n_terms), self._scorer(), [texts[i] for i in known],
            inv[pos[known]], self.temperatures_, self.exact_above)
        return self

    # --------------------------------------------------------------------- state
    def to_state(self):
        """Return ``(arrays, meta)``: numeric/str arrays and JSON-able metadata.

        Nothing in the state needs pickle; :meth:`from_state` rebuilds a
        predictor that gives identical results.
        """
        self._check_fitted()
        return _state.to_state(self)

    @classmethod
    def from_state(cls, arrays, meta):
        """Rebuild a fitted classifier from :meth:`to_state` output.

        Raises
        ------
        ModelFileError
            When an array or key is missing, the format is unknown or the
            arrays do not fit together.
        """
        from .._state_check import check_classifier_state
        from ..exceptions import ModelFileError

        check_classifier_state(arrays, meta)  # hostile or broken states stop here, naming the problem
        try:
            self = cls(**_state.params_of(meta, arrays))
            _state.restore(self, arrays, meta)
        except KeyError as exc:
            raise ModelFileError(f"classifier state lacks {exc.args[0]!r}") from None
        _state.check_consistent(self)
        return self
