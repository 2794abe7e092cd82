"""Tests of TextClassifier: scikit-learn contract, three-, two-level and flat models, state round trip."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from sujian_router._classifier import TextClassifier
from sujian_router._tokenize import Tokenizer
from sujian_router.exceptions import ModelFileError, NotFittedError, UnknownDutyError

N_GROUPS, PER_GROUP, PER_CLASS = 6, 10, 20  # 60 classes


def _make(seed, per_class):
    """Texts built from class-specific pseudo-words, group words and shared noise."""
    rng = np.random.default_rng(seed)
    vocab_rng = np.random.default_rng(12345)  # the same word lists for train and test
    noise = [f"n{i}" for i in range(200)]
    fillers = ["投诉", "问题", "请处理", "楼下", "晚上", "小区"]
    texts, labels, groups = [], [], []
    for g in range(N_GROUPS):
        gwords = [f"g{g}w{i}" for i in range(6)]
        for c in range(PER_GROUP):
            own = [f"c{g}x{c}w{i}" for i in range(4)]
            shared = list(vocab_rng.choice(noise, 3))  # confusable words shared with others
            for _ in range(per_class):
                words = (list(rng.choice(own, 2)) + list(rng.choice(gwords, 2))
                         + list(rng.choice(shared, 1)) + list(rng.choice(noise, 3))
                         + list(rng.choice(fillers, 2)))
                rng.shuffle(words)
                texts.append(" ".join(words))
                labels.append(f"{g:02d}-{c:03d}")
                groups.append(f"G{g}")
    return texts, np.array(labels), np.array(groups)


def _subgroups(labels):
    """Subgroups of the toy labels: classes 0-3, 4-8 and 9 (one item) of each group; group 5 has one."""
    out = []
    for label in labels:
        g, c = int(label[:2]), int(label[3:])
        out.append(f"S{g}-all" if g == N_GROUPS - 1 else f"S{g}-{'a' if c < 4 else 'b' if c < 9 else 'c'}")
    return np.array(out)


N_SUBGROUPS = 3 * (N_GROUPS - 1) + 1


@pytest.fixture(scope="session")
def data():
    return {"train": _make(0, PER_CLASS), "test": _make(1, 5), "cal": _make(2, 5)}


@pytest.fixture(scope="session")
def tokenizer():
    return Tokenizer(user_words=["请处理"])


@pytest.fixture(scope="session")
def two_level(data, tokenizer):
    X, y, g = data["train"]
    return TextClassifier(tokenizer=tokenizer, max_weights_per_class=50).fit(X, y, groups=g)


@pytest.fixture(scope="session")
def three_level(data, tokenizer):
    X, y, g = data["train"]
    return TextClassifier(tokenizer=tokenizer, max_weights_per_class=50).fit(X, y, groups=g,
                                                                           subgroups=_subgroups(y))


@pytest.fixture(scope="session")
def flat(data, tokenizer):
    X, y, _ = data["train"]
    return TextClassifier(tokenizer=tokenizer).fit(X, y)


def _titled(texts):
    """The same texts with their first three words moved to a title line."""
    return [" ".join(t.split(" ")[:3]) + "\n" + " ".join(t.split(" ")[3:]) for t in texts]


@pytest.fixture(scope="session")
def titled(data, tokenizer):
    X, y, _ = data["train"]
    return TextClassifier(tokenizer=tokenizer, title_block=True).fit(_titled(X), y)


@pytest.fixture(params=["three_level", "two_level", "flat", "titled"])
def model(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["three_level", "two_level"])
def grouped(request):
    return request.getfixturevalue(request.param)


# ----------------------------------------------------------------- scikit-learn contract
def test_clone_and_get_params(tokenizer):
    est = TextClassifier(tokenizer=tokenizer, C=2.0, char_ngram_range=(2, 3))
    params = est.get_params()
    assert params["C"] == 2.0 and params["char_ngram_range"] == (2, 3)
    cl = clone(est)
    assert cl is not est and cl.get_params()["C"] == 2.0
    assert cl.tokenizer == tokenizer
    assert not hasattr(cl, "classes_")


def test_fit_returns_self(data, tokenizer):
    X, y, _ = data["train"]
    est = TextClassifier(tokenizer=tokenizer)
    assert est.fit(X[:200], y[:200]) is est


def test_unfitted_raises():
    with pytest.raises(NotFittedError, match="not fitted"):
        TextClassifier().predict(["噪音"])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hierarchy": "three"}, "hierarchy must be one of"),
        ({"word_ngram_range": (2, 1)}, "word_ngram_range"),
        ({"min_df": 0}, "min_df"),
        ({"C": 0}, "C must be"),
        ({"max_weights_per_class": 0}, "max_weights_per_class"),
        ({"title_block": "yes"}, "title_block"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"exact_above": 1.5}, "exact_above"),
        ({"exact_above": -0.1}, "exact_above"),
        ({"tol": 0}, "tol must be"),
        ({"tol": "1e-2"}, "tol must be"),
        ({"negative_ratio": -1}, "negative_ratio must be"),
        ({"max_weights_per_subgroup": 0}, "max_weights_per_subgroup"),
    ],
)
def test_invalid_params_rejected_at_fit(params, match):
    with pytest.raises(ValueError, match=match):
        TextClassifier(**params).fit(["a b", "a c"], ["x", "y"])


def test_tol_reaches_the_solver(data, tokenizer):
    """A looser SVM tolerance stops earlier, so the weights differ; the same tolerance twice gives the same."""
    X, y, g = data["train"]
    kw = dict(tokenizer=tokenizer, max_weights_per_class=50)
    tight = TextClassifier(tol=1e-4, **kw).fit(X, y, groups=g)
    again = TextClassifier(tol=1e-4, **kw).fit(X, y, groups=g)
    loose = TextClassifier(tol=10.0, **kw).fit(X, y, groups=g)
    assert (tight.W2_ != again.W2_).nnz == 0
    assert (tight.W2_ != loose.W2_).nnz > 0


@pytest.mark.parametrize("hierarchy", ["three-level", "two-level", "flat"])
def test_parallel_fit_gives_the_same_model(data, tokenizer, hierarchy, monkeypatch):
    import sujian_router._classifier._features as mod

    monkeypatch.setattr(mod, "FIT_CHUNK", 150)  # several chunks, so featurisation runs in workers too
    X, y, g = data["train"]
    progress = []
    kw = dict(tokenizer=tokenizer, max_weights_per_class=50, hierarchy=hierarchy)
    serial = TextClassifier(**kw).fit(X, y, groups=g, subgroups=_subgroups(y))
    threaded = TextClassifier(**kw, n_jobs=2).fit(X, y, groups=g, subgroups=_subgroups(y),
                                                  progress=lambda *a: progress.append(a))
    assert serial.hierarchy_ == threaded.hierarchy_ == hierarchy
    assert threaded._terms_ == serial._terms_  # the same columns in the same order
    np.testing.assert_array_equal(threaded.idf_, serial.idf_)
    for name in ("W2_", "W1_", "Ws_"):
        a, b = getattr(serial, name), getattr(threaded, name)
        if a is None:
            assert b is None
            continue
        np.testing.assert_array_equal(a.indptr, b.indptr)
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(serial.b2_, threaded.b2_)
    # one progress step per featurised chunk and per linear model, counting up to the total
    assert [p[0] for p in progress] == list(range(progress[0][0], progress[-1][1] + 1))


def test_single_string_rejected(two_level):
    with pytest.raises(TypeError, match="single str"):
        two_level.predict("噪音")


@pytest.mark.parametrize(
    "groups, subgroups, params, match",
    [
        (["G1", "G2", "G1"], None, {}, "label 'x' appears with more than one group"),
        (["G1", "G1", "G1"], ["S1", "S2", "S1"], {}, "label 'x' appears with more than one subgroup"),
        (["G1", "G1", "G2"], ["S1", "S1", "S1"], {}, "subgroup 'S1' appears with more than one group"),
        (None, ["S1", "S1", "S2"], {}, "subgroups= needs groups="),
        (["G1", "G1", "G2"], None, {"hierarchy": "three-level"}, "needs subgroups="),
        (None, None, {"hierarchy": "three-level"}, "needs groups="),
        (["G1", "G1"], None, {}, "groups has 2 entries but y has 3"),
        (["G1", "G1", "G2"], ["S1"], {}, "subgroups has 1 entries but y has 3"),
    ],
)
def test_inconsistent_hierarchy_rejected(tokenizer, groups, subgroups, params, match):
    with pytest.raises(ValueError, match=match):
        TextClassifier(tokenizer=tokenizer, min_df=1, **params).fit(
            ["a b", "a c", "b c"], ["x", "x", "y"], groups=groups, subgroups=subgroups)


# ----------------------------------------------------------------- model structure
def test_hierarchy_chosen(three_level, two_level, flat):
    assert three_level.hierarchy_ == "three-level" and three_level.groups_.size == N_GROUPS
    assert three_level.subgroups_.size == N_SUBGROUPS and three_level.Ws_.shape[1] == N_SUBGROUPS
    assert two_level.hierarchy_ == "two-level" and two_level.groups_.size == N_GROUPS
    assert two_level.subgroups_ is None and two_level.Ws_ is None
    assert flat.hierarchy_ == "flat"
    assert three_level.classes_.size == two_level.classes_.size == flat.classes_.size == N_GROUPS * PER_GROUP


def test_subgroups_of_classes_follow_the_data(three_level):
    want = dict(zip(three_level.classes_, _subgroups(three_level.classes_)))
    got = three_level.subgroups_[three_level.class_subgroup_]
    assert dict(zip(three_level.classes_, got)) == want


@pytest.mark.parametrize(
    "hierarchy, subgroups_of, expected",
    [
        ("two-level", _subgroups, "two-level"),  # asked for two levels: subgroups are not used
        ("auto", lambda y: np.array([f"S{label[:2]}" for label in y]), "two-level"),  # one per group: no level
        ("auto", _subgroups, "three-level"),
    ],
)
def test_subgroups_give_three_levels_only_where_they_add_one(data, tokenizer, hierarchy, subgroups_of, expected):
    X, y, g = data["train"]
    est = TextClassifier(tokenizer=tokenizer, max_weights_per_class=50, hierarchy=hierarchy)
    assert est.fit(X, y, groups=g, subgroups=subgroups_of(y)).hierarchy_ == expected


def test_auto_is_flat_with_few_classes(data, tokenizer):
    X, y, g = data["train"]
    keep = np.isin(y, np.unique(y)[:7])
    est = TextClassifier(tokenizer=tokenizer).fit(np.asarray(X)[keep], y[keep], groups=g[keep])
    assert est.hierarchy_ == "flat"


def test_pruning_budget_respected(two_level):
    per_class = np.bincount(two_level.W2_.indices, minlength=two_level.classes_.size)
    assert per_class.max() <= 50


def test_subgroup_budget_respected(data, tokenizer, three_level):
    X, y, g = data["train"]
    est = TextClassifier(tokenizer=tokenizer, max_weights_per_class=50, max_weights_per_subgroup=7)
    est.fit(X, y, groups=g, subgroups=_subgroups(y))
    assert np.bincount(est.Ws_.indices, minlength=N_SUBGROUPS).max() == 7
    assert np.bincount(three_level.Ws_.indices, minlength=N_SUBGROUPS).max() > 7  # the default keeps more


def test_negative_ratio_only_changes_the_item_models(data, tokenizer, three_level):
    """Item models of a subgroup also see rows of its sibling subgroups (three_level: 3x their own rows)."""
    X, y, g = data["train"]
    alone = TextClassifier(tokenizer=tokenizer, max_weights_per_class=50, negative_ratio=0)
    alone.fit(X, y, groups=g, subgroups=_subgroups(y))
    assert (alone.W1_ != three_level.W1_).nnz == 0 and (alone.Ws_ != three_level.Ws_).nnz == 0
    assert (alone.W2_ != three_level.W2_).nnz > 0
    # the one-subgroup group has no siblings to draw from, so its item models are the same
    last = three_level._bounds[three_level._leaf_bounds[-2]]
    np.testing.assert_array_equal(alone.W2_[:, last:].toarray(), three_level.W2_[:, last:].toarray())


@pytest.mark.parametrize("budget", [5, None])
def test_flat_model_with_few_classes_is_not_pruned(data, tokenizer, budget):
    X, y, _ = data["train"]
    keep = np.isin(y, np.unique(y)[:7])
    est = TextClassifier(tokenizer=tokenizer, max_weights_per_class=budget).fit(np.asarray(X)[keep], y[keep])
    per_class = np.bincount(est.W2_.indices, minlength=7)
    n_features = len(est.vocabulary_)
    assert est.hierarchy_ == "flat" and n_features > 50
    assert (per_class > 0.9 * n_features).all()  # (almost) every weight kept despite budget=5


def test_flat_model_with_many_classes_is_pruned(data, tokenizer):
    X, y, _ = data["train"]
    est = TextClassifier(tokenizer=tokenizer, max_weights_per_class=5).fit(X, y)
    assert est.hierarchy_ == "flat" and est.classes_.size > 50
    assert np.bincount(est.W2_.indices, minlength=est.classes_.size).max() <= 5


def test_weight_layout_matches_predict_path(model):
    # scoring is X (CSR, n x terms) @ W (CSR, terms x classes): W must be canonical CSR float32
    for W in (model.W2_, model.W1_, model.Ws_):
        if W is None:
            continue
        assert W.format == "csr" and W.dtype == np.float32
        assert W.has_sorted_indices and W.indices.dtype == np.int32
        assert W.shape[0] == len(model.vocabulary_)


# ----------------------------------------------------------------- predictions
def test_accuracy_on_held_out(model, data):
    X, y, _ = data["test"]
    assert (model.predict(X) == y).mean() > 0.9


def test_probabilities_sum_to_one(model, data):
    X, _, _ = data["test"]
    P = model.predict_proba(X[:50])
    assert P.shape == (50, model.classes_.size)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    assert (P >= 0).all()


def test_top_k_consistent_with_predict_and_proba(model, data):
    X, _, _ = data["test"]
    labels, probs = model.top_k(X[:40], k=5)
    assert labels.shape == probs.shape == (40, 5)
    np.testing.assert_array_equal(labels[:, 0], model.predict(X[:40]))
    assert (np.diff(probs, axis=1) <= 1e-12).all()
    P = model.predict_proba(X[:40])
    np.testing.assert_array_equal(model.classes_[P.argmax(axis=1)], labels[:, 0])
    col = np.searchsorted(model.classes_, labels)
    np.testing.assert_allclose(np.take_along_axis(P, col, axis=1), probs, rtol=1e-9)


def test_decision_function_argmax_is_predict(model, data):
    X, _, _ = data["test"]
    D = model.decision_function(X[:30])
    np.testing.assert_array_equal(model.classes_[D.argmax(axis=1)], model.predict(X[:30]))


def test_empty_and_odd_inputs_do_not_raise(model):
    labels, probs = model.top_k(["", "!!!", None, "完全未见过的文字"], k=3)
    assert labels.shape == (4, 3)
    assert np.isfinite(probs).all()


def _with_params(fitted, **params):
    """A copy of a fitted model with other (prediction-time) parameters."""
    est = clone(fitted).set_params(**params)
    est.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_") or k.startswith("_")})
    est.__dict__.pop("_scorer_cache", None)
    return est


def _full_ranking(est, X, k):
    """Labels and probabilities of the k best classes by predict_proba (scores every class)."""
    P = est.predict_proba(X)
    order = np.argsort(-P, axis=1, kind="stable")[:, :k]
    return est.classes_[order], np.take_along_axis(P, order, axis=1)


class TestCandidateSearch:
    """top_k expands groups best first and stops when the rest cannot matter.

    The toy model is near-certain at its fitted temperatures; softer ones
    spread probability over many classes and groups, which is what the search
    has to get right.
    """

    @staticmethod
    def _spread(est, X):
        """Rows whose group after the search rounds is above the floor (scored in full at once)."""
        import sujian_router._classifier._search as mod

        P = est.predict_proba(X)
        _, group_of = np.unique(est.class_group_, return_inverse=True)
        G = np.zeros((P.shape[0], est.groups_.size))
        np.add.at(G.T, group_of, P.T)  # P(group) = sum of its items' probabilities
        return np.sort(G, axis=1)[:, ::-1][:, mod.SEARCH_ROUNDS] > est.exact_above

    @staticmethod
    def _upper_levels(est):
        """Columns scored for every row before any item: groups, and subgroups with three levels (one product)."""
        return [est.groups_.size + (0 if est.Ws_ is None else est.Ws_.shape[1])]

    @classmethod
    def _soft(cls, fitted, X=None, **params):
        """Softer temperatures: items spread within groups; groups spread enough that
        some rows of ``X`` (when given) take the rounds and others are scored in full."""
        est = _with_params(fitted, **params)
        est.temperatures_ = (0.7, 0.7)
        if X is not None:
            for t1 in np.linspace(0.3, 0.7, 41):
                est.temperatures_ = (float(t1), 0.7)
                if 0.2 <= cls._spread(est, X).mean() <= 0.8:
                    break
        return est

    @pytest.mark.parametrize("k", [1, 3, 15])
    def test_exact_above_zero_gives_the_full_ranking(self, data, grouped, k):
        X, _, _ = data["test"]
        est = self._soft(grouped, exact_above=0.0)
        labels, probs = est.top_k(X[:60], k=k)
        full_l, full_p = _full_ranking(est, X[:60], k)
        np.testing.assert_allclose(probs, full_p, rtol=1e-9)
        np.testing.assert_array_equal(labels, full_l)

    @pytest.mark.parametrize("floor", [0.003, 0.01])
    def test_candidates_above_the_floor_are_exact(self, data, grouped, floor):
        X, _, _ = data["test"]
        est = self._soft(grouped, X[:60], exact_above=floor)
        spread = self._spread(est, X[:60])
        assert spread.any() and (~spread).any()  # both paths of the search are checked
        labels, probs = est.top_k(X[:60], k=15)
        full_l, full_p = _full_ranking(est, X[:60], 15)
        np.testing.assert_array_equal(labels[:, 0], full_l[:, 0])  # the best is always exact
        above = full_p >= floor
        assert above.sum() > 60  # the check below covers more than the top-1
        np.testing.assert_array_equal(labels[above], full_l[above])
        # every reported probability is the full model's
        P = est.predict_proba(X[:60])
        col = np.searchsorted(est.classes_, labels)
        np.testing.assert_allclose(np.take_along_axis(P, col, axis=1), probs, rtol=1e-9)

    def test_spread_texts_are_scored_in_full_without_the_rounds(self, data, grouped, monkeypatch):
        import sujian_router._classifier._search as mod

        X, _, _ = data["test"]
        est = self._soft(grouped, X[:60], exact_above=0.01)
        spread = self._spread(est, X[:60])
        assert spread.any() and (~spread).any()  # both paths are exercised
        calls = []
        real = mod.sparse_scores
        monkeypatch.setattr(mod, "sparse_scores", lambda Xm, W, b: calls.append(W.shape[1]) or real(Xm, W, b))
        full_l, _ = _full_ranking(est, X[:60], 1)
        for i in (int(np.flatnonzero(spread)[0]), int(np.flatnonzero(~spread)[0])):
            calls.clear()
            labels, _ = est.top_k([X[i]], k=1)
            assert labels[0, 0] == full_l[i, 0]
            upper = self._upper_levels(est)
            if spread[i]:  # groups (and subgroups), then every class at once
                assert calls == upper + [est.classes_.size]
            else:  # groups (and subgroups), then one group's block per round
                assert calls[:len(upper)] == upper and est.classes_.size not in calls[len(upper):len(upper) + 1]

    def test_confident_texts_score_only_their_group(self, data, grouped, monkeypatch):
        import sujian_router._classifier._search as mod

        X, _, _ = data["test"]
        est = _with_params(grouped, exact_above=0.01)  # fitted temperatures: confident
        scored = []
        real = mod.sparse_scores

        def counting(Xm, W, bias):
            scored.append(Xm.shape[0] * W.shape[1])
            return real(Xm, W, bias)

        monkeypatch.setattr(mod, "sparse_scores", counting)
        est.top_k(X[:60], k=1)
        n_classes = est.classes_.size
        level2 = sum(scored) - 60 * sum(self._upper_levels(est))  # minus group (and subgroup) scores of every row
        assert level2 < 60 * n_classes / 2  # a full scoring would be 60 * n_classes

    def test_refit_drops_the_caches_of_the_previous_fit(self, data, tokenizer):
        X, y, g = data["train"]
        Xt, _, _ = data["test"]
        est = TextClassifier(tokenizer=tokenizer, max_weights_per_class=50).fit(X[::2], y[::2], groups=g[::2])
        est.top_k_explained(Xt[:10], k=3)  # builds the search and explanation caches
        est.fit(X, y, groups=g)
        fresh = TextClassifier(tokenizer=tokenizer, max_weights_per_class=50).fit(X, y, groups=g)
        got, want = est.top_k_explained(Xt[:30], k=3), fresh.top_k_explained(Xt[:30], k=3)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        assert got[2] == want[2]



def test_binary_flat_decision_function(tokenizer):
    est = TextClassifier(tokenizer=tokenizer, min_df=1).fit(
        ["噪音 广场舞", "广场舞 音响", "路面 坑洼", "道路 破损"] * 2, ["a", "a", "b", "b"] * 2)
    d = est.decision_function(["广场舞", "坑洼"])
    assert d.shape == (2,)
    assert d[0] < 0 < d[1]


# ----------------------------------------------------------------- explain
def test_explain_returns_terms_of_the_text(two_level, data):
    X, y, _ = data["test"]
    out = two_level.explain(X[0], y[0], n=3)
    assert 1 <= len(out) <= 3
    assert all(score > 0 for _, score in out)
    assert [s for _, s in out] == sorted((s for _, s in out), reverse=True)
    assert all(t.split(" ")[0] in X[0] for t, _ in out)


def test_explain_counts_the_subgroup_level(three_level, data):
    """A term's contribution is its weight for the item, the group and (three levels) the subgroup."""
    X, y, _ = data["test"]
    arrays, meta = three_level.to_state()
    arrays["ws_data"] = np.zeros_like(arrays["ws_data"])
    without = TextClassifier.from_state(arrays, meta)
    got = [three_level.explain(t, label, n=3) for t, label in zip(X[:20], y[:20])]
    assert got != [without.explain(t, label, n=3) for t, label in zip(X[:20], y[:20])]


