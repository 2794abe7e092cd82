"""Text preparation: normalisation, personal-data masking and a length cap.

Every complaint passes through :func:`prepare_text` once, before tokenisation,
both at training and at prediction time, so the model never sees raw phone
numbers or ID-card numbers and training and serving cannot drift apart.

The functions accept any ``str`` (including lone surrogates and control
characters) and never raise on one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "MASK_TOKENS",
    "MAX_TEXT_CHARS",
    "PreparedText",
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


def normalize_text(text: str) -> str:
    """Normalise a complaint's text.

    NFKC (full-width letters, digits and punctuation become half-width, the
    ideographic space becomes a space), control, format and lone surrogate
    characters are removed (line breaks -- ``\r\n``, ``\r``, ``\n``, vertical
    tab, form feed, U+0085, U+2028, U+2029... -- become ``"\n"``, tabs spaces),
    every run of whitespace that holds a line break becomes one ``"\n"`` and
    every other run one space, and the ends are stripped. The line structure is
    kept because the first line of an export is often the complaint's title
    (see ``TextClassifier(title_block=True)``).

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
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    for _ in range(3):  # NFKC after removal can expose new removable characters
        cleaned = unicodedata.normalize("NFKC", _controls(text))
        cleaned = _squeeze(_controls(cleaned))
        if cleaned == text:
            break
        text = cleaned
    return text


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
    """

    text: str
    truncated: bool
    masked: tuple[str, ...]
    empty: bool

    def to_dict(self) -> dict:
        """Return the fields as a plain dict.

        Examples
        --------
        >>> prepare_text("  ")
        PreparedText(text='', truncated=False, masked=(), empty=True)
        >>> prepare_text("噪音").to_dict()["empty"]
        False
        """
        return {
            "text": self.text,
            "truncated": self.truncated,
            "masked": list(self.masked),
            "empty": self.empty,
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
    )
