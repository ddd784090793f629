"""Handoff notifications to a webhook URL (``[handoff] notify_url``), e.g. a WeCom group robot.

Implements ``core.handoff.Notifier``. The body is the WeCom / 企业微信群机器人 text shape
(``{"msgtype": "text", "text": {"content": ...}}``) so such a robot shows it as-is, plus a
``kefu`` object with the same facts as fields for any other receiver. ``reason`` is one of
``core.handoff.HANDOFF_REASONS``; the shopper's last text and the note (the model's own words when
it handed over) arrive here already masked by ``core.handoff``; the text is cut to 500 characters.
"""

from __future__ import annotations

import aiohttp
import structlog

log = structlog.get_logger(__name__)

_REASONS = {"human": "要求人工客服", "complaint": "投诉", "user_request": "要求人工客服（模型不可用时）",
            "failure": "系统未能处理消息", "llm_unavailable": "模型长时间不可用", "model": "智能客服转人工"}


class NotifyError(RuntimeError):
    pass


class WebhookNotifier:
    def __init__(self, session: aiohttp.ClientSession, url: str, *, timeout_s: float = 5.0) -> None:
        self._session = session
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def notify(self, platform: str, user_id: str, reason: str, last_text: str, *, note: str = "") -> None:
        last = last_text[:500]
        content = (f"【转人工】{_REASONS.get(reason, '转人工')}\n" + (f"说明：{note}\n" if note else "")
                   + f"平台：{platform}\n用户：{user_id}\n最后一条：{last}")
        body = {
            "msgtype": "text",
            "text": {"content": content},
            "kefu": {"event": "handoff", "platform": platform, "user_id": user_id, "reason": reason, "note": note,
                     "last_text": last},
        }
        try:
            async with self._session.post(self._url, json=body, timeout=self._timeout) as resp:
                if resp.status >= 300:
                    raise NotifyError(f"handoff webhook answered HTTP {resp.status}")
                data = await resp.json(content_type=None) if resp.content_length != 0 else None
        except aiohttp.ClientError as exc:
            raise NotifyError(f"handoff webhook unreachable: {exc.__class__.__name__}") from exc
        except TimeoutError as exc:
            raise NotifyError("handoff webhook timed out") from exc
        except ValueError:
            data = None  # not JSON: the HTTP status said OK
        if isinstance(data, dict) and data.get("errcode", 0) != 0:
            raise NotifyError(f"handoff webhook errcode {data.get('errcode')}: {str(data.get('errmsg', ''))[:100]}")
        log.info("handoff_notified", platform=platform, user_id=user_id, reason=reason)
