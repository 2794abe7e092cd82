"""Text classifier: TF-IDF features and a hierarchy of sparse linear models.

With thousands of duty items a flat linear model stores one dense weight row
per class (about a gigabyte at 4,315 classes), trains slowly and copies that
matrix on every call. :class:`TextClassifier` instead

1. tokenises each text once with a :class:`~sujian_router._tokenize.Tokenizer`
   and counts word and character n-grams (and, optionally, the words and
   characters of the title line) against an explicit, inspectable vocabulary
   (terms seen in at least ``min_df`` texts); each block of terms (words,
   characters, title) is L2-normalised separately;
2. trains a linear SVM over the groups (the item's category) on all rows; with
   subgroups (the item's subcategory), one SVM per group over its subgroups, on
   the group's rows; and one SVM per leaf (a subgroup, or a group when there
   are two levels) over its items, on the leaf's rows plus, with three levels,
   rows drawn from its sibling subgroups as one extra class that is then
   dropped (``negative_ratio``). Every model sees only the feature columns
   that occur in its rows;
3. keeps only the ``max_weights_per_class`` largest weights of every class, as a
   sparse ``(n_features, n_classes)`` CSR matrix, so that scoring is one
   sparse-times-sparse product;
4. turns scores into probabilities ``P(group) * P(subgroup | group) *
   P(item | subgroup)`` (two levels: ``P(group) * P(item | group)``) with one
   softmax temperature per level, which :meth:`TextClassifier.calibrate` fits
   on held-out data;
5. ranks candidates (:meth:`TextClassifier.top_k`) by expanding groups in
   order of ``P(group)`` and stopping as soon as no unexpanded group can hold
   a better candidate: an item's probability is at most its group's, so the
   best item found is provably the best of all, and every candidate at or above
   ``exact_above`` is exactly the one a full scoring would list. Most texts need
   one or two of the 18 categories, which is where batch speed comes from.

With few classes, or without groups, the same pipeline fits one flat model.

Why three levels: a one-vs-rest SVM costs about (classes x rows). A category's
item model is about 250 classes over the category's rows; a subcategory's is
about 18 classes over roughly a fourteenth of those rows, plus the drawn
sibling rows. On 500,540 synthetic tickets :func:`~sujian_router.train` took
325 and 337 s (two runs) instead of 517-667 s with two levels (five runs), at
validation top-1 0.879 against 0.878 (``benchmarks/bench_scale.py``); on
99,245 tickets 53.7 s instead of 85.3 s, held-out top-1 0.854 for both and
top-3 0.910 against 0.908.
"""

from __future__ import annotations

import math
import os
import warnings
from array import array

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from .exceptions import ModelFileError, NotFittedError
from ._tokenize import Tokenizer

__all__ = ["TextClassifier"]

_FORMAT = "sujian_router.TextClassifier/1"
_FORMAT_SUBGROUPS = "sujian_router.TextClassifier/2"  # adds the subgroup level
_HIERARCHIES = ("auto", "flat", "two-level", "three-level")
_CHUNK = 512  # rows scored at once (bounds the dense n x n_classes block)
_TOP_K_CHUNK = 2048  # rows featurised and searched at once by top_k (fewer, larger sparse products)
_SEARCH_ROUNDS = 2  # group-expansion rounds of top_k before open rows are scored in full
_FIT_CHUNK = 20000  # texts featurised at once in fit
_DEFAULT_TEMPERATURE = 0.1
# attributes derived from the fitted state on first use; never pickled, dropped by fit
_DERIVED = ("_lookup_cache", "_explain_cache", "_w2_blocks")
# Term prefixes. The tokenizer turns every punctuation run into a space before
# segmenting, so a word never contains ":" and prefixed terms cannot clash with words.
_CHAR_PREFIX = "c:"
_TITLE_PREFIX = "t:"  # words of the title line
_TITLE_CHAR_PREFIX = "tc:"  # character n-grams of the title line
_PREFIXES = (_TITLE_CHAR_PREFIX, _TITLE_PREFIX, _CHAR_PREFIX)
_N_BLOCKS = 3  # feature blocks, each L2-normalised on its own: words, characters, title


def _term_block(term):
    """Feature block of a term: 0 body words, 1 body characters, 2 title words and characters."""
    if term.startswith(_CHAR_PREFIX):
        return 1
    if term.startswith(_TITLE_PREFIX) or term.startswith(_TITLE_CHAR_PREFIX):
        return 2
    return 0


def _split_prefix(term):
    """``(prefix, gram)`` of a vocabulary term; prefix ``""`` for body words.

    ``"tc:"`` is tried before ``"t:"``; words never contain ":", so a word
    cannot be mistaken for a prefixed term.
    """
    for prefix in _PREFIXES:
        if term.startswith(prefix):
            return prefix, term[len(prefix):]
    return "", term


def _split_title(text):
    """The first line of ``text`` when more text follows it, else None."""
    head, sep, rest = text.partition("\n")
    if sep and head.strip() and rest.strip():
        return head
    return None


def _as_texts(X, where="X"):
    """Return X as a list of str (None/NaN become "")."""
    if isinstance(X, str):
        raise TypeError(f"{where} must be a sequence of texts, got a single str: {X[:30]!r}")
    if hasattr(X, "tolist") and not isinstance(X, list):
        X = X.tolist()
    out = []
    for v in X:
        if isinstance(v, str):
            out.append(v)
        elif v is None or (isinstance(v, float) and math.isnan(v)):
            out.append("")
        else:
            out.append(str(v))
    return out


