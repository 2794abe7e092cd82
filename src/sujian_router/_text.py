"""Text preparation: normalisation, personal-data masking and a length cap.

Every complaint passes through :func:`prepare_text` once, before tokenisation,
both at training and at prediction time, so the model never sees raw phone
numbers or ID-card numbers and training and serving cannot drift apart.
Normalisation also converts traditional characters to simplified ones (OpenCC's
``t2s`` table) and fixes a reviewed list of misspelt complaint words, so the
tokenizer, the place finder and the rules only ever see simplified text.

The functions accept any ``str`` (including lone surrogates and control
characters) and never raise on one.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "MASK_TOKENS",
    "MAX_TEXT_CHARS",
    "PreparedText",
    "fix_typos",
    "informative_chars",
    "mask_personal_data",
    "normalize_text",
    "prepare_text",
]

#: Longest prepared text, in characters. Longer complaints are cut here: the
#: routing-relevant facts of a complaint sit in its first sentences, and the cap
#: bounds the time one pathological input can cost. Before normalisation the raw
#: input is also cut at ``8 * MAX_TEXT_CHARS`` characters.
MAX_TEXT_CHARS = 2000
_RAW_CAP = 8 * MAX_TEXT_CHARS

#: Placeholder written in place of each kind of personal data. They are upper-case
#: ASCII words, which jieba keeps whole, and they contain no digits, so masking
#: is idempotent and a placeholder can never be re-masked.
MASK_TOKENS = {
    "email": "EMAILMASK",
    "id_card": "IDCARDMASK",
    "bank_card": "BANKCARDMASK",
    "phone": "PHONEMASK",
    "plate": "PLATEMASK",
}

# Control (Cc), format (Cf) and surrogate (Cs) characters. Line breaks (the
# separators of ``str.splitlines``) become "\n", tab and unit separator a space;
# everything else here is dropped. The Cf list covers the format characters of
# the BMP and the common astral ones.
_CC_BREAK = re.compile(r"\r\n?|[\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CC_SPACE = re.compile(r"[\t\x1f]")
_DROP = re.compile(
    "[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_SPACES = re.compile(r"\s+")


def _squeeze(text):
    """Runs of whitespace: one "\n" when the run holds a line break, else one space; ends stripped."""
    return _SPACES.sub(lambda m: "\n" if "\n" in m.group() else " ", text).strip()


def _controls(text):
    return _DROP.sub("", _CC_SPACE.sub(" ", _CC_BREAK.sub("\n", text)))

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PATTERNS = (
    (
        "email",
        re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
    ),
    (
        "id_card",
        re.compile(
            r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
            r"(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])"
        ),
    ),
    (
        "bank_card",
        re.compile(
            r"(?<![0-9A-Za-z])(?:\d{16,19}|\d{4}(?:[ \-]\d{4}){3}(?:[ \-]?\d{1,3})?)(?![0-9A-Za-z])"
        ),
    ),
    (
        "phone",
        re.compile(
            r"(?<![0-9A-Za-z])(?:(?:\+|00)?86[ \-]?)?"
            r"(?:1[3-9]\d(?:[ \-]?\d{4}){2}"  # mobile: 138 1234 5678
            r"|\(?0\d{2,3}\)?[ \-]?[2-9]\d{6,7})"  # landline with area code: 0755-83123456
            r"(?![0-9A-Za-z])"
        ),
    ),
    (
        "plate",
        re.compile(
            rf"[{_PROVINCES}][A-HJ-NP-Z][ ·・•\-]?"
            r"(?:[A-HJ-NP-Z0-9]{5}[A-HJ-NP-Z0-9挂学警港澳]?)(?![0-9A-Za-z])"
        ),
    ),
)
_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


_T2S_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _t2s():
    """The OpenCC traditional-to-simplified converter, built on first use (it reads its tables)."""
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - opencc is a dependency
        raise ImportError("traditional-to-simplified conversion needs OpenCC: pip install opencc") from exc
    return opencc.OpenCC("t2s")


def _to_simplified(text):
    """Traditional characters to simplified ones; text without CJK characters is returned as is."""
    if not text or text.isascii():
        return text
    with _T2S_LOCK:  # one converter object is shared by threads
        return _t2s().convert(text)


@lru_cache(maxsize=1)
def _typo_table():
    """``(pattern, replacements)`` from the package's reviewed list of misspelt complaint words."""
    from importlib.resources import files

    pairs = {}
    raw = files("sujian_router").joinpath("data", "complaint_typos.txt").read_text(encoding="utf-8-sig")
    for line in raw.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            wrong, right = line.split("\t")
            pairs[wrong.strip()] = right.strip()
    keys = sorted(pairs, key=len, reverse=True)  # longest first, so a longer misspelling wins
    return re.compile("|".join(map(re.escape, keys))), pairs


