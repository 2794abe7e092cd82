"""Calibration: one softmax temperature per level, fitted on held-out rows by minimising the NLL.

The scores are computed once; the negative log-likelihood of the true class
only needs the true item's leaf block of item scores (and the true leaf's
group block of subgroup scores, and the group scores), so the optimiser's
many evaluations touch small arrays. The expected calibration error (15
equal-width bins of the top-1 probability) is reported before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._search import CHUNK, Temperatures, log_softmax

_ECE_BINS = 15


@dataclass(frozen=True)
class _Gathered:
    """What the NLL needs of each calibration row, and the featurised rows for the ECE afterwards."""

    groups: np.ndarray | None  # group scores (n, n_groups), None for a flat model
    tgroup: np.ndarray  # group of the true class
    item_block: np.ndarray  # item scores of the true leaf, left-aligned, padded with -inf
    item_true: np.ndarray  # score of the true item
    sub_block: np.ndarray | None  # subgroup scores of the true group (three levels)
    sub_true: np.ndarray | None  # score of the true subgroup (three levels)
    target: np.ndarray  # internal column of the true class
    matrices: list  # CSR feature matrices, CHUNK rows each
    conf_before: np.ndarray
    hit_before: np.ndarray


def gather_blocks(scores, bounds, member_of, column, out_block, out_true):
    """Copy each row's block ``bounds[member_of[r]]:bounds[member_of[r] + 1]`` of ``scores`` into
    ``out_block`` (left-aligned) and its score at ``column[r]`` into ``out_true``."""
    a = bounds[member_of]
    width = bounds[member_of + 1] - a
    for r in range(scores.shape[0]):
        out_block[r, : width[r]] = scores[r, a[r]:a[r] + width[r]]
    out_true[:] = scores[np.arange(scores.shape[0]), column]


def lse_rows(a):
    """Log-sum-exp of each row."""
    m = a.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=1, keepdims=True))).ravel()


def ece(conf, hit, n_bins=_ECE_BINS):
    """Expected calibration error of top-1 confidences ``conf`` and hits ``hit``."""
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            total += m.sum() * abs(conf[m].mean() - hit[m].mean())
    return float(total / max(conf.size, 1))


def _gather(featurize, scorer, texts, target, temps):
    """Score ``texts`` once with temperatures ``temps`` and keep what the NLL and ECE need."""
    n = len(texts)
    tleaf = np.searchsorted(scorer.bounds, target, side="right") - 1
    tgroup = np.searchsorted(scorer.leaf_bounds, tleaf, side="right") - 1
    groups = None if scorer.W1 is None else np.empty((n, scorer.n_groups))
    block = np.full((n, int(np.diff(scorer.bounds).max())), -np.inf)
    s_true = np.empty(n)
    three = scorer.Ws is not None
    sblock = np.full((n, int(np.diff(scorer.leaf_bounds).max())), -np.inf) if three else None
    ss_true = np.empty(n) if three else None
    matrices, conf, hit = [], [], []
    for start in range(0, n, CHUNK):
        matrices.append(featurize(texts[start:start + CHUNK]))
        sc = scorer.scores(matrices[-1])
        lp = scorer.log_proba(sc, temps)
        best = lp.argmax(axis=1)
        sl = slice(start, start + lp.shape[0])
        conf.append(np.exp(lp[np.arange(lp.shape[0]), best]))
        hit.append(best == target[sl])
        if groups is not None:
            groups[sl] = sc.groups
        gather_blocks(sc.items, scorer.bounds, tleaf[sl], target[sl], block[sl], s_true[sl])
        if three:
            gather_blocks(sc.subgroups, scorer.leaf_bounds, tgroup[sl], tleaf[sl], sblock[sl], ss_true[sl])
    return _Gathered(groups, tgroup, block, s_true, sblock, ss_true, target, matrices,
                     np.concatenate(conf), np.concatenate(hit))


def _nll(data, log_t):
    """Mean negative log-likelihood of the true classes at temperatures ``exp(log_t)``."""
    t = np.exp(log_t)
    t1, t2 = t[0], t[-1]
    ll = data.item_true / t2 - lse_rows(data.item_block / t2)
    if data.sub_block is not None:
        ll = ll + data.sub_true / t[1] - lse_rows(data.sub_block / t[1])
    if data.groups is not None:
        ll = ll + log_softmax(data.groups / t1, axis=1)[np.arange(data.target.size), data.tgroup]
    return float(-np.mean(ll))


def _ece_after(scorer, data, temps, exact_above):
    """ECE at ``temps``; the search finds the exact top-1 without scoring every item."""
    conf, hit = [], []
    for start, X in zip(range(0, data.target.size, CHUNK), data.matrices):
        best, lp = scorer.search(X, 1, temps, exact_above)
        conf.append(np.exp(lp[:, 0]))
        hit.append(best[:, 0] == data.target[start:start + best.shape[0]])
    return ece(np.concatenate(conf), np.concatenate(hit))


def fit_temperatures(featurize, scorer, texts, target, temperatures, exact_above):
    """Fitted temperatures (same length as ``temperatures``) and the calibration record.

    ``featurize(texts)`` returns a CSR feature matrix; ``target`` is the
    internal column of each text's true class. A flat model keeps its group
    temperature (there is no group level to fit), and the fit is kept only
    when it lowers the NLL.
    """
    from scipy.optimize import minimize

    data = _gather(featurize, scorer, texts, target, Temperatures.of(temperatures))
    before = np.log(np.asarray(temperatures, dtype=float))
    res = minimize(lambda lt: _nll(data, lt), before, method="Nelder-Mead",
                   options={"xatol": 1e-3, "fatol": 1e-5, "maxiter": 200})
    after = res.x if res.fun <= _nll(data, before) else before
    if scorer.W1 is None:  # flat: no group temperature to fit
        after = np.array([before[0], after[1]])
    new_t = tuple(float(t) for t in np.exp(after))
    record = {
        "n_rows": int(target.size),
        "temperatures_before": [float(t) for t in temperatures],
        "temperatures": list(new_t),
        "nll_before": _nll(data, before),
        "nll_after": _nll(data, after),
        "ece_before": ece(data.conf_before, data.hit_before),
        "ece_after": _ece_after(scorer, data, Temperatures.of(new_t), exact_above),
    }
    return new_t, record
