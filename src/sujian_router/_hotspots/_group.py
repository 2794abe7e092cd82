"""Grouping tickets that describe one problem at one place.

Two kinds of link join tickets, and the groups are the connected components
of the resulting graph, so one ticket belongs to at most one group:

* **same place, same problem**: both tickets name the same place (after
  :func:`~sujian_router._hotspots._mentions.merge_aliases`) and their texts,
  with the place names removed, are similar (cosine of character-bigram
  TF-IDF at least ``place_threshold``);
* **near duplicates**: the texts are very similar (at least ``dup_threshold``)
  and the tickets do not name two different places. This catches groups the
  place patterns miss (a company without a company suffix, an unnamed site).

A group is then cut wherever two consecutive tickets are more than
``max_gap`` apart, so one group covers one period.

Features are hashed (:class:`~sklearn.feature_extraction.text.HashingVectorizer`
is stateless), so the same text always gives the same vector, whatever else
is in the input; the IDF weights come from the input itself.
"""

from __future__ import annotations

import numpy as np

from ._mentions import ROAD_SUFFIXES

__all__ = ["TextFeatures", "group_tickets", "merge_named_groups", "split_by_gap"]

_N_FEATURES = 1 << 18
_ROW_BLOCK = 256  # rows multiplied at a time: bounds the similarity block held in memory


class TextFeatures:
    """Character-bigram TF-IDF vectors of short texts, L2-normalised.

    Parameters
    ----------
    texts : sequence of str

    Examples
    --------
    >>> f = TextFeatures(["楼下搅拌站噪音扰民", "搅拌站噪音扰民严重", "公交车绕路"])
    >>> s = f.cosine_rows([0, 1, 2], [0, 1, 2])
    >>> bool(s[0, 1] > 0.5), bool(s[0, 2] == 0)
    (True, True)
    """

    def __init__(self, texts):
        from sklearn.feature_extraction.text import HashingVectorizer

        hv = HashingVectorizer(analyzer="char", ngram_range=(2, 2), n_features=_N_FEATURES,
                               alternate_sign=False, norm=None, lowercase=True)
        x = hv.transform(list(texts)).tocsr().astype(np.float32)
        df = np.bincount(x.indices, minlength=_N_FEATURES)
        n = x.shape[0]
        idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        x.data = (1.0 + np.log(x.data)) * idf[x.indices]  # sublinear tf times idf
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        from scipy import sparse

        self.matrix = sparse.diags(1.0 / norms).dot(x).tocsr()

    def cosine_rows(self, rows_a, rows_b):
        """Dense cosine similarities between two sets of rows."""
        return self.pairs_above(rows_a, rows_b, -1.0, dense=True)

    def pairs_above(self, rows_a, rows_b, threshold, dense=False):
        """Positions (i, j) into ``rows_a`` and ``rows_b`` whose cosine is at least ``threshold``.

        The product stays sparse, so only pairs that share a feature cost memory.
        """
        a = self.matrix[np.asarray(rows_a)]
        b = self.matrix[np.asarray(rows_b)]
        prod = a @ b.T
        if dense:
            return prod.toarray()
        prod = prod.tocoo()
        keep = prod.data >= threshold
        return prod.row[keep], prod.col[keep]


def _place_edges(features, keys, threshold):
    """Pairs of tickets with the same place key whose texts are similar."""
    edges = []
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    bounds = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi - lo < 2 or sorted_keys[lo] == "":
            continue
        members = order[lo:hi]
        for start in range(0, len(members), _ROW_BLOCK):
            part = members[start:start + _ROW_BLOCK]
            i, j = features.pairs_above(part, members, threshold)
            keep = part[i] < members[j]
            edges.append(np.column_stack([part[i][keep], members[j][keep]]))
    return edges


