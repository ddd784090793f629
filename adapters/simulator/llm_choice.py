"""Which model the simulated kefu talks to (``--llm auto|fake|off``), and the one banner line saying so.

* ``fake``: the scriptable fake Ollama with its rule-based demo assistant, on a local port;
* ``off``:  ``[llm] base_url`` points at a closed port, so kefu runs in degraded mode (FAQ fast
  path, orders and tracking, greetings, sizes, 猜你想问 menus, one polite "please wait" for the
  rest: docs/degraded-mode.md) - exactly what happens when the GPU box dies;
* ``auto``: ask ``[llm] base_url`` whether it has the model (short timeout) - the real model if so,
  otherwise degraded mode, with the command that fixes it.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any

import aiohttp

from core.config import LlmConfig

MODES = ("auto", "fake", "off")
PROBE_TIMEOUT_S = 1.5
REAL, FAKE, DEGRADED = "real", "fake", "degraded"


@dataclass
class LlmChoice:
    mode: str  # REAL | FAKE | DEGRADED
    base_url: str
    banner: str
    fake: Any = None  # the running fakes.ollama.FakeOllama (mode FAKE); the caller stops it


def closed_port_url() -> str:
    """A localhost URL nothing listens on (bound, then released): connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _has_model(names: list[str], model: str) -> bool:
    wanted = {model, model + ":latest"} if ":" not in model else {model}
    return any(n in wanted for n in names)


async def probe(llm: LlmConfig, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[str, str]:
    """("ready" | "no_model" | "unreachable", detail). Ollama: ``GET /api/tags``; OpenAI-compatible:
    ``GET {base_url}/models``."""
    base = llm.base_url.rstrip("/")
    url = base + ("/api/tags" if llm.backend == "ollama" else "/models")
    headers = {"Authorization": f"Bearer {llm.api_key}"} if llm.api_key else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http:
            async with http.get(url, headers=headers) as resp:
                if resp.status != 200:
                    return "unreachable", f"HTTP {resp.status} from {url}"
                data = await resp.json(content_type=None)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
        return "unreachable", type(exc).__name__
    if llm.backend == "ollama":
        names = [m.get("name") or m.get("model") or "" for m in data.get("models", []) if isinstance(m, dict)]
    else:
        names = [m.get("id", "") for m in data.get("data", []) if isinstance(m, dict)]
    return ("ready", "") if _has_model(names, llm.model) else ("no_model", ", ".join(names[:5]) or "no models")


async def _start_fake(model: str) -> Any:
    from fakes.ollama import FakeOllama
    from fakes.ollama_demo import demo_rule  # the rule-based demo shop assistant

    fake = FakeOllama(models=[model], rule=demo_rule)
    await fake.start()
    return fake


async def choose(llm: LlmConfig, mode: str) -> LlmChoice:
    if mode not in MODES:
        raise ValueError(f"--llm must be one of {', '.join(MODES)}")
    if mode == "fake":
        fake = await _start_fake(llm.model)
        return LlmChoice(FAKE, fake.url, f"模型：假 Ollama（规则演示回复，不是真模型） {fake.url}", fake)
    pull = f"要用真模型：安装 Ollama 后运行 `ollama pull {llm.model}`，再用 --llm auto 启动。"
    if mode == "off":
        return LlmChoice(DEGRADED, closed_port_url(), f"模型：已关闭（--llm off），降级模式：常见问题、订单物流、尺码等照常回答，其余问题等模型恢复后回复。{pull}")
    status, detail = await probe(llm)
    if status == "ready":
        return LlmChoice(REAL, llm.base_url, f"模型：{llm.model} @ {llm.base_url}（真模型）")
    why = (f"{llm.base_url} 上没有 {llm.model}（现有：{detail}）" if status == "no_model"
           else f"{llm.base_url} 没有应答（{detail}）")
    return LlmChoice(DEGRADED, closed_port_url(), f"模型：{why}，降级模式：常见问题、订单物流、尺码等照常回答，其余问题等模型恢复后回复。{pull}")
