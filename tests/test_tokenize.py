"""Tests of the per-instance jieba tokenizer."""

import pickle
import threading

import jieba
import pytest

from sujian_router._tokenize import DEFAULT_USER_WORDS, Tokenizer

BACKENDS = ["jieba", "rjieba"]  # rjieba is a dependency


@pytest.fixture(scope="module", params=BACKENDS)
def tok(request):
    return Tokenizer(user_words=[*DEFAULT_USER_WORDS, "深圳湾一号"], backend=request.param)


def test_user_words_kept_whole(tok):
    tokens = tok("晚上深圳湾一号楼下广场舞和渣土车噪音扰民")
    assert "深圳湾一号" in tokens
    assert "广场舞" in tokens
    assert "渣土车" in tokens


def test_placeholders_kept_whole_and_lowercased(tok):
    assert tok("电话 PHONEMASK 车牌 PLATEMASK") == ["电话", "phonemask", "车牌", "platemask"]


def test_punctuation_whitespace_and_stopwords_dropped(tok):
    tokens = tok("你好, 楼下的 KTV!!! 噪音。。。")
    assert tokens == ["楼下", "ktv", "噪音"]


@pytest.mark.parametrize("text", ["", " ", "!!!"])
def test_empty_input(tok, text):
    assert tok(text) == []


def test_pickle_round_trip_after_use(tok):
    before = tok("广场舞噪音")  # segmenter built
    clone = pickle.loads(pickle.dumps(tok))
    assert clone == tok
    assert clone._segmenter is None
    assert clone("广场舞噪音") == before


def test_global_jieba_untouched_and_instances_independent(tok):
    dt = jieba.dt
    freq_before = dict(dt.FREQ) if dt.initialized else None
    a = Tokenizer(user_words=["一个绝不存在的词语"])
    assert a("一个绝不存在的词语") == ["一个绝不存在的词语"]
    assert tok("一个绝不存在的词语") != ["一个绝不存在的词语"]
    assert jieba.dt is dt
    if freq_before is not None:
        assert dict(dt.FREQ) == freq_before
    assert "一个绝不存在的词语" not in dt.FREQ


def test_thread_safe_lazy_build():
    t = Tokenizer()
    text = "楼下广场舞噪音扰民,渣土车炸街"
    results, errors = [], []

    def work():
        try:
            results.append(t(text))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(results) == 8 and all(r == results[0] for r in results)


@pytest.mark.parametrize("bad", ["spacy", "", None])
def test_unknown_backend_rejected(bad):
    with pytest.raises(ValueError, match="backend must be one of"):
        Tokenizer(backend=bad)


def test_params_are_normalised():
    t = Tokenizer(user_words=["b", "a", "a", " ", "有 空格"], stopwords=["的"])
    assert t.user_words == ("a", "b")
    assert t.to_dict() == {"user_words": ["a", "b"], "backend": "jieba",
                              "stopwords": ["的"], "hmm": False}


@pytest.fixture(scope="module")
def pair(catalog):
    """A jieba and an rjieba tokenizer with the user words of a new catalog model."""
    from sujian_router._train import _tokenizer_for

    ref = _tokenizer_for(catalog)  # ~10,000 catalog words, many already in jieba's dictionary
    return Tokenizer(ref.user_words, backend="jieba"), Tokenizer(ref.user_words, backend="rjieba")


class TestBackendsAgree:
    """The rjieba backend reproduces jieba's segmentation (HMM off), user words included."""

    @staticmethod
    def _differences(pair, texts):
        """Texts segmented differently, and whether each is an exact tie under jieba's scoring."""
        import math

        from sujian_router._tokenize import _JUNK

        jb, rj = pair
        jseg, _ = jb._build_jieba()
        logtotal = math.log(jseg.total)

        def score(words):  # jieba's route score: sum of log P(word)
            return sum(math.log(jseg.FREQ.get(w) or 1) - logtotal for w in words if w != " ")

        out = []
        for t in texts:
            if jb(t) != rj(t):
                clean = _JUNK.sub(" ", t.lower())
                a, b = jseg.lcut(clean, HMM=False), rj._get_segmenter()(clean)
                out.append((t, math.isclose(score(a), score(b), rel_tol=1e-12, abs_tol=1e-9)))
        return out

    def test_synthetic_tickets_differ_only_in_exact_ties(self, pair, catalog):
        from sujian_router import generate_tickets
        from sujian_router._text import prepare_text

        texts = [prepare_text(t).text for t in generate_tickets(catalog, n_per_item=1, seed=11)["text"]]
        diff = self._differences(pair, texts)
        assert len(texts) > 4000
        assert len(diff) <= len(texts) // 1000, diff
        assert all(tie for _, tie in diff), diff

    def test_exact_ties_are_broken_differently(self):
        # the documented difference: segmentations whose scores are equal but for rounding
        text = "华华华庭里面制冷与空调作业人员持的证是假的"
        pair = jb, rj = Tokenizer(backend="jieba"), Tokenizer(backend="rjieba")
        assert jb(text)[:3] == ["华", "华华", "庭"]
        assert rj(text)[:3] == ["华华", "华", "庭"]
        assert self._differences(pair, [text]) == [(text, True)]

    @pytest.mark.shared_data
    def test_real_messages(self, pair, teddy_path):
        import pandas as pd

        from sujian_router._text import prepare_text

        real = pd.read_csv(teddy_path)
        texts = [prepare_text(f"{a}\n{b}").text for a, b in zip(real["title"], real["text"])]
        diff = self._differences(pair, texts)
        assert len(diff) <= len(texts) // 1000, diff
        assert all(tie for _, tie in diff), diff


def test_new_models_use_rjieba(catalog):
    from sujian_router._train import _tokenizer_for

    assert _tokenizer_for(catalog).backend == "rjieba"
    assert _tokenizer_for(None).backend == "rjieba"


class TestSavedFrequencies:
    """A saved rjieba model carries jieba's user-word frequencies, so loading it needs no jieba."""

    def test_loaded_model_segments_without_jieba(self, router, monkeypatch):
        from sujian_router._classifier import TextClassifier

        arrays, meta = router.classifier.to_state()
        tok = router.classifier.tokenizer
        assert tok.backend == "rjieba"
        assert arrays["tokenizer_frequencies"].shape == (len(tok.user_words), 2)
        text = "晚上坪山河边广场舞噪音扰民，华华华庭里面也听得到"
        expected = tok(text)

        def no_jieba(self):
            raise AssertionError("jieba's dictionary was loaded")

        monkeypatch.setattr(Tokenizer, "_build_jieba", no_jieba)
        loaded = TextClassifier.from_state(arrays, meta)
        assert loaded.tokenizer(text) == expected
        assert loaded.top_k([text], k=3)[0].tolist() == router.classifier.top_k([text], k=3)[0].tolist()

    def test_frequencies_of_another_length_are_refused(self, router):
        from sujian_router import ModelFileError
        from sujian_router._classifier import TextClassifier

        arrays, meta = router.classifier.to_state()
        arrays = dict(arrays, tokenizer_frequencies=arrays["tokenizer_frequencies"][:-1])
        with pytest.raises(ModelFileError, match="tokenizer_frequencies has shape"):
            TextClassifier.from_state(arrays, meta)

    def test_frequencies_travel_with_a_pickle(self):
        import pickle

        tok = Tokenizer(["深圳湾一号"], backend="rjieba")
        freqs = tok._user_word_frequencies()
        clone = pickle.loads(pickle.dumps(tok))
        assert clone.__dict__.get("_frequencies") == freqs
