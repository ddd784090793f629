"""The ops console: a small web UI under ``/admin`` of kefu's own aiohttp app (docs/console.md).

``console.mount(app)`` adds it when ``[admin] enabled``; the data comes from ``core.records``.
"""
