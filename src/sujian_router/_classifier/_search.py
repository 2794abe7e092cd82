"""Scoring and the candidate search: probabilities per level and the exact best-first top-k.

Probabilities are ``P(group) * P(subgroup | group) * P(item | subgroup)``
(two levels: ``P(group) * P(item | group)``), one softmax temperature per
level. The search expands each text's groups in order of ``P(group)`` and
stops as soon as no unexpanded group can hold a better candidate: an item's
probability is at most its group's, so the best item found is provably the
best of all, and every candidate at or above ``exact_above`` is exactly the
one a full scoring would list. Most texts need one or two groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

CHUNK = 512  # rows scored at once in full (bounds the dense n x n_classes block)
SEARCH_ROUNDS = 2  # group-expansion rounds before open rows are scored in full
_SMALL_BATCH = 8  # up to this many rows, scores are gathered without scipy


def log_softmax(s, axis=-1):
    """Log-softmax along ``axis`` (rows of all ``-inf`` stay finite-safe)."""
    m = np.max(s, axis=axis, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    z = s - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def group_log_softmax(s, bounds):
    """Log-softmax of each contiguous column block ``bounds[i]:bounds[i+1]``."""
    starts = bounds[:-1]
    m = np.maximum.reduceat(s, starts, axis=1)
    sizes = np.diff(bounds)
    z = s - np.repeat(m, sizes, axis=1)
    lse = np.log(np.add.reduceat(np.exp(z), starts, axis=1))
    return z - np.repeat(lse, sizes, axis=1)


def best_k(lp, k, ids=None):
    """The ``k`` largest entries of each row of ``lp`` (any order): (ids, values).

    ``ids`` maps columns to class ids (default: the column index).
    """
    if k < lp.shape[1]:
        part = np.argpartition(-lp, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(lp.shape[1]), lp.shape)
    vals = np.take_along_axis(lp, part, axis=1)
    return (part if ids is None else np.take_along_axis(ids, part, axis=1)), vals


def sparse_scores(X, W, bias):
    """Dense float64 scores ``X @ W + bias`` for a CSR X (rows x terms) and CSR W (terms x classes).

    For a few rows, gathers the weight rows of every (row, term) entry and sums
    them with one ``np.bincount``: no scipy sparse objects are built, which
    keeps a one-text call cheap. Larger batches use scipy's CSR x CSR product.
    Both accumulate each score over the row's terms in the same order, so a
    text gets the same scores alone and in a batch.
    """
    n = X.shape[0]
    n_out = W.shape[1]
    if n > _SMALL_BATCH:
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


@dataclass(frozen=True)
class Temperatures:
    """Softmax temperatures of the group, subgroup and item levels."""

    group: float
    subgroup: float
    item: float

    @classmethod
    def of(cls, t):
        """From a stored pair ``(group, item)`` (subgroup = group) or triple."""
        t = tuple(t)
        return cls(t[0], t[0], t[1]) if len(t) == 2 else cls(*t)


@dataclass(frozen=True)
class LevelScores:
    """Raw scores of featurised rows: groups (None for a flat model), subgroups (three levels) and items."""

    groups: np.ndarray | None
    subgroups: np.ndarray | None
    items: np.ndarray


class Scorer:
    """The fitted weights of every level with the layout that links them, ready to score.

    Item columns are in internal order (see :class:`~._hierarchy.Layout`).
    ``W1``/``b1`` are None for a flat model, ``Ws``/``bs`` unless three levels.
    """

    def __init__(self, W1, b1, Ws, bs, W2, b2, bounds, leaf_bounds):
        self.W1, self.b1, self.Ws, self.bs, self.W2, self.b2 = W1, b1, Ws, bs, W2, b2
        self.bounds, self.leaf_bounds = bounds, leaf_bounds
        self.n_groups = None if W1 is None else W1.shape[1]
        self.class_bounds = bounds[leaf_bounds]  # each group's items in the internal order
        self._blocks = None

    def scores(self, X):
        """:class:`LevelScores` of a CSR feature matrix."""
        s2 = sparse_scores(X, self.W2, self.b2)
        if self.W1 is None:
            return LevelScores(None, None, s2)
        ss = None if self.Ws is None else sparse_scores(X, self.Ws, self.bs)
        return LevelScores(sparse_scores(X, self.W1, self.b1), ss, s2)

    def leaf_log_proba(self, ss, temps):
        """``log P(leaf | group)`` (n, n_leaves) from subgroup scores; None with one leaf per group."""
        return None if ss is None else group_log_softmax(ss / temps.subgroup, self.leaf_bounds)

    def log_proba(self, sc, temps):
        """Log-probability of every class (internal order) from :class:`LevelScores`."""
        lp = group_log_softmax(sc.items / temps.item, self.bounds)
        if sc.groups is None:
            return lp
        lg = log_softmax(sc.groups / temps.group, axis=1)
        if sc.subgroups is not None:  # group -> leaves, then leaves -> items
            lg = np.repeat(lg, np.diff(self.leaf_bounds), axis=1) + self.leaf_log_proba(sc.subgroups, temps)
        lp += np.repeat(lg, np.diff(self.bounds), axis=1)
        return lp

    def group_blocks(self):
        """Group and subgroup weights side by side with their biases, and the item weights of each
        group (CSR, float64), built once.

        The group and subgroup scores of a text come from one product (for one
        text, each product costs more in call overhead than in arithmetic).
        float64 because scipy would otherwise widen the float32 weights on
        every product; the values are the stored ones, so scores are unchanged.
        """
        if self._blocks is None:
            Wc = self.W2.astype(np.float64).tocsc()
            cb = self.class_bounds
            blocks = [Wc[:, a:b].tocsr() for a, b in zip(cb[:-1], cb[1:])]
            upper, bias = self.W1.astype(np.float64), self.b1
            if self.Ws is not None:
                upper = sp.hstack([upper, self.Ws.astype(np.float64)], format="csr")
                bias = np.concatenate([self.b1, self.bs])
            upper.sort_indices()
            self._blocks = (upper, bias, blocks)
        return self._blocks

    def search(self, X, k, temps, exact_above):
        """Top-k internal class ids and log-probabilities of the rows of ``X`` (unsorted within k).

        Expands each row's groups best first; after every round, rows whose
        best candidate beats the next group's log-probability (no item can
        beat its own group) and whose k-th candidate, or the ``exact_above``
        floor, does too are finished. Rows still open after ``SEARCH_ROUNDS``
        rounds are scored in full, and so, from the start, are rows whose
        group after those rounds is still above the floor: they could only
        finish if all k candidates came from the first groups. Which rows take
        which path depends only on each row's own group probabilities, so a
        text gets the same answer alone and in a batch.
        """
        n = X.shape[0]
        if self.W1 is None or n == 0:
            return best_k(self.log_proba(self.scores(X), temps), k)
        upper, upper_bias, _ = self.group_blocks()
        su = sparse_scores(X, upper, upper_bias)
        lg = log_softmax(su[:, :self.n_groups] / temps.group, axis=1)
        ll = self.leaf_log_proba(su[:, self.n_groups:] if self.Ws is not None else None, temps)
        order = np.argsort(-lg, axis=1, kind="stable")
        bound = np.hstack([np.take_along_axis(lg, order, axis=1), np.full((n, 1), -np.inf)])
        floor = math.log(exact_above) if exact_above > 0 else -np.inf
        best = (np.full((n, k), -1, dtype=np.int64), np.full((n, k), -np.inf))
        rounds = min(SEARCH_ROUNDS, self.n_groups)
        spread = bound[:, rounds] > floor
        active = np.flatnonzero(~spread)
        for depth in range(rounds):
            if not active.size:
                break
            self._expand(X, active, order[active, depth], lg, ll, temps, k, best)
            nxt = bound[active, depth + 1]
            top, kth = best[1][active].max(axis=1), best[1][active].min(axis=1)
            done = (top > nxt) & (kth > -np.inf) & (np.maximum(kth, floor) > nxt)
            active = active[~done]
        self._score_in_full(X, np.union1d(np.flatnonzero(spread), active), lg, ll, temps, k, best)
        return best

    def _expand(self, X, active, g_of, lg, ll, temps, k, best):
        """Score group ``g_of[i]`` of each active row and merge its items into ``best`` (in place)."""
        _, _, blocks = self.group_blocks()
        n = X.shape[0]
        best_id, best_lp = best
        for g in np.unique(g_of):
            rs = active[g_of == g]
            a, b = self.class_bounds[g], self.class_bounds[g + 1]
            la, lb = self.leaf_bounds[g], self.leaf_bounds[g + 1]
            # the same operations, in the same order, as log_proba
            Xr = X if rs.size == n else X[rs]  # (one text: always the whole matrix)
            leaves = self.bounds[la:lb + 1] - a  # the group's leaves within its block
            s = group_log_softmax(sparse_scores(Xr, blocks[g], self.b2[a:b]) / temps.item, leaves)
            if ll is None:
                s += lg[rs, g][:, None]
            else:
                s += np.repeat(lg[rs, g][:, None] + ll[rs, la:lb], np.diff(leaves), axis=1)
            ids = np.broadcast_to(np.arange(a, b), s.shape)
            best_id[rs], best_lp[rs] = best_k(np.hstack([best_lp[rs], s]), k, np.hstack([best_id[rs], ids]))

    def _score_in_full(self, X, rows, lg, ll, temps, k, best):
        """Score every group of ``rows`` (exact), ``CHUNK`` rows at a time, into ``best`` (in place)."""
        n = X.shape[0]
        for start in range(0, rows.size, CHUNK):
            rs = rows[start:start + CHUNK]
            Xr = X if rs.size == n else X[rs]
            lp = group_log_softmax(sparse_scores(Xr, self.W2, self.b2) / temps.item, self.bounds)
            lr = lg[rs]
            if ll is not None:
                lr = np.repeat(lr, np.diff(self.leaf_bounds), axis=1) + ll[rs]
            lp += np.repeat(lr, np.diff(self.bounds), axis=1)
            best[0][rs], best[1][rs] = best_k(lp, k)
