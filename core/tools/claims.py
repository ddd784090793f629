"""Model text that says a write has been done. Only kefu's code performs writes — after the
shopper's explicit confirmation, in a turn the model takes no part in — so a model paragraph such
as "好的，已为您办理退货" is always false, and is not sent.

Two strengths, to stay conservative without hiding honest status reports:

* a *claim by the bot*: the bot as the doer ("已为您办理", "帮您提交了", "我已经取消", "为您取消成功").
  The model never does a write, so this is withheld in every turn.
* a *bare result*: "申请已提交", "订单已取消", "退款成功". The same words report the status of an
  order read from a tool ("您的退货申请已提交，正在审核"), so this is withheld only in a turn that
  looked at no customer data — then the model has nothing to report and is inventing it.

What the shopper gets instead is decided by the dialogue manager: the summary of the write that is
waiting (written by code), or a sentence saying nothing was submitted.

The same holds inside kefu's own summaries: the one thing in them the model chose — the shopper's
reason, as the model wrote it into ``description`` / ``reason`` — goes through ``shopper_words``
so a summary can never say "已提交，无需确认".
"""

from __future__ import annotations

import re

from core.masking import mask_text

NOTHING_SUBMITTED_TEXT = ("说明：目前还没有为您提交任何退货、换货或取消订单的申请。需要办理的话，请告诉我订单号和商品，"
                          "我会先把申请内容发给您，您回复「确认」后才会提交。")

_AGENT = r"(?:为您|帮您|给您|替您|为你|帮你|给你|替你)"
_WRITE = r"(?:提交|办理|申请|取消|撤销|退货|退款|退掉|退了|换货|换成|换好|更换|调换|修改|改成|改好|改为|受理|处理好|处理了)"
_DONE = r"(?:了|成功|完成|完毕|好了)"
_BY_THE_BOT = re.compile("|".join((
    rf"(?:已经?|现已|均已|都已){_AGENT}(?:成功)?{_WRITE}",  # 已为您办理, 已经帮您成功提交
    rf"{_AGENT}(?:成功)?{_WRITE}{_DONE}",  # 帮您提交了, 为您取消成功
    rf"我(?:这边)?(?:已经?|都已){_AGENT}?(?:成功)?{_WRITE}",  # 我已提交, 我已经为您取消
)))
_BARE_RESULT = re.compile("|".join((
    r"(?:申请|订单|退货|换货|退款|售后|取消)(?:单)?(?:已经?|已被|都已)(?:成功)?(?:提交|取消|受理|办理|撤销|生效)",
    r"(?:提交|办理|取消|退货|换货|退款|申请)(?:已)?(?:成功|完成|完毕)(?!后)",
)))


def claims_write_done(paragraph: str, *, looked_up_data: bool) -> bool:
    """True if ``paragraph`` says a write is already done (see the module docstring);
    ``looked_up_data``: a tool read customer data in this turn, so bare results may be reports."""
    text = re.sub(r"\s+", "", paragraph)
    if _BY_THE_BOT.search(text):
        return True
    return not looked_up_data and bool(_BARE_RESULT.search(text))


# A reason that talks about confirming or submitting is an instruction, not the shopper's reason.
_CONFIRM_TALK = re.compile(r"确认|回复|无需|跳过|授权|同意|提交|办理|生效")


def shopper_words(text: str, *, limit: int = 100) -> str:
    """The shopper's reason as the model wrote it, fit to quote in kefu's summary and to record:
    masked, on one line, clipped to ``limit`` characters; "" when it claims a write or talks about
    confirming (the facts of a write and its question are kefu's alone)."""
    words = " ".join(mask_text(text or "").split())[:limit]
    if claims_write_done(words, looked_up_data=False) or _CONFIRM_TALK.search(words):
        return ""
    return words
