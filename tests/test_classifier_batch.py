"""The classifier package: batch entry point, vectorised featuriser, state helper and estimator contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sujian_router._classifier import BatchPrediction, TextClassifier
from sujian_router._classifier import _features, _state
from sujian_router.exceptions import NotFittedError


@pytest.fixture(scope="module")
def fitted(router):
    """The three-level classifier of the conftest router (about 390 items over 18 categories)."""
    return router.classifier


@pytest.fixture(scope="module")
def texts(heldout_tickets):
    from sujian_router._text import prepare_text

    return [prepare_text(t).text for t in heldout_tickets["text"].tolist()[:120]]


_ODD = ["", "   ", "\n\n", "噪音", "ＡＢＣ abc", "İstanbul 噪音", "😀😀 广场舞", "\ud800孤立代理", "x" * 5]


class TestPredictBatch:
    @pytest.mark.parametrize("top_k", [1, 5, 10])
    def test_one_text_alone_gets_its_batch_answer(self, fitted, texts, top_k):
        batch = fitted.predict_batch(texts, top_k=top_k, explain=5)
        assert len(batch) == len(texts) and batch.labels.shape == (len(texts), top_k)
        for i in range(0, len(texts), 7):
            one = fitted.predict_batch([texts[i]], top_k=top_k, explain=5)
            np.testing.assert_array_equal(one.labels[0], batch.labels[i])
            np.testing.assert_allclose(one.probabilities[0], batch.probabilities[i], rtol=1e-12, atol=0)
            assert one.terms[0] == batch.terms[i]

    def test_top_k_and_explained_are_the_batch_answer(self, fitted, texts):
        batch = fitted.predict_batch(texts, top_k=10, explain=5)
        labels, probs = fitted.top_k(texts, k=10)
        l2, p2, terms = fitted.top_k_explained(texts, k=10, n_terms=5)
        np.testing.assert_array_equal(labels, batch.labels)
        np.testing.assert_array_equal(l2, batch.labels)
        np.testing.assert_array_equal(probs, batch.probabilities)
        assert [tuple(t) for t in terms] == list(batch.terms)
        np.testing.assert_array_equal(fitted.predict(texts), batch.labels[:, 0])

    def test_blocks_of_the_batch_do_not_change_answers(self, fitted, texts, monkeypatch):
        import sujian_router._classifier._estimator as est

        whole = fitted.predict_batch(texts, top_k=5, explain=3)
        monkeypatch.setattr(est, "_TOP_K_CHUNK", 13)  # many uneven blocks
        parts = fitted.predict_batch(texts, top_k=5, explain=3)
        np.testing.assert_array_equal(parts.labels, whole.labels)
        np.testing.assert_array_equal(parts.probabilities, whole.probabilities)
        assert parts.terms == whole.terms

    def test_probabilities_are_the_full_models_and_sorted(self, fitted, texts):
        batch = fitted.predict_batch(texts[:40], top_k=5)
        P = fitted.predict_proba(texts[:40])
        col = np.searchsorted(fitted.classes_, batch.labels)
        np.testing.assert_allclose(np.take_along_axis(P, col, axis=1), batch.probabilities, rtol=1e-9)
        assert (np.diff(batch.probabilities, axis=1) <= 0).all()

    def test_explanations_only_when_asked(self, fitted, texts):
        assert fitted.predict_batch(texts[:3], top_k=2).terms is None
        assert all(len(t) <= 2 for t in fitted.predict_batch(texts[:3], top_k=2, explain=2).terms)

    def test_empty_batch_keeps_the_shape(self, fitted):
        batch = fitted.predict_batch([], top_k=4)
        assert batch.labels.shape == (0, 4) and batch.probabilities.shape == (0, 4) and len(batch) == 0

    def test_odd_texts_get_finite_answers(self, fitted):
        batch = fitted.predict_batch(_ODD, top_k=3, explain=3)
        assert batch.labels.shape == (len(_ODD), 3)
        assert np.isfinite(batch.probabilities).all()

    def test_to_dict_is_json(self, fitted, texts):
        d = fitted.predict_batch(texts[:2], top_k=2, explain=2).to_dict()
        back = json.loads(json.dumps(d, ensure_ascii=False))
        assert set(back) == {"labels", "probabilities", "terms"}
        assert len(back["labels"]) == 2 and len(back["labels"][0]) == 2

    def test_result_is_frozen(self, fitted, texts):
        batch = fitted.predict_batch(texts[:1], top_k=1)
        assert isinstance(batch, BatchPrediction)
        with pytest.raises(AttributeError):
            batch.labels = None

    def test_single_str_is_refused(self, fitted):
        with pytest.raises(TypeError, match="single str"):
            fitted.predict_batch("广场舞太吵")


def _reference_matrix(clf, texts):
    """TF-IDF rows built term by term from the analyzer (the slow, obvious way)."""
    import scipy.sparse as sp

    rows, ids = [], []
    for r, text in enumerate(texts):
        for term in clf._analyzer()(text):
            col = clf.vocabulary_.get(term)
            if col is not None:
                rows.append(r)
                ids.append(col)
    key, counts = np.unique(np.asarray(rows, np.int64) * len(clf.vocabulary_) + np.asarray(ids, np.int64),
                            return_counts=True)
    r, c = np.divmod(key, len(clf.vocabulary_))
    vals = _features.tfidf_values(r, c, counts, len(texts), clf.idf_, clf.term_block_, clf.sublinear_tf)
    return sp.csr_matrix((vals, (r, c)), shape=(len(texts), len(clf.vocabulary_)))


class TestVectorisedFeaturiser:
    @pytest.mark.parametrize("params", [
        {},  # words, characters 1-2 (the catalog model's n-grams)
        {"char_ngram_range": (1, 4), "word_ngram_range": (1, 2)},  # packed keys and the per-text path
        {"char_ngram_range": (2, 3), "title_block": True},
        {"char_ngram_range": None, "word_ngram_range": (1, 3)},
    ])
    def test_matches_the_per_text_terms(self, tokenizer_small, params):
        train = ["楼下广场舞太吵\n晚上十点还在跳", "餐馆油烟大 ABC", "马路有坑😀", "路灯不亮İ"] * 3
        clf = TextClassifier(tokenizer=tokenizer_small, min_df=1, **params).fit(train, ["a", "b", "c", "d"] * 3)
        probe = train[:4] + _ODD + ["广场舞油烟\n路灯坑", "c:广场 t:舞"]
        got = clf.transform(probe)
        want = _reference_matrix(clf, probe)
        assert (got != want).nnz == 0
        assert got.nnz > 0

    def test_features_matrix_has_one_row_per_text(self, fitted):
        feats = fitted._transform(["", "噪音扰民", ""])
        assert isinstance(feats, _features.Features) and feats.n == 3
        assert feats.matrix(len(fitted.vocabulary_)).shape == (3, len(fitted.vocabulary_))


@pytest.fixture(scope="module")
def tokenizer_small():
    from sujian_router import Tokenizer

    return Tokenizer(["广场舞"])


class TestState:
    def test_sparse_helper_round_trips(self, fitted):
        arrays = _state.sparse_to_arrays("w2", fitted.W2_)
        assert sorted(arrays) == ["w2_data", "w2_indices", "w2_indptr"]
        back = _state.sparse_from_arrays(arrays, "w2", fitted.W2_.shape)
        assert (back != fitted.W2_).nnz == 0

    def test_array_names_are_the_saved_format(self, fitted):
        arrays, meta = fitted.to_state()
        assert list(arrays) == [
            "classes", "groups", "class_group", "perm", "bounds", "idf", "term_block",
            "w2_data", "w2_indices", "w2_indptr", "b2", "w1_data", "w1_indices", "w1_indptr", "b1",
            "subgroups", "class_subgroup", "leaf_subgroup", "leaf_bounds", "ws_data", "ws_indices",
            "ws_indptr", "bs", "tokenizer_frequencies"]
        assert meta["format"] == "sujian_router.TextClassifier/2"

    def test_loaded_model_answers_identically(self, fitted, texts):
        again = TextClassifier.from_state(*fitted.to_state())
        a, b = fitted.predict_batch(texts, top_k=5, explain=5), again.predict_batch(texts, top_k=5, explain=5)
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
        assert a.terms == b.terms


class TestEstimatorContract:
    """scikit-learn's checks that do not need numeric training data, and our own for the text parts."""

    @pytest.mark.parametrize("check", [
        "check_no_attributes_set_in_init", "check_parameters_default_constructible",
        "check_get_params_invariance", "check_set_params", "check_estimator_cloneable",
        "check_estimator_repr",
    ])
    def test_sklearn_check(self, check):
        import sklearn.utils.estimator_checks as checks

        fn = getattr(checks, check, None)
        if fn is None:
            pytest.skip(f"this scikit-learn has no {check}")
        fn("TextClassifier", TextClassifier())

    def test_fit_leaves_parameters_alone(self, tokenizer_small):
        clf = TextClassifier(tokenizer=tokenizer_small, min_df=1)
        before = clf.get_params(deep=False)
        clf.fit(["广场舞太吵", "马路有坑"] * 2, ["a", "b"] * 2)
        assert clf.get_params(deep=False) == before

    @pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_batch", "top_k", "transform"])
    def test_unfitted_methods_raise(self, method):
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(TextClassifier(), method)(["噪音"])

    def test_same_seed_same_model(self, tokenizer_small):
        X = ["广场舞太吵", "餐馆油烟", "马路有坑", "路灯不亮"] * 4
        y = ["a", "b", "c", "d"] * 4
        fits = [TextClassifier(tokenizer=tokenizer_small, min_df=1, random_state=3).fit(X, y) for _ in range(2)]
        assert (fits[0].W2_ != fits[1].W2_).nnz == 0
        np.testing.assert_array_equal(fits[0].classes_, ["a", "b", "c", "d"])
        assert fits[0].predict_proba(X).shape == (len(X), 4)


