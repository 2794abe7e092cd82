"""Validation of a loaded classifier state before anything is built from it.

A model directory's manifest proves that its files are the ones that were
saved, not that whoever saved them was friendly: a manifest can be rewritten
to match edited arrays. :func:`check_classifier_state` therefore checks
everything the scoring code relies on (member names, dtypes, shapes, index
ranges, monotonic pointers, finite weights, finite positive temperatures,
size caps) so that a hostile file raises
:class:`~sujian_router.exceptions.ModelFileError` at load instead of
crashing scipy, routing every text to ``row_error`` or producing NaN
confidences later.
"""

from __future__ import annotations

import math

import numpy as np

from .exceptions import ModelFileError

__all__ = ["CLASSIFIER_MEMBERS", "check_classifier_state"]

_CORE = ("classes", "groups", "class_group", "perm", "bounds", "idf", "w2_data", "w2_indices", "w2_indptr", "b2")
_OPTIONAL = ("term_block", "tokenizer_frequencies")
_GROUP_LEVEL = ("w1_data", "w1_indices", "w1_indptr", "b1")
_SUBGROUP_LEVEL = ("subgroups", "class_subgroup", "leaf_subgroup", "leaf_bounds",
                   "ws_data", "ws_indices", "ws_indptr", "bs")
#: Every array name a classifier state may hold.
CLASSIFIER_MEMBERS = frozenset(_CORE + _OPTIONAL + _GROUP_LEVEL + _SUBGROUP_LEVEL)

_MAX_TERMS = 50_000_000
_MAX_CLASSES = 1_000_000
_MAX_ABS_WEIGHT = 1e6  # scores stay far from overflow, so softmaxes stay finite
_TEMPERATURE_RANGE = (1e-3, 1e3)
#: largest catalog-keyword prior strength a saved model may carry (the default is 0.2)
MAX_KEYWORD_PRIOR = 10.0
_HIERARCHY_LEVELS = {"flat": (), "two-level": _GROUP_LEVEL, "three-level": _GROUP_LEVEL + _SUBGROUP_LEVEL}
_N_BLOCKS = 3


def _fail(where, message):
    raise ModelFileError(f"{where}: {message}")


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _vector(arrays, name, kind, size=None):
    """``arrays[name]`` as a 1-D array of dtype kind ``kind`` ("i" integer, "f" float, "U" text)."""
    a = arrays[name]
    if not isinstance(a, np.ndarray) or a.ndim != 1:
        _fail("arrays.npz", f"{name} must be a 1-D array, got shape {getattr(a, 'shape', None)}")
    kinds = {"i": "iu", "f": "f", "U": "U"}[kind]
    if a.dtype.kind not in kinds:
        _fail("arrays.npz", f"{name} has dtype {a.dtype}, expected {'integers' if kind == 'i' else kind}")
    if size is not None and a.size != size:
        _fail("arrays.npz", f"{name} has {a.size} entries, expected {size}")
    if kind == "f" and a.size and not np.isfinite(a).all():
        _fail("arrays.npz", f"{name} holds NaN or infinite values")
    if kind == "f" and a.size and np.abs(a).max() > _MAX_ABS_WEIGHT:
        _fail("arrays.npz", f"{name} holds values beyond ±{_MAX_ABS_WEIGHT:g}")
    return a


def _in_range(arrays, name, size, hi):
    a = _vector(arrays, name, "i", size)
    if a.size and (a.min() < 0 or a.max() >= hi):
        _fail("arrays.npz", f"{name} has values outside [0, {hi}) (min {a.min()}, max {a.max()})")
    return a


def _pointers(arrays, name, size, last):
    """A strictly increasing array of block bounds from 0 to ``last``."""
    a = _vector(arrays, name, "i", size)
    if a[0] != 0 or a[-1] != last:
        _fail("arrays.npz", f"{name} must run from 0 to {last}, runs from {a[0]} to {a[-1]}")
    if (np.diff(a) <= 0).any():
        _fail("arrays.npz", f"{name} is not strictly increasing (an empty or reversed block)")
    return a


