"""The prompt: a system prompt that is the same for every shopper and every turn (persona, rules,
the shop policy), then the history, then this turn's context (date and time from the injected
clock, numbered knowledge references), then the shopper's message."""

from __future__ import annotations

from datetime import datetime

from bot.config import demo_config
from core.clock import FixedClock
from core.dialogue.prompt import TURN_CONTEXT_HEADER, PromptBuilder, load_template
from core.llm.base import ChatMessage
from tests.support import DEMO_TZ


def test_template_is_shipped_in_the_package_with_the_rules():
    t = load_template()
    for rule in ("悦衣坊", "简体中文", "纯文本", "Markdown", "绝不编造", "订单号", "确认", "人工客服"):
        assert rule in t, rule
    assert "${policy}" in t
    assert "${now}" not in t and "${references}" not in t  # per-turn parts stay out of the cached prefix


def test_system_prompt_has_the_policy_and_nothing_that_changes_per_turn(fixed_clock):
    cfg = demo_config()
    builder = PromptBuilder.from_config(cfg, fixed_clock)
    prompt = builder.system_prompt()
    assert "7天无理由退货" in prompt and "售后地址" in prompt  # examples/shop/policy.md
    assert "$" not in prompt and "参考资料》（" not in prompt and "2026年11月24日" not in prompt
    fixed_clock.advance(86400 + 61)
    assert builder.system_prompt() == prompt


def test_turn_context_has_the_time_and_the_references_in_order(fixed_clock):
    b = PromptBuilder("政策正文", fixed_clock, tz=DEMO_TZ)
    context = b.turn_context(references="[1] 现货16:00前付款当天发货。\n[2] 默认中通快递。")
    assert context.startswith(TURN_CONTEXT_HEADER)
    assert "2026年11月24日（星期二）10:30" in context and "《参考资料》" in context
    assert context.index("[1] 现货16:00前付款当天发货。") < context.index("[2] 默认中通快递。")
    assert "参考资料" not in b.turn_context(references="  ")


def test_date_follows_the_clock():
    clock = FixedClock(datetime(2026, 12, 31, 23, 5, tzinfo=DEMO_TZ))
    assert "2026年12月31日（星期四）23:05" in PromptBuilder("p", clock, tz=DEMO_TZ).turn_context()
    clock.advance(3600)
    assert "2027年1月1日（星期五）00:05" in PromptBuilder("p", clock, tz=DEMO_TZ).turn_context()


def test_build_orders_system_history_context_user(fixed_clock):
    history = [ChatMessage("user", "你好"), ChatMessage("assistant", "您好")]
    msgs = PromptBuilder("p", fixed_clock, tz=DEMO_TZ).build(history, "运费多少", references="[1] 满199包邮")
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user", "user"]
    assert msgs[1:3] == history
    assert msgs[-1].content == "运费多少" and "[1] 满199包邮" in msgs[-2].content
    assert "[1] 满199包邮" not in msgs[0].content


def test_two_turns_of_one_conversation_share_everything_before_the_new_context(fixed_clock):
    """What makes the model server's prefix cache hit: the second request starts with the first
    request's system prompt and history unchanged, although time moved and references differ."""
    b = PromptBuilder("政策正文", fixed_clock, tz=DEMO_TZ)
    first = b.build([], "运费多少", references="[1] 满199包邮")
    fixed_clock.advance(90)
    history = [first[-1], ChatMessage("assistant", "满199包邮。")]
    second = b.build(history, "新疆呢", references="[1] 新疆发EMS")
    assert second[0] == first[0] and second[1] == first[-1]
    assert second[-2] != first[-2]  # the context is new each turn, and is not part of the history


def test_policy_text_with_dollar_signs_is_kept_verbatim(fixed_clock):
    prompt = PromptBuilder("价格 $100 与 ${x}", fixed_clock, tz=DEMO_TZ, template="${policy}|${now}").system_prompt()
    assert prompt.startswith("价格 $100 与 ${x}|${now}")
