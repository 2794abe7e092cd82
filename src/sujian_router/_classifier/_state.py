"""State: a fitted classifier as named numeric/str arrays plus JSON-able metadata, and back.

Nothing needs pickle. The layout is unchanged from the single-module
classifier (the same array names and metadata keys), so saved models load
as before. A sparse matrix ``NAME`` is stored as the three arrays
``NAME_data``, ``NAME_indices`` and ``NAME_indptr``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..exceptions import ModelFileError
from .._tokenize import Tokenizer

FORMAT = "sujian_router.TextClassifier/1"
FORMAT_SUBGROUPS = "sujian_router.TextClassifier/2"  # adds the subgroup level


def sparse_to_arrays(name, M):
    """``{name_data, name_indices, name_indptr}`` of a CSR matrix."""
    return {f"{name}_data": M.data, f"{name}_indices": M.indices, f"{name}_indptr": M.indptr}


def sparse_from_arrays(arrays, name, shape):
    """The CSR matrix :func:`sparse_to_arrays` stored under ``name``."""
    return sp.csr_matrix((arrays[f"{name}_data"], arrays[f"{name}_indices"], arrays[f"{name}_indptr"]),
                         shape=shape)


def to_state(clf):
    """``(arrays, meta)`` of a fitted :class:`TextClassifier`."""
    arrays = {
        "classes": np.asarray(clf.classes_, dtype=str),
        "groups": np.asarray(clf.groups_, dtype=str),
        "class_group": clf.class_group_.astype(np.int32),
        "perm": clf._perm.astype(np.int32),
        "bounds": clf._bounds.astype(np.int32),
        "idf": clf.idf_.astype(np.float64),
        "term_block": clf.term_block_.astype(np.int8),
        **sparse_to_arrays("w2", clf.W2_),
        "b2": clf.b2_,
    }
    if clf.W1_ is not None:
        arrays.update({**sparse_to_arrays("w1", clf.W1_), "b1": clf.b1_})
    if clf.Ws_ is not None:
        arrays.update({"subgroups": np.asarray(clf.subgroups_, dtype=str),
                       "class_subgroup": clf.class_subgroup_.astype(np.int32),
                       "leaf_subgroup": clf._leaf_subgroup.astype(np.int32),
                       "leaf_bounds": clf._leaf_bounds.astype(np.int32),
                       **sparse_to_arrays("ws", clf.Ws_), "bs": clf.bs_})
    params = clf.get_params(deep=False)
    tok = params.pop("tokenizer")
    if isinstance(tok, Tokenizer) and tok.backend == "rjieba":  # loads then need no jieba
        arrays["tokenizer_frequencies"] = np.asarray(tok._user_word_frequencies(), dtype=np.int64)
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
    meta = {
        # two levels keep the first format, which earlier versions read; three need this one
        "format": FORMAT if clf.Ws_ is None else FORMAT_SUBGROUPS,
        "params": params,
        "tokenizer": None if tok is None else tok.to_dict(),
        "vocabulary": list(clf._terms_),
        "hierarchy": clf.hierarchy_,
        "temperatures": list(clf.temperatures_),
        "calibration": clf.calibration_,
        "n_training_texts": int(clf.n_training_texts_),
    }
    return arrays, meta


def params_of(meta, arrays):
    """Constructor keywords (tokenizer included) of a checked state's metadata."""
    if meta.get("format") not in (FORMAT, FORMAT_SUBGROUPS):
        raise ModelFileError(f"classifier state has format {meta.get('format')!r}, expected "
                             f"{FORMAT!r} or {FORMAT_SUBGROUPS!r}")
    params = dict(meta["params"])
    # ``top_groups`` (0.1.0; None by default) was replaced by the exact search
    if params.pop("top_groups", None) is not None:
        raise ModelFileError("classifier state sets top_groups, which this version no longer "
                             "supports; retrain or remove the parameter from metadata.json")
    for k in ("word_ngram_range", "char_ngram_range"):
        if params.get(k) is not None:
            params[k] = tuple(params[k])
    params["tokenizer"] = None if meta["tokenizer"] is None else tokenizer_from_state(meta["tokenizer"], arrays)
    return params


