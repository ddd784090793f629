"""Chinese tokenisation for retrieval: jieba words, shop synonyms folded to one form, fillers dropped.

jieba prints to stderr and spends about a second building its prefix dictionary, so one segmenter
is created lazily per process (thread-safe), its logger is set to WARNING, and its dictionary cache
lives in a kefu-specific temp directory so later processes load it in a fraction of that time.
That directory's name is predictable (``$TMPDIR/kefu-jieba-<uid>``) and jieba trusts what it finds
there, so it must be ours alone: created with mode 0700, and refused — with a log line, and a fresh
private directory for this process instead — when it is not a real directory, not owned by us, or
open to group or others (``jieba_cache_dir``). Shop
words (every word of the synonym list, FAQ tags) are taught to the segmenter, because the default
dictionary splits terms such as 折后价 or 顺丰加急 into meaningless pieces.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import structlog

log = structlog.get_logger(__name__)

_LOCK = threading.Lock()
_SEGMENTER = None  # jieba.Tokenizer, created on first use
_ADDED_WORDS: set[str] = set()

# Particles, pronouns and politeness that say nothing about *which* question is asked.
STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 哦 嘛 么 啦 哈 呗 喔 噢 哟 是 我 你 您 我们 你们 咱们 他 她 它 这 那 这个 那个 这样 "
    "请问 请 问 问下 问一下 想问 想问下 想 一下 下 亲 亲亲 在 和 与 及 或 或者 也 都 就 要 会 能 能不能 可以 "
    "可不可以 可 怎么 怎么样 如何 怎样 咋 咋办 怎么办 什么 啥 哪 哪里 哪儿 哪个 一 个 有 有没有 还 还是 呃 嗯 "
    "好 的话 你好 您好 谢谢 麻烦 给 被 把 让 对 吧 得 地 着 过 又 再 很 太 想要 需要 应该 是不是 是否 可否 "
    "支持 知道 告诉 说 如果 然后 那么 因为 所以 但是 而且 其他 到底 一般 现在 客服 店铺 你家 贵店 本店 "
    "呢 哈哈 嘿 喂 哎 诶 行 行不行 不行 衣服 衣物 东西 商品 宝贝 产品 款式 件衣服".split()
)
_NUMERAL = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER_RE = re.compile(r"([一二两三四五六七八九十]{1,3})(?=[天日个件张元块号分点码年月岁])")


def _cn_to_int(text: str) -> int | None:
    if "十" not in text:
        return _NUMERAL[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    t = _NUMERAL.get(tens, 0) if tens else 1
    o = _NUMERAL.get(ones, 0) if ones else 0
    return t * 10 + o if (not tens or tens in _NUMERAL) and (not ones or ones in _NUMERAL) else None


def normalize_text(text: str) -> str:
    """Full-width → half-width (NFKC), lower case, Chinese numerals before a counter → digits."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _CN_NUMBER_RE.sub(lambda m: str(v) if (v := _cn_to_int(m.group(1))) is not None else m.group(1), text)


def jieba_cache_dir(base: Path | None = None) -> Path:
    """``<base>/kefu-jieba-<uid>`` (base: the system temp dir) when it is a private directory of
    ours — created so if missing — else a new private directory for this process, removed at exit."""
    base = Path(tempfile.gettempdir()) if base is None else base
    if not hasattr(os, "getuid"):  # Windows: per-user temp directories, no modes to check
        path = base / "kefu-jieba"
        path.mkdir(exist_ok=True)
        return path
    path = base / f"kefu-jieba-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)  # the umask can only narrow 0700
    except FileExistsError:
        pass
    except OSError as exc:
        return _private_fallback(path, f"cannot create it ({exc.strerror})")
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):  # a symlink or a file somebody put there
        return _private_fallback(path, "not a directory")
    if st.st_uid != os.getuid():
        return _private_fallback(path, f"owned by uid {st.st_uid}")
    if st.st_mode & 0o077:
        return _private_fallback(path, f"mode {stat.S_IMODE(st.st_mode):04o} lets others in")
    return path


def _private_fallback(refused: Path, reason: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="kefu-jieba-"))  # 0700, ours, unpredictable name
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    log.warning("jieba.cache_dir_refused", path=str(refused), reason=reason, using=str(path))
    return path


def _segmenter() -> Any:  # jieba.Tokenizer (jieba has no type hints)
    global _SEGMENTER
    if _SEGMENTER is None:
        with _LOCK:
            if _SEGMENTER is None:
                import jieba

                logging.getLogger("jieba").setLevel(logging.WARNING)
                jieba.setLogLevel(logging.WARNING)
                seg = jieba.Tokenizer()
                seg.tmp_dir = str(jieba_cache_dir())
                seg.initialize()
                _SEGMENTER = seg
    return _SEGMENTER


def warm_up() -> None:
    """Load jieba now (start-up) instead of on the first customer message."""
    _segmenter()


def teach_words(words: Iterable[str]) -> None:
    """Make the segmenter keep these shop terms whole (idempotent; words accumulate per process)."""
    new = [w for w in (normalize_text(w).strip() for w in words) if len(w) > 1 and w not in _ADDED_WORDS]
    if not new:
        return
    seg = _segmenter()
    with _LOCK:
        for w in new:
            if w not in _ADDED_WORDS:
                seg.add_word(w, freq=max(seg.suggest_freq(w, tune=False), 2000))
                _ADDED_WORDS.add(w)


@dataclass(frozen=True)
class Synonyms:
    """word → canonical word. The first word of each line is the canonical form."""

    canonical: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "Synonyms":
        mapping: dict[str, str] = {}
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            words = [normalize_text(w).strip() for w in re.split(r"[\s/|,，、]+", line) if w.strip()]
            head = words[0]
            for w in words:
                mapping.setdefault(w, head)  # a word listed twice keeps its first group
        return cls(mapping)

    @classmethod
    def read(cls, path: Path) -> "Synonyms":
        return cls.parse(path.read_text(encoding="utf-8-sig"))

    @property
    def words(self) -> list[str]:
        return list(self.canonical)

    def fold(self, token: str) -> str:
        return self.canonical.get(token, token)


def _is_noise(token: str) -> bool:
    return all(unicodedata.category(c)[0] in "PZSC" for c in token)


def tokenize(text: str, synonyms: Synonyms | None = None) -> list[str]:
    """Tokens for BM25: segmented words, synonyms folded, stopwords and punctuation dropped."""
    seg = _segmenter()
    out: list[str] = []
    for raw in seg.cut(normalize_text(text), HMM=False):
        tok = raw.strip()
        if not tok or _is_noise(tok) or tok in STOPWORDS:
            continue
        if synonyms is not None:
            tok = synonyms.fold(tok)
        out.append(tok)
    return out
