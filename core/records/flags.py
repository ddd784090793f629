"""What the console should point a person at: turns that did not really answer, and
conversations that need someone.

* **Non-answers** are replies that are not an answer to what was asked: the degraded-mode holding
  reply ("您的消息已记录，我们稍后回复您"), the passive-mode "正在思考中", the dialogue's wrap-up
  when it could not finish ("暂时没能查清楚"), the give-up after repeated failures, and the model
  saying it cannot tell ("暂时无法确定"). They are recognised by outcome and by wording — the
  model's own phrasing varies, so the wording list is a net, not a contract.
* **Needs attention**: a shopper waiting for a person, a turn that failed or was not delivered,
  or a non-answer. A person clears it by acting on the conversation (take over, reply, hand back,
  or "mark as handled").

Both are computed from an entry as ``core.records.entry`` stores it (masked text), so the
recorder, the console and tests agree on one definition.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

# The model's and our own ways of saying "I do not know / later": checked on the delivered text.
_UNSURE_RE = re.compile(
    r"暂时无法确定|无法确定|不太确定|没能查清楚|暂时没能|没能为您|没能处理|换个说法|"
    r"稍后回复您|正在思考中|系统正在繁忙|暂时无法回答|无法回答您"
)
# outcome -> reason, whatever the wording
_OUTCOME_REASONS = {"failed": "failed", "retry": "holding"}

NON_ANSWER_LABELS = {"holding": "暂未作答（稍后回复）", "unsure": "没有给出答案", "failed": "处理失败"}
ATTENTION_LABELS = {"handoff": "等待人工", "failed": "处理失败", "undelivered": "未送达", **NON_ANSWER_LABELS}


def non_answer(entry: Mapping[str, Any]) -> str | None:
    """``"holding"``, ``"unsure"``, ``"failed"`` or None for a turn entry."""
    if entry.get("role") != "turn":
        return None
    outcome = str(entry.get("outcome", ""))
    if outcome in _OUTCOME_REASONS:
        return _OUTCOME_REASONS[outcome]
    extra = entry.get("extra") or {}
    if outcome == "degraded" and (extra.get("kept") or extra.get("mode") == "kept"):
        return "holding"
    parts = (entry.get("delivery") or {}).get("parts") or []
    if any(_UNSURE_RE.search(str(p)) for p in parts):
        return "unsure"
    return None


def attention(entry: Mapping[str, Any]) -> str | None:
    """Why a person should look at this conversation after this entry (None: no reason)."""
    if entry.get("role") != "turn":
        return None
    outcome = str(entry.get("outcome", ""))
    if outcome == "handoff":
        return "handoff"
    if outcome == "undelivered":
        return "undelivered"
    return non_answer(entry)
