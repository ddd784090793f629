"""Plays WeCom's side for ``kefu simulate --platform wecom``.

Like the Official Account simulator client, it is a *client* of kefu, never a shortcut: what a
simulated customer types is written into the fake WeCom server's message log
(``fakes.wecom_api``) and announced with an encrypted, signed ``kf_msg_or_event`` callback POSTed to
kefu's real WeCom webhook; kefu then pulls it with kf/sync_msg and answers with kf/send_msg, exactly
as in production. ``WecomPushClient`` has the methods ``adapters.simulator.session.ShopperSession``
calls on the Official Account client, so the terminal and the web page work unchanged. The
simulator's credentials (``SIM_*``) fill what a config lacks (``bot.simulation.wecom``).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from adapters.simulator.wechat_client import PushResult
from fakes.wecom_api import FakeWecomApi

SIM_TOKEN = "kefuSimWecom2026"
SIM_AES_KEY = "c2ltdWxhdG9yLXdlY29tLWtleS0wMDAwMDAwMDAwMDA"  # 43 base64 characters
SIM_CORP_ID = "wwsimulator000001"
SIM_SECRET = "simulator-kf-secret"
SIM_OPEN_KFID = "wkSIMULATOR0000001"


class WecomPushClient:
    """Customer messages into the fake's log + the callback to kefu's webhook."""

    def __init__(self, http: aiohttp.ClientSession, webhook_url: str, fake: FakeWecomApi, *, token: str,
                 encoding_aes_key: str) -> None:
        self.http = http
        self.webhook_url = webhook_url
        self.fake = fake
        self.token = token
        self.encoding_aes_key = encoding_aes_key

    async def _announce(self, item: dict[str, Any]) -> PushResult:
        status = await self.fake.callback(self.http, self.webhook_url, token=self.token,
                                          encoding_aes_key=self.encoding_aes_key)
        return PushResult(status, "", json.dumps(item, ensure_ascii=False))

    async def send_text(self, openid: str, content: str) -> PushResult:
        return await self._announce(self.fake.customer_says(openid, content))

    async def send_menu_tap(self, openid: str, content: str, menu_id: str) -> PushResult:
        """A click on a menu option: WeCom logs it as the customer's text with ``menu_id``."""
        return await self._announce(self.fake.customer_taps(openid, menu_id))

    async def send_voice(self, openid: str, recognition: str | None, *, fmt: str = "amr") -> PushResult:
        # 微信客服 delivers voice as a media file, never as recognised text
        return await self._announce(self.fake.customer_sends(openid, "voice", {"media_id": "sim-voice-media"}))

    async def send_image(self, openid: str, pic_url: str = "") -> PushResult:
        return await self._announce(self.fake.customer_sends(openid, "image", {"media_id": "sim-image-media"}))

    async def send_location(self, openid: str, lat: float, lng: float, label: str, scale: int = 15) -> PushResult:
        body = {"latitude": lat, "longitude": lng, "name": label, "address": label}
        return await self._announce(self.fake.customer_sends(openid, "location", body))

    async def send_link(self, openid: str, title: str, description: str, url: str) -> PushResult:
        body = {"title": title, "desc": description, "url": url, "pic_url": ""}
        return await self._announce(self.fake.customer_sends(openid, "link", body))

    async def send_event(self, openid: str, event: str, key: str | None = None) -> PushResult:
        """微信客服 has no menus or follows: every event is the customer entering the chat."""
        return await self._announce(self.fake.enter_session(openid, scene=key or ""))