def test_explain_strips_prefixes(titled, data):
    X, y, _ = data["test"]
    text = _titled(X[:1])[0]
    out = titled.explain(text, y[0], n=20)
    assert out
    assert not any(t.startswith(("c:", "t:", "tc:")) for t, _ in out)
    assert all(t.replace(" ", "") in text.replace(" ", "").replace("\n", "") for t, _ in out)
    assert len({t for t, _ in out}) == len(out)  # prefixed duplicates merged


def test_explain_unknown_label(two_level):
    with pytest.raises(UnknownDutyError, match="99-999"):
        two_level.explain("噪音", "99-999")


# ----------------------------------------------------------------- determinism and state
def test_deterministic_given_random_state(data, tokenizer, two_level):
    X, y, g = data["train"]
    again = TextClassifier(tokenizer=tokenizer, max_weights_per_class=50).fit(X, y, groups=g)
    np.testing.assert_array_equal(again.W2_.data, two_level.W2_.data)
    np.testing.assert_array_equal(again.W2_.indices, two_level.W2_.indices)
    assert again._terms_ == two_level._terms_


def test_state_round_trip_identical_predictions(model, data):
    import json

    arrays, meta = model.to_state()
    assert all(a.dtype != object for a in arrays.values())
    meta = json.loads(json.dumps(meta))  # JSON-able
    rebuilt = TextClassifier.from_state(arrays, meta)
    X, _, _ = data["test"]
    l1, p1 = model.top_k(X, k=3)
    l2, p2 = rebuilt.top_k(X, k=3)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(p1, p2)
    assert rebuilt.get_params()["tokenizer"] == model.get_params()["tokenizer"]


