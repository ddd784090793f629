"""What may be stored for the ops console: shopper text with phone numbers, ID numbers *and*
street addresses masked (``core.masking.mask_personal``: shoppers type addresses, "改地址到浦东新区
张杨路123号4栋501室"), clipped to a length.
"""

from __future__ import annotations

from core.masking import mask_personal


def redact(text: str) -> str:
    """``text`` with phone numbers, ID numbers and street addresses masked."""
    return mask_personal(text)


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