def _csr(arrays, prefix, n_rows, n_cols):
    """The three arrays of a CSR matrix with ``n_rows`` rows and ``n_cols`` columns."""
    nnz = arrays[f"{prefix}_indices"].size
    name = f"{prefix}_indptr"
    ptr = _vector(arrays, name, "i", n_rows + 1)
    if ptr[0] != 0 or ptr[-1] != nnz:
        _fail("arrays.npz", f"{name} must run from 0 to {nnz}, runs from {ptr[0]} to {ptr[-1]}")
    if (np.diff(ptr) < 0).any():
        _fail("arrays.npz", f"{name} is not non-decreasing")
    _in_range(arrays, f"{prefix}_indices", nnz, n_cols)
    _vector(arrays, f"{prefix}_data", "f", nnz)


def _check_members(arrays, hierarchy):
    unknown = sorted(set(arrays) - CLASSIFIER_MEMBERS)
    if unknown:
        _fail("arrays.npz", f"unexpected arrays {_short(unknown)}")
    needed = _CORE + _HIERARCHY_LEVELS[hierarchy]
    missing = [n for n in needed if n not in arrays]
    if missing:
        _fail("arrays.npz", f"lacks {missing} (needed by a {hierarchy} classifier)")
    extra = sorted(set(_GROUP_LEVEL + _SUBGROUP_LEVEL) - set(_HIERARCHY_LEVELS[hierarchy]) & set(arrays))
    if extra:
        _fail("arrays.npz", f"holds {extra}, which a {hierarchy} classifier does not have")


def _check_meta(meta, params_check):
    if not isinstance(meta, dict):
        _fail("metadata.json", f"'classifier' must be an object, got {type(meta).__name__}")
    hierarchy = meta.get("hierarchy")
    if hierarchy not in _HIERARCHY_LEVELS:
        _fail("metadata.json", f"classifier.hierarchy is {_short(hierarchy)}, expected one of "
                               f"{list(_HIERARCHY_LEVELS)}")
    vocab = meta.get("vocabulary")
    if not isinstance(vocab, list) or not all(isinstance(t, str) for t in vocab):
        _fail("metadata.json", "classifier.vocabulary must be a list of strings")
    if len(vocab) > _MAX_TERMS or len(set(vocab)) != len(vocab):
        _fail("metadata.json", f"classifier.vocabulary has {len(vocab)} terms, some repeated or too many")
    if not isinstance(meta.get("params"), dict):
        _fail("metadata.json", "classifier.params must be an object")
    tok = meta.get("tokenizer")
    if tok is not None and not (isinstance(tok, dict) and isinstance(tok.get("user_words"), list)
                                and isinstance(tok.get("stopwords"), list)
                                and all(isinstance(w, str) for w in tok["user_words"] + tok["stopwords"])):
        _fail("metadata.json", "classifier.tokenizer must have lists of strings user_words and stopwords")
    _check_temperatures(meta.get("temperatures"), hierarchy)
    _check_params(meta["params"], params_check)
    return hierarchy, len(vocab)


def _check_params(params, params_check):
    """The stored constructor parameters are ones the classifier accepts, with valid values.

    ``params_check`` is the classifier's own validation (passed in, so that this
    module does not import the classifier that calls it).
    """
    if params_check is None:
        return
    params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in params.items() if k != "top_groups"}
    try:
        params_check(params)
    except (TypeError, ValueError) as exc:
        _fail("metadata.json", f"classifier.params are unusable ({_short(str(exc), 200)})")


def _check_temperatures(temps, hierarchy):
    lo, hi = _TEMPERATURE_RANGE
    want = (3,) if hierarchy == "three-level" else (2, 3)
    ok = isinstance(temps, list) and len(temps) in want and all(
        isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) and lo <= t <= hi
        for t in temps)
    if not ok:
        _fail("metadata.json", f"classifier.temperatures is {_short(temps)}; expected {want[0]} finite "
                               f"numbers in [{lo:g}, {hi:g}]")


def _check_labels(arrays, name):
    a = _vector(arrays, name, "U")
    if not 0 < a.size <= _MAX_CLASSES:
        _fail("arrays.npz", f"{name} has {a.size} entries (expected 1 to {_MAX_CLASSES})")
    if np.unique(a).size != a.size:
        _fail("arrays.npz", f"{name} has repeated entries")
    return a.size


