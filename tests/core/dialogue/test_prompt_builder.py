"""The system prompt: persona and rules from the packaged template, the shop policy, numbered
knowledge references when given, and today's date from the injected clock."""

from __future__ import annotations

from datetime import datetime

from bot.config import demo_config
from core.clock import SHOP_TZ, FixedClock
from core.dialogue.prompt import PromptBuilder, load_template
from core.llm.base import ChatMessage


def test_template_is_shipped_in_the_package_with_the_rules():
    t = load_template()
    for rule in ("悦衣坊", "简体中文", "纯文本", "Markdown", "绝不编造", "订单号", "确认", "人工客服"):
        assert rule in t, rule
    assert "${policy}" in t and "${now}" in t and "${references}" in t


def test_prompt_has_policy_date_and_no_placeholders(fixed_clock):
    cfg = demo_config()
    prompt = PromptBuilder.from_config(cfg, fixed_clock).system_prompt()
    assert "2026年11月24日（星期二）10:30" in prompt
    assert "7天无理由退货" in prompt and "售后地址" in prompt  # examples/shop/policy.md
    assert "$" not in prompt and "参考资料" not in prompt


def test_references_are_included_when_given(fixed_clock):
    b = PromptBuilder("政策正文", fixed_clock)
    prompt = b.system_prompt(references="[1] 现货16:00前付款当天发货。\n[2] 默认中通快递。")
    assert "《参考资料》" in prompt
    assert prompt.index("[1] 现货16:00前付款当天发货。") < prompt.index("[2] 默认中通快递。")


def test_date_follows_the_clock():
    clock = FixedClock(datetime(2026, 12, 31, 23, 5, tzinfo=SHOP_TZ))
    assert "2026年12月31日（星期四）23:05" in PromptBuilder("p", clock).system_prompt()
    clock.advance(3600)
    assert "2027年1月1日（星期五）00:05" in PromptBuilder("p", clock).system_prompt()


def test_build_orders_system_history_user(fixed_clock):
    history = [ChatMessage("user", "你好"), ChatMessage("assistant", "您好")]
    msgs = PromptBuilder("p", fixed_clock).build(history, "运费多少", references="[1] 满199包邮")
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[-1].content == "运费多少" and "[1] 满199包邮" in msgs[0].content


def test_policy_text_with_dollar_signs_is_kept_verbatim(fixed_clock):
    prompt = PromptBuilder("价格 $100 与 ${x}", fixed_clock, template="${policy}|${now}").system_prompt()
    assert prompt.startswith("价格 $100 与 ${x}|2026年")