@pytest.mark.parametrize("name, fmt", [("three_level", "/2"), ("two_level", "/1"), ("flat", "/1")])
def test_state_format_names_what_a_reader_needs(request, name, fmt):
    """Two levels keep the first format (earlier versions read it); three need the one with subgroups."""
    _, meta = request.getfixturevalue(name).to_state()
    assert meta["format"] == "sujian_router.TextClassifier" + fmt


def test_from_state_rejects_foreign_state(two_level):
    arrays, meta = two_level.to_state()
    with pytest.raises(ModelFileError, match="format"):
        TextClassifier.from_state(arrays, {**meta, "format": "other/9"})
    arrays.pop("idf")
    with pytest.raises(ModelFileError, match="idf"):
        TextClassifier.from_state(arrays, meta)


# ----------------------------------------------------------------- calibration
def test_calibrate_improves_or_keeps_nll(data, grouped):
    X, y, _ = data["cal"]
    est = TextClassifier.from_state(*grouped.to_state())
    est.temperatures_ = (0.5,) * len(est.temperatures_)  # far from the best, so that there is work to do
    est.calibrate(X, y)
    cal = est.calibration_
    assert cal["nll_after"] < cal["nll_before"]
    assert tuple(cal["temperatures"]) == est.temperatures_
    assert len(est.temperatures_) == (3 if est.Ws_ is not None else 2)  # one per level
    assert 0 <= cal["ece_after"] <= 1
    np.testing.assert_allclose(est.predict_proba(X[:10]).sum(axis=1), 1.0)