def fix_typos(text: str) -> str:
    """Replace misspelt complaint words (``井该`` for ``井盖``...) by the intended word.

    The pairs live in the package file ``data/complaint_typos.txt``; only
    misspellings that are never a correct word are listed, so replacing
    every occurrence is safe.

    Examples
    --------
    >>> fix_typos("路边井该不见了，燥音也大")
    '路边井盖不见了，噪音也大'
    """
    pattern, pairs = _typo_table()
    return pattern.sub(lambda m: pairs[m.group()], text)


def normalize_text(text: str) -> str:
    """Normalise a complaint's text.

    NFKC (full-width letters, digits and punctuation become half-width, the
    ideographic space becomes a space), control, format and lone surrogate
    characters are removed (line breaks -- ``\r\n``, ``\r``, ``\n``, vertical
    tab, form feed, U+0085, U+2028, U+2029... -- become ``"\n"``, tabs spaces),
    every run of whitespace that holds a line break becomes one ``"\n"`` and
    every other run one space, and the ends are stripped. The line structure is
    kept because the first line of an export is often the complaint's title
    (see ``TextClassifier(title_block=True)``). Traditional characters become
    simplified ones and misspelt complaint words are fixed (:func:`fix_typos`).

    Parameters
    ----------
    text : str
        Any string.

    Returns
    -------
    str
        The normalised text; applying the function again changes nothing.

    Examples
    --------
    >>> normalize_text("　楼下ＫＴＶ\\u200b噪音 \\r\\n\\n 扰民１２３ ")
    '楼下KTV噪音\\n扰民123'
    >>> normalize_text("楼下\\t\\t噪音")
    '楼下 噪音'
    >>> normalize_text("福田區華強北街道有人燒垃圾，井該也壞了")
    '福田区华强北街道有人烧垃圾,井盖也坏了'
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    for _ in range(3):  # NFKC after removal can expose new removable characters
        cleaned = unicodedata.normalize("NFKC", _controls(text))
        cleaned = _squeeze(_controls(cleaned))
        if cleaned == text:
            break
        text = cleaned
    # character for character (or phrase for phrase) on clean text: nothing above needs redoing
    return fix_typos(_to_simplified(text))


def mask_personal_data(text: str) -> tuple[str, tuple[str, ...]]:
    """Replace personal data in normalised text by placeholder words.

    Masked kinds: ``"email"``, ``"id_card"`` (18 digits, last may be ``X``),
    ``"bank_card"`` (16–19 digits, optionally grouped by four), ``"phone"``
    (mainland mobiles, with or without ``+86``, and landlines with an area
    code) and ``"plate"`` (licence plates such as ``粤B12345`` and new-energy
    ``粤B·D12345``). Placeholders are listed in :data:`MASK_TOKENS`.

    Parameters
    ----------
    text : str
        Text already passed through :func:`normalize_text` (full-width digits
        are only recognised after normalisation).

    Returns
    -------
    masked : str
        The text with every match replaced.
    kinds : tuple of str
        The kinds that were masked, in the order above, each at most once.

    Examples
    --------
    >>> mask_personal_data("我的电话13812345678,车牌粤B·D12345")
    ('我的电话 PHONEMASK ,车牌 PLATEMASK', ('phone', 'plate'))
    """
    kinds = []
    for kind, pattern in _PATTERNS:
        text, n = pattern.subn(f" {MASK_TOKENS[kind]} ", text)
        if n:
            kinds.append(kind)
    if kinds:
        text = _squeeze(text)
    return text, tuple(kinds)


# Words that every kind of complaint uses and that name no problem: greetings,
# forms of address, the act of complaining or asking, the hotline itself.
_GENERIC_WORDS = (
    "尊敬的", "领导", "书记", "局长", "市长", "区长", "主任", "部长", "所长", "同志", "工作人员", "政府",
    "你们好", "你好", "您好", "大家好", "哈喽", "在吗", "在不在", "有人吗", "喂",
    "谢谢", "感谢", "多谢", "辛苦了", "麻烦", "拜托", "此致敬礼", "此致", "敬礼",
    "请问", "请", "咨询", "询问", "问一下", "问下", "帮忙", "帮帮忙", "帮助", "求助", "救命",
    "我要", "我想", "我们", "我", "一下", "怎么办", "怎么", "什么", "哪里", "哪个部门",
    "投诉", "举报", "反映", "反应", "建议", "诉求", "意见", "问题", "事情", "情况", "处理", "解决",
    "市民", "热线", "电话", "打不通", "没人接", "急", "紧急", "重要",
)
_GENERIC = re.compile("|".join(map(re.escape, sorted(_GENERIC_WORDS, key=len, reverse=True))))
_MASKS = re.compile("|".join(MASK_TOKENS.values()))
_INFORMATIVE = re.compile(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def informative_chars(text: str) -> int:
    """Count the characters of a normalised text that can name a problem.

    Greetings, forms of address, complaint verbs (``投诉``, ``反映``...), the
    hotline, masked personal data, digits and punctuation are left out; what
    remains are the CJK characters and Latin letters that may say what is
    wrong and where. A complaint with none or almost none of them gives the
    router nothing to route on.

    Examples
    --------
    >>> informative_chars("你好，我要投诉！！")
    0
    >>> informative_chars("12345")
    0
    >>> informative_chars("噪音"), informative_chars("尊敬的领导：楼下烧烤油烟扰民")
    (2, 8)
    """
    if "MASK" in text:
        text = _MASKS.sub("", text)
    return len(_INFORMATIVE.findall(_GENERIC.sub("", text)))


@dataclass(frozen=True)
class PreparedText:
    """A complaint text ready for tokenisation.

    Attributes
    ----------
    text : str
        Normalised, masked and truncated text.
    truncated : bool
        True when the text was cut at :data:`MAX_TEXT_CHARS` characters.
    masked : tuple of str
        Kinds of personal data that were masked.
    empty : bool
        True when no CJK character, Latin letter or digit is left.
    informative : int
        :func:`informative_chars` of ``text``: how much of it can name a problem.
    """

    text: str
    truncated: bool
    masked: tuple[str, ...]
    empty: bool
    informative: int = 0

    def to_dict(self) -> dict:
        """Return the fields as a plain dict.

        Examples
        --------
        >>> prepare_text("  ")
        PreparedText(text='', truncated=False, masked=(), empty=True, informative=0)
        >>> prepare_text("噪音").to_dict()["empty"]
        False
        """
        return {
            "text": self.text,
            "truncated": self.truncated,
            "masked": list(self.masked),
            "empty": self.empty,
            "informative": self.informative,
        }


def prepare_text(text: str, *, max_chars: int = MAX_TEXT_CHARS) -> PreparedText:
    """Normalise, mask and cap one complaint text.

    Parameters
    ----------
    text : str
        Any string; ``None`` and non-strings are converted (``None`` to ``""``).
    max_chars : int, default=MAX_TEXT_CHARS
        Length cap applied after masking.

    Returns
    -------
    PreparedText

    Examples
    --------
    >>> p = prepare_text("身份证号４４０３０５１９９００１０１１２３Ｘ，电话０７５５－８３１２３４５６")
    >>> p.text
    '身份证号 IDCARDMASK ,电话 PHONEMASK'
    >>> p.masked
    ('id_card', 'phone')
    >>> prepare_text("噪音" * 2000).truncated
    True
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    raw_cut = len(text) > _RAW_CAP
    if raw_cut:
        text = text[:_RAW_CAP]
    text, kinds = mask_personal_data(normalize_text(text))
    truncated = raw_cut or len(text) > max_chars
    if len(text) > max_chars:
        text = text[:max_chars].rstrip()
    return PreparedText(
        text=text,
        truncated=truncated,
        masked=kinds,
        empty=_CONTENT.search(text) is None,
        informative=informative_chars(text),
    )
