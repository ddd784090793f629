"""``kefu simulate``'s composition root: kefu, the fake WeChat / WeCom API and (optionally) the
fake Ollama in one process (``runtime``), and the WeCom variant's config (``wecom``). The pieces
that play the shopper's side (terminal, web page, push clients) are ``adapters.simulator``.
"""
