"""Canned replies for everything the dialogue does not read: events and non-text messages.

Why: a shopper who sends a photo or a voice note WeChat could not transcribe must get a hint
what to do next, never silence; a new follower should learn what the bot can do. Events that
are not a shopper talking (unsubscribe, VIEW, LOCATION reports, system events) get no reply.
"""

from __future__ import annotations

from core.models import EventKind, IncomingMessage, MsgKind

WELCOME = (
    "您好，欢迎关注！我是智能客服，可以帮您：\n"
    "1. 查订单、查物流\n"
    "2. 退换货和售后\n"
    "3. 尺码推荐\n"
    "4. 运费和优惠活动\n"
    "5. 转人工客服（回复「人工」）\n"
    "直接发消息问我就可以啦。"
)
WELCOME_BACK = "您好，欢迎回来！有什么可以帮您？查订单请直接发送订单号。"
MENU_DEFAULT = "您好，请直接发送您的问题，例如「我的订单到哪了」，我马上为您查询。"
EMPTY_TEXT = "您好，请问有什么可以帮您？"

VOICE = "抱歉，这条语音我没能听清。请用文字描述您的问题，查订单请直接发送订单号。"
IMAGE = "收到您的图片。我暂时看不了图片，请用文字描述一下问题；如果是商品质量问题，请发送订单号，回复「人工」可转人工客服查看图片。"
VIDEO = "收到您的视频。我暂时看不了视频，请用文字描述一下问题；需要人工查看请回复「人工」。"
LOCATION = "收到您的位置。我们是线上店铺，查物流请直接发送订单号；修改收货地址请发送订单号和新地址。"
LINK = "收到您分享的链接。我暂时打不开链接，请用文字告诉我商品名称或您的问题。"
FILE = "收到您的文件。我暂时打不开文件，请用文字描述您的问题。"
UNKNOWN = "抱歉，暂不支持这种消息。请用文字描述您的问题，例如「我的订单到哪了」。"

_BY_KIND = {
    MsgKind.VOICE: VOICE,
    MsgKind.IMAGE: IMAGE,
    MsgKind.VIDEO: VIDEO,
    MsgKind.SHORTVIDEO: VIDEO,
    MsgKind.LOCATION: LOCATION,
    MsgKind.LINK: LINK,
    MsgKind.FILE: FILE,
    MsgKind.UNKNOWN: UNKNOWN,
}


def expects_reply(msg: IncomingMessage) -> bool:
    """False for what kefu never answers, whatever its state or config: events where nobody is
    talking (unsubscribe, VIEW, LOCATION reports, template/mass-send reports ...). Passive mode acks
    those at once instead of holding WeChat's try for an answer that will not come."""
    return needs_dialogue(msg) or reply_for(msg, {}) is not None  # [menu] only changes a CLICK's text


def needs_dialogue(msg: IncomingMessage) -> bool:
    """A message the dialogue answers: text, or a voice message WeChat transcribed."""
    text = msg.effective_text
    return text is not None and bool(text.strip())


def reply_for(msg: IncomingMessage, menu: dict[str, str], *, welcome: str = WELCOME) -> str | None:
    """The canned reply for ``msg``, or ``None`` (no reply, or the dialogue answers it).

    ``menu`` is ``[menu]`` from the config: CLICK event key -> reply text.
    """
    if needs_dialogue(msg):
        return None
    if msg.kind is MsgKind.EVENT:
        event = msg.event
        if event is None:
            return None
        if event.kind is EventKind.SUBSCRIBE:
            return welcome
        if event.kind is EventKind.SCAN:
            return WELCOME_BACK
        if event.kind is EventKind.CLICK:
            return menu.get(event.key) or MENU_DEFAULT
        return None  # unsubscribe, VIEW, LOCATION reports, system events: nobody is talking
    if msg.kind is MsgKind.TEXT:
        return EMPTY_TEXT
    return _BY_KIND.get(msg.kind, UNKNOWN)
