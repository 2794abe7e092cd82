"""Word segmentation with a per-instance segmenter and a domain dictionary.

:class:`Tokenizer` stores only its parameters. The segmenter (a private
``jieba.Tokenizer``, or an ``rjieba.Jieba`` given jieba's word frequencies)
is built on first use, per instance, so the object pickles cleanly, jieba's
global tokenizer ``jieba.dt`` is never touched, and two tokenizers with
different user dictionaries do not interfere.

Measured with ``python benchmarks/bench_tokenizer.py --limit 10000`` on the
9,210 prepared TeddyCup 2020 messages (3.5 million characters) with the
catalog's 9,989 user words, HMM off (the default), 2026-11-27 on the 2-core
machine: raw jieba 281,850 chars/s, raw rjieba 3,947,108; with this class's
filtering 273,681 and 2,637,794 chars/s (719 and 6,929 texts/s). Both
backends segmented 100.0% of the messages identically (1,551,722 tokens
each). On title and text joined, 9,209 of 9,210 agree, and 4,314 of 4,315
synthetic tickets (``tests/test_tokenize.py``); each difference is a pair of
segmentations whose scores are equal but for floating-point rounding. With
the HMM on the backends' unknown-word guesses differ (about 92% agreement in
an earlier measurement).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading

__all__ = ["DEFAULT_USER_WORDS", "DEFAULT_STOPWORDS", "Tokenizer"]

#: Complaint vocabulary that the stock jieba dictionary splits apart.
DEFAULT_USER_WORDS = (
    "PHONEMASK", "IDCARDMASK", "BANKCARDMASK", "PLATEMASK", "EMAILMASK",
    "广场舞", "占道经营", "渣土车", "炸街", "扰民", "噪音扰民", "油烟扰民", "违章搭建",
    "违建", "群租房", "城中村", "电动车", "电动自行车", "共享单车", "飞线充电",
    "乱停放", "乱摆卖", "流动摊贩", "夜间施工", "噪声扰民", "直升机", "泥头车",
    "垃圾分类", "垃圾清运", "下水道", "化粪池", "井盖", "积水", "内涝", "黑臭水体",
    "违法排污", "偷排", "工地扬尘", "扬尘", "拖欠工资", "欠薪", "社保", "公积金",
    "医保", "网约车", "出租车", "拒载", "绕路", "公交车", "地铁", "物业费",
    "业委会", "维修基金", "电梯故障", "高空抛物", "消防通道", "占用消防通道",
    "燃气泄漏", "停电", "停水", "学位", "校外培训", "食品安全", "过期食品",
    "预付卡", "退费", "噪声", "油烟", "露天烧烤", "占道", "乱堆放", "小区",
    "宝安区", "南山区", "福田区", "罗湖区", "龙岗区", "龙华区", "光明区", "坪山区",
    "盐田区", "大鹏新区", "深汕特别合作区", "前海", "深圳",
)

#: Function words that carry no routing signal.
DEFAULT_STOPWORDS = (
    "的", "了", "是", "在", "我", "我们", "你们", "他们", "和", "与", "及", "也", "都",
    "就", "还", "又", "被", "把", "让", "给", "对", "从", "向", "而", "但", "但是",
    "这", "那", "这个", "那个", "这里", "那里", "一个", "有", "没", "啊", "吧", "呢",
    "吗", "呀", "嘛", "哦", "请", "您好", "你好", "谢谢", "麻烦", "希望", "尽快",
)

_BACKENDS = ("jieba", "rjieba")
# runs of whitespace, punctuation and symbols: replaced by one space before segmentation
_JUNK = re.compile(r"[\W_]+")
_BUILD_LOCK = threading.Lock()  # serialises segmenter construction (jieba logger level)
_BASE_DICT = {}  # filled lazily: jieba's stock dictionary, parsed once per process, never mutated
# dictionary entry that balances rjieba's total with jieba's; \W characters never reach the segmenter
_TOTAL_PAD = "\u00a7total\u00a7"


def _private_cache_dir() -> str:
    """Return (and create) this user's private jieba cache directory.

    jieba reads its cache with :mod:`marshal`, so a cache another user could
    write would let them change segmentation. The directory is
    ``$XDG_CACHE_HOME/sujian-router/jieba`` (``~/.cache/...``), else
    ``sujian_router_jieba_<uid>`` in the temporary directory, created with
    mode 0700 and used only when it is a real directory owned by this user
    that no one else can write; otherwise a fresh private directory is made
    for this process.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    for path in (os.path.join(base, "sujian-router", "jieba"),
                 os.path.join(tempfile.gettempdir(), f"sujian_router_jieba_{uid}")):
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError:
            continue
        if _is_private(path):
            return path
    return _process_cache_dir()


