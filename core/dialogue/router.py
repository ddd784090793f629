"""Per-turn thinking router: should Qwen3 reason (``think=true``) before answering?

Thinking makes price calculations, comparisons and multi-step policy questions right, but costs
seconds; greetings, thanks and one-fact FAQ/order lookups need none of it. The decision is made
by regular expressions so it is instant, explainable in the log, and tunable by ops:

1. ``/think`` or ``/no_think`` in the message (Qwen3's own soft switches) win;
2. ``[router] no_think_patterns`` — narrow patterns, usually anchored to the whole message
   (greetings, thanks, a bare order number) — switch thinking off;
3. ``[router] think_patterns`` switch it on;
4. otherwise it stays off.

An empty list in the config means the built-in table below. Accuracy of the built-in table on
the labelled set ``tests/core/dialogue/router_set.jsonl`` is in ``docs/router.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import structlog

from core.config import RouterConfig

log = structlog.get_logger(__name__)

_END = r"\s*[!！。.~～?？,，]*\s*$"
_PARTICLES = r"[啊呀哈呢吧哦的了啦嘛]*"

DEFAULT_NO_THINK_PATTERNS: list[str] = [
    # chit-chat and acknowledgements, the whole message
    r"^\s*(你好|您好|hi|hello|哈喽|嗨|在吗|在不在|有人吗|谢谢|谢谢你|谢啦|多谢|感谢|好的|好|行|嗯+|哦+|ok|okay|收到|明白了?|知道了|拜拜|再见|早上好|晚上好)"
    + _PARTICLES + _END,
    # asking for a person / complaining, the whole message
    r"^\s*(人工|转人工|人工客服|找人工|投诉)" + _PARTICLES + _END,
    # a bare order number
    r"^\s*(订单号?[:：]?\s*)?\d{12,20}" + _END,
    r"^\s*(/reset|重新开始)" + _END,
]

DEFAULT_THINK_PATTERNS: list[str] = [
    # explicit calculations
    r"怎么算|如何算|算一下|帮我算|计算|合计|一共|总共|总价|到手|实付|折后|优惠后|能省|便宜多少|差多少|凑单",
    # coupons / discounts combined with a condition
    r"(券|满减|折扣|95折|会员价|会员折扣).{0,20}(叠加|一起用|同时|能用吗|能不能用|可以用吗|可不可以用|抵扣|多少)",
    r"叠加|一起用|同时用",
    # refund amounts
    r"(退|退款|退货|退回).{0,12}(多少钱|多少|金额|怎么算|扣)",
    # who pays shipping under which condition
    r"运费.{0,10}(谁出|谁承担|承担|退吗|退不退|补偿|报销)",
    # comparisons
    r"(哪个|哪款|哪件|哪种|选哪|还是).{0,12}(好|更|划算|适合|合适|值)|区别|对比|比较|差别|有什么不同",
    # conditional / multi-step policy questions
    r"如果|假如|要是|万一|的话",
    r"(超过|过了|已经).{0,6}(\d+|[一二三四五六七八九十两]+)\s*天|第\s*\d+\s*天",
    r"(穿过|洗过|下过水|剪了|吊牌|清仓|特价|内衣|内裤|文胸|袜子|定制|刻字|赠品).{0,15}(退|换)",
    r"(退|换).{0,10}(穿过|洗过|清仓|特价|内衣|袜子|定制|赠品)",
    # size advice needs the size table
    r"\d{2,3}\s*(cm|厘米|公分|kg|公斤|斤)|身高|体重|穿什么码|选什么码|什么尺码|多大码",
    # points and membership arithmetic
    r"积分.{0,10}(多少|几|怎么算|能换|够)|(升|升级).{0,6}(银卡|金卡)|还差",
    # several questions at once
    r"[?？].+[?？]",
]


@dataclass(frozen=True)
class RouteDecision:
    think: bool
    reason: str  # "soft_switch" | "no_think:<i>" | "think:<i>" | "default"


class ThinkingRouter:
    def __init__(self, think_patterns: list[str] | None = None, no_think_patterns: list[str] | None = None) -> None:
        self.think_patterns = list(think_patterns or DEFAULT_THINK_PATTERNS)
        self.no_think_patterns = list(no_think_patterns or DEFAULT_NO_THINK_PATTERNS)
        self._think = [re.compile(p, re.IGNORECASE) for p in self.think_patterns]
        self._no_think = [re.compile(p, re.IGNORECASE) for p in self.no_think_patterns]

    @classmethod
    def from_config(cls, router_cfg: RouterConfig) -> "ThinkingRouter":
        """``router_cfg`` is ``[router]`` (``core.config.RouterConfig``); empty lists = defaults."""
        return cls(router_cfg.think_patterns or None, router_cfg.no_think_patterns or None)

    def decide(self, text: str) -> RouteDecision:
        t = text or ""
        if "/no_think" in t:
            d = RouteDecision(False, "soft_switch")
        elif "/think" in t:
            d = RouteDecision(True, "soft_switch")
        else:
            d = self._match(t)
        log.info("router.decision", think=d.think, reason=d.reason, chars=len(t))
        return d

    def _match(self, t: str) -> RouteDecision:
        for i, rx in enumerate(self._no_think):
            if rx.search(t):
                return RouteDecision(False, f"no_think:{i}")
        for i, rx in enumerate(self._think):
            if rx.search(t):
                return RouteDecision(True, f"think:{i}")
        return RouteDecision(False, "default")


def validate_patterns(patterns: list[str], key: str) -> None:
    """Raise ``ValueError`` naming the first pattern that does not compile (for config checks)."""
    for i, p in enumerate(patterns):
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"{key}[{i}]: invalid regular expression ({exc})") from None