def test_calibrate_needs_known_labels(two_level):
    with pytest.raises(ValueError, match="classes_"):
        TextClassifier.from_state(*two_level.to_state()).calibrate(["噪音"], ["zz"])


def test_chunked_featurisation_matches_single_chunk(data, tokenizer, two_level, monkeypatch):
    import sujian_router._classifier._features as mod

    monkeypatch.setattr(mod, "FIT_CHUNK", 37)  # many uneven chunks
    X, y, g = data["train"]
    chunked = TextClassifier(tokenizer=tokenizer, max_weights_per_class=50).fit(X, y, groups=g)
    assert chunked._terms_ == two_level._terms_
    np.testing.assert_array_equal(chunked.idf_, two_level.idf_)
    np.testing.assert_array_equal(chunked.W2_.indices, two_level.W2_.indices)
    np.testing.assert_allclose(chunked.W2_.data, two_level.W2_.data, rtol=1e-6)


def test_single_and_batch_calls_agree(model, data):
    X, _, _ = data["test"]
    batch_l, batch_p = model.top_k(X[:30], k=3)
    for i in range(30):
        one_l, one_p = model.top_k([X[i]], k=3)
        np.testing.assert_array_equal(one_l[0], batch_l[i])
        np.testing.assert_allclose(one_p[0], batch_p[i], rtol=1e-9)