def _log_softmax(s, axis=-1):
    m = np.max(s, axis=axis, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    z = s - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _group_log_softmax(s, bounds):
    """Log-softmax of each contiguous column block ``bounds[i]:bounds[i+1]``."""
    starts = bounds[:-1]
    m = np.maximum.reduceat(s, starts, axis=1)
    sizes = np.diff(bounds)
    z = s - np.repeat(m, sizes, axis=1)
    lse = np.log(np.add.reduceat(np.exp(z), starts, axis=1))
    return z - np.repeat(lse, sizes, axis=1)


def _fit_linear(X, y, n_classes, C, tol, max_iter, seed):
    """One-vs-rest linear SVM; returns dense coef (n_classes, n_cols) and intercept."""
    if n_classes == 1:
        return np.zeros((1, X.shape[1])), np.zeros(1)
    svm = LinearSVC(C=C, dual=True, tol=tol, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm.fit(X, y)
    coef, icpt = svm.coef_, svm.intercept_
    if n_classes == 2:  # binary LinearSVC has one row for class 1
        coef = np.vstack([-coef[0], coef[0]])
        icpt = np.array([-icpt[0], icpt[0]])
    return coef, icpt


def _parent_of(child, parent, n_child, child_names, parent_names, what):
    """Index into ``parent_names`` of each child, from per-row ``child`` and ``parent`` indices.

    Raises ValueError naming the first row where a child comes with a second parent.
    """
    out = np.full(n_child, -1, dtype=np.int64)
    out[child] = parent
    bad = np.flatnonzero(out[child] != parent)
    if bad.size:
        r = int(bad[0])
        raise ValueError(f"{what[0]} {str(child_names[child[r]])!r} appears with more than one {what[1]} "
                         f"(row {r}: {str(parent_names[parent[r]])!r})")
    return out


class _FitJob:
    """The training matrix and label layout shared by the linear models of one fit.

    Tasks are ``(level, index)``: ``(0, 0)`` the group model, ``(1, g)`` the
    subgroup model of group ``g`` (three levels), ``(2, l)`` the item model of
    leaf ``l`` (a subgroup, or a group when there are two levels).
    """

    def __init__(self, Xw, y_idx, layout, C, tol, max_iter, seed, budgets, negative_ratio):
        self.Xw, self.y_idx = Xw, y_idx
        (self.perm, self.bounds, self.class_group, self.class_leaf, self.n_groups, self.leaf_bounds,
         self.row_order, self.row_ptr) = layout
        self.C, self.tol, self.max_iter, self.seed = C, tol, max_iter, seed
        self.group_budget, self.subgroup_budget, self.item_budget = budgets
        self.negative_ratio = negative_ratio

    def run(self, task):  # called as _FitJob.run(job, task) by _ordered_map
        """Fit one model of ``task``; returns its pruned weights.

        The group model stays one task: liblinear copies its training rows
        into its own format, so splitting its one-vs-rest rows over workers
        held that copy of all rows in every worker (500,000 tickets: 4.2 GB
        in total instead of 3.0 GB) and was not faster.
        """
        level, i = task
        if level == 0:
            coef, icpt = _fit_linear(self.Xw, self.class_group[self.y_idx], self.n_groups, self.C,
                                     self.tol, self.max_iter, self.seed)
            return _prune(coef, self.group_budget), icpt
        n_leaves = self.bounds.size - 1
        if level == 1:  # leaves a..b of group i; their rows, in row order
            a, b = self.leaf_bounds[i], self.leaf_bounds[i + 1]
            rows = np.sort(self.row_order[self.row_ptr[a]:self.row_ptr[b]])
            return self._fit_block(rows, self.class_leaf[self.y_idx[rows]] - a, b - a, self.subgroup_budget,
                                   self.seed + n_leaves + 1 + i, a)
        a, b = self.bounds[i], self.bounds[i + 1]
        if b - a == 1:
            return None
        rows = self.row_order[self.row_ptr[i]:self.row_ptr[i + 1]]
        members = self.perm[a:b]  # class indices, sorted
        target = np.searchsorted(members, self.y_idx[rows])
        g = np.searchsorted(self.leaf_bounds, i, side="right") - 1
        la, lb = self.leaf_bounds[g], self.leaf_bounds[g + 1]
        n_other = int(round(self.negative_ratio * rows.size)) if lb - la > 1 else 0
        if n_other == 0:
            return self._fit_block(rows, target, b - a, self.item_budget, self.seed + i, a)
        # rows of the group's other leaves, drawn without replacement, as one extra class
        others = self.row_order[self.row_ptr[la]:self.row_ptr[lb]]
        others = others[self.class_leaf[self.y_idx[others]] != i]
        rng = np.random.default_rng(self.seed + i)
        drawn = np.sort(rng.choice(others, min(n_other, others.size), replace=False))
        feat, cols, v, icpt = self._fit_block(np.concatenate([rows, drawn]),
                                              np.concatenate([target, np.full(drawn.size, b - a)]),
                                              b - a + 1, self.item_budget, self.seed + i, a)
        keep = cols < b  # the extra class is dropped
        return feat[keep], cols[keep], v[keep], icpt[: b - a]

    def _fit_block(self, rows, target, n_classes, budget, seed, offset):
        """A model of ``rows`` over the columns that occur in them: (feature ids, columns, values, bias)."""
        Xg = self.Xw[rows]
        present = np.unique(Xg.indices)
        coef, icpt = _fit_linear(Xg[:, present], target, n_classes, self.C, self.tol, self.max_iter, seed)
        r, c, v = _prune(coef, budget)
        return present[c], offset + r, v, icpt


def _count_chunk(state, start):
    """Term counts of ``texts[start:start + _FIT_CHUNK]`` over the chunk's own vocabulary.

    Returns ``(terms, indptr, indices, counts)``: the chunk's terms in order of
    first occurrence and a CSR count matrix whose columns index ``terms``.
    """
    texts, analyzer = state
    local = {}
    setdef = local.setdefault
    indices = array("i")
    lengths = array("l")
    for text in texts[start:start + _FIT_CHUNK]:
        terms = analyzer(text)
        indices.extend([setdef(t, len(local)) for t in terms])
        lengths.append(len(terms))
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(lengths, dtype=np.int64), out=indptr[1:])
    c = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), np.frombuffer(indices, dtype=np.int32).copy(),
                       indptr), shape=(len(lengths), max(len(local), 1)))
    c.sum_duplicates()
    return list(local), c.indptr, c.indices, c.data


_STATE = None  # what forked workers of _ordered_map inherit instead of receiving it pickled


def _call_with_state(fn, item):
    return fn(_STATE, item)


def _ordered_map(fn, items, state, n_jobs, window=None):
    """Yield ``fn(state, item)`` for every item, in order, on ``n_jobs`` forked processes.

    Workers are forked after ``state`` (texts, or the training matrix) exists,
    so they share it copy-on-write instead of receiving a pickled copy; only
    items and results cross processes. Processes rather than threads:
    tokenising is pure Python, and scikit-learn's liblinear draws from one
    process-wide random generator, so models fitted in concurrent threads
    would depend on timing. ``window`` bounds the tasks in flight (and so the
    results waiting to be consumed); ``None`` submits everything at once.
    Without ``fork`` (Windows) or with one job, runs in this process.
    """
    global _STATE
    import multiprocessing as mp

    items = list(items)
    n_workers = _n_workers(n_jobs, len(items))
    if n_workers <= 1 or "fork" not in mp.get_all_start_methods():
        for item in items:
            yield fn(state, item)
        return
    from collections import deque

    from ._pool import worker_pool

    limit = len(items) if window is None else max(1, window) * n_workers
    _STATE = state
    try:
        with worker_pool(n_workers) as pool:  # workers stop at once on Ctrl-C
            todo = iter(items)
            pending = deque(pool.submit(_call_with_state, fn, item) for _, item in zip(range(limit), todo))
            while pending:
                result = pending.popleft().result()
                for item in todo:  # refill the window by one
                    pending.append(pool.submit(_call_with_state, fn, item))
                    break
                yield result
    finally:
        _STATE = None


