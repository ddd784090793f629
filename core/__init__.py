"""Platform-independent core of kefu. Never imports aiohttp or wechatpy."""