def test_fitted_model_pickles(model, data):
    import pickle

    X, _, _ = data["test"]
    model.predict(X[:2])  # analyzer cache built
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X[:50]), model.predict(X[:50]))


# ----------------------------------------------------------------- feature blocks and title
def _block_norms(est, texts):
    X = est.transform(texts)
    blocks = est.term_block_[X.indices]
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    sq = np.zeros((X.shape[0], 3))
    np.add.at(sq, (rows, blocks), X.data ** 2)
    return np.sqrt(sq), np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())


@pytest.mark.parametrize("name, titled_input", [("flat", False), ("two_level", False), ("titled", True),
                                                 ("titled", False)])
def test_each_block_is_l2_normalised(request, data, name, titled_input):
    est = request.getfixturevalue(name)
    X, _, _ = data["test"]
    texts = _titled(X[:40]) if titled_input else X[:40]
    per_block, total = _block_norms(est, texts)
    nonempty = per_block > 0
    np.testing.assert_allclose(per_block[nonempty], 1.0, rtol=1e-9)
    np.testing.assert_allclose(total, np.sqrt(nonempty.sum(axis=1)), rtol=1e-9)
    assert (nonempty[:, 2] == titled_input).all()  # a title block only for texts with a title line
    assert nonempty[:, :2].all()


