"""Validation of :class:`TextClassifier`'s parameters, once, before any work."""

from __future__ import annotations

import numpy as np

from ._hierarchy import HIERARCHIES


def _is_number(v):
    return isinstance(v, (int, float, np.number))


def _check_ranges(clf):
    for name in ("word_ngram_range", "char_ngram_range"):
        r = getattr(clf, name)
        if r is None and name == "char_ngram_range":
            continue
        if not isinstance(r, (tuple, list)) or len(r) != 2 or not 1 <= r[0] <= r[1]:
            raise ValueError(f"{name} must be (min_n, max_n) with 1 <= min_n <= max_n, got {r!r}")


def _check_budgets(clf):
    for name in ("max_weights_per_class", "max_weights_per_group", "max_weights_per_subgroup", "max_features"):
        v = getattr(clf, name)
        if v is not None and not (isinstance(v, (int, np.integer)) and v >= 1):
            raise ValueError(f"{name} must be None or an int >= 1, got {v!r}")


def check_params(clf):
    """Raise ValueError naming the first parameter of ``clf`` that is out of range."""
    if clf.hierarchy not in HIERARCHIES:
        raise ValueError(f"hierarchy must be one of {list(HIERARCHIES)}, got {clf.hierarchy!r}")
    _check_ranges(clf)
    if not isinstance(clf.title_block, (bool, np.bool_)):
        raise ValueError(f"title_block must be True or False, got {clf.title_block!r}")
    if not (isinstance(clf.min_df, (int, np.integer)) and clf.min_df >= 1):
        raise ValueError(f"min_df must be an int >= 1, got {clf.min_df!r}")
    if not clf.C > 0:
        raise ValueError(f"C must be > 0, got {clf.C!r}")
    if not (_is_number(clf.negative_ratio) and clf.negative_ratio >= 0):
        raise ValueError(f"negative_ratio must be a number >= 0, got {clf.negative_ratio!r}")
    if not (_is_number(clf.tol) and clf.tol > 0):
        raise ValueError(f"tol must be a number > 0, got {clf.tol!r}")
    if clf.n_jobs is not None and not (isinstance(clf.n_jobs, (int, np.integer)) and clf.n_jobs != 0):
        raise ValueError(f"n_jobs must be None or a non-zero int, got {clf.n_jobs!r}")
    if not (_is_number(clf.exact_above) and 0 <= clf.exact_above < 1):
        raise ValueError(f"exact_above must be a number in [0, 1), got {clf.exact_above!r}")
    _check_budgets(clf)
