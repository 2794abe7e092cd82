"""Fitting the hierarchy: which levels, the class layout, and the pruned linear models of every level.

A one-vs-rest SVM costs about (classes x rows), so the item models are fitted
per leaf: one SVM over the groups on all rows; with subgroups, one SVM per
group over its subgroups on the group's rows; and one SVM per leaf (a
subgroup, or a group with two levels) over its items on the leaf's rows.
With three levels the item model of a leaf also sees rows of its sibling
subgroups as one extra class that is dropped afterwards (``negative_ratio``),
so that it learns what of its group belongs elsewhere. Every model sees only
the feature columns that occur in its rows and keeps only its largest
weights per class.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from ._parallel import ordered_map

HIERARCHIES = ("auto", "flat", "two-level", "three-level")
FEW_CLASSES = 50  # up to this many classes, "auto" fits one flat, unpruned model
_STAGES = {0: "categories", 1: "subcategories", 2: "items"}


@dataclass(frozen=True)
class Hierarchy:
    """The levels to fit and their labels, checked before any work.

    ``subgroup_names``, ``class_subgroup`` and ``subgroup_group`` are None
    unless ``kind`` is ``"three-level"``.
    """

    kind: str
    group_names: np.ndarray
    class_group: np.ndarray
    subgroup_names: np.ndarray | None = None
    class_subgroup: np.ndarray | None = None
    subgroup_group: np.ndarray | None = None


@dataclass(frozen=True)
class Layout:
    """Internal order of classes, leaves and training rows shared by the models of one fit.

    Classes are ordered by leaf (a subgroup, or a group with two levels) and
    leaves by group, so that every leaf's items and every group's leaves are
    contiguous column blocks.

    Attributes
    ----------
    perm : internal class position -> class index (into ``classes_``).
    bounds : item columns of leaf ``l`` are ``bounds[l]:bounds[l + 1]``.
    class_group, class_leaf : group and leaf of each class index.
    n_groups : number of groups.
    leaf_bounds : leaves of group ``g`` are ``leaf_bounds[g]:leaf_bounds[g + 1]``.
    leaf_subgroup : internal leaf -> subgroup index (three levels), else None.
    row_order, row_ptr : training rows of leaf ``l`` are ``row_order[row_ptr[l]:row_ptr[l + 1]]``.
    """

    perm: np.ndarray
    bounds: np.ndarray
    class_group: np.ndarray
    class_leaf: np.ndarray
    n_groups: int
    leaf_bounds: np.ndarray
    leaf_subgroup: np.ndarray | None
    row_order: np.ndarray
    row_ptr: np.ndarray


@dataclass(frozen=True)
class LevelWeights:
    """Pruned weights ``(n_features, n_columns)`` (CSR, float32) and float32 biases of one level."""

    W: sp.csr_matrix
    b: np.ndarray


@dataclass(frozen=True)
class FitSettings:
    """Solver settings and pruning budgets shared by every linear model of one fit."""

    C: float
    tol: float
    max_iter: int
    seed: int
    group_budget: int | None
    subgroup_budget: int | None
    item_budget: int | None
    negative_ratio: float


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


def _flat(n_classes):
    return Hierarchy("flat", np.array(["*"]), np.zeros(n_classes, dtype=np.int64))


def _labels_of(values, name, n_rows):
    v = np.asarray([str(x) for x in (values.tolist() if hasattr(values, "tolist") else values)])
    if len(v) != n_rows:
        raise ValueError(f"{name} has {len(v)} entries but y has {n_rows} labels")
    return np.unique(v, return_inverse=True)


def hierarchy_of(requested, y_idx, classes, groups, subgroups):
    """The :class:`Hierarchy` to fit for the ``hierarchy`` parameter ``requested``.

    Raises ValueError when the labels do not nest (a label with two groups)
    or the requested hierarchy lacks its ``groups``/``subgroups``.
    """
    n_classes, n_rows = classes.size, len(y_idx)
    if groups is None:
        if subgroups is not None:
            raise ValueError("subgroups= needs groups= in fit()")
        if requested in ("two-level", "three-level"):
            raise ValueError(f"hierarchy={requested!r} needs groups= in fit()")
        return _flat(n_classes)
    group_names, g_idx = _labels_of(groups, "groups", n_rows)
    class_group = _parent_of(y_idx, g_idx, n_classes, classes, group_names, ("label", "group"))
    three = None
    if subgroups is not None:
        sub_names, s_idx = _labels_of(subgroups, "subgroups", n_rows)
        class_sub = _parent_of(y_idx, s_idx, n_classes, classes, sub_names, ("label", "subgroup"))
        sub_group = _parent_of(s_idx, g_idx, sub_names.size, sub_names, group_names, ("subgroup", "group"))
        three = Hierarchy("three-level", group_names, class_group, sub_names, class_sub, sub_group)
    elif requested == "three-level":
        raise ValueError("hierarchy='three-level' needs subgroups= in fit()")
    if requested == "three-level":
        return three
    if requested == "two-level" or (requested == "auto" and n_classes > FEW_CLASSES):
        if requested == "auto" and three is not None and three.subgroup_names.size > group_names.size:
            return three
        if group_names.size > 1:
            return Hierarchy("two-level", group_names, class_group)
    return _flat(n_classes)


def layout_of(hier, y_idx, n_classes):
    """The internal :class:`Layout` of a hierarchy and the training labels ``y_idx``."""
    n_groups = hier.group_names.size
    if hier.kind == "three-level":
        sub_group = hier.subgroup_group
        leaf_perm = np.lexsort((np.arange(hier.subgroup_names.size), sub_group))  # internal leaf -> subgroup
        leaf_inv = np.empty_like(leaf_perm)
        leaf_inv[leaf_perm] = np.arange(leaf_perm.size)
        class_leaf = leaf_inv[hier.class_subgroup]
        leaf_bounds = np.concatenate([[0], np.cumsum(np.bincount(sub_group, minlength=n_groups))])
    else:  # one leaf per group
        leaf_perm = None
        class_leaf = hier.class_group
        leaf_bounds = np.arange(n_groups + 1)
    n_leaves = leaf_bounds[-1]
    perm = np.lexsort((np.arange(n_classes), class_leaf))
    bounds = np.concatenate([[0], np.cumsum(np.bincount(class_leaf, minlength=n_leaves))])
    row_leaf = class_leaf[y_idx]
    row_order = np.argsort(row_leaf, kind="stable")  # rows of each leaf, in row order
    row_ptr = np.searchsorted(row_leaf[row_order], np.arange(n_leaves + 1))
    return Layout(perm, bounds, hier.class_group, class_leaf, n_groups, leaf_bounds, leaf_perm, row_order, row_ptr)


def fit_linear(X, y, n_classes, C, tol, max_iter, seed):
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


def prune(coef, budget):
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


def sparse_weights(rows, cols, vals, shape):
    """Build the (n_features, n_classes) float32 CSR weight matrix."""
    W = sp.csr_matrix((vals.astype(np.float32), (rows, cols)), shape=shape)
    W.sum_duplicates()
    W.sort_indices()
    W.indices = W.indices.astype(np.int32)
    W.indptr = W.indptr.astype(np.int32)
    return W


class _FitJob:
    """The training matrix, labels, layout and settings shared by the linear models of one fit.

    Tasks are ``(level, index)``: ``(0, 0)`` the group model, ``(1, g)`` the
    subgroup model of group ``g`` (three levels), ``(2, l)`` the item model of
    leaf ``l``. Every model has its own seed and its own slot in the results,
    so the fitted weights do not depend on ``n_jobs`` or on which worker ran
    what.
    """

    def __init__(self, Xw, y_idx, layout, settings):
        self.Xw, self.y_idx, self.layout, self.settings = Xw, y_idx, layout, settings

    def run(self, task):  # called as _FitJob.run(job, task) by ordered_map
        """Fit one model of ``task``; returns its pruned weights.

        The group model stays one task: liblinear copies its training rows
        into its own format, so splitting its one-vs-rest rows over workers
        would hold that copy of all rows in every worker without being faster.
        """
        level, i = task
        lay, st = self.layout, self.settings
        if level == 0:
            coef, icpt = fit_linear(self.Xw, lay.class_group[self.y_idx], lay.n_groups, st.C, st.tol,
                                    st.max_iter, st.seed)
            return prune(coef, st.group_budget), icpt
        if level == 1:  # leaves a..b of group i; their rows, in row order
            a, b = lay.leaf_bounds[i], lay.leaf_bounds[i + 1]
            rows = np.sort(lay.row_order[lay.row_ptr[a]:lay.row_ptr[b]])
            return self._fit_block(rows, lay.class_leaf[self.y_idx[rows]] - a, b - a, st.subgroup_budget,
                                   st.seed + lay.bounds.size + i, a)
        return self._fit_items(i)

    def _fit_items(self, i):
        """The item model of leaf ``i``, with drawn sibling rows as one extra, dropped class."""
        lay, st = self.layout, self.settings
        a, b = lay.bounds[i], lay.bounds[i + 1]
        if b - a == 1:
            return None
        rows = lay.row_order[lay.row_ptr[i]:lay.row_ptr[i + 1]]
        target = np.searchsorted(lay.perm[a:b], self.y_idx[rows])  # members are sorted class indices
        g = np.searchsorted(lay.leaf_bounds, i, side="right") - 1
        la, lb = lay.leaf_bounds[g], lay.leaf_bounds[g + 1]
        n_other = int(round(st.negative_ratio * rows.size)) if lb - la > 1 else 0
        if n_other == 0:
            return self._fit_block(rows, target, b - a, st.item_budget, st.seed + i, a)
        others = lay.row_order[lay.row_ptr[la]:lay.row_ptr[lb]]
        others = others[lay.class_leaf[self.y_idx[others]] != i]
        rng = np.random.default_rng(st.seed + i)
        drawn = np.sort(rng.choice(others, min(n_other, others.size), replace=False))
        feat, cols, v, icpt = self._fit_block(np.concatenate([rows, drawn]),
                                              np.concatenate([target, np.full(drawn.size, b - a)]),
                                              b - a + 1, st.item_budget, st.seed + i, a)
        keep = cols < b  # the extra class is dropped
        return feat[keep], cols[keep], v[keep], icpt[: b - a]

    def _fit_block(self, rows, target, n_classes, budget, seed, offset):
        """A model of ``rows`` over the columns that occur in them: (feature ids, columns, values, bias)."""
        st = self.settings
        Xg = self.Xw[rows]
        present = np.unique(Xg.indices)
        coef, icpt = fit_linear(Xg[:, present], target, n_classes, st.C, st.tol, st.max_iter, seed)
        r, c, v = prune(coef, budget)
        return present[c], offset + r, v, icpt


def tasks_of(kind, layout):
    """The ``(level, index)`` models to fit, in order (see :class:`_FitJob`)."""
    tasks = [(0, 0)] if kind != "flat" else []
    lb = layout.leaf_bounds
    if kind == "three-level":
        tasks += [(1, g) for g in range(layout.n_groups) if lb[g + 1] - lb[g] > 1]
    return tasks + [(2, leaf) for leaf in range(int(lb[-1]))]


def fit_levels(Xw, y_idx, kind, layout, settings, n_jobs, tick):
    """Fit every model and assemble each level: ``(groups, subgroups, items)`` :class:`LevelWeights`.

    ``groups`` is None for a flat model, ``subgroups`` unless there are three
    levels. ``tick(stage)`` is called after each model.
    """
    tasks = tasks_of(kind, layout)
    job = _FitJob(Xw, y_idx, layout, settings)
    results = {}
    for task, res in zip(tasks, ordered_map(_FitJob.run, tasks, job, n_jobs)):
        results[task] = res
        tick(_STAGES[task[0]])
    n_features = Xw.shape[1]
    groups = subgroups = None
    if kind != "flat":
        (r, c, v), icpt = results.pop((0, 0))
        groups = LevelWeights(sparse_weights(c, r, v, (n_features, layout.n_groups)), icpt.astype(np.float32))
    if kind == "three-level":
        subgroups = _assemble(results, 1, n_features, int(layout.leaf_bounds[-1]), layout.leaf_bounds)
    items = _assemble(results, 2, n_features, layout.perm.size, layout.bounds)
    return groups, subgroups, items


def _assemble(results, level, n_features, n_columns, bounds):
    """:class:`LevelWeights` ``(n_features, n_columns)`` from the models of one level."""
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
    return LevelWeights(sparse_weights(fr, fc, fv, (n_features, n_columns)), bias)