def test_title_terms_have_their_own_prefixes_and_block(titled):
    terms = titled.get_feature_names_out()
    expected = [2 if t.startswith(("t:", "tc:")) else 1 if t.startswith("c:") else 0 for t in terms]
    np.testing.assert_array_equal(titled.term_block_, expected)
    assert {0, 1, 2} <= set(titled.term_block_.tolist())
    assert any(t.startswith("tc:") for t in terms) and any(t.startswith("t:") for t in terms)
    assert not any(any(ch.isspace() and ch != " " for ch in t) for t in terms)  # "\n" is never a feature


@pytest.mark.parametrize(
    "text, has_title",
    [("g0w1 c0x0w1\nn5 请处理", True), ("g0w1 c0x0w1 n5 请处理", False),
     ("g0w1 c0x0w1\n", False), ("\ng0w1 c0x0w1", False), ("g0w1\nn5\nc0x0w1", True)],
)
def test_title_is_first_line_followed_by_text(titled, text, has_title):
    X = titled.transform([text])
    assert bool((titled.term_block_[X.indices] == 2).any()) == has_title


def test_text_without_line_break_keeps_body_features(data, tokenizer, titled):
    X, y, _ = data["train"]
    plain = TextClassifier(tokenizer=tokenizer).fit(_titled(X), y)  # same texts, no title block
    test = data["test"][0][:20]
    a, b = plain.transform(test), titled.transform(test)
    names_a, names_b = plain.get_feature_names_out(), titled.get_feature_names_out()
    for i in range(len(test)):
        ra, rb = a.getrow(i), b.getrow(i)
        assert dict(zip(names_a[ra.indices], ra.data)) == pytest.approx(dict(zip(names_b[rb.indices], rb.data)))