def _n_workers(n_jobs, n_tasks):
    """Worker processes for ``n_jobs`` (None: 1; negative: all cores + 1 + n_jobs), at most ``n_tasks``."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        n_jobs = max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_tasks))


def _prune(coef, budget):
    """Keep the ``budget`` largest |w| of each row; return (rows, cols, vals)."""
    rows, cols, vals = [], [], []
    n_cols = coef.shape[1]
    for k in range(coef.shape[0]):
        w = coef[k]
        if budget is not None and budget < n_cols:
            idx = np.argpartition(-np.abs(w), budget - 1)[:budget]
        else:
            idx = np.arange(n_cols)
        idx = idx[w[idx] != 0]
        rows.append(np.full(idx.size, k, dtype=np.int64))
        cols.append(idx)
        vals.append(w[idx])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _sparse_weights(rows, cols, vals, shape):
    """Build the (n_features, n_classes) float32 CSR weight matrix."""
    W = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=shape)
    W.sum_duplicates()
    W.sort_indices()
    W.indices = W.indices.astype(np.int32)
    W.indptr = W.indptr.astype(np.int32)
    return W


def _weight_index(W):
    """``(keys, values, n_columns)`` of a CSR matrix; ``keys = row * n_columns + column``, sorted."""
    W = W.copy() if not W.has_canonical_format else W
    W.sum_duplicates()  # also sorts the indices
    rows = np.repeat(np.arange(W.shape[0], dtype=np.int64), np.diff(W.indptr))
    return rows * W.shape[1] + W.indices, W.data.astype(np.float64), W.shape[1]


def _lookup(keys, values, queries):
    """``values`` at the sorted ``keys`` equal to each query; 0 where a key is absent."""
    out = np.zeros(queries.size)
    if keys.size and queries.size:
        pos = np.searchsorted(keys, queries).clip(0, keys.size - 1)
        hit = keys[pos] == queries
        out[hit] = values[pos[hit]]
    return out


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Map prepared complaint texts to labels (duty items) with calibrated probabilities.

    Parameters
    ----------
    tokenizer : Tokenizer or None, default=None
        Segmenter applied to every text; ``None`` uses ``Tokenizer()``.
    word_ngram_range : tuple of int, default=(1, 1)
        Word n-gram lengths (n-grams are joined by a space).
    char_ngram_range : tuple of int or None, default=(1, 2)
        Character n-gram lengths (over the lower-cased text without spaces
        and line breaks), or ``None``. On 1,000 items of the project's
        synthetic tickets, word unigrams plus character uni- and bigrams
        reached 0.871 top-1 against 0.835 for word uni- and bigrams alone,
        with about the same vocabulary (measured before per-block
        normalisation).
    title_block : bool, default=False
        Also featurise the title: the first line of a text, when another
        non-blank line follows (prepared texts keep line breaks, and ticket
        exports put the title first). Its words and character n-grams (same
        ranges as the body) get the prefixes ``"t:"`` and ``"tc:"`` and form
        a third block. The body features always cover the whole text, so a
        text without a line break has no title features. On the TeddyCup
        2020 messages (7 labels), ``title_block=True, min_df=1`` raised
        macro-F1 over the defaults from 0.919 to 0.929 in 5-fold
        cross-validation on the training split, and from 0.927 to 0.935 on
        the test split.
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
        Pruning budget: non-zero weights kept per item (level 2 / flat model).
        A flat model with at most 50 classes is never pruned: its dense
        weights are small, and a few hundred weights per class would discard
        most of what a few-class model learns.
    max_weights_per_group : int or None, default=20000
        Pruning budget per group of the level-1 model.
    max_weights_per_subgroup : int or None, default=2000
        Pruning budget per subgroup of the subgroup models (three levels).
        On 99,245 synthetic tickets no pruning (``None``) changed held-out
        top-1 by 0.0005.
    negative_ratio : float, default=3.0
        Three levels: the item model of each subgroup also trains on rows of
        the other subgroups of its group, this many times its own rows (or all
        of them, if fewer), drawn with a seed, as one extra class whose
        weights are then dropped. Without them (``0``) an item model never
        sees a text of its group that belongs elsewhere. Held-out top-1 on
        99,245 synthetic tickets: 0.850 at 0, 0.854 at 3 (fit 46 s and 54 s),
        0.855 at 6 (65 s); two levels: 0.854 in 85 s.
    exact_above : float, default=0.01
        Candidate search bound of :meth:`top_k` (models with groups). Groups are
        scored in order of probability until the best candidate and every
        candidate with probability >= ``exact_above`` are certain to be the
        same as with all groups scored; lower-ranked candidates below that
        probability come from the groups scored so far. ``0`` certifies the
        whole top-k list (slower). Probabilities are never approximated:
        every reported probability is the full model's, and
        :meth:`predict_proba` always scores everything.
    tol : float, default=1e-4
        Stopping tolerance of each linear SVM (scikit-learn's ``LinearSVC``
        default). Catalog models trained by :func:`train` use ``1e-2``: the
        whole ``train()`` on 99,245 synthetic tickets took 84-86 s instead of
        101-104 s (two runs each) with the same held-out top-1 (0.854),
        because the one-vs-rest problems stop after fewer passes.
    max_iter : int, default=1000
        Iteration cap of each linear SVM.
    n_jobs : int or None, default=None
        Processes that fit the linear models (the group model and the item
        models of each group) in parallel; ``None`` is 1, ``-1`` all cores.
        Workers are forked and share the training matrix; where the
        ``fork`` start method does not exist (Windows) models are fitted one
        by one. The fitted model is the same for every value.
    random_state : int, default=0
        Seed of the SVM solvers; the same seed and data give the same model.

    Attributes
    ----------
    classes_ : ndarray of str
        Labels, sorted.
    groups_ : ndarray of str
        Group labels (``["*"]`` for a flat model).
    class_group_ : ndarray of int
        Index into ``groups_`` of each class.
    subgroups_ : ndarray of str or None
        Subgroup labels (three levels only).
    class_subgroup_ : ndarray of int or None
        Index into ``subgroups_`` of each class (three levels only).
    vocabulary_ : dict
        Term -> feature column.
    term_block_ : ndarray of int8
        Feature block of each column: 0 words, 1 characters, 2 title. Each
        block of a row is L2-normalised separately, so a row's norm is the
        square root of its number of non-empty blocks.
    idf_ : ndarray of float64
        Inverse document frequency of each term.
    hierarchy_ : str
        ``"three-level"``, ``"two-level"`` or ``"flat"``.
    temperatures_ : tuple of float
        Softmax temperatures: (group, item), or (group, subgroup, item) with
        three levels.
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
    >>> clf.predict(["噪音\\n广场舞"]).tolist()
    ['噪音']

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
        # derived caches are rebuilt on demand (the analyzer closure would not pickle)
        state = super().__getstate__()
        for name in _DERIVED:
            state.pop(name, None)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

    # ------------------------------------------------------------------ features
    def _check_params(self):
        if self.hierarchy not in _HIERARCHIES:
            raise ValueError(f"hierarchy must be one of {list(_HIERARCHIES)}, got {self.hierarchy!r}")
        for name in ("word_ngram_range", "char_ngram_range"):
            r = getattr(self, name)
            if r is None and name == "char_ngram_range":
                continue
            if (not isinstance(r, (tuple, list)) or len(r) != 2 or not 1 <= r[0] <= r[1]):
                raise ValueError(f"{name} must be (min_n, max_n) with 1 <= min_n <= max_n, got {r!r}")
        if not isinstance(self.title_block, (bool, np.bool_)):
            raise ValueError(f"title_block must be True or False, got {self.title_block!r}")
        if not (isinstance(self.min_df, (int, np.integer)) and self.min_df >= 1):
            raise ValueError(f"min_df must be an int >= 1, got {self.min_df!r}")
        if not self.C > 0:
            raise ValueError(f"C must be > 0, got {self.C!r}")
        if not (isinstance(self.negative_ratio, (int, float, np.number)) and self.negative_ratio >= 0):
            raise ValueError(f"negative_ratio must be a number >= 0, got {self.negative_ratio!r}")
        if not (isinstance(self.tol, (int, float, np.number)) and self.tol > 0):
            raise ValueError(f"tol must be a number > 0, got {self.tol!r}")
        if self.n_jobs is not None and not (isinstance(self.n_jobs, (int, np.integer)) and self.n_jobs != 0):
            raise ValueError(f"n_jobs must be None or a non-zero int, got {self.n_jobs!r}")
        if not (isinstance(self.exact_above, (int, float, np.number)) and 0 <= self.exact_above < 1):
            raise ValueError(f"exact_above must be a number in [0, 1), got {self.exact_above!r}")
        for name in ("max_weights_per_class", "max_weights_per_group", "max_weights_per_subgroup", "max_features"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, np.integer)) and v >= 1):
                raise ValueError(f"{name} must be None or an int >= 1, got {v!r}")

    def _gram_blocks(self):
        """Function ``text -> [(prefix, grams), ...]``: each block's n-grams, without the prefix.

        Blocks come in term order: body word n-grams (prefix ``""``), body
        character n-grams, then the title's words and characters.
        """
        tok = self.tokenizer if self.tokenizer is not None else Tokenizer()
        w_lo, w_hi = self.word_ngram_range
        c_range = self.char_ngram_range
        title_block = bool(self.title_block)

        def grams(text, out, w_prefix, c_prefix):
            tokens = tok(text)
            if w_lo == 1:
                out.append((w_prefix, tokens))
            if w_lo <= 2 <= w_hi:
                out.append((w_prefix, [a + " " + b for a, b in zip(tokens, tokens[1:])]))
            for n in range(max(w_lo, 3), w_hi + 1):
                out.append((w_prefix, [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]))
            if c_range is not None:
                chars = text.replace(" ", "").replace("\n", "").lower()
                for n in range(c_range[0], c_range[1] + 1):
                    out.append((c_prefix, list(chars) if n == 1 else
                                [chars[i:i + n] for i in range(len(chars) - n + 1)]))

        def blocks(text):
            out = []
            grams(text, out, "", _CHAR_PREFIX)
            if title_block:
                title = _split_title(text)
                if title is not None:
                    grams(title, out, _TITLE_PREFIX, _TITLE_CHAR_PREFIX)
            return out

        return blocks

    def _analyzer(self):
        """Function ``text -> list of terms`` (prefixed n-grams), as the vocabulary spells them."""
        blocks = self._gram_blocks()

        def terms(text):
            out = []
            for prefix, grams in blocks(text):
                out.extend(grams if not prefix else [prefix + g for g in grams])
            return out

        return terms

    def _block_lookup(self):
        """Cached ``(gram_blocks, {prefix: {gram: column}})`` used by :meth:`_transform`.

        Looking grams up per block spares building a prefixed string for
        every character n-gram of every text.
        """
        cached = self.__dict__.get("_lookup_cache")
        if cached is None:
            tables = {prefix: {} for prefix in ("", *_PREFIXES)}
            for i, term in enumerate(self._terms_):
                prefix, gram = _split_prefix(term)
                tables[prefix][gram] = i
            cached = self._lookup_cache = (self._gram_blocks(), tables)
        return cached

    def _tfidf_values(self, rows, ids, counts, n):
        """TF-IDF values of (row, term) entries with their counts, each block of a row L2-normalised."""
        tf = np.asarray(counts, dtype=np.float64)
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        vals = tf * self.idf_[ids]
        cell = rows * _N_BLOCKS + self.term_block_[ids]
        norms = np.sqrt(np.bincount(cell, weights=vals * vals, minlength=n * _N_BLOCKS))
        norms[norms == 0] = 1.0
        return vals / norms[cell]

    def _transform(self, texts):
        """Featurise texts: (n, rows, ids, vals), entries sorted by row then term id."""
        if "vocabulary_" not in self.__dict__:
            raise NotFittedError("this TextClassifier is not fitted yet; call fit() or from_state()")
        blocks, tables = self._block_lookup()
        indices = array("i")
        lengths = array("l")
        for text in texts:
            before = len(indices)
            for prefix, grams in blocks(text):
                indices.extend([i for i in map(tables[prefix].get, grams) if i is not None])
            lengths.append(len(indices) - before)
        n = len(texts)
        if not len(indices):
            z = np.zeros(0, dtype=np.int64)
            return n, z, z, np.zeros(0)
        n_terms = len(self.vocabulary_)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64))
        keys = rows * n_terms + np.frombuffer(indices, dtype=np.int32)
        keys, counts = np.unique(keys, return_counts=True)
        rows, ids = np.divmod(keys, n_terms)
        return n, rows, ids, self._tfidf_values(rows, ids, counts, n)

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
        n, rows, ids, vals = self._transform(_as_texts(X))
        return sp.csr_matrix((vals, (rows, ids)), shape=(n, len(self.vocabulary_)))

    def get_feature_names_out(self, input_features=None):
        """Return the vocabulary terms in column order.

        Word n-grams are joined by a space; character n-grams carry the prefix
        ``"c:"``, the title's words ``"t:"`` and its character n-grams ``"tc:"``.
        """
        if "vocabulary_" not in self.__dict__:
            raise NotFittedError("this TextClassifier is not fitted yet")
        return np.asarray(self._terms_)

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
            subgroup with the same group. Gives a three-level model (see
            ``hierarchy``).
        progress : callable, optional
            Called as ``progress(done, total, stage)`` after each featurised
            chunk and each linear model, for progress bars.

        Returns
        -------
        self
        """
        self._check_params()
        for name in _DERIVED:  # caches of a previous fit
            self.__dict__.pop(name, None)
        texts = _as_texts(X)
        y = np.asarray([str(v) for v in (y.tolist() if hasattr(y, "tolist") else y)])
        if len(texts) != len(y):
            raise ValueError(f"X has {len(texts)} texts but y has {len(y)} labels")
        if len(texts) == 0:
            raise ValueError("cannot fit on zero texts")
        classes, y_idx = np.unique(y, return_inverse=True)
        n_classes = classes.size

        hierarchy, group_names, class_group, sub_names, class_sub, sub_group = self._hierarchy_of(
            y, y_idx, classes, groups, subgroups)

        # ---- vocabulary: intern every term, count document frequencies.
        # Texts are processed in chunks so that peak memory stays near the size
        # of the final TF-IDF matrix (per-chunk counts are float32 + int32).
        # Each chunk is counted against its own small vocabulary (in forked
        # workers when n_jobs > 1); chunks are then merged in order, so terms
        # are numbered by first occurrence exactly as in one serial pass.
        interned = {}
        setdef = interned.setdefault
        chunks = []
        n_chunks = -(-len(texts) // _FIT_CHUNK)
        step = [0]

        def tick(stage, total):
            step[0] += 1
            if progress is not None and total is not None:
                progress(step[0], total, stage)

        starts = range(0, len(texts), _FIT_CHUNK)
        for terms, indptr, idx, counts in _ordered_map(_count_chunk, starts, (texts, self._analyzer()),
                                                        self.n_jobs, window=2):
            ids = np.fromiter((setdef(t, len(interned)) for t in terms), dtype=np.int32, count=len(terms))
            c = sp.csr_matrix((counts, ids[idx], indptr), shape=(indptr.size - 1, max(len(interned), 1)))
            c.sort_indices()
            chunks.append((c.indptr, c.indices, c.data))
            del terms, ids, idx, counts, c
            tick("features", None)
        all_terms = list(interned)
        del interned
        df = np.zeros(len(all_terms), dtype=np.int64)
        for _, idx, _ in chunks:
            df += np.bincount(idx, minlength=len(all_terms))
        keep = np.flatnonzero(df >= self.min_df)
        if self.max_features is not None and keep.size > self.max_features:
            order = np.lexsort((keep, -df[keep]))[: self.max_features]
            keep = np.sort(keep[order])
        if keep.size == 0:
            raise ValueError(f"no term occurs in at least min_df={self.min_df} texts")
        self._terms_ = [all_terms[i] for i in keep]
        del all_terms
        self.vocabulary_ = {t: i for i, t in enumerate(self._terms_)}
        n = len(texts)
        n_features = keep.size
        self.idf_ = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0
        self.term_block_ = np.fromiter((_term_block(t) for t in self._terms_), dtype=np.int8,
                                       count=n_features)
        remap = np.full(df.size, -1, dtype=np.int64)
        remap[keep] = np.arange(n_features)  # increasing, so sorted columns stay sorted
        blocks = []
        while chunks:
            indptr, idx, data = chunks.pop(0)
            m = indptr.size - 1
            new = remap[idx]
            mask = new >= 0
            rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(indptr))[mask]
            ids = new[mask]
            vals = self._tfidf_values(rows, ids, data[mask], m)
            ptr = np.zeros(m + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=m), out=ptr[1:])
            blocks.append(sp.csr_matrix((vals, ids.astype(np.int32), ptr), shape=(m, n_features)))
            del indptr, idx, data, new, mask, rows, ids, vals
        Xw = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
        del blocks, remap
        n_features = Xw.shape[1]

        # ---- internal order: classes by leaf (subgroup, or group), leaves by group
        n_groups = group_names.size
        if hierarchy == "three-level":
            leaf_perm = np.lexsort((np.arange(sub_names.size), sub_group))  # internal leaf -> subgroup
            leaf_inv = np.empty_like(leaf_perm)
            leaf_inv[leaf_perm] = np.arange(leaf_perm.size)
            class_leaf = leaf_inv[class_sub]
            leaf_bounds = np.concatenate([[0], np.cumsum(np.bincount(sub_group, minlength=n_groups))])
        else:  # one leaf per group
            leaf_perm = None
            class_leaf = class_group
            leaf_bounds = np.arange(n_groups + 1)
        n_leaves = leaf_bounds[-1]
        perm = np.lexsort((np.arange(n_classes), class_leaf))  # internal j -> class index
        bounds = np.concatenate([[0], np.cumsum(np.bincount(class_leaf, minlength=n_leaves))])
        row_leaf = class_leaf[y_idx]
        row_order = np.argsort(row_leaf, kind="stable")  # rows of each leaf, in row order
        row_ptr = np.searchsorted(row_leaf[row_order], np.arange(n_leaves + 1))

        seed = int(self.random_state) if self.random_state is not None else 0
        # a flat model with few classes is small enough to keep whole (see max_weights_per_class)
        budget = None if (hierarchy == "flat" and n_classes <= 50) else self.max_weights_per_class
        tasks = [(0, 0)] if hierarchy != "flat" else []  # the group model
        if hierarchy == "three-level":
            tasks += [(1, g) for g in range(n_groups) if leaf_bounds[g + 1] - leaf_bounds[g] > 1]
        tasks += [(2, leaf) for leaf in range(n_leaves)]
        total_steps = n_chunks + len(tasks)
        if progress is not None:
            progress(step[0], total_steps, "features")

        # Every model has its own seed and its own slot in the results, so the
        # fitted weights do not depend on n_jobs or on which worker ran what.
        layout = (perm, bounds, class_group, class_leaf, n_groups, leaf_bounds, row_order, row_ptr)
        job = _FitJob(Xw, y_idx, layout, self.C, self.tol, self.max_iter, seed,
                      (self.max_weights_per_group, self.max_weights_per_subgroup, budget), self.negative_ratio)
        results = {}
        stage = {0: "categories", 1: "subcategories", 2: "items"}
        for task, res in zip(tasks, _ordered_map(_FitJob.run, tasks, job, self.n_jobs)):
            results[task] = res
            tick(stage[task[0]], total_steps)
        del job, row_order, row_ptr, row_leaf
        if hierarchy != "flat":
            (r, c, v), icpt = results.pop((0, 0))
            self.W1_ = _sparse_weights(c, r, v, (n_features, n_groups))
            self.b1_ = icpt.astype(np.float32)
        else:
            self.W1_, self.b1_ = None, None
        self.Ws_, self.bs_ = None, None
        if hierarchy == "three-level":
            self.Ws_, self.bs_ = self._assemble(results, 1, n_features, n_leaves, leaf_bounds)
        self.W2_, self.b2_ = self._assemble(results, 2, n_features, n_classes, bounds)

        self.classes_ = classes
        self.groups_ = group_names
        self.class_group_ = class_group
        self.subgroups_ = None if leaf_perm is None else sub_names
        self.class_subgroup_ = None if leaf_perm is None else class_sub
        self.hierarchy_ = hierarchy
        self._perm = perm
        self._bounds = bounds
        self._leaf_bounds = leaf_bounds
        self._leaf_subgroup = leaf_perm
        self.temperatures_ = (_DEFAULT_TEMPERATURE,) * (3 if hierarchy == "three-level" else 2)
        self.calibration_ = None
        self.n_training_texts_ = n
        return self

    def _hierarchy_of(self, y, y_idx, classes, groups, subgroups):
        """The hierarchy to fit and its labels, checked before any work.

        Returns ``(hierarchy, group_names, class_group, subgroup_names,
        class_subgroup, subgroup_group)``; the subgroup entries are None
        unless the hierarchy has three levels.
        """
        n_classes = classes.size

        def labels_of(values, name):
            v = np.asarray([str(x) for x in (values.tolist() if hasattr(values, "tolist") else values)])
            if len(v) != len(y):
                raise ValueError(f"{name} has {len(v)} entries but y has {len(y)} labels")
            names, idx = np.unique(v, return_inverse=True)
            return names, idx

        if groups is None:
            if subgroups is not None:
                raise ValueError("subgroups= needs groups= in fit()")
            if self.hierarchy in ("two-level", "three-level"):
                raise ValueError(f"hierarchy={self.hierarchy!r} needs groups= in fit()")
            return "flat", np.array(["*"]), np.zeros(n_classes, dtype=np.int64), None, None, None
        group_names, g_idx = labels_of(groups, "groups")
        class_group = _parent_of(y_idx, g_idx, n_classes, classes, group_names, ("label", "group"))
        sub = None
        if subgroups is not None:
            sub_names, s_idx = labels_of(subgroups, "subgroups")
            class_sub = _parent_of(y_idx, s_idx, n_classes, classes, sub_names, ("label", "subgroup"))
            sub_group = _parent_of(s_idx, g_idx, sub_names.size, sub_names, group_names, ("subgroup", "group"))
            sub = (sub_names, class_sub, sub_group)
        elif self.hierarchy == "three-level":
            raise ValueError("hierarchy='three-level' needs subgroups= in fit()")
        if self.hierarchy == "three-level":
            return ("three-level", group_names, class_group) + sub
        if self.hierarchy == "two-level" or (self.hierarchy == "auto" and n_classes > 50):
            if self.hierarchy == "auto" and sub is not None and sub[0].size > group_names.size:
                return ("three-level", group_names, class_group) + sub
            if group_names.size > 1:
                return "two-level", group_names, class_group, None, None, None
        return "flat", np.array(["*"]), np.zeros(n_classes, dtype=np.int64), None, None, None

    @staticmethod
    def _assemble(results, level, n_features, n_columns, bounds):
        """Weights ``(n_features, n_columns)`` and biases from the models of one level."""
        rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
        bias = np.zeros(n_columns, dtype=np.float32)
        for (lv, i), res in results.items():
            if lv != level or res is None:  # None: one member, P(member | parent) = 1
                continue
            feat_ids, c, v, icpt = res
            rows.append(feat_ids)
            cols.append(c)
            vals.append(v)
            bias[bounds[i]:bounds[i + 1]] = icpt
        fr, fc, fv = (np.concatenate(a) for a in (rows, cols, vals))
        return _sparse_weights(fr, fc, fv, (n_features, n_columns)), bias

    # ------------------------------------------------------------------- scoring
    def _scores(self, feat):
        """Raw scores: group (n, n_groups), subgroup (n, n_leaves) and item (n, n_classes internal).

        The group scores are None for a flat model, the subgroup scores unless
        there are three levels.
        """
        X = _feature_matrix(feat, len(self.vocabulary_))
        s2 = _sparse_scores(X, self.W2_, self.b2_)
        if self.W1_ is None:
            return None, None, s2
        ss = None if self.Ws_ is None else _sparse_scores(X, self.Ws_, self.bs_)
        return _sparse_scores(X, self.W1_, self.b1_), ss, s2

    def _temperatures(self, temperatures=None):
        """``(group, subgroup, item)`` temperatures; a pair is (group, item), its subgroup one the group's."""
        t = tuple(self.temperatures_ if temperatures is None else temperatures)
        return (t[0], t[0], t[1]) if len(t) == 2 else t

    def _leaf_log_proba(self, ss, temperatures):
        """``log P(leaf | group)`` (n, n_leaves) from subgroup scores; None with one leaf per group."""
        if ss is None:
            return None
        return _group_log_softmax(ss / temperatures[1], self._leaf_bounds)

    def _log_proba_from_scores(self, s1, ss, s2, temperatures=None):
        t1, ts, t2 = self._temperatures(temperatures)
        lp = _group_log_softmax(s2 / t2, self._bounds)
        if s1 is None:
            return lp
        lg = _log_softmax(s1 / t1, axis=1)
        if ss is not None:  # group -> leaves, then leaves -> items
            lg = np.repeat(lg, np.diff(self._leaf_bounds), axis=1) + self._leaf_log_proba(ss, (t1, ts, t2))
        lp += np.repeat(lg, np.diff(self._bounds), axis=1)
        return lp

    def _class_bounds(self):
        """Bounds of each group's items in the internal class order."""
        return self._bounds[self._leaf_bounds]

    def _group_blocks(self):
        """Group and subgroup weights side by side with their biases, and the item weights of each
        group (CSR, float64), cached.

        The group and subgroup scores of a text come from one product (for one
        text, each product costs more in call overhead than in arithmetic).
        float64 because scipy would otherwise widen the float32 weights on
        every product; the values are the stored ones, so scores are unchanged.
        """
        cached = self.__dict__.get("_w2_blocks")
        if cached is None:
            Wc = self.W2_.astype(np.float64).tocsc()
            cb = self._class_bounds()
            blocks = [Wc[:, a:b].tocsr() for a, b in zip(cb[:-1], cb[1:])]
            upper, bias = self.W1_.astype(np.float64), self.b1_
            if self.Ws_ is not None:
                upper = sp.hstack([upper, self.Ws_.astype(np.float64)], format="csr")
                bias = np.concatenate([self.b1_, self.bs_])
            upper.sort_indices()
            cached = self._w2_blocks = (upper, bias, blocks)
        return cached

    def _search(self, feat, k, temperatures=None):
        """Top-k internal class ids and log-probabilities of featurised rows (unsorted within k).

        Expands each row's groups best first; after every round, rows whose
        best candidate beats the next group's log-probability (no item can beat
        its own group) and whose k-th candidate, or the ``exact_above`` floor,
        does too are finished. Rows still open after ``_SEARCH_ROUNDS`` rounds
        are scored in full, and so, from the start, are rows whose group after
        those rounds is still above the floor: they could only finish if all k
        candidates came from the first groups, so the rounds would mostly be
        wasted (on the default model this cut one text's p99 by about a
        quarter). Which rows take which path depends only on each row's own
        group probabilities, so a text gets the same answer alone and in a
        batch. ``temperatures`` overrides ``temperatures_``.
        """
        n = feat[0]
        X = _feature_matrix(feat, len(self.vocabulary_))
        temps = self._temperatures(temperatures)
        t1, t2 = temps[0], temps[2]
        if self.W1_ is None or n == 0:
            return _best_k(self._log_proba_from_scores(*self._scores(feat), temps), k)
        upper, upper_bias, blocks = self._group_blocks()
        su = _sparse_scores(X, upper, upper_bias)
        n_groups = self.groups_.size
        lg = _log_softmax(su[:, :n_groups] / t1, axis=1)
        ll = self._leaf_log_proba(su[:, n_groups:] if self.Ws_ is not None else None, temps)
        cb = self._class_bounds()
        order = np.argsort(-lg, axis=1, kind="stable")
        bound = np.hstack([np.take_along_axis(lg, order, axis=1), np.full((n, 1), -np.inf)])
        floor = math.log(self.exact_above) if self.exact_above > 0 else -np.inf
        best_id = np.full((n, k), -1, dtype=np.int64)
        best_lp = np.full((n, k), -np.inf)
        rounds = min(_SEARCH_ROUNDS, n_groups)
        spread = bound[:, rounds] > floor
        direct = np.flatnonzero(spread)  # scored in full without the rounds
        active = np.flatnonzero(~spread)
        for depth in range(rounds):
            if not active.size:
                break
            g_of = order[active, depth]
            for g in np.unique(g_of):
                rs = active[g_of == g]
                a, b = cb[g], cb[g + 1]
                la, lb = self._leaf_bounds[g], self._leaf_bounds[g + 1]
                # the same operations, in the same order, as _log_proba_from_scores
                Xr = X if rs.size == n else X[rs]  # (one text: always the whole matrix)
                leaves = self._bounds[la:lb + 1] - a  # the group's leaves within its block
                s = _group_log_softmax(_sparse_scores(Xr, blocks[g], self.b2_[a:b]) / t2, leaves)
                if ll is None:
                    s += lg[rs, g][:, None]
                else:
                    s += np.repeat(lg[rs, g][:, None] + ll[rs, la:lb], np.diff(leaves), axis=1)
                ids = np.broadcast_to(np.arange(a, b), s.shape)
                best_id[rs], best_lp[rs] = _best_k(np.hstack([best_lp[rs], s]), k,
                                                   np.hstack([best_id[rs], ids]))
            nxt = bound[active, depth + 1]
            top, kth = best_lp[active].max(axis=1), best_lp[active].min(axis=1)
            done = (top > nxt) & (kth > -np.inf) & (np.maximum(kth, floor) > nxt)
            active = active[~done]
        active = np.union1d(direct, active)
        # rows still open: score every group (exact), _CHUNK rows at a time
        for start in range(0, active.size, _CHUNK):
            rs = active[start:start + _CHUNK]
            Xr = X if rs.size == n else X[rs]
            lp = _group_log_softmax(_sparse_scores(Xr, self.W2_, self.b2_) / t2, self._bounds)
            lr = lg[rs]
            if ll is not None:
                lr = np.repeat(lr, np.diff(self._leaf_bounds), axis=1) + ll[rs]
            lp += np.repeat(lr, np.diff(self._bounds), axis=1)
            best_id[rs], best_lp[rs] = _best_k(lp, k)
        return best_id, best_lp

    def _log_proba_internal(self, texts):
        """Log-probabilities of every class (internal order), ``_CHUNK`` texts at a time."""
        for start in range(0, len(texts), _CHUNK):
            yield self._log_proba_from_scores(*self._scores(self._transform(texts[start:start + _CHUNK])))

    def _check_fitted(self):
        if "W2_" not in self.__dict__:
            raise NotFittedError("this TextClassifier is not fitted yet; call fit() or from_state()")

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`."""
        self._check_fitted()
        texts = _as_texts(X)
        out = np.empty((len(texts), self.classes_.size))
        pos = 0
        for lp in self._log_proba_internal(texts):
            out[pos:pos + lp.shape[0], self._perm] = lp
            pos += lp.shape[0]
        return out

    def predict_proba(self, X):
        """Probability of every class (columns follow ``classes_``; rows sum to 1).

        Parameters
        ----------
        X : sequence of str
            Prepared texts.

        Returns
        -------
        ndarray of shape (n_texts, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def decision_function(self, X):
        """Scores whose arg-max is :meth:`predict` (log-probabilities).

        For two classes, returns the 1-D score of ``classes_[1]`` minus that of
        ``classes_[0]``, as scikit-learn expects.
        """
        lp = self.predict_log_proba(X)
        if self.classes_.size == 2:
            return lp[:, 1] - lp[:, 0]
        return lp

    def predict(self, X):
        """Most probable label of each text."""
        labels, _ = self.top_k(X, k=1)
        return labels[:, 0]

    def top_k(self, X, k=5):
        """The ``k`` most probable labels of each text, best first, with their probabilities.

        Parameters
        ----------
        X : sequence of str
            Prepared texts.
        k : int, default=5
            Number of candidates (capped at the number of classes).

        Returns
        -------
        labels : ndarray of str, shape (n_texts, k)
        probs : ndarray of float, shape (n_texts, k)
        """
        labels, probs, _ = self._top_k(X, k, explain=0)
        return labels, probs

    def top_k_explained(self, X, k=5, n_terms=5):
        """:meth:`top_k` plus, for each text, the terms behind its best label.

        The texts are featurised once for both, which makes this much faster
        than :meth:`top_k` followed by :meth:`explain` for every text.

        Returns
        -------
        labels : ndarray of str, shape (n_texts, k)
        probs : ndarray of float, shape (n_texts, k)
        terms : list of list of (str, float)
            What :meth:`explain` returns for each text and its top-1 label.

        Examples
        --------
        >>> clf = TextClassifier(min_df=1).fit(["广场舞太吵", "马路有坑"] * 3, ["噪音", "道路"] * 3)
        >>> labels, probs, terms = clf.top_k_explained(["广场舞太吵"], k=1)
        >>> str(labels[0, 0]), terms[0] == clf.explain("广场舞太吵", "噪音")
        ('噪音', True)
        """
        return self._top_k(X, k, explain=int(n_terms))

    def _top_k(self, X, k, explain):
        self._check_fitted()
        texts = _as_texts(X)
        k = int(min(max(k, 1), self.classes_.size))
        labels = np.empty((len(texts), k), dtype=self.classes_.dtype)
        probs = np.empty((len(texts), k))
        terms = [] if explain else None
        for pos in range(0, len(texts), _TOP_K_CHUNK):
            feats = self._transform(texts[pos:pos + _TOP_K_CHUNK])
            part, vals = self._search(feats, k)
            m = part.shape[0]
            order = np.lexsort((self._perm[part], -vals), axis=1)
            part = np.take_along_axis(part, order, axis=1)
            vals = np.take_along_axis(vals, order, axis=1)
            labels[pos:pos + m] = self.classes_[self._perm[part]]
            probs[pos:pos + m] = np.exp(vals)
            if explain:
                _, rows, ids, tfidf = feats
                terms.extend(self._contributions(rows, ids, tfidf, self._perm[part[:, 0]], explain))
        return labels, probs, terms

    def explain(self, text, label, n=5):
        """Terms of ``text`` that push its score for ``label`` up the most.

        Parameters
        ----------
        text : str
            One prepared text.
        label : str
            A class in ``classes_``.
        n : int, default=5
            Number of terms returned.

        Returns
        -------
        list of (str, float)
            Term and its contribution (TF-IDF value times the weights of the
            label and, for two levels, of its group), largest first; only
            positive contributions. Word n-grams are joined by a space; the
            prefixes of character and title terms are removed, and terms that
            are then equal (a word, the same character n-gram, the same word in
            the title) are merged.
        """
        self._check_fitted()
        pos = np.searchsorted(self.classes_, str(label))
        if pos >= self.classes_.size or self.classes_[pos] != str(label):
            from .exceptions import UnknownDutyError

            raise UnknownDutyError(str(label), where="TextClassifier.explain")
        _, rows, ids, vals = self._transform([text if isinstance(text, str) else str(text)])
        return self._contributions(rows, ids, vals, np.array([pos]), n)[0]

    def _contributions(self, rows, ids, vals, classes, n):
        """Top-``n`` positive (term, contribution) pairs of featurised rows, one list per row.

        ``classes[r]`` is the position in ``classes_`` of the label explained for
        row ``r``. Weights are looked up for all rows at once: in a canonical CSR
        matrix the keys ``term * n_columns + column`` are sorted, so one
        ``searchsorted`` finds every (term, label) weight.
        """
        cache = self.__dict__.get("_explain_cache")
        if cache is None:
            inv = np.empty_like(self._perm)
            inv[self._perm] = np.arange(self._perm.size)
            plain = [_split_prefix(term)[1] for term in self._terms_]  # terms without their block prefix
            # plain terms numbered in string order, so sorting ids sorts terms
            names, plain_id = np.unique(np.asarray(plain, dtype=str), return_inverse=True)
            # each level's weight matrix and the column of every class in it
            levels = [(_weight_index(self.W2_), inv)]
            if self.W1_ is not None:
                levels.append((_weight_index(self.W1_), self.class_group_))
            if self.Ws_ is not None:
                levels.append((_weight_index(self.Ws_), np.searchsorted(self._bounds, inv, side="right") - 1))
            cache = self._explain_cache = (levels, names.tolist(), plain_id.astype(np.int64))
        levels, names, plain_id = cache
        classes = np.asarray(classes, dtype=np.int64)
        rows, ids = np.asarray(rows, dtype=np.int64), np.asarray(ids, dtype=np.int64)
        w = np.zeros(ids.size)
        for (keys, data, n_cols), column in levels:
            w += _lookup(keys, data, ids * n_cols + column[classes][rows])
        contrib = np.asarray(vals) * w
        nz = np.flatnonzero(contrib)  # zero contributions cannot change any sum below
        # a character n-gram and an identical word (or title word) are one term: sum them
        n_plain = len(names)
        key, where = np.unique(rows[nz] * n_plain + plain_id[ids[nz]], return_inverse=True)
        total = np.bincount(where.ravel(), weights=contrib[nz], minlength=key.size)
        pos = total > 0
        key, total = key[pos], total[pos]
        row, term = np.divmod(key, n_plain)
        order = np.lexsort((term, -total, row))  # per row: largest first, then by term
        row, term, total = row[order], term[order], total[order]
        rank = np.arange(row.size) - np.searchsorted(row, row)
        out = [[] for _ in range(classes.size)]
        for r, t, c in zip(row[rank < n].tolist(), term[rank < n].tolist(), total[rank < n].tolist()):
            out[r].append((names[t], c))
        return out

    # --------------------------------------------------------------- calibration
    def calibrate(self, X, y, *, max_rows=20000):
        """Fit the softmax temperatures (one per level) on held-out data by minimising the NLL.

        Rows whose label is not in ``classes_`` are ignored. ``calibration_``
        records the temperatures and the negative log-likelihood and expected
        calibration error (15 equal-width bins of the top-1 probability)
        before and after.

        Parameters
        ----------
        X : sequence of str
            Prepared held-out texts (not used in :meth:`fit`).
        y : sequence of str
            Their labels.
        max_rows : int, default=20000
            Use at most this many rows (a seeded sample).

        Returns
        -------
        self
        """
        from scipy.optimize import minimize

        self._check_fitted()
        texts = _as_texts(X)
        y = np.asarray([str(v) for v in (y.tolist() if hasattr(y, "tolist") else y)])
        pos = np.searchsorted(self.classes_, y).clip(0, self.classes_.size - 1)
        known = np.flatnonzero(self.classes_[pos] == y)
        if known.size == 0:
            raise ValueError("calibrate() needs rows whose labels are in classes_")
        if known.size > max_rows:
            rng = np.random.default_rng(self.random_state)
            known = np.sort(rng.choice(known, max_rows, replace=False))
        texts = [texts[i] for i in known]
        inv = np.empty_like(self._perm)
        inv[self._perm] = np.arange(self._perm.size)
        target = inv[pos[known]]  # internal column of the true class
        tleaf = np.searchsorted(self._bounds, target, side="right") - 1
        tgroup = np.searchsorted(self._leaf_bounds, tleaf, side="right") - 1
        n = len(texts)
        s1_all = None if self.W1_ is None else np.empty((n, self.groups_.size))
        # the scores of the true item's leaf (and of the true leaf's group) and of the true member
        block = np.full((n, int(np.diff(self._bounds).max())), -np.inf)
        s_true = np.empty(n)
        three = self.Ws_ is not None
        sblock = np.full((n, int(np.diff(self._leaf_bounds).max())), -np.inf) if three else None
        ss_true = np.empty(n) if three else None
        before_t = tuple(self.temperatures_)
        feats = []  # sparse features, kept so that the ECE after fitting does not tokenise again
        conf_before, hit_before = [], []
        for start in range(0, n, _CHUNK):
            feats.append(self._transform(texts[start:start + _CHUNK]))
            s1, ss, s2 = self._scores(feats[-1])
            lp = self._log_proba_from_scores(s1, ss, s2, before_t)
            best = lp.argmax(axis=1)
            conf_before.append(np.exp(lp[np.arange(lp.shape[0]), best]))
            hit_before.append(best == target[start:start + lp.shape[0]])
            sl = slice(start, start + s2.shape[0])
            if s1 is not None:
                s1_all[sl] = s1
            _gather_blocks(s2, self._bounds, tleaf[sl], target[sl], block[sl], s_true[sl])
            if three:
                _gather_blocks(ss, self._leaf_bounds, tgroup[sl], tleaf[sl], sblock[sl], ss_true[sl])

        def nll(log_t):
            t = np.exp(log_t)
            t1, t2 = t[0], t[-1]
            ll = s_true / t2 - _lse_rows(block / t2)
            if three:
                ll = ll + ss_true / t[1] - _lse_rows(sblock / t[1])
            if s1_all is not None:
                ll = ll + _log_softmax(s1_all / t1, axis=1)[np.arange(n), tgroup]
            return float(-np.mean(ll))

        def ece_at(temps):  # the search finds the exact top-1 without scoring every item
            conf, hit = [], []
            for start, feat in zip(range(0, n, _CHUNK), feats):
                best, lp = self._search(feat, 1, temps)
                conf.append(np.exp(lp[:, 0]))
                hit.append(best[:, 0] == target[start:start + best.shape[0]])
            return _ece(np.concatenate(conf), np.concatenate(hit))

        before = np.log(np.asarray(self.temperatures_, dtype=float))
        res = minimize(nll, before, method="Nelder-Mead",
                       options={"xatol": 1e-3, "fatol": 1e-5, "maxiter": 200})
        after = res.x if res.fun <= nll(before) else before
        if self.W1_ is None:  # flat: no group temperature to fit
            after = np.array([before[0], after[1]])
        new_t = tuple(float(t) for t in np.exp(after))
        self.calibration_ = {
            "n_rows": int(n),
            "temperatures_before": [float(t) for t in self.temperatures_],
            "temperatures": list(new_t),
            "nll_before": nll(before),
            "nll_after": nll(after),
            "ece_before": _ece(np.concatenate(conf_before), np.concatenate(hit_before)),
            "ece_after": ece_at(new_t),
        }
        self.temperatures_ = new_t
        return self

    # --------------------------------------------------------------------- state
    def to_state(self):
        """Return ``(arrays, meta)``: numeric/str arrays and JSON-able metadata.

        Nothing in the state needs pickle; :meth:`from_state` rebuilds a
        predictor that gives identical results.
        """
        self._check_fitted()
        arrays = {
            "classes": np.asarray(self.classes_, dtype=str),
            "groups": np.asarray(self.groups_, dtype=str),
            "class_group": self.class_group_.astype(np.int32),
            "perm": self._perm.astype(np.int32),
            "bounds": self._bounds.astype(np.int32),
            "idf": self.idf_.astype(np.float64),
            "term_block": self.term_block_.astype(np.int8),
            "w2_data": self.W2_.data, "w2_indices": self.W2_.indices, "w2_indptr": self.W2_.indptr,
            "b2": self.b2_,
        }
        if self.W1_ is not None:
            arrays.update({"w1_data": self.W1_.data, "w1_indices": self.W1_.indices,
                           "w1_indptr": self.W1_.indptr, "b1": self.b1_})
        if self.Ws_ is not None:
            arrays.update({"subgroups": np.asarray(self.subgroups_, dtype=str),
                           "class_subgroup": self.class_subgroup_.astype(np.int32),
                           "leaf_subgroup": self._leaf_subgroup.astype(np.int32),
                           "leaf_bounds": self._leaf_bounds.astype(np.int32),
                           "ws_data": self.Ws_.data, "ws_indices": self.Ws_.indices,
                           "ws_indptr": self.Ws_.indptr, "bs": self.bs_})
        params = self.get_params(deep=False)
        tok = params.pop("tokenizer")
        if isinstance(tok, Tokenizer) and tok.backend == "rjieba":  # loads then need no jieba
            arrays["tokenizer_frequencies"] = np.asarray(tok._user_word_frequencies(), dtype=np.int64)
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
        meta = {
            # two levels keep the first format, which earlier versions read; three need this one
            "format": _FORMAT if self.Ws_ is None else _FORMAT_SUBGROUPS,
            "params": params,
            "tokenizer": None if tok is None else tok.to_dict(),
            "vocabulary": list(self._terms_),
            "hierarchy": self.hierarchy_,
            "temperatures": list(self.temperatures_),
            "calibration": self.calibration_,
            "n_training_texts": int(self.n_training_texts_),
        }
        return arrays, meta

    @classmethod
    def from_state(cls, arrays, meta):
        """Rebuild a fitted classifier from :meth:`to_state` output.

        Raises
        ------
        ModelFileError
            When an array or key is missing or the format is unknown.
        """
        from ._state_check import check_classifier_state

        check_classifier_state(arrays, meta)  # hostile or broken states stop here, naming the problem
        try:
            if meta.get("format") not in (_FORMAT, _FORMAT_SUBGROUPS):
                raise ModelFileError(f"classifier state has format {meta.get('format')!r}, expected "
                                     f"{_FORMAT!r} or {_FORMAT_SUBGROUPS!r}")
            params = dict(meta["params"])
            # ``top_groups`` (0.1.0; None by default) was replaced by the exact search
            if params.pop("top_groups", None) is not None:
                raise ModelFileError("classifier state sets top_groups, which this version no longer "
                                     "supports; retrain or remove the parameter from metadata.json")
            for k in ("word_ngram_range", "char_ngram_range"):
                if params.get(k) is not None:
                    params[k] = tuple(params[k])
            tok = None if meta["tokenizer"] is None else _tokenizer_from_state(meta["tokenizer"], arrays)
            self = cls(tokenizer=tok, **params)
            self._terms_ = list(meta["vocabulary"])
            self.vocabulary_ = {t: i for i, t in enumerate(self._terms_)}
            nf = len(self._terms_)
            self.classes_ = np.asarray(arrays["classes"]).astype(str)
            self.groups_ = np.asarray(arrays["groups"]).astype(str)
            self.class_group_ = np.asarray(arrays["class_group"]).astype(np.int64)
            self._perm = np.asarray(arrays["perm"]).astype(np.int64)
            self._bounds = np.asarray(arrays["bounds"]).astype(np.int64)
            self.idf_ = np.asarray(arrays["idf"], dtype=np.float64)
            # states written before per-block normalisation have no blocks:
            # one block per row reproduces their single row normalisation
            blocks = arrays.get("term_block") if hasattr(arrays, "get") else None
            self.term_block_ = (np.zeros(nf, dtype=np.int8) if blocks is None
                                else np.asarray(blocks).astype(np.int8))
            nc = self.classes_.size
            self.W2_ = sp.csr_matrix((arrays["w2_data"], arrays["w2_indices"], arrays["w2_indptr"]),
                                     shape=(nf, nc))
            self.b2_ = np.asarray(arrays["b2"], dtype=np.float32)
            if "w1_data" in arrays:
                self.W1_ = sp.csr_matrix((arrays["w1_data"], arrays["w1_indices"], arrays["w1_indptr"]),
                                         shape=(nf, self.groups_.size))
                self.b1_ = np.asarray(arrays["b1"], dtype=np.float32)
            else:
                self.W1_, self.b1_ = None, None
            self._leaf_bounds = np.arange(self.groups_.size + 1)
            self.subgroups_ = self.class_subgroup_ = self._leaf_subgroup = self.Ws_ = self.bs_ = None
            if meta["hierarchy"] == "three-level":
                self.subgroups_ = np.asarray(arrays["subgroups"]).astype(str)
                self.class_subgroup_ = np.asarray(arrays["class_subgroup"]).astype(np.int64)
                self._leaf_subgroup = np.asarray(arrays["leaf_subgroup"]).astype(np.int64)
                self._leaf_bounds = np.asarray(arrays["leaf_bounds"]).astype(np.int64)
                self.Ws_ = sp.csr_matrix((arrays["ws_data"], arrays["ws_indices"], arrays["ws_indptr"]),
                                         shape=(nf, self._leaf_subgroup.size))
                self.bs_ = np.asarray(arrays["bs"], dtype=np.float32)
            self.hierarchy_ = meta["hierarchy"]
            self.temperatures_ = tuple(float(t) for t in meta["temperatures"])
            self.calibration_ = meta.get("calibration")
            self.n_training_texts_ = int(meta.get("n_training_texts", 0))
        except KeyError as exc:
            raise ModelFileError(f"classifier state lacks {exc.args[0]!r}") from None
        if (self.idf_.size != nf or self.term_block_.size != nf or self._perm.size != nc
                or self._bounds[-1] != nc or self._leaf_bounds[-1] != self._bounds.size - 1):
            raise ModelFileError(
                f"classifier state is inconsistent: {nf} terms, {self.idf_.size} idf values, "
                f"{nc} classes, {self._perm.size} permutation entries"
            )
        return self


def _feature_matrix(feat, n_terms):
    """CSR matrix of featurised rows ``(n, rows, ids, vals)`` (entries sorted by row)."""
    n, rows, ids, vals = feat
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    return sp.csr_matrix((vals, ids, ptr), shape=(n, n_terms))


def _best_k(lp, k, ids=None):
    """The ``k`` largest entries of each row of ``lp`` (any order): (ids, values).

    ``ids`` maps columns to class ids (default: the column index).
    """
    if k < lp.shape[1]:
        part = np.argpartition(-lp, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(lp.shape[1]), lp.shape)
    vals = np.take_along_axis(lp, part, axis=1)
    return (part if ids is None else np.take_along_axis(ids, part, axis=1)), vals


def _sparse_scores(X, W, bias):
    """Dense float64 scores ``X @ W + bias`` for a CSR X (rows x terms) and CSR W (terms x classes).

    For up to 8 rows, gathers the weight rows of every (row, term) entry and sums
    them with one ``np.bincount``: no scipy sparse objects are built, which keeps
    a one-text call well under a millisecond. Larger batches use scipy's
    CSR x CSR product, which is faster there and needs no large temporaries.
    Both accumulate each score over the row's terms in the same order, so a
    text gets the same scores alone and in a batch.
    """
    n = X.shape[0]
    n_out = W.shape[1]
    if n > 8:  # for batches scipy's C product is faster and needs no temporaries
        out = (X @ W).toarray().astype(np.float64, copy=False)
        out += bias
        return out
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(X.indptr))
    ids, vals = X.indices, X.data
    starts = W.indptr[ids].astype(np.int64)
    lens = W.indptr[ids + 1].astype(np.int64) - starts
    total = int(lens.sum())
    out = np.zeros((n, n_out))
    if total:
        offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total)
        keys = np.repeat(rows * n_out, lens) + W.indices[offsets]
        weights = W.data[offsets] * np.repeat(vals, lens)
        out += np.bincount(keys, weights=weights, minlength=n * n_out).reshape(n, n_out)
    out += bias
    return out


def _gather_blocks(scores, bounds, member_of, column, out_block, out_true):
    """Copy each row's block ``bounds[member_of[r]]:bounds[member_of[r] + 1]`` of ``scores`` into
    ``out_block`` (left-aligned) and its score at ``column[r]`` into ``out_true``."""
    a = bounds[member_of]
    width = bounds[member_of + 1] - a
    for r in range(scores.shape[0]):
        out_block[r, : width[r]] = scores[r, a[r]:a[r] + width[r]]
    out_true[:] = scores[np.arange(scores.shape[0]), column]


def _lse_rows(a):
    m = a.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True))).ravel()


def _ece(conf, hit, n_bins=15):
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.sum() * abs(conf[m].mean() - hit[m].mean())
    return float(total / max(conf.size, 1))


def _tokenizer_from_state(tok, arrays):
    """The saved tokenizer, with jieba's user-word frequencies when the state carries them."""
    tokenizer = Tokenizer(tok["user_words"], backend=tok["backend"], stopwords=tok["stopwords"], hmm=tok["hmm"])
    if "tokenizer_frequencies" in arrays:
        freqs = np.asarray(arrays["tokenizer_frequencies"])
        if freqs.shape != (len(tokenizer.user_words), 2):
            raise ModelFileError(f"tokenizer_frequencies has shape {freqs.shape}, expected "
                                 f"({len(tokenizer.user_words)}, 2): one row per user word")
        tokenizer._frequencies = tuple(map(tuple, freqs.astype(np.int64).tolist()))
    return tokenizer