def check_classifier_state(arrays, meta, params_check=None) -> None:
    """Raise :class:`ModelFileError` unless ``(arrays, meta)`` is a usable classifier state.

    Parameters
    ----------
    arrays : mapping of str to ndarray
        As read from ``arrays.npz``.
    meta : dict
        The ``classifier`` object of ``metadata.json``.
    params_check : callable, optional
        Called with the stored constructor parameters; raises ``TypeError`` or
        ``ValueError`` when the classifier would refuse them. The classifier
        passes its own check; ``None`` skips this step.

    Raises
    ------
    ModelFileError
        Naming the file (``arrays.npz`` or ``metadata.json``), the array or
        key, and what is wrong with it.

    Examples
    --------
    >>> import numpy as np
    >>> check_classifier_state({"classes": np.array(["a"])}, {"hierarchy": "flat"})
    Traceback (most recent call last):
    ...
    sujian_router.exceptions.ModelFileError: metadata.json: classifier.vocabulary must be a list of strings
    """
    hierarchy, nf = _check_meta(meta, params_check)
    _check_members(arrays, hierarchy)
    nc = _check_labels(arrays, "classes")
    ng = _check_labels(arrays, "groups")
    _in_range(arrays, "class_group", nc, ng)
    perm = _vector(arrays, "perm", "i", nc)
    if not np.array_equal(np.sort(perm), np.arange(nc)):
        _fail("arrays.npz", "perm is not a permutation of the classes")
    _vector(arrays, "idf", "f", nf)
    if nf and arrays["idf"].min() < 0:
        _fail("arrays.npz", "idf holds negative values")
    if "term_block" in arrays:
        _in_range(arrays, "term_block", nf, _N_BLOCKS)
    n_leaves = ng
    if hierarchy == "three-level":
        ns = _check_labels(arrays, "subgroups")
        _in_range(arrays, "class_subgroup", nc, ns)
        n_leaves = arrays["leaf_subgroup"].size
        _in_range(arrays, "leaf_subgroup", n_leaves, ns)
        _pointers(arrays, "leaf_bounds", ng + 1, n_leaves)
        _csr(arrays, "ws", nf, n_leaves)
        _vector(arrays, "bs", "f", n_leaves)
    bounds = _pointers(arrays, "bounds", n_leaves + 1, nc)
    if hierarchy != "flat":
        _csr(arrays, "w1", nf, ng)
        _vector(arrays, "b1", "f", ng)
    elif bounds.size != 2:
        _fail("arrays.npz", f"a flat classifier has one group of items, bounds has {bounds.size} entries")
    _csr(arrays, "w2", nf, nc)
    _vector(arrays, "b2", "f", nc)
    _check_blocks(arrays, hierarchy, perm, bounds)
    _check_frequencies(arrays, meta)


def _check_blocks(arrays, hierarchy, perm, bounds):
    """Each class sits in the block of its own group (and subgroup) in the internal order."""
    leaf_group = (np.repeat(np.arange(arrays["groups"].size), np.diff(arrays["leaf_bounds"]))
                  if hierarchy == "three-level" else np.arange(bounds.size - 1))
    if hierarchy != "flat" and not np.array_equal(arrays["class_group"][perm],
                                                  np.repeat(leaf_group, np.diff(bounds))):
        _fail("arrays.npz", "class_group does not match the blocks given by perm and bounds")
    if hierarchy == "three-level" and not np.array_equal(arrays["class_subgroup"][perm],
                                                         np.repeat(arrays["leaf_subgroup"], np.diff(bounds))):
        _fail("arrays.npz", "class_subgroup does not match the blocks given by perm and bounds")


def _check_frequencies(arrays, meta):
    if "tokenizer_frequencies" not in arrays:
        return
    f = arrays["tokenizer_frequencies"]
    tok = meta.get("tokenizer") or {}
    if f.dtype.kind not in "iu" or f.ndim != 2 or f.shape[1] != 2 or (f.size and f.min() < 0):
        _fail("arrays.npz", f"tokenizer_frequencies must be non-negative integer pairs, got {f.dtype} "
                            f"{f.shape}")
    if len(tok.get("user_words", [])) < f.shape[0]:
        _fail("arrays.npz", "tokenizer_frequencies has more rows than the tokenizer has user words")


# ----------------------------------------------------------------- router metadata and catalog

_META_TYPES = {"versions": dict, "uses_catalog": bool, "catalog_fingerprint": str,
               "catalog_labels_sha256": str, "training": dict, "metrics": dict, "classifier": dict}