def test_titled_single_batch_and_state_agree(titled, data):
    import json

    texts = _titled(data["test"][0][:20])
    arrays, meta = titled.to_state()
    rebuilt = TextClassifier.from_state(arrays, json.loads(json.dumps(meta)))
    assert rebuilt.get_params()["title_block"] is True
    np.testing.assert_array_equal(rebuilt.term_block_, titled.term_block_)
    bl, bp = titled.top_k(texts, k=3)
    rl, rp = rebuilt.top_k(texts, k=3)
    np.testing.assert_array_equal(bl, rl)
    np.testing.assert_array_equal(bp, rp)
    for i in range(len(texts)):
        ol, op = titled.top_k([texts[i]], k=3)
        np.testing.assert_array_equal(ol[0], bl[i])
        np.testing.assert_allclose(op[0], bp[i], rtol=1e-9)


def test_state_without_blocks_uses_one_normalisation(flat, data):
    arrays, meta = flat.to_state()
    arrays.pop("term_block")  # a state written before per-block normalisation
    legacy = TextClassifier.from_state(arrays, meta)
    X = legacy.transform(data["test"][0][:10])
    np.testing.assert_allclose(np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel()), 1.0, rtol=1e-9)


@pytest.mark.parametrize("top_groups, loads", [(None, True), (2, False)])
def test_state_from_0_1_with_top_groups(two_level, data, top_groups, loads):
    """0.1.0 states carry ``top_groups``: None (the default) loads, a set value is refused by name."""
    arrays, meta = two_level.to_state()
    meta = {**meta, "params": {**meta["params"], "top_groups": top_groups}}
    meta["params"].pop("exact_above")
    meta["params"].pop("n_jobs")
    if loads:
        legacy = TextClassifier.from_state(arrays, meta)
        X = data["test"][0][:20]
        np.testing.assert_array_equal(legacy.top_k(X, k=3)[0], two_level.top_k(X, k=3)[0])
    else:
        with pytest.raises(ModelFileError, match="top_groups"):
            TextClassifier.from_state(arrays, meta)


# ------------------------------------------------------------ featurisation
_PIECES = ["广场舞", "噪音", "c:", "t:", "tc:", "：", ":", " ", "\n", "投诉", "请处理", "楼下", "x", "ＡＢ", "g1w2"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(_PIECES), max_size=12))
@pytest.mark.parametrize("name", ["two_level", "titled"])
def test_transform_matches_the_analyzer_terms(request, name, parts):
    """The per-block lookup finds exactly the vocabulary terms the analyzer spells."""
    est = request.getfixturevalue(name)
    text = "".join(parts)
    got = est.transform([text])
    counts = {}
    for term in est._analyzer()(text):
        col = est.vocabulary_.get(term)
        if col is not None:
            counts[col] = counts.get(col, 0) + 1
    assert sorted(got.indices.tolist()) == sorted(counts)
