"""Where a shopper's question is about: provinces, big cities (read as their province), Hong Kong /
Macau / Taiwan and foreign countries, and the words that stand for a whole class of them.

Used by ``specifics`` (a question naming a place the FAQ entry does not name goes to the model)
and by FAQ retrieval, which reads a city as its province ("乌鲁木齐能发吗" is a question about
新疆). Names that are also everyday words in a shop's chat are left out on purpose: 开封 ("opened
the package"), 大同, 中山.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAINLAND = "大陆"  # class: every mainland province
GREATER_CHINA = "港澳台"  # class: Hong Kong, Macau, Taiwan
ABROAD = "海外"  # class: every foreign country

_PROVINCE_CITIES: dict[str, str] = {
    "北京": "", "天津": "", "上海": "", "重庆": "",
    "河北": "石家庄 唐山 保定 邯郸 廊坊 秦皇岛",
    "山西": "太原",
    "辽宁": "沈阳 大连 鞍山",
    "吉林": "长春",
    "黑龙江": "哈尔滨 大庆 齐齐哈尔",
    "江苏": "南京 苏州 无锡 常州 南通 徐州 扬州 镇江 昆山",
    "浙江": "杭州 宁波 温州 绍兴 嘉兴 金华 义乌 湖州 台州",
    "安徽": "合肥 芜湖",
    "福建": "福州 厦门 泉州",
    "江西": "南昌 赣州",
    "山东": "济南 青岛 烟台 潍坊 临沂",
    "河南": "郑州 洛阳",
    "湖北": "武汉 宜昌 襄阳",
    "湖南": "长沙 株洲",
    "广东": "广州 深圳 东莞 佛山 珠海 惠州 汕头",
    "海南": "海口 三亚",
    "四川": "成都 绵阳",
    "贵州": "贵阳",
    "云南": "昆明 大理 丽江",
    "陕西": "西安",
    "甘肃": "兰州",
    "青海": "西宁",
    "内蒙古": "呼和浩特 包头",
    "广西": "南宁 桂林",
    "西藏": "拉萨 日喀则",
    "宁夏": "银川",
    "新疆": "乌鲁木齐 喀什 伊犁 克拉玛依",
}
_GREATER_CHINA = ("香港", "澳门", "台湾")
_FOREIGN = ("美国 日本 韩国 英国 法国 德国 意大利 西班牙 荷兰 俄罗斯 加拿大 澳大利亚 澳洲 新西兰 新加坡 马来西亚 "
            "泰国 越南 菲律宾 印尼 迪拜 欧洲 北美 东南亚").split()
# words that name a whole class of places (an FAQ entry naming one covers every member)
_CLASS_WORDS = {"全国": MAINLAND, "大陆": MAINLAND, "国内": MAINLAND, "港澳台": GREATER_CHINA,
                "海外": ABROAD, "国外": ABROAD, "境外": ABROAD, "外国": ABROAD, "国际": ABROAD}
_GROUPS = {"江浙沪": ("江苏", "浙江", "上海"), "京津冀": ("北京", "天津", "河北"), "东三省": ("辽宁", "吉林", "黑龙江")}


@dataclass(frozen=True)
class Place:
    name: str  # as written: "乌鲁木齐"
    region: str  # the province ("新疆"), "香港"/"澳门"/"台湾", or the country ("美国")
    kind: str  # "mainland" | "greater_china" | "abroad"

    @property
    def classes(self) -> tuple[str, ...]:
        """The class words that include this place."""
        return {"mainland": (MAINLAND,), "greater_china": (GREATER_CHINA,), "abroad": (ABROAD,)}[self.kind]


def _table() -> dict[str, tuple[Place, ...]]:
    table: dict[str, tuple[Place, ...]] = {}
    for province, cities in _PROVINCE_CITIES.items():
        table[province] = (Place(province, province, "mainland"),)
        for city in cities.split():
            table[city] = (Place(city, province, "mainland"),)
    for name in _GREATER_CHINA:
        table[name] = (Place(name, name, "greater_china"),)
    for name in _FOREIGN:
        table[name] = (Place(name, name, "abroad"),)
    for group, provinces in _GROUPS.items():
        table[group] = tuple(Place(group, p, "mainland") for p in provinces)
    return table


_TABLE = _table()
_NAME_RE = re.compile("|".join(sorted(map(re.escape, [*_TABLE, *_CLASS_WORDS]), key=len, reverse=True)))


def find_places(text: str) -> tuple[list[Place], set[str]]:
    """The places ``text`` names, and the class words it uses (``MAINLAND``, ``GREATER_CHINA``,
    ``ABROAD``). Longest names first, so "内蒙古" is not read as anything shorter."""
    places: list[Place] = []
    classes: set[str] = set()
    for m in _NAME_RE.finditer(text):
        name = m.group(0)
        if name in _CLASS_WORDS:
            classes.add(_CLASS_WORDS[name])
        else:
            places.extend(_TABLE[name])
    return places, classes


def as_regions(text: str) -> str:
    """``text`` with each city written as its province and each foreign country as 海外, so
    retrieval reads "乌鲁木齐能发吗" as the question about 新疆 the FAQ answers."""
    def region(m: re.Match[str]) -> str:
        name = m.group(0)
        places = _TABLE.get(name)
        if not places or name in _GROUPS:
            return name
        p = places[0]
        return p.region if p.kind == "mainland" else (ABROAD if p.kind == "abroad" else name)

    return _NAME_RE.sub(region, text)
