"""Tests of the per-instance jieba tokenizer."""

import pickle
import threading

import jieba
import pytest

from sujian_router._tokenize import DEFAULT_USER_WORDS, Tokenizer

try:
    import rjieba  # noqa: F401

    BACKENDS = ["jieba", "rjieba"]
except ImportError:  # pragma: no cover
    BACKENDS = ["jieba"]


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
