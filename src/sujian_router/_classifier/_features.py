"""Featurising: n-gram terms, the vocabulary, TF-IDF values and the batch featuriser.

A text becomes terms in up to three blocks: body words (no prefix), body
character n-grams (``"c:"``) and, with ``title_block``, the words (``"t:"``)
and character n-grams (``"tc:"``) of its title line. Each block of a row is
L2-normalised on its own. The tokenizer turns every punctuation run into a
space before segmenting, so a word never contains ":" and prefixed terms
cannot clash with words.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import scipy.sparse as sp

from .._tokenize import Tokenizer

CHAR_PREFIX = "c:"
TITLE_PREFIX = "t:"  # words of the title line
TITLE_CHAR_PREFIX = "tc:"  # character n-grams of the title line
PREFIXES = (TITLE_CHAR_PREFIX, TITLE_PREFIX, CHAR_PREFIX)
N_BLOCKS = 3  # feature blocks, each L2-normalised on its own: words, characters, title
FIT_CHUNK = 20000  # texts featurised at once in fit
_CODE_BITS = 21  # every code point is below 2**21, so up to three characters pack into one int64 key
_MAX_PACKED = 3


@dataclass(frozen=True)
class Features:
    """Featurised rows in coordinate form, entries sorted by row then term id.

    Attributes
    ----------
    n : int
        Number of rows (texts), including rows without any known term.
    rows, ids : ndarray of int64
        Row and term column of every non-zero entry.
    vals : ndarray of float64
        TF-IDF value of every entry (each block of a row L2-normalised).
    """

    n: int
    rows: np.ndarray
    ids: np.ndarray
    vals: np.ndarray

    def matrix(self, n_terms):
        """The rows as a CSR matrix of shape ``(n, n_terms)``."""
        ptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.rows, minlength=self.n), out=ptr[1:])
        return sp.csr_matrix((self.vals, self.ids, ptr), shape=(self.n, n_terms))


def term_block(term):
    """Feature block of a term: 0 body words, 1 body characters, 2 title words and characters."""
    if term.startswith(CHAR_PREFIX):
        return 1
    if term.startswith(TITLE_PREFIX) or term.startswith(TITLE_CHAR_PREFIX):
        return 2
    return 0


def split_prefix(term):
    """``(prefix, gram)`` of a vocabulary term; prefix ``""`` for body words.

    ``"tc:"`` is tried before ``"t:"``; words never contain ":", so a word
    cannot be mistaken for a prefixed term.
    """
    for prefix in PREFIXES:
        if term.startswith(prefix):
            return prefix, term[len(prefix):]
    return "", term


def split_title(text):
    """The first line of ``text`` when more text follows it, else None."""
    head, sep, rest = text.partition("\n")
    if sep and head.strip() and rest.strip():
        return head
    return None


def char_stream(text):
    """The characters whose n-grams are features: lower-cased, without spaces and line breaks."""
    return text.replace(" ", "").replace("\n", "").lower()


def as_texts(X, where="X"):
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


def as_labels(y):
    """Labels as an array of str."""
    return np.asarray([str(v) for v in (y.tolist() if hasattr(y, "tolist") else y)])


@dataclass(frozen=True)
class GramSpec:
    """What a text's n-grams are: the tokenizer and the word and character n-gram ranges."""

    tokenizer: object
    word_range: tuple
    char_range: tuple | None
    title_block: bool

    @classmethod
    def of(cls, clf):
        """The spec of a :class:`TextClassifier`'s parameters."""
        tok = clf.tokenizer if clf.tokenizer is not None else Tokenizer()
        c_range = None if clf.char_ngram_range is None else tuple(clf.char_ngram_range)
        return cls(tok, tuple(clf.word_ngram_range), c_range, bool(clf.title_block))

    def word_grams(self, tokens):
        """Word n-gram lists of a token list (n-grams joined by a space), shortest first."""
        w_lo, w_hi = self.word_range
        out = []
        if w_lo == 1:
            out.append(tokens)
        if w_lo <= 2 <= w_hi:
            out.append([a + " " + b for a, b in zip(tokens, tokens[1:])])
        for n in range(max(w_lo, 3), w_hi + 1):
            out.append([" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)])
        return out

    def char_grams(self, text):
        """Character n-gram lists of a text, shortest first (none without a character range)."""
        if self.char_range is None:
            return []
        chars = char_stream(text)
        return [list(chars) if n == 1 else [chars[i:i + n] for i in range(len(chars) - n + 1)]
                for n in range(self.char_range[0], self.char_range[1] + 1)]

    def blocks(self, text):
        """``[(prefix, grams), ...]`` of one text in term order: body words, body characters, title."""
        out = [("", g) for g in self.word_grams(self.tokenizer(text))]
        out += [(CHAR_PREFIX, g) for g in self.char_grams(text)]
        title = split_title(text) if self.title_block else None
        if title is not None:
            out += [(TITLE_PREFIX, g) for g in self.word_grams(self.tokenizer(title))]
            out += [(TITLE_CHAR_PREFIX, g) for g in self.char_grams(title)]
        return out

    def terms(self, text):
        """The terms of one text (prefixed n-grams), as the vocabulary spells them."""
        out = []
        for prefix, grams in self.blocks(text):
            out.extend(grams if not prefix else [prefix + g for g in grams])
        return out


def tfidf_values(rows, ids, counts, n, idf, blocks, sublinear):
    """TF-IDF values of (row, term) entries with their counts, each block of a row L2-normalised."""
    tf = np.asarray(counts, dtype=np.float64)
    if sublinear:
        tf = 1.0 + np.log(tf)
    vals = tf * idf[ids]
    cell = rows * N_BLOCKS + blocks[ids]
    norms = np.sqrt(np.bincount(cell, weights=vals * vals, minlength=n * N_BLOCKS))
    norms[norms == 0] = 1.0
    return vals / norms[cell]


def sorted_lookup(keys, values, queries, missing):
    """``values`` at the sorted ``keys`` equal to each query; ``missing`` where a key is absent.

    The queries are sorted first: numpy's binary search reuses the previous
    position for increasing queries, which makes one pass over many
    queries several times faster than in their own order.
    """
    out = np.full(queries.size, missing, dtype=values.dtype)
    if keys.size and queries.size:
        order = np.argsort(queries)
        found = np.empty(queries.size, dtype=np.int64)
        found[order] = np.searchsorted(keys, queries[order])
        pos = found.clip(0, keys.size - 1)
        hit = keys[pos] == queries
        out[hit] = values[pos[hit]]
    return out


def _packed(codes, n):
    """int64 key of each n-gram starting at every position of ``codes`` (positions < len - n + 1)."""
    m = codes.size - n + 1
    key = codes[:m].copy()
    for j in range(1, n):
        key <<= _CODE_BITS
        key |= codes[j:j + m]
    return key


class _CharTable:
    """Sorted packed keys of one prefix's character n-grams of one length, and their columns."""

    def __init__(self, grams, columns, n):
        codes = [np.frombuffer(g.encode("utf-32-le", "surrogatepass"), dtype=np.uint32) for g in grams]
        keys = _packed(np.concatenate(codes).astype(np.int64), n)[::n] if grams else np.zeros(0, np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys, self.columns = keys[order], np.asarray(columns, dtype=np.int64)[order]

    def lookup(self, keys):
        """Column of each key; -1 where the n-gram is not in the vocabulary."""
        return sorted_lookup(self.keys, self.columns, keys, -1)


class Featurizer:
    """Turns a batch of texts into :class:`Features` with array operations.

    Texts are segmented one by one (the tokenizer works per text), but term
    ids are found for the whole batch at once: word n-grams through one
    ``map`` over every token of the batch, character n-grams of up to three
    characters by packing their code points into int64 keys and one
    ``searchsorted`` over the vocabulary's sorted keys. Longer character
    n-grams take the per-text path. Counts, TF-IDF values and normalisation
    are the same array steps as in fitting, so features do not depend on the
    path or on the batch a text comes in.
    """

    def __init__(self, spec, terms, idf, blocks, sublinear):
        self.spec, self.idf, self.blocks, self.sublinear = spec, idf, blocks, sublinear
        self.n_terms = len(terms)
        self.words = {prefix: {} for prefix in ("", TITLE_PREFIX)}
        self.chars = {}  # (prefix, n) -> _CharTable
        pending = {}
        for i, term in enumerate(terms):
            prefix, gram = split_prefix(term)
            if prefix in ("", TITLE_PREFIX):
                self.words[prefix][gram] = i
            elif len(gram) <= _MAX_PACKED:
                pending.setdefault((prefix, len(gram)), ([], []))
                pending[(prefix, len(gram))][0].append(gram)
                pending[(prefix, len(gram))][1].append(i)
            else:
                self.words.setdefault(prefix, {})[gram] = i
        for (prefix, n), (grams, cols) in pending.items():
            self.chars[(prefix, n)] = _CharTable(grams, cols, n)

    def transform(self, texts):
        """Features of ``texts`` (a list of str)."""
        n = len(texts)
        rows, ids = self._entries(texts, "", CHAR_PREFIX)
        if self.spec.title_block:
            titles = [split_title(t) for t in texts]
            where = [i for i, t in enumerate(titles) if t is not None]
            if where:
                r, i = self._entries([titles[j] for j in where], TITLE_PREFIX, TITLE_CHAR_PREFIX)
                rows.append(np.asarray(where, dtype=np.int64)[np.concatenate(r)])
                ids.append(np.concatenate(i))
        rows, ids = np.concatenate(rows), np.concatenate(ids)
        known = ids >= 0
        if not known.any():
            z = np.zeros(0, dtype=np.int64)
            return Features(n, z, z, np.zeros(0))
        keys, counts = np.unique(rows[known] * self.n_terms + ids[known], return_counts=True)
        rows, ids = np.divmod(keys, self.n_terms)
        return Features(n, rows, ids, tfidf_values(rows, ids, counts, n, self.idf, self.blocks, self.sublinear))

    def _entries(self, texts, w_prefix, c_prefix):
        """Lists of (row, column) arrays of every n-gram of ``texts`` (column -1: unknown)."""
        tokens = [self.spec.tokenizer(t) for t in texts]
        rows, ids = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for grams in zip(*[self.spec.word_grams(tk) for tk in tokens]) if tokens else ():
            self._add_words(grams, self.words[w_prefix], rows, ids)
        if self.spec.char_range is not None:
            self._add_chars([char_stream(t) for t in texts], c_prefix, rows, ids)
        return rows, ids

    @staticmethod
    def _add_words(grams_per_text, table, rows, ids):
        """Append the (row, column) of every gram: one ``dict.get`` pass over the whole batch."""
        lengths = np.fromiter(map(len, grams_per_text), dtype=np.int64, count=len(grams_per_text))
        flat = chain.from_iterable(grams_per_text)
        ids.append(np.fromiter(map(table.get, flat, repeat(-1)), dtype=np.int64, count=int(lengths.sum())))
        rows.append(np.repeat(np.arange(lengths.size, dtype=np.int64), lengths))

    def _add_chars(self, streams, prefix, rows, ids):
        """Append the (row, column) of every character n-gram of every stream."""
        lengths = np.fromiter(map(len, streams), dtype=np.int64, count=len(streams))
        codes = np.frombuffer("".join(streams).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        codes = codes.astype(np.int64)
        row_of = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
        end_of = np.repeat(np.cumsum(lengths), lengths)  # end of each position's own text
        lo, hi = self.spec.char_range
        for n in range(lo, hi + 1):
            if n > _MAX_PACKED:
                per_text = [[s[i:i + n] for i in range(len(s) - n + 1)] for s in streams]
                self._add_words(per_text, self.words.get(prefix, {}), rows, ids)
                continue
            if codes.size < n:
                continue
            start = np.flatnonzero(np.arange(codes.size - n + 1) + n <= end_of[:codes.size - n + 1])
            table = self.chars.get((prefix, n))
            keys = _packed(codes, n)[start]
            ids.append(table.lookup(keys) if table is not None else np.full(keys.size, -1, np.int64))
            rows.append(row_of[start])


def count_chunk(state, start):
    """Term counts of ``texts[start:start + FIT_CHUNK]`` over the chunk's own vocabulary.

    Returns ``(terms, indptr, indices, counts)``: the chunk's terms in order of
    first occurrence and a CSR count matrix whose columns index ``terms``.
    """
    texts, analyzer = state
    local = {}
    setdef = local.setdefault
    indices = array("i")
    lengths = array("l")
    for text in texts[start:start + FIT_CHUNK]:
        terms = analyzer(text)
        indices.extend([setdef(t, len(local)) for t in terms])
        lengths.append(len(terms))
    indptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.frombuffer(lengths, dtype=np.int64), out=indptr[1:])
    c = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), np.frombuffer(indices, dtype=np.int32).copy(),
                       indptr), shape=(len(lengths), max(len(local), 1)))
    c.sum_duplicates()
    return list(local), c.indptr, c.indices, c.data


