"""Specific questions: a place, a size, stock, an amount, a date or a product the FAQ entry does not name.

An FAQ answer is written for the general question. Asked about one case, it can be wrong in its
first word: "卫衣L发顺丰到新疆" got "可以。下单时选择顺丰加急…" (顺丰 does not go to 新疆), and a
shopper whose return window closed yesterday asked "羽绒服还能无理由退吗" and got "支持。…". Such
questions go to the model, which has the tools (order dates, stock, sizes, amounts) and the policy.

So the fast path answers only when every specific the question names is also named by the entry
it matched — by its question, another phrasing or a tag. "新疆能发货吗" names 新疆, and so does
faq-005 ("新疆西藏能发货吗"): answered. "寄到广州几天到" names 广州 (广东), which faq-004 does not:
the model answers. An entry that names a whole class covers its members: 全国/大陆/国内 every
mainland province, 港澳台 Hong Kong, Macau and Taiwan, 海外/国外 every foreign country, and
衣服/商品/服装 every product. A shop that wants "寄到北京要几天" answered from the FAQ adds it as
a phrasing of the entry.

Kinds (``Specific.kind``): ``place`` (province, city read as its province, country), ``size``
(S/M/L/XL…, 38码, 165cm, 55kg), ``stock`` (有货吗, 有库存吗), ``amount`` (money: 250块, ¥99,
满300, 300减50), ``date`` (11月10日, 10号, 昨天, 上周五, 双十一), ``product`` (garments and
colours: 羽绒服, 黑色). Durations (7天, 48小时) are not specifics: they are how policies are
written. Every rule is digit-safe (core/keywords.py): nothing is read inside an order number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from core.keywords import keyword_regex
from core.knowledge.places import find_places
from core.knowledge.tokenize import Synonyms, normalize_text

_SIZE_LETTER_RE = re.compile(r"(?<![a-z])(xxxl|xxl|[2-5]xl|xl|xs|s|m|l)(?![a-z])")
_SIZE_NUMBER_RE = keyword_regex(r"(\d{2})\s*码")
_MEASURE_RE = keyword_regex(r"(\d{2,3}(?:\.\d)?)\s*(cm|厘米|公分|kg|公斤|斤)|1米(\d{1,2})|(?:身高|体重)\s*(\d{2,3})")
_STOCK_RE = re.compile(
    r"(?:还|现在)?有(?:没有)?(?:货|库存|现货)(?:吗|么|嘛|不|没|呀|啊|呢)|有没有(?:货|库存|现货)"
    r"|(?:货|库存)(?:还有|够)(?:吗|么|没|不)|还能买(?:到)?吗"
)
_AMOUNT_RE = keyword_regex(
    r"满?\s*(\d+)\s*减\s*(\d+)|[¥$]\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*(?:元|块|rmb|人民币)|满\s*(\d+)"
)
_DATE_RE = keyword_regex(
    r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?|(?<!月)(?<!\d)([12]?\d|3[01])\s*号(?!码)"
    r"|昨天|前天|大前天|前几天|明天|后天|大后天|上个?月|去年"
    r"|(?:上|下|这)个?(?:周|星期|礼拜)[一二三四五六日天]?|(?:周|星期|礼拜)[一二三四五六日天]"
    r"|双十一|双十二|双11|双12|618|元旦|国庆|中秋|情人节|圣诞"
)
_PRODUCTS = (
    "羽绒服 羽绒 卫衣 t恤 短袖 长袖 衬衫 衬衣 外套 夹克 风衣 大衣 棉服 棉衣 毛衣 针织衫 开衫 羊毛衫 羊绒衫 打底衫 "
    "背心 马甲 西装 polo衫 裤子 牛仔裤 休闲裤 运动裤 阔腿裤 短裤 裙子 连衣裙 半身裙 短裙 长裙 睡衣 家居服 "
    "内衣 文胸 胸罩 内裤 袜子 帽子 围巾 手套 鞋子 鞋 "
    "黑色 白色 红色 蓝色 灰色 粉色 绿色 黄色 紫色 棕色 咖啡色 卡其色 米色 杏色 藏青色"
).split()
_PRODUCT_RE = re.compile("|".join(sorted(map(re.escape, _PRODUCTS), key=len, reverse=True)))
# an entry naming one of these answers for every product
_ALL_PRODUCTS_RE = re.compile(r"衣服|服装|衣物|商品|所有|任何|全部")
_NUMBER_RE = keyword_regex(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Specific:
    kind: str  # "place" | "size" | "stock" | "amount" | "date" | "product"
    value: str  # what coverage compares: "新疆" (a city's province), "xl", "165cm", "250", "昨天"
    text: str  # as written in the question

    def __str__(self) -> str:
        return f"{self.kind}:{self.text}"


def _number(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def find_specifics(text: str, synonyms: Synonyms | None = None) -> tuple[Specific, ...]:
    """The specifics a question names, in a stable order (kind, then position)."""
    norm = normalize_text(text)
    found: list[Specific] = []
    places, _ = find_places(norm)
    found += [Specific("place", p.region, p.name) for p in places]
    found += [Specific("size", m.group(1), m.group(0)) for m in _SIZE_LETTER_RE.finditer(norm)]
    found += [Specific("size", m.group(1), m.group(0)) for m in _SIZE_NUMBER_RE.finditer(norm)]
    for m in _MEASURE_RE.finditer(norm):
        number = m.group(1) or m.group(3) or m.group(4)
        unit = {"厘米": "cm", "公分": "cm", "公斤": "kg"}.get(m.group(2) or "", m.group(2) or "")
        found.append(Specific("size", _number(number) + unit, m.group(0)))
    found += [Specific("stock", "stock", m.group(0)) for m in _STOCK_RE.finditer(norm)]
    for m in _AMOUNT_RE.finditer(norm):
        found += [Specific("amount", _number(g), m.group(0)) for g in m.groups() if g]
    found += [Specific("date", re.sub(r"\s+", "", m.group(0)), m.group(0)) for m in _DATE_RE.finditer(norm)]
    fold = synonyms.fold if synonyms is not None else (lambda w: w)
    found += [Specific("product", fold(m.group(0)), m.group(0)) for m in _PRODUCT_RE.finditer(norm)]
    return tuple(dict.fromkeys(found))  # repeated mentions count once


@dataclass(frozen=True)
class Coverage:
    """What one FAQ entry names (its question, other phrasings and tags), against which a
    question's specifics are checked."""

    values: frozenset[tuple[str, str]] = frozenset()
    numbers: frozenset[str] = frozenset()
    place_classes: frozenset[str] = frozenset()
    all_products: bool = False

    @classmethod
    def of(cls, texts: Iterable[str], synonyms: Synonyms | None = None) -> "Coverage":
        values: set[tuple[str, str]] = set()
        numbers: set[str] = set()
        classes: set[str] = set()
        all_products = False
        for text in texts:
            norm = normalize_text(text)
            values |= {(s.kind, s.value) for s in find_specifics(text, synonyms)}
            numbers |= {_number(m.group(0)) for m in _NUMBER_RE.finditer(norm)}
            classes |= find_places(norm)[1]
            all_products = all_products or bool(_ALL_PRODUCTS_RE.search(norm))
        return cls(frozenset(values), frozenset(numbers), frozenset(classes), all_products)

    def covers(self, s: Specific) -> bool:
        if (s.kind, s.value) in self.values:
            return True
        if s.kind == "place":
            places, _ = find_places(s.text)
            return any(c in self.place_classes for p in places for c in p.classes)
        if s.kind == "product":
            return self.all_products
        if s.kind in ("amount", "size"):
            return s.value in self.numbers
        return False

    def missing(self, specifics: Iterable[Specific]) -> tuple[Specific, ...]:
        """The specifics this entry does not name: when any is left, the entry's answer is not the
        answer to this question."""
        return tuple(s for s in specifics if not self.covers(s))
