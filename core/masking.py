"""Masking of personal data (phone numbers, ID numbers, addresses) for logs and tool output.

Shoppers' data must never reach logs or another person; the model only ever sees masked values.
"""

from __future__ import annotations

import re

# Mainland mobile numbers (optionally +86), not embedded in longer digit runs (order numbers).
_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
# 18-character resident ID numbers.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
# Landlines like 021-5555-0188 are the shop's public numbers and stay readable.


def mask_phone(phone: str) -> str:
    """13800001006 -> 138****1006 (anything shorter keeps only its last 2 characters)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) >= 11:
        digits = digits[-11:]
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) <= 2:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


def mask_id_number(text: str) -> str:
    return _ID_RE.sub(lambda m: f"{m.group(1)}********{m.group(3)[-1]}", text)


def mask_address(province: str = "", city: str = "", district: str = "", detail: str = "") -> str:
    """Keep the region a shopper recognises, hide the street and house number."""
    region = "".join(p for p in (province, city, district) if p)
    return f"{region}****" if detail else region


def mask_text(text: str) -> str:
    """Mask mobile numbers and ID numbers found anywhere in free text."""
    text = mask_id_number(text)
    return _MOBILE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