def check_router_metadata(meta, path) -> None:
    """Raise :class:`ModelFileError` naming ``metadata.json`` when a router-level value is unusable.

    Examples
    --------
    >>> check_router_metadata({"classifier": {}, "review_threshold": 2}, "m")
    Traceback (most recent call last):
    ...
    sujian_router.exceptions.ModelFileError: m/metadata.json: review_threshold is 2; expected a number in [0, 1]
    """
    where = f"{path}/metadata.json"
    for key, kind in _META_TYPES.items():
        if key in meta and not isinstance(meta[key], kind):
            raise ModelFileError(f"{where}: {key} is {_short(meta[key])}; expected a JSON "
                                 f"{ {dict: 'object', bool: 'true/false', str: 'string'}[kind] }")
    if "classifier" not in meta:
        raise ModelFileError(f"{where}: lacks the 'classifier' object")
    t = meta.get("review_threshold", 0.5)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 <= t <= 1.0:
        raise ModelFileError(f"{where}: review_threshold is {_short(t)}; expected a number in [0, 1]")
    prior = meta.get("keyword_prior", 0.0)
    if isinstance(prior, bool) or not isinstance(prior, (int, float)) or not 0.0 <= prior <= MAX_KEYWORD_PRIOR:
        raise ModelFileError(f"{where}: keyword_prior is {_short(prior)}; expected a number in "
                             f"[0, {MAX_KEYWORD_PRIOR:g}]")
    if meta.get("tier_thresholds") is not None:
        _check_tier_thresholds(meta["tier_thresholds"], where)
    bad = [k for k, v in meta.get("versions", {}).items() if v is not None and not isinstance(v, str)]
    if bad:
        raise ModelFileError(f"{where}: versions.{bad[0]} must be a string or null")


def _check_tier_thresholds(value, where):
    """The saved tier thresholds must coerce to valid ``TierThresholds``."""
    from ._decision import TierThresholds

    try:
        TierThresholds.coerce(value)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{where}: tier_thresholds is {_short(value)}: {exc}") from None


def _labels_sha256(catalog, classes) -> str:
    """SHA-256 of what the model's labels mean in ``catalog``: code, name, category and subcategory."""
    import hashlib
    import json

    rows = []
    for code in sorted(str(c) for c in classes):
        item = catalog.get(code) if code in catalog else None
        rows.append([code] + ([None] * 3 if item is None else [item.name, item.category, item.subcategory]))
    payload = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def catalog_identity(catalog, classes) -> dict:
    """The metadata a saved model keeps about the catalog it was trained with.

    ``catalog_fingerprint`` covers every field (departments included);
    ``catalog_labels_sha256`` only what the labels mean (code, name,
    category, subcategory), so departments may change without retraining
    while a catalog that gives the codes other meanings is refused;
    ``catalog_version`` when the catalog has a ``version``.
    """
    out = {"catalog_fingerprint": catalog.fingerprint, "catalog_items": len(catalog),
           "catalog_labels_sha256": _labels_sha256(catalog, classes)}
    version = getattr(catalog, "version", None)
    if version is not None:
        out["catalog_version"] = str(version)
    return out


def _describe(fingerprint, version):
    return f"{str(fingerprint)[:12]}" + (f" (version {version})" if version is not None else "")


def check_catalog_match(meta, catalog, classes, path, *, explicit) -> list:
    """Compare the routing catalog with the one the model was trained on.

    Returns the differences worth a warning; raises
    :class:`~sujian_router.exceptions.ModelMismatchError`, naming both
    catalogs, when the model's labels would mean something else (a catalog
    whose codes overlap but name other items), or when the catalog was not
    chosen explicitly and differs from the model's without a way to tell
    whether the labels still mean the same.
    """
    from .exceptions import ModelMismatchError

    saved_fp = meta.get("catalog_fingerprint")
    if not saved_fp or saved_fp == catalog.fingerprint:
        return []
    ours = _describe(saved_fp, meta.get("catalog_version"))
    theirs = _describe(catalog.fingerprint, getattr(catalog, "version", None))
    saved_labels = meta.get("catalog_labels_sha256")
    if (saved_labels is not None and saved_labels != _labels_sha256(catalog, classes)) or (
            saved_labels is None and not explicit):
        how = "pass the catalog it was trained on (catalog= / --catalog)"
        raise ModelMismatchError(
            f"{path}: the model was trained with catalog {ours} and would route with catalog {theirs}, "
            f"{'whose items give its labels other names or categories' if saved_labels else 'which differs'}; "
            f"{how}, or retrain")
    return [f"catalog fingerprint differs: model trained with {ours}, routing with {theirs} "
            "(the items it predicts are unchanged; departments or texts may have changed)"]