@dataclass(frozen=True)
class Vocabulary:
    """The fitted terms (column order), their inverse document frequencies and feature blocks."""

    terms: list
    idf: np.ndarray
    blocks: np.ndarray


def _count_all(texts, spec, n_jobs, tick):
    """Per-chunk CSR counts ``(indptr, indices, counts)`` over one vocabulary, and its terms.

    Texts are processed in chunks so that peak memory stays near the size of
    the final TF-IDF matrix. Each chunk is counted against its own small
    vocabulary (in forked workers when ``n_jobs > 1``); chunks are then
    merged in order, so terms are numbered by first occurrence exactly as in
    one serial pass.
    """
    from ._parallel import ordered_map

    interned = {}
    setdef = interned.setdefault
    chunks = []
    starts = range(0, len(texts), FIT_CHUNK)
    for terms, indptr, idx, counts in ordered_map(count_chunk, starts, (texts, spec.terms), n_jobs, window=2):
        ids = np.fromiter((setdef(t, len(interned)) for t in terms), dtype=np.int32, count=len(terms))
        c = sp.csr_matrix((counts, ids[idx], indptr), shape=(indptr.size - 1, max(len(interned), 1)))
        c.sort_indices()
        chunks.append((c.indptr, c.indices, c.data))
        del terms, ids, idx, counts, c
        tick("features")
    return chunks, list(interned)