def _duplicate_edges(features, keys, blocks, threshold):
    """Pairs of very similar tickets in the same block that do not name two different places."""
    edges = []
    order = np.lexsort((np.arange(len(blocks)), blocks))
    sorted_blocks = blocks[order]
    bounds = np.flatnonzero(np.r_[True, sorted_blocks[1:] != sorted_blocks[:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        members = order[lo:hi]
        if len(members) < 2:
            continue
        for start in range(0, len(members), _ROW_BLOCK):
            part = members[start:start + _ROW_BLOCK]
            i, j = features.pairs_above(part, members, threshold)
            a, b = part[i], members[j]
            ka, kb = keys[a], keys[b]
            keep = (a < b) & ((ka == kb) | (ka == "") | (kb == ""))
            edges.append(np.column_stack([a[keep], b[keep]]))
    return edges


def split_by_gap(labels, times, max_gap):
    """Cut each group where consecutive tickets are more than ``max_gap`` apart.

    Parameters
    ----------
    labels : ndarray of int
        Group of each ticket (-1: none).
    times : ndarray of datetime64
        Ticket times (NaT sorts last and never cuts a group).
    max_gap : numpy.timedelta64 or None

    Returns
    -------
    ndarray of int
        New labels, numbered 0.. in order of each group's first ticket.

    Examples
    --------
    >>> t = np.array(["2024-01-01", "2024-01-02", "2024-03-01", "2024-03-02"], dtype="datetime64[ns]")
    >>> split_by_gap(np.array([0, 0, 0, 0]), t, np.timedelta64(10, "D")).tolist()
    [0, 0, 1, 1]
    """
    labels = np.asarray(labels)
    out = np.full(len(labels), -1, dtype=np.int64)
    member = np.flatnonzero(labels >= 0)
    if not len(member):
        return out
    tkey = times[member].astype("datetime64[ns]").astype(np.int64)
    nat = np.isnat(times[member])
    tkey = np.where(nat, np.iinfo(np.int64).max, tkey)
    order = member[np.lexsort((member, tkey, labels[member]))]
    lab = labels[order]
    t = times[order]
    new = np.r_[True, lab[1:] != lab[:-1]]
    if max_gap is not None:
        gap = (t[1:] - t[:-1]) > max_gap
        new[1:] |= gap & ~np.isnat(t[1:]) & ~np.isnat(t[:-1])
    out[order] = np.cumsum(new) - 1
    return _renumber(out)


def _renumber(labels):
    """Number groups 0.. in order of their first member (row order): deterministic ids."""
    out = np.full(len(labels), -1, dtype=np.int64)
    seen = {}
    for i, g in enumerate(labels.tolist()):
        if g >= 0:
            out[i] = seen.setdefault(g, len(seen))
    return out


def group_tickets(texts, keys, blocks, times, *, conflict_keys=None, place_threshold=0.2, dup_threshold=0.5,
                  max_gap=None, min_size=3):
    """Group tickets by place and text; return one group label per ticket (-1: in no group).

    Parameters
    ----------
    texts : sequence of str
        Texts with place names removed (what the problem is).
    keys : ndarray of str
        Canonical place key per ticket ("" when none).
    blocks : ndarray of str
        Near duplicates are only searched within a block (e.g. a category).
    conflict_keys : ndarray of str, optional
        Two tickets whose conflict keys differ (both non-empty) are never
        near duplicates; ``keys`` by default. Pass the places named in the
        titles so that a place mentioned in passing does not keep apart two
        tickets whose titles agree.
    times : ndarray of datetime64
    place_threshold, dup_threshold : float
        Cosine thresholds of the two kinds of link.
    max_gap : numpy.timedelta64, optional
    min_size : int
        Smaller groups get -1.

    Returns
    -------
    ndarray of int

    Examples
    --------
    >>> texts = ["搅拌站噪音扰民", "搅拌站噪音很大扰民", "楼板开裂", "搅拌站夜间噪音扰民"]
    >>> keys = np.array(["丽发新城", "丽发新城", "丽发新城", ""])
    >>> t = np.array(["2024-01-0%d" % i for i in range(1, 5)], dtype="datetime64[ns]")
    >>> group_tickets(texts, keys, np.array([""] * 4), t).tolist()
    [0, 0, -1, 0]
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    features = TextFeatures(texts)
    conflict = keys if conflict_keys is None else np.asarray(conflict_keys)
    edges = _place_edges(features, keys, place_threshold) + _duplicate_edges(features, conflict, blocks,
                                                                               dup_threshold)
    pairs = np.concatenate(edges) if edges else np.zeros((0, 2), dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp)
    labels = np.where(sizes[comp] >= 2, comp, -1)
    labels = split_by_gap(labels, times, max_gap)
    sizes = np.bincount(labels[labels >= 0], minlength=1) if (labels >= 0).any() else np.zeros(1, int)
    labels = np.where((labels >= 0) & (sizes[np.maximum(labels, 0)] >= min_size), labels, -1)
    return _renumber(labels)


def _group_places(labels, keys):
    """Most common non-empty place key of each group (ties: the smallest key)."""
    from collections import Counter

    out = {}
    for g in sorted(set(labels.tolist()) - {-1}):
        counts = Counter(k for k in keys[labels == g].tolist() if k)
        if counts:
            best = max(counts.values())
            out[g] = min(k for k, n in counts.items() if n == best)
    return out


def merge_named_groups(labels, texts, keys, times, *, share=0.5, max_groups=5000):
    """Merge a group into another when most of its texts name the other group's place, in the same period.

    Messages about one issue sometimes name the organisation behind a
    place instead of the place (``广铁集团`` for the staff flats at
    ``伊景园滨河苑``); they form a group of their own that mostly still
    mentions the place. Group B joins group A when at least ``share`` of
    B's texts contain A's place, A's place is a site (not a road: a road
    is often only the address of B's site) and their time spans overlap.
    Skipped above
    ``max_groups`` groups (the pairwise check grows with their square).

    Examples
    --------
    >>> labels = np.array([0, 0, 0, 1, 1, 1])
    >>> texts = ["滨河苑捆绑车位"] * 3 + ["广铁集团 滨河苑 车位", "广铁集团车位", "广铁集团在滨河苑"]
    >>> keys = np.array(["滨河苑"] * 3 + ["广铁集团"] * 3)
    >>> t = np.array(["2024-01-0%d" % i for i in (1, 3, 5, 2, 4, 6)], dtype="datetime64[ns]")
    >>> merge_named_groups(labels, texts, keys, t).tolist()
    [0, 0, 0, 0, 0, 0]
    """
    places = _group_places(labels, keys)
    if len(places) < 2 or len(places) > max_groups:
        return labels
    import re
    from collections import Counter

    members = {g: np.flatnonzero(labels == g) for g in places}
    span = {g: (times[m].min(), times[m].max()) for g, m in members.items()}
    by_place = {}
    for g in sorted(places, key=lambda g: (-len(members[g]), g)):
        if not places[g].endswith(ROAD_SUFFIXES):
            by_place.setdefault(places[g], []).append(g)  # largest group of each site first
    if not by_place:
        return labels
    pattern = re.compile("|".join(re.escape(p) for p in sorted(by_place, key=lambda p: (-len(p), p))))
    target = {}
    for b in sorted(places):
        named = Counter(p for i in members[b] for p in set(pattern.findall(texts[i])))
        for place, n in sorted(named.items(), key=lambda kv: (-kv[1], kv[0])):
            if place == places[b] or n < share * len(members[b]):
                continue
            a = next((g for g in by_place[place] if g != b and len(members[g]) >= len(members[b])
                      and not (span[g][1] < span[b][0] or span[b][1] < span[g][0])), None)
            if a is not None:
                target[b] = a
                break
    out = labels.copy()
    for b, a in target.items():
        while a in target:  # follow chains to the final group
            a = target[a]
        out[members[b]] = a
    return _renumber(out)
