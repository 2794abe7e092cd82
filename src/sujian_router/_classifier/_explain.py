"""Explanations: the terms of a text that push its score for a label up the most.

A term's contribution is its TF-IDF value times its weight for the label
plus, with groups, its weights for the label's group and subgroup. Weights
are looked up for all rows of a batch at once: the keys ``column * n_terms +
term`` of a canonical CSC matrix are sorted, so one ``searchsorted`` per
level finds every (label, term) weight.
"""

from __future__ import annotations

import numpy as np

from ._features import sorted_lookup, split_prefix


def weight_index(W):
    """``(keys, values, n_rows)`` of a sparse matrix; ``keys = column * n_rows + row``, sorted.

    Column-major, so that the weights of one label are contiguous: the
    lookups of one text (all for the same label) then walk the same part of
    the index instead of the whole of it.
    """
    C = W.tocsc()
    C.sum_duplicates()  # also sorts the indices
    cols = np.repeat(np.arange(C.shape[1], dtype=np.int64), np.diff(C.indptr))
    return cols * C.shape[0] + C.indices, C.data.astype(np.float64), C.shape[0]


class Explainer:
    """Per-term contributions for fitted weights, built once per fitted classifier.

    Parameters
    ----------
    terms : list of str
        Vocabulary in column order.
    scorer : Scorer
        The fitted weights (see :mod:`._search`).
    perm : ndarray
        Internal class position -> class index.
    class_group : ndarray
        Group of each class index.
    """

    def __init__(self, terms, scorer, perm, class_group):
        inv = np.empty_like(perm)
        inv[perm] = np.arange(perm.size)
        plain = [split_prefix(term)[1] for term in terms]  # terms without their block prefix
        # plain terms numbered in string order, so sorting ids sorts terms
        names, plain_id = np.unique(np.asarray(plain, dtype=str), return_inverse=True)
        # each level's weight matrix and the column of every class in it
        self.levels = [(weight_index(scorer.W2), inv)]
        if scorer.W1 is not None:
            self.levels.append((weight_index(scorer.W1), class_group))
        if scorer.Ws is not None:
            self.levels.append((weight_index(scorer.Ws), np.searchsorted(scorer.bounds, inv, side="right") - 1))
        self.names, self.plain_id = names.tolist(), plain_id.astype(np.int64)

    def contributions(self, feats, classes, n):
        """Top-``n`` positive (term, contribution) pairs of featurised rows, one list per row.

        ``classes[r]`` is the position in ``classes_`` of the label explained
        for row ``r``. A character n-gram and an identical word (or title
        word) are one term: their contributions are summed. Ties keep terms
        in string order.
        """
        classes = np.asarray(classes, dtype=np.int64)
        rows, ids = np.asarray(feats.rows, dtype=np.int64), np.asarray(feats.ids, dtype=np.int64)
        w = np.zeros(ids.size)
        for (keys, data, n_rows), column in self.levels:
            w += sorted_lookup(keys, data, column[classes][rows] * n_rows + ids, 0.0)
        contrib = np.asarray(feats.vals) * w
        nz = np.flatnonzero(contrib)  # zero contributions cannot change any sum below
        n_plain = len(self.names)
        key, where = np.unique(rows[nz] * n_plain + self.plain_id[ids[nz]], return_inverse=True)
        total = np.bincount(where.ravel(), weights=contrib[nz], minlength=key.size)
        pos = total > 0
        key, total = key[pos], total[pos]
        row, term = np.divmod(key, n_plain)
        order = np.lexsort((term, -total, row))  # per row: largest first, then by term
        row, term, total = row[order], term[order], total[order]
        rank = np.arange(row.size) - np.searchsorted(row, row)
        out = [[] for _ in range(classes.size)]
        names = self.names
        for r, t, c in zip(row[rank < n].tolist(), term[rank < n].tolist(), total[rank < n].tolist()):
            out[r].append((names[t], c))
        return out