class TestNumericParts:
    """Invariants of the array helpers the search and the featuriser are built from."""

    @settings(max_examples=40, deadline=None)
    @given(sizes=st.lists(st.integers(1, 5), min_size=1, max_size=6), seed=st.integers(0, 10**6))
    def test_group_log_softmax_normalises_each_block(self, sizes, seed):
        from sujian_router._classifier._search import group_log_softmax

        bounds = np.concatenate([[0], np.cumsum(sizes)])
        s = np.random.default_rng(seed).normal(scale=30, size=(3, bounds[-1]))
        sums = np.add.reduceat(np.exp(group_log_softmax(s, bounds)), bounds[:-1], axis=1)
        np.testing.assert_allclose(sums, 1.0, rtol=1e-12)

    @settings(max_examples=40, deadline=None)
    @given(n_cols=st.integers(1, 30), k=st.integers(1, 30), seed=st.integers(0, 10**6))
    def test_best_k_returns_the_largest(self, n_cols, k, seed):
        from sujian_router._classifier._search import best_k

        k = min(k, n_cols)
        lp = np.random.default_rng(seed).normal(size=(4, n_cols))
        ids, vals = best_k(lp, k)
        np.testing.assert_array_equal(np.sort(vals, axis=1), np.sort(lp, axis=1)[:, n_cols - k:])
        np.testing.assert_array_equal(np.take_along_axis(lp, ids, axis=1), vals)

    @settings(max_examples=40, deadline=None)
    @given(keys=st.sets(st.integers(0, 10**12), max_size=50), queries=st.lists(st.integers(0, 10**12), max_size=50))
    def test_sorted_lookup_is_a_dictionary_lookup(self, keys, queries):
        keys = np.asarray(sorted(keys), dtype=np.int64)
        values = np.arange(keys.size, dtype=np.int64) * 7
        table = dict(zip(keys.tolist(), values.tolist()))
        queries = queries + keys.tolist()[:5]
        got = _features.sorted_lookup(keys, values, np.asarray(queries, dtype=np.int64), -1)
        assert got.tolist() == [table.get(q, -1) for q in queries]

    def test_sparse_scores_agree_for_small_and_large_batches(self, fitted, texts):
        from sujian_router._classifier._search import sparse_scores

        X = fitted.transform(texts[:20])
        big = sparse_scores(X, fitted.W2_, fitted.b2_)  # scipy's product (more than 8 rows)
        small = np.vstack([sparse_scores(X[i], fitted.W2_, fitted.b2_) for i in range(20)])  # gathered
        np.testing.assert_allclose(small, big, rtol=1e-12, atol=1e-12)
