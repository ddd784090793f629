"""The rules degraded mode reads a message with (no model, no shop): courtesy, own-order status
questions, plain return requests, and the policy's size chart."""

from __future__ import annotations

import pytest

from core.config import BUNDLED_SHOP_DIR
from core.dialogue.courtesy import BYE, GREETING, THANKS, courtesy_kind, strip_greeting
from core.dialogue.own_orders import ANY, REFUND, SHIPPING, UNPAID, UNSHIPPED, own_orders_focus, plain_return
from core.dialogue.size_chart import read_charts, size_advice

DEMO_POLICY = (BUNDLED_SHOP_DIR / "policy.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("text, kind", [
    ("你好", GREETING), ("在吗？", GREETING), ("亲 在不在", GREETING), ("Hello!", GREETING),
    ("谢谢", THANKS), ("好的谢谢～", THANKS), ("辛苦了", THANKS), ("OK", THANKS),
    ("拜拜", BYE), ("谢谢，再见", BYE),
    ("你好，我的快递到哪了", None), ("好的我想退货", None), ("你好吗", None), ("谢谢你们的大衣很好看", None),
])
def test_courtesy_is_only_a_whole_message_of_courtesy(text, kind):
    assert courtesy_kind(text) == kind


def test_a_greeting_in_front_is_taken_off_a_question():
    assert strip_greeting("您好，请问我的快递到哪了？") == "我的快递到哪了?"
    assert strip_greeting("运费多少") == "运费多少"


@pytest.mark.parametrize("text, focus", [
    ("我的订单", ANY), ("帮我查下我的订单", ANY),
    ("我的快递到哪了", SHIPPING), ("快递怎么还没到", SHIPPING), ("查一下我的物流", SHIPPING),
    ("哪个还没发货", UNSHIPPED), ("我买的东西发货了没", UNSHIPPED),
    ("退款到哪了", REFUND), ("我的退款什么时候到账", REFUND), ("退款进度怎么样了", REFUND),
    ("我还有没付款的订单吗", UNPAID),
    # not a status question about the shopper's orders
    ("退款几天能到账", None), ("怎么查订单物流", None), ("下单后几天能收到", None),
    ("我的订单能改地址吗", None), ("帮我取消订单", None), ("帮我催一下快递", None),
    ("订单2026110130007784到哪了", None),  # a number: the order summary answers it
])
def test_own_orders_focus(text, focus):
    assert own_orders_focus(text) == focus


@pytest.mark.parametrize("text, plain", [
    ("我想退货", True), ("我要退货", True), ("我想退个货", True), ("我买的围巾能退吗", True),
    ("裤子不想要了能退吗", True), ("羽绒服还能退吗", True),
    ("吊牌剪了还能退吗", False), ("我买了两件能只退一件吗", False), ("内衣可以退吗", False),
    ("大衣洗过了能退吗", False),
])
def test_a_plain_return_request_says_nothing_but_what_to_return(text, plain):
    names = ["羊绒格纹围巾", "男款休闲直筒裤", "男款连帽白鸭绒羽绒服", "女款双面呢大衣"]
    assert plain_return(text, names) is plain


@pytest.mark.parametrize("text, want", [
    ("165 55kg 穿什么码", ["女装建议L码", "男装建议M码"]),
    ("1米65 110斤穿多大", ["女装建议L码", "男装建议M码"]),
    ("女生163 52kg选什么码", ["女装建议M码"]),
    ("我175cm 70公斤，男装穿多大", ["男装建议XL码"]),
])
def test_sizes_from_the_demo_chart(text, want):
    advice = size_advice(text, DEMO_POLICY)
    assert advice is not None
    for part in want:
        assert part in advice.text()
    assert ("女装" in advice.text()) == any("女装" in w for w in want)


@pytest.mark.parametrize("text", [
    "175 180斤穿什么码",  # off both charts
    "165 55 穿什么码",  # a weight without its unit could be 斤 or kg
    "小孩130 25kg穿什么码",  # not this chart
    "我165cm 55kg 能退吗",  # height and weight in another question
])
def test_no_size_unless_it_is_deterministic(text):
    assert size_advice(text, DEMO_POLICY) is None


def test_the_chart_comes_from_the_policy_and_so_does_the_rule_between_sizes():
    chart = "## 尺码\n- 女装：S 155-159cm/45-50kg，M 160-164cm/51-56kg\n"
    assert read_charts(chart).take_larger is False
    # height says M, weight says S: without the policy's "选大一码" nobody may choose for the shopper
    assert size_advice("162 48kg 穿什么码", chart) is None
    assert size_advice("157 48kg 穿什么码", chart).text().count("S码") == 1
    larger = chart + "- 介于两码之间时选大一码。\n"
    assert "女装建议M码" in size_advice("162 48kg 穿什么码", larger).text()
    assert size_advice("165 55kg 穿什么码", "# 政策\n## 一、发货\n1. 当天发货。\n") is None  # no chart: no answer