def restore(clf, arrays, meta):
    """Set the fitted attributes of a fresh ``clf`` from a state (raises KeyError on a missing entry)."""
    clf._terms_ = list(meta["vocabulary"])
    clf.vocabulary_ = {t: i for i, t in enumerate(clf._terms_)}
    nf = len(clf._terms_)
    clf.classes_ = np.asarray(arrays["classes"]).astype(str)
    clf.groups_ = np.asarray(arrays["groups"]).astype(str)
    clf.class_group_ = np.asarray(arrays["class_group"]).astype(np.int64)
    clf._perm = np.asarray(arrays["perm"]).astype(np.int64)
    clf._bounds = np.asarray(arrays["bounds"]).astype(np.int64)
    clf.idf_ = np.asarray(arrays["idf"], dtype=np.float64)
    # states written before per-block normalisation have no blocks:
    # one block per row reproduces their single row normalisation
    blocks = arrays.get("term_block") if hasattr(arrays, "get") else None
    clf.term_block_ = np.zeros(nf, dtype=np.int8) if blocks is None else np.asarray(blocks).astype(np.int8)
    clf.W2_ = sparse_from_arrays(arrays, "w2", (nf, clf.classes_.size))
    clf.b2_ = np.asarray(arrays["b2"], dtype=np.float32)
    clf.W1_, clf.b1_ = None, None
    if "w1_data" in arrays:
        clf.W1_ = sparse_from_arrays(arrays, "w1", (nf, clf.groups_.size))
        clf.b1_ = np.asarray(arrays["b1"], dtype=np.float32)
    clf._leaf_bounds = np.arange(clf.groups_.size + 1)
    clf.subgroups_ = clf.class_subgroup_ = clf._leaf_subgroup = clf.Ws_ = clf.bs_ = None
    if meta["hierarchy"] == "three-level":
        clf.subgroups_ = np.asarray(arrays["subgroups"]).astype(str)
        clf.class_subgroup_ = np.asarray(arrays["class_subgroup"]).astype(np.int64)
        clf._leaf_subgroup = np.asarray(arrays["leaf_subgroup"]).astype(np.int64)
        clf._leaf_bounds = np.asarray(arrays["leaf_bounds"]).astype(np.int64)
        clf.Ws_ = sparse_from_arrays(arrays, "ws", (nf, clf._leaf_subgroup.size))
        clf.bs_ = np.asarray(arrays["bs"], dtype=np.float32)
    clf.hierarchy_ = meta["hierarchy"]
    clf.temperatures_ = tuple(float(t) for t in meta["temperatures"])
    clf.calibration_ = meta.get("calibration")
    clf.n_training_texts_ = int(meta.get("n_training_texts", 0))


def check_consistent(clf):
    """Raise ModelFileError when the restored arrays do not fit together."""
    nf, nc = len(clf._terms_), clf.classes_.size
    if (clf.idf_.size != nf or clf.term_block_.size != nf or clf._perm.size != nc
            or clf._bounds[-1] != nc or clf._leaf_bounds[-1] != clf._bounds.size - 1):
        raise ModelFileError(
            f"classifier state is inconsistent: {nf} terms, {clf.idf_.size} idf values, "
            f"{nc} classes, {clf._perm.size} permutation entries"
        )


def tokenizer_from_state(tok, arrays):
    """The saved tokenizer, with jieba's user-word frequencies when the state carries them."""
    tokenizer = Tokenizer(tok["user_words"], backend=tok["backend"], stopwords=tok["stopwords"], hmm=tok["hmm"])
    if "tokenizer_frequencies" in arrays:
        freqs = np.asarray(arrays["tokenizer_frequencies"])
        if freqs.shape != (len(tokenizer.user_words), 2):
            raise ModelFileError(f"tokenizer_frequencies has shape {freqs.shape}, expected "
                                 f"({len(tokenizer.user_words)}, 2): one row per user word")
        tokenizer._frequencies = tuple(map(tuple, freqs.astype(np.int64).tolist()))
    return tokenizer
