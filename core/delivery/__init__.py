"""Turning an answer into delivered messages: shaping (Markdown -> plain text), splitting to
the platform's size limit, exactly-once sending per part, typing indicator, and the passive-mode
plumbing that lets the same code answer inside the webhook's HTTP response."""
