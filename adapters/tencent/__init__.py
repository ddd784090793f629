"""Tencent's callback and server-API protocol, shared by the WeChat Official Account adapter
(``adapters.wechat_oa``) and the WeCom 微信客服 adapter (``adapters.wecom_kf``).

``crypto`` (signatures, AES, receive id), ``xml_safety`` (the parser that refuses DTDs, entities
and processing instructions), ``callback`` (reading an untrusted callback: body cap, safe XML,
the refusals as HTTP statuses), ``token`` (an access token shared through Redis) and ``api``
(the JSON POST both APIs expect, backoff, the delivery counter). Each adapter keeps only what
differs: its query parameters and events, its token request, its errcode policy.
"""
