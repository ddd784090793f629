"""WeChat Official Account (公众号) adapter: webhook, XML <-> core models, async API client."""
