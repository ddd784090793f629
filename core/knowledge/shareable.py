"""Whether an answer may be shared between shoppers through the answer cache.

A cached answer is shown to *other* customers, so only answers to general questions may be shared.
"""

from __future__ import annotations

from core.knowledge.gate import skip_reason

# gate reasons that make a question unsafe (or pointless) to share an answer for
_NOT_SHAREABLE = {"empty", "injection", "person", "complaint", "personal", "chitchat"}


def shareable(question: str) -> bool:
    """True when an answer to this question may be shared between customers."""
    return skip_reason(question) not in _NOT_SHAREABLE
