"""Product search for a small catalogue: substring and character-bigram matching on name,
category and material, with a few clothing synonyms. Chinese queries have no spaces ("女款毛衣"
must find "女款羊毛混纺圆领毛衣"), so whole-token matching alone is not enough."""

from __future__ import annotations

import re

from core.shop.models import Product

MAX_RESULTS = 8

_STOP = ("有没有", "有吗", "请问", "推荐", "一下", "一件", "一条", "想买", "想要", "我要", "帮我",
         "看看", "什么", "哪些", "有", "吗", "呢", "的", "买", "找")
_SYNONYMS = {
    "毛衣": ("毛衣", "针织", "开衫"),
    "针织衫": ("针织", "开衫", "毛衣"),
    "外套": ("外套", "大衣", "羽绒服"),
    "羽绒": ("羽绒",),
    "裤子": ("裤",),
    "裙子": ("裙",),
    "帽子": ("帽",),
    "包包": ("包",),
    "袜子": ("袜",),
    "t恤": ("t恤",),
    "衬衣": ("衬衫",),
    "女装": ("女款", "女装"),
    "男装": ("男款", "男装"),
    "特价": ("清仓",),
    "打折": ("清仓",),
    "内衣": ("内衣", "文胸", "内裤"),
}
_SPLIT = re.compile(r"[\s,，。、;；/|+!！?？：:（）()]+")


def _haystack(p: Product) -> str:
    tags = (" 清仓 特价" if p.clearance else "") + (" 预售" if p.presale else "")
    return f"{p.id} {p.name} {p.category} {p.material}{tags}".lower()


def _tokens(query: str) -> list[str]:
    text = query.lower()
    for word in _STOP:
        text = text.replace(word, " ")
    return [t for t in _SPLIT.split(text) if t]


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def _token_score(token: str, hay: str) -> float:
    if token in hay:
        return 3.0 * len(token)
    for syn in _SYNONYMS.get(token, ()):
        if syn in hay:
            return 2.0 * len(token)
    grams = _bigrams(token)
    if not grams:
        return 0.0
    hits = sum(1 for g in grams if g in hay)
    return float(hits) if hits * 2 >= len(grams) else 0.0


def search(products: list[Product], query: str, size: str | None = None) -> list[Product]:
    """Products matching ``query`` (best first, at most MAX_RESULTS); with ``size``, only products
    sold in that size. An empty query lists the catalogue (filtered by size)."""
    tokens = _tokens(query or "")
    scored: list[tuple[float, int, Product]] = []
    for index, p in enumerate(products):
        if size and size.upper() not in {s.upper() for s in p.sizes}:
            continue
        hay = _haystack(p)
        score = sum(_token_score(t, hay) for t in tokens) if tokens else 1.0
        if score > 0:
            scored.append((score, index, p))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [p for _, _, p in scored[:MAX_RESULTS]]