def _is_private(path) -> bool:
    """A directory (not a link) owned by this user, writable by no one else."""
    import stat

    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    if not hasattr(os, "getuid"):  # pragma: no cover - Windows: per-user temp folders
        return True
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


_PROCESS_CACHE = []


def _process_cache_dir() -> str:
    if not _PROCESS_CACHE:
        logging.getLogger(__name__).warning(
            "no private jieba cache directory is usable (not owned by this user or writable by others); "
            "using a temporary one for this process")
        _PROCESS_CACHE.append(tempfile.mkdtemp(prefix="sujian_router_jieba_"))
    return _PROCESS_CACHE[0]


class Tokenizer:
    """Callable word segmenter for prepared complaint text.

    Parameters
    ----------
    user_words : iterable of str, default=DEFAULT_USER_WORDS
        Words the segmenter must keep whole (catalog keywords, place names,
        the masking placeholders). Stored as a sorted, de-duplicated tuple.
    backend : {"jieba", "rjieba"}, default="jieba"
        ``"jieba"`` is the reference segmenter. ``"rjieba"`` (a binding of
        jieba-rs, a dependency) segments with jieba's stock dictionary and
        the frequencies jieba gives the user words, about ten times faster;
        with the HMM off its output equals jieba's except where two
        segmentations score the same but for floating-point rounding (in
        ``华华华庭里面制冷…`` jieba cuts ``华/华华``, rjieba ``华华/华``;
        about one text in 4,000 to 9,000). Models trained by
        :func:`sujian_router.train` use it; a model always keeps the backend
        it was trained with.
    stopwords : iterable of str, default=DEFAULT_STOPWORDS
        Tokens dropped from the output.
    hmm : bool, default=False
        Use jieba's HMM for unknown words. Off by default: it is slower and
        its guesses vary with context, which adds vocabulary noise.

    Notes
    -----
    The input must already be prepared (:func:`sujian_router._text.prepare_text`).
    The segmenter is built lazily on first call, once per instance, under a lock;
    it writes jieba's dictionary cache to a private per-user directory
    (checked for owner and permissions), not to jieba's shared ``jieba.cache``. The
    parsed stock dictionary is kept once per process and copied into each
    new instance, which then adds its own user words to its copy. While
    the segmenter is built, the level of the ``"jieba"`` logger is raised to
    WARNING so that jieba's "Building prefix dict" messages (which jieba prints
    to stderr through its own handler) stay silent; the previous level is
    restored afterwards. No other logging configuration is changed.

    Examples
    --------
    >>> tok = Tokenizer(user_words=["广场舞"])
    >>> tok("楼下广场舞噪音扰民, 太吵了!")
    ['楼下', '广场舞', '噪音', '扰民', '太', '吵']
    >>> import pickle
    >>> pickle.loads(pickle.dumps(tok)) == tok
    True
    """

    def __init__(self, user_words=DEFAULT_USER_WORDS, *, backend="jieba",
                 stopwords=DEFAULT_STOPWORDS, hmm=False):
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {list(_BACKENDS)}, got {backend!r}")
        words = []
        for w in user_words or ():
            w = str(w).strip()
            if w and not any(c.isspace() for c in w):
                words.append(w)
        self.user_words = tuple(sorted(set(words)))
        self.backend = backend
        self.stopwords = tuple(sorted(set(stopwords or ())))
        self.hmm = bool(hmm)
        self._segmenter = None
        self._lock = None

    # -- parameters -------------------------------------------------------------
    def to_dict(self) -> dict:
        """Return the constructor parameters (JSON-able).

        Examples
        --------
        >>> Tokenizer(user_words=["a"], stopwords=[]).to_dict()["user_words"]
        ['a']
        """
        return {
            "user_words": list(self.user_words),
            "backend": self.backend,
            "stopwords": list(self.stopwords),
            "hmm": self.hmm,
        }

    def __eq__(self, other):
        return isinstance(other, Tokenizer) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash((self.user_words, self.backend, self.stopwords, self.hmm))

    def __repr__(self):
        return (f"Tokenizer(<{len(self.user_words)} user words>, backend={self.backend!r}, "
                f"<{len(self.stopwords)} stopwords>, hmm={self.hmm})")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_segmenter"] = None
        state["_lock"] = None
        state.pop("_drop_cache", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    # -- segmentation -----------------------------------------------------------
    def _build(self):
        hmm = self.hmm
        if self.backend == "jieba":
            jieba_seg, _ = self._build_jieba()
            return lambda text: jieba_seg.lcut(text, HMM=hmm)
        try:
            import rjieba
        except ImportError as exc:  # a core dependency: only a broken install gets here
            raise ImportError("Tokenizer(backend='rjieba') needs the rjieba package: pip install rjieba") from exc
        # rjieba ships jieba's stock dictionary; give it jieba's frequency for each
        # user word. Where a user word was already in the dictionary, jieba adds the
        # new frequency to its total while rjieba replaces the old one: a padding
        # entry that no prepared text can contain keeps the two totals equal, so
        # both choose the same segmentation (with the HMM off).
        seg = rjieba.Jieba()
        replaced = 0
        for word, (freq, old) in zip(self.user_words, self._user_word_frequencies()):
            seg.add_word(word.lower(), freq, None)
            replaced += old
        if replaced:
            seg.add_word(_TOTAL_PAD, replaced, None)
        return lambda text: seg.cut(text, hmm)

    def _user_word_frequencies(self):
        """``(frequency, previous frequency)`` jieba gives each of ``user_words``, in order.

        Computed once with jieba (which takes about 1.5 s: its dictionary is
        loaded) and kept on the instance, so it pickles with it and saved
        models store it (``TextClassifier.to_state``): a loaded model builds
        its rjieba segmenter without jieba, with the frequencies it was
        trained with.
        """
        freqs = self.__dict__.get("_frequencies")
        if freqs is None or len(freqs) != len(self.user_words):
            _, added = self._build_jieba()
            freqs = self._frequencies = tuple((freq, old) for _, freq, old in added)
        return freqs

    def _build_jieba(self):
        """A private ``jieba.Tokenizer`` with the user words, and ``(word, freq, old_freq)`` per word added."""
        import jieba

        logger = logging.getLogger("jieba")
        added = []
        with _BUILD_LOCK:
            old_level = logger.level
            logger.setLevel(logging.WARNING)
            try:
                seg = jieba.Tokenizer()
                seg.tmp_dir = _private_cache_dir()
                base = _BASE_DICT.get("jieba")
                if base is None:
                    seg.initialize()
                    base = _BASE_DICT["jieba"] = (dict(seg.FREQ), seg.total)
                # each instance gets its own copy of the stock dictionary (a dict
                # copy takes milliseconds; parsing the cache takes about a second)
                seg.FREQ, seg.total = dict(base[0]), base[1]
                seg.initialized = True
                for w in self.user_words:
                    w = w.lower()
                    old = seg.FREQ.get(w, 0)
                    seg.add_word(w)  # jieba picks the frequency that keeps the word whole
                    added.append((w, seg.FREQ[w], old))
            finally:
                logger.setLevel(old_level)
        return seg, added

    def _get_segmenter(self):
        seg = self._segmenter
        if seg is not None:
            return seg
        if self._lock is None:
            with _BUILD_LOCK:
                if self._lock is None:
                    self._lock = threading.Lock()
        with self._lock:
            if self._segmenter is None:
                self._segmenter = self._build()
            return self._segmenter

    def __call__(self, text: str) -> list[str]:
        """Segment prepared text into tokens.

        The text is lower-cased and every run of whitespace, punctuation and
        symbols becomes one space before segmentation (so the placeholders
        become ``phonemask`` and so on); spaces and stopwords are dropped.

        Parameters
        ----------
        text : str
            Prepared text.

        Returns
        -------
        list of str
        """
        if not text:
            return []
        seg = self._get_segmenter()
        drop = self._dropset()
        return [t for t in seg(_JUNK.sub(" ", text.lower())) if t not in drop]

    def _dropset(self):
        s = self.__dict__.get("_drop_cache")
        if s is None:
            s = frozenset(self.stopwords) | {" ", ""}
            self.__dict__["_drop_cache"] = s
        return s
