"""What one turn of the production handler (``bot.wiring.build_handler``) costs outside the model:
the knowledge index is scored once per question, the model's connection is kept from turn to turn,
and a turn answered by the model sends one Typing and no CancelTyping (the answer ended it).

Real Redis (the test's prefix), the fake Ollama and the fake WeChat API over real sockets.
"""

from __future__ import annotations

from collections import Counter

import pytest

from core.knowledge import skip_reason
from fakes import ollama as fo
from tests.core.turn_testkit import production_handler, say

ANSWER = "好的，这句祝福送给您的朋友：愿你被这个世界温柔以待。"


@pytest.fixture
async def handler(kefu_cfg, fixed_clock, ollama):
    ollama.rule(lambda body: fo.text(ANSWER, chunk_chars=8))
    async with production_handler(kefu_cfg(), fixed_clock) as h:
        yield h


async def test_a_turn_scores_each_knowledge_index_once(handler, fixed_clock, ollama):
    # the FAQ fast path and the prompt's references search the same question: one BM25 pass each
    question = "请帮我想一句送给朋友的祝福语"
    assert skip_reason(question) is None  # a general question: the fast path does search for it
    before = handler.kb.index_reads
    result = await say(handler, "oTurnKnowledge000000000001", question, fixed_clock)
    assert result.outcome == "llm" and result.replies == [ANSWER]
    assert handler.kb.index_reads - before == Counter({"faq": 1, "policy": 1})
    assert len(ollama.requests) == 1


async def test_turns_share_one_connection_to_the_model(handler, fixed_clock, ollama):
    for i in range(3):
        result = await say(handler, f"oTurnConnection00000000000{i}", f"请帮我想一句生日祝福，第{i}句", fixed_clock)
        assert result.outcome == "llm"
    assert len(ollama.chat_peers) == 3 and len(set(ollama.chat_peers)) == 1


async def test_an_answered_turn_needs_no_cancel_typing(handler, fixed_clock, ollama, wechat_api):
    ollama.latency_s = 0.3  # long enough for the indicator to show Typing while the model works
    user = "oTurnTyping000000000000001"
    result = await say(handler, user, "请帮我想一句送给老师的祝福语", fixed_clock)
    assert result.outcome == "llm"
    assert [e["command"] for e in wechat_api.typing_events(user)] == ["Typing"]  # the answer ended it
    assert [d["text"] for d in wechat_api.deliveries(user)] == [ANSWER]
