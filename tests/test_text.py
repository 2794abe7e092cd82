"""Tests of text preparation: normalisation, personal-data masking, length cap."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sujian_router._text import (
    MASK_TOKENS,
    MAX_TEXT_CHARS,
    PreparedText,
    mask_personal_data,
    normalize_text,
    prepare_text,
)


# --------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("ＫＴＶ噪音１２３", "KTV噪音123"),  # full-width -> half-width
        ("　楼下　吵　", "楼下 吵"),  # ideographic spaces
        ("噪\u200b音\ufeff", "噪音"),  # zero-width / BOM
        ("a\x00b\x07c", "abc"),  # control characters
        ("第一行\r\n\n第二行\t结束", "第一行\n第二行 结束"),  # line structure kept
        ("标题 \r\n \t\n  正文", "标题\n正文"),  # a run with a break -> one "\n"
        ("a\rb\x0bc\x0cd\x85e\u2028f\u2029g\x1ch", "a\nb\nc\nd\ne\nf\ng\nh"),  # other breaks
        ("a\t\x1f b", "a b"),  # tab and unit separator are spaces
        ("\n\n 标题\n", "标题"),  # ends stripped
        ("坏\ud800字", "坏字"),  # lone surrogate
        ("", ""),
        ("   \n\t ", ""),
        ("（括号）！？", "(括号)!?"),
    ],
)
def test_normalize_text_examples(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("标题\n电话13812345678\n正文", "标题\n电话 PHONEMASK\n正文"),
        ("电话13812345678\n正文", "电话 PHONEMASK\n正文"),
        ("标题\n13812345678", "标题\nPHONEMASK"),
    ],
)
def test_masking_keeps_line_breaks(raw, expected):
    p = prepare_text(raw)
    assert p.text == expected
    assert p.masked == ("phone",)
    assert normalize_text(p.text) == p.text


def test_normalize_non_str_is_converted():
    assert normalize_text(None) == ""
    assert normalize_text(123) == "123"


# --------------------------------------------------------------------------- masking
@pytest.mark.parametrize(
    "raw, kind",
    [
        ("电话13812345678请回电", "phone"),
        ("电话138 1234 5678", "phone"),
        ("电话+86 13912345678", "phone"),
        ("座机0755-83123456", "phone"),
        ("座机(020)87654321", "phone"),
        ("身份证440305199001011234", "id_card"),
        ("身份证44030519900101123X号", "id_card"),
        ("身份证44030519900101123x", "id_card"),
        ("卡号6222021234567890123", "bank_card"),
        ("卡号6222 0212 3456 7890", "bank_card"),
        ("车牌粤B12345乱停", "plate"),
        ("车牌粤B·D12345", "plate"),
        ("车牌粤BD12345", "plate"),
        ("车牌京A88888", "plate"),
        ("湘C·12345", "plate"),
        ("邮箱zhang.san@example.com.cn联系", "email"),
    ],
)
def test_each_kind_is_masked(raw, kind):
    masked, kinds = mask_personal_data(normalize_text(raw))
    assert kinds == (kind,)
    assert MASK_TOKENS[kind] in masked
    assert not any(ch.isdigit() for ch in masked)


@pytest.mark.parametrize(
    "raw",
    [
        "2023年5月12日晚上10点",
        "噪音超过85分贝",
        "小区3栋1202房",
        "罚款200元",
        "订单号12345678",  # 8 digits, no area code
        "PHONEMASK",  # a placeholder is not re-masked
    ],
)
def test_ordinary_numbers_are_kept(raw):
    masked, kinds = mask_personal_data(normalize_text(raw))
    assert kinds == ()
    assert masked == normalize_text(raw)


def test_full_width_phone_is_masked_after_normalisation():
    p = prepare_text("手机：１３８１２３４５６７８")
    assert p.masked == ("phone",)
    assert "PHONEMASK" in p.text


def test_several_kinds_reported_once_in_fixed_order():
    text = "车牌粤B12345,电话13812345678,又打13912345678,邮箱a@b.cn"
    _, kinds = mask_personal_data(text)
    assert kinds == ("email", "phone", "plate")


# --------------------------------------------------------------------------- prepare_text
def test_prepare_text_truncates_at_cap():
    p = prepare_text("噪" * (MAX_TEXT_CHARS + 10))
    assert p.truncated and len(p.text) == MAX_TEXT_CHARS


def test_prepare_text_short_not_truncated():
    p = prepare_text("楼下噪音")
    assert p == PreparedText(text="楼下噪音", truncated=False, masked=(), empty=False, informative=4)


@pytest.mark.parametrize("raw", ["", "   ", "!!!???", "。，、", "\u200b\u200b", None, "\n \r\n", "!\n?"])
def test_empty_texts(raw):
    assert prepare_text(raw).empty


def test_prepared_text_is_frozen():
    p = prepare_text("x")
    with pytest.raises(AttributeError):
        p.text = "y"


# --------------------------------------------------------------------------- properties
@settings(max_examples=300, deadline=None)
@given(st.text())
def test_prepare_never_raises_and_is_idempotent(text):
    p = prepare_text(text)
    assert isinstance(p.text, str)
    assert len(p.text) <= MAX_TEXT_CHARS
    again = prepare_text(p.text)
    assert again.text == p.text
    assert normalize_text(p.text) == p.text
    # whitespace left: single spaces and single line breaks between non-space characters
    assert p.text == p.text.strip()
    assert all(not ch.isspace() or ch in " \n" for ch in p.text)
    assert "  " not in p.text and "\n\n" not in p.text and " \n" not in p.text and "\n " not in p.text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from("噪音ab1 \t\r\n\u3000\x0b\u2028"), max_size=12), max_size=6))
def test_line_breaks_survive_only_as_single_newlines(parts):
    raw = "\n".join(parts)
    out = normalize_text(raw)
    assert normalize_text(out) == out
    # the non-space content and its order are unchanged; breaks never vanish between content
    assert "".join(out.split()) == "".join(raw.replace("\u3000", " ").split())
    if "\n" in out:
        assert any(b in raw for b in "\n\r\x0b\u2028")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789 -+()粤B·@.abcXx噪音"), max_size=60))
def test_masking_idempotent_on_digit_soup(text):
    once, _ = mask_personal_data(normalize_text(text))
    twice, kinds = mask_personal_data(once)
    assert twice == once
    assert kinds == ()


# --------------------------------------------------------------------------- traditional and typos
class TestSimplifiedAndTypos:
    @pytest.mark.parametrize("raw, expected", [
        ("福田區華強北街道燒垃圾", "福田区华强北街道烧垃圾"),
        ("樓道裡貼滿了小廣告", "楼道里贴满了小广告"),
        ("井該不見了", "井盖不见了"),
        ("晚上燥音很大，拉圾沒人收", "晚上噪音很大,垃圾没人收"),
        ("乾隆路上很乾淨", "乾隆路上很干净"),  # phrase-aware: a name keeps its character
    ])
    def test_normalised_text_is_simplified_and_fixed(self, raw, expected):
        assert normalize_text(raw) == expected

    @pytest.mark.parametrize("text", ["楼下噪音扰民", "井盖丢了", "ABC 123", "", "乾隆"])
    def test_simplified_text_is_left_alone(self, text):
        assert normalize_text(text) == normalize_text(normalize_text(text)) == text.strip()

    def test_traditional_masked_and_counted_like_simplified(self):
        a, b = prepare_text("電話13812345678，樓下噪音"), prepare_text("电话13812345678，楼下噪音")
        assert a == b and a.masked == ("phone",)

    @pytest.mark.parametrize("text, n", [("你好，我要投诉！", 0), ("12345", 0), ("噪音", 2),
                                         ("尊敬的领导：楼下烧烤油烟扰民。谢谢", 8)])
    def test_informative_characters_leave_out_greetings_and_digits(self, text, n):
        from sujian_router._text import informative_chars

        assert informative_chars(normalize_text(text)) == n
