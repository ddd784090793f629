"""What each shopper turn costs on the model, and how much of each prompt a prefix cache can reuse.

    python benchmarks/prompt_cost.py [--gap-s 60] [--show-prompt]

Several shoppers talk to the production turn handler (``bot.wiring.build_handler``) at once, turn by
turn, on the demo shop; the model is the fake Ollama with the demo rule (``fakes/ollama_demo.py``),
which records every request it receives, and the WeChat API is the fake one. The shop clock moves
``--gap-s`` seconds between turns, as a shopper typing would.

For every model request the benchmark renders the prompt the way Ollama's Qwen3 template does
(ChatML: every ``system`` message is gathered into the first block together with the tools,
consecutive messages of the same role are merged) and prints, per turn:

* model calls per turn (a FAQ answer makes none, a tool round makes two);
* prompt tokens per call (approximate, ``core.sessions.tokens.estimate_tokens``);
* reuse: the share of the request's prompt bytes that are byte-identical to the previous request of
  the same conversation, from the start (what Ollama's and vLLM's prefix caches can skip).

and, across shoppers, how long a prefix every shopper's first request shares (the system prompt and
the tools should be one prefix for everybody). Aim: at least 90 % reusable, one shared prefix.
These are printed numbers, not a test: a real server's cache hit depends on its slots and memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import config  # noqa: E402
from bot.logs import configure_logging  # noqa: E402
from bot.services import open_services  # noqa: E402
from bot.wiring import build_handler  # noqa: E402
from core.clock import FixedClock  # noqa: E402
from core.config import LogConfig  # noqa: E402
from core.models import IncomingMessage, MsgKind, TurnContext  # noqa: E402
from core.sessions.tokens import estimate_tokens  # noqa: E402
from core.storage.connection import reset_memory  # noqa: E402
from fakes.ollama import FakeOllama  # noqa: E402
from fakes.ollama_demo import demo_rule  # noqa: E402
from fakes.wechat_api import FakeWeChatApi  # noqa: E402
from tests.support import DEMO_NOW  # noqa: E402

APP_ID, APP_SECRET = "wxbenchprompt0001", "bench-prompt-secret"
TARGET_REUSE = 0.90

# (shopper openid, name, what they type, turn by turn). Questions a real shop gets: orders without
# and with a number, tracking, policy questions the FAQ may or may not answer, thanks.
CONVERSATIONS: list[tuple[str, str, list[str]]] = [
    ("oTpRCwc3F5FmQiy3dWARW4XqtqZk", "刘洋", [
        "你好", "我的订单", "2026110130007784到哪了", "这件衬衫是什么面料的，可以机洗吗",
        "我想退掉订单2026111272425703里的围巾", "谢谢",
    ]),
    ("oWAFR7_U42fJAHS5lDtgJJgU5pdh", "林晓雯", [
        "在吗", "帮我看看我最近买的东西发货了没有", "2026112301596609什么时候能到",
        "金卡会员生日券怎么用", "可以开发票吗，要企业抬头", "好的谢谢",
    ]),
    ("oV3x_N7E90ME_bu-VS7pEhzxtpLB", "王芳", [
        "你好", "我的订单", "优惠券和会员折扣可以一起用吗", "新疆发顺丰吗", "羽绒服还有货吗", "谢谢",
    ]),
]


# -- rendering a request as the server sees it ------------------------------------------------
def _tool_block(tools: list[dict[str, Any]]) -> str:
    if not tools:
        return ""
    lines = "\n".join(json.dumps(t, ensure_ascii=False) for t in tools)
    return ("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
            f"{lines}\n</tools>\n\nFor each function call, return a json object with function name and "
            "arguments within <tool_call></tool_call> XML tags.")


def render_prompt(body: dict[str, Any]) -> str:
    """ChatML as Ollama renders Qwen3: all system messages first (joined), tools in that block,
    then the conversation with consecutive same-role messages merged, then the assistant cue."""
    messages = body.get("messages") or []
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    out = [f"<|im_start|>system\n{system}{_tool_block(body.get('tools') or [])}<|im_end|>\n"]
    merged: list[dict[str, Any]] = []
    for m in messages:
        if m.get("role") == "system":
            continue
        if merged and merged[-1]["role"] == m.get("role") and m.get("role") != "tool":
            merged[-1] = {**merged[-1], "content": f"{merged[-1]['content']}\n\n{m.get('content') or ''}"}
        else:
            merged.append({**m, "content": str(m.get("content") or "")})
    for m in merged:
        if m["role"] == "user":
            out.append(f"<|im_start|>user\n{m['content']}<|im_end|>\n")
        elif m["role"] == "assistant":
            calls = "".join("\n<tool_call>\n" + json.dumps({"name": c["function"]["name"],
                                                             "arguments": c["function"].get("arguments", {})},
                                                            ensure_ascii=False) + "\n</tool_call>"
                            for c in m.get("tool_calls") or [])
            out.append(f"<|im_start|>assistant\n{m['content']}{calls}<|im_end|>\n")
        elif m["role"] == "tool":
            out.append(f"<|im_start|>user\n<tool_response>\n{m['content']}\n</tool_response><|im_end|>\n")
    out.append("<|im_start|>assistant\n")
    return "".join(out)


def common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


# -- the run ------------------------------------------------------------------------------------
@dataclass
class Call:
    prompt: bytes
    tokens: int
    reused: float | None  # share of bytes shared with the previous request of the conversation


@dataclass
class TurnCost:
    shopper: str
    turn: int
    text: str
    outcome: str
    calls: list[Call] = field(default_factory=list)


def bench_config(api_url: str, ollama_url: str, store: str) -> config.Config:
    raw = {
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": "benchprompt",
                   "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "account_id": "gh_bench000001",
                   "api_base": api_url},
        "redis": {"url": store, "key_prefix": "kefubench:prompt:"},
        "llm": {"base_url": ollama_url, "warm_up": False, "timeout_s": 10.0},
        "safety": {"max_messages_per_minute": 1000},
        "shop": {"now": DEMO_NOW.isoformat()},
        "log": {"level": "WARNING", "format": "json"},
    }
    return config.from_mapping(raw, env={})


async def run(gap_s: float) -> tuple[list[TurnCost], dict[str, list[bytes]]]:
    clock = FixedClock(DEMO_NOW)
    store_name = f"prompt-cost-{uuid.uuid4().hex[:8]}"
    costs: list[TurnCost] = []
    prompts: dict[str, list[bytes]] = {}
    async with FakeOllama(rule=demo_rule) as ollama, FakeWeChatApi(app_id=APP_ID, app_secret=APP_SECRET,
                                                                     clock=clock) as api:
        cfg = bench_config(api.url, ollama.url, f"memory://{store_name}")
        try:
            async with open_services(cfg, clock=clock) as services:
                handler = await build_handler(services)
                try:
                    rounds = max(len(turns) for _, _, turns in CONVERSATIONS)
                    for n in range(rounds):
                        for openid, name, turns in CONVERSATIONS:
                            if n >= len(turns):
                                continue
                            api.user_messaged(openid)
                            before = len(ollama.requests)
                            msg = IncomingMessage(platform="wechat_oa", user_id=openid, account_id="gh_bench000001",
                                                  kind=MsgKind.TEXT, created_at=clock.now(),
                                                  msg_id=str(uuid.uuid4().int)[:19], text=turns[n])
                            ctx = TurnContext(turn_id=uuid.uuid4().hex, entry_id="0-1", seq=n + 1, attempt=1,
                                              received_at=clock.now())
                            result = await handler.handle(msg, ctx)
                            cost = TurnCost(name, n + 1, turns[n], result.outcome)
                            for body in ollama.requests[before:]:
                                prompt = render_prompt(body).encode()
                                previous = prompts.setdefault(name, [])
                                reused = common_prefix(previous[-1], prompt) / len(prompt) if previous else None
                                previous.append(prompt)
                                cost.calls.append(Call(prompt, estimate_tokens(prompt.decode()), reused))
                            costs.append(cost)
                        clock.advance(gap_s)
                finally:
                    await handler.aclose()  # type: ignore[attr-defined]
        finally:
            reset_memory(store_name)
    return costs, prompts


def report(costs: list[TurnCost], prompts: dict[str, list[bytes]]) -> None:
    print(f"{'shopper':<6} {'turn':>4} {'outcome':<12} {'calls':>5} {'tokens/call':>16} {'reused':>16}  message")
    for c in costs:
        tokens = "/".join(str(x.tokens) for x in c.calls) or "-"
        reused = "/".join("-" if x.reused is None else f"{x.reused * 100:.0f}%" for x in c.calls) or "-"
        print(f"{c.shopper:<6} {c.turn:>4} {c.outcome:<12} {len(c.calls):>5} {tokens:>16} {reused:>16}  {c.text}")
    calls = [x for c in costs for x in c.calls]
    later = [x.reused for x in calls if x.reused is not None]
    model_turns = [c for c in costs if c.calls]
    print()
    print(f"turns: {len(costs)}, model calls: {len(calls)} ({len(calls) / len(costs):.2f} per turn, "
          f"{len(calls) / max(1, len(model_turns)):.2f} per turn that used the model)")
    print(f"prompt tokens per call (approx.): mean {statistics.mean(x.tokens for x in calls):.0f}, "
          f"max {max(x.tokens for x in calls)}; per turn that used the model: "
          f"{statistics.mean(sum(x.tokens for x in c.calls) for c in model_turns):.0f}")
    if later:
        weighted = sum(x.reused * len(x.prompt) for x in calls if x.reused is not None) / sum(
            len(x.prompt) for x in calls if x.reused is not None)
        below = sum(1 for r in later if r < TARGET_REUSE)
        fresh = statistics.mean(x.tokens * (1 - x.reused) for x in calls if x.reused is not None)
        print(f"new (not reusable) prompt tokens per request after a conversation's first: about {fresh:.0f}")
        print(f"reusable from the previous request of the same conversation: mean {statistics.mean(later) * 100:.1f} %, "
              f"by bytes {weighted * 100:.1f} %, min {min(later) * 100:.1f} %; {below} of {len(later)} requests "
              f"below {TARGET_REUSE * 100:.0f} % (target: at least {TARGET_REUSE * 100:.0f} %): "
              f"{'met' if weighted >= TARGET_REUSE else 'MISSED'}")
    every = [x for p in prompts.values() for x in p]
    if len(prompts) > 1 and every:
        shared = min(common_prefix(every[0], other) for other in every[1:])
        block = every[0].find(b"<|im_end|>") + len(b"<|im_end|>\n")
        print(f"prefix shared by every request of every shopper: {shared} bytes; the system+tools block: {block} bytes "
              f"({'one prefix for every shopper' if shared >= block else 'NOT one prefix: something per-turn is in it'})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gap-s", type=float, default=60.0, help="shop-clock seconds between turns (default 60)")
    p.add_argument("--show-prompt", action="store_true", help="print the last rendered prompt of the first shopper")
    args = p.parse_args()
    configure_logging(LogConfig(level="ERROR", format="console"))
    costs, prompts = asyncio.run(run(args.gap_s))
    print(f"prompt_cost: {len(CONVERSATIONS)} shoppers, fake Ollama with the demo rule, "
          f"{args.gap_s:g} s between turns, prompts rendered as Ollama's Qwen3 template does")
    report(costs, prompts)
    if args.show_prompt:
        first = next(iter(prompts.values()))
        print("\n" + first[-1].decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