def _kept_terms(df, min_df, max_features):
    """Columns of the terms kept: in at least ``min_df`` texts, the ``max_features`` most frequent."""
    keep = np.flatnonzero(df >= min_df)
    if max_features is not None and keep.size > max_features:
        order = np.lexsort((keep, -df[keep]))[:max_features]
        keep = np.sort(keep[order])
    if keep.size == 0:
        raise ValueError(f"no term occurs in at least min_df={min_df} texts")
    return keep


def fit_tfidf(texts, spec, min_df, max_features, sublinear, n_jobs, tick):
    """Fit the :class:`Vocabulary` on ``texts`` and return it with their TF-IDF matrix (CSR)."""
    chunks, all_terms = _count_all(texts, spec, n_jobs, tick)
    df = np.zeros(len(all_terms), dtype=np.int64)
    for _, idx, _ in chunks:
        df += np.bincount(idx, minlength=len(all_terms))
    keep = _kept_terms(df, min_df, max_features)
    terms = [all_terms[i] for i in keep]
    del all_terms
    n_features = keep.size
    idf = np.log((1.0 + len(texts)) / (1.0 + df[keep])) + 1.0
    vocab = Vocabulary(terms, idf, np.fromiter((term_block(t) for t in terms), dtype=np.int8, count=n_features))
    remap = np.full(df.size, -1, dtype=np.int64)
    remap[keep] = np.arange(n_features)  # increasing, so sorted columns stay sorted
    parts = []
    while chunks:
        indptr, idx, data = chunks.pop(0)
        m = indptr.size - 1
        new = remap[idx]
        mask = new >= 0
        rows = np.repeat(np.arange(m, dtype=np.int64), np.diff(indptr))[mask]
        ids = new[mask]
        vals = tfidf_values(rows, ids, data[mask], m, vocab.idf, vocab.blocks, sublinear)
        ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=m), out=ptr[1:])
        parts.append(sp.csr_matrix((vals, ids.astype(np.int32), ptr), shape=(m, n_features)))
        del indptr, idx, data, new, mask, rows, ids, vals
    return vocab, (sp.vstack(parts, format="csr") if len(parts) > 1 else parts[0])
