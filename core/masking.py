"""Masking of personal data (phone numbers, ID numbers, addresses) for logs and tool output.

Shoppers' data must never reach logs or another person; the model only ever sees masked values.

Two strengths:

* ``mask_text`` masks mobile and ID numbers. It is what tool results for the model go through:
  their addresses are already masked field by field (``mask_address``), and the shop's own
  returns address must stay readable for the model to quote it.
* ``mask_personal`` also masks street addresses found in free text, for text nobody vetted — what
  a shopper typed, what the model chose to write into a tool argument — on its way to the console,
  logs or a webhook. Addresses in free text have no fixed shape; the rule is deliberately greedy on
  the detail and lenient on the region:

  * a road/street name followed by a house number (``…路123号…``, ``…街8号…``, ``…弄12号…``) is
    masked from the road name to the end of the address-looking run;
  * building / unit / room runs (``4栋2单元501``, ``3号楼1201室``, ``501室``) are masked too;
  * the region before it (省/市/区/县) stays readable, like ``mask_address``.

  Over-masking an ordinary sentence costs a reader a few characters; under-masking leaks an address.
"""

from __future__ import annotations

import re
from typing import Any

# Mainland mobile numbers (optionally +86), not embedded in longer digit runs (order numbers).
_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
# 18-character resident ID numbers.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
# Landlines like 021-5555-0188 are the shop's public numbers and stay readable.

MASK = "****"
_RUN = r"[\u4e00-\u9fffA-Za-z0-9#\-－]*"
# road name (no region words or punctuation inside) + number + 号, then the rest of the run
_STREET_RE = re.compile(
    r"[^\s\d省市区县镇乡，。,.!?！？：:；;、（）()]{1,10}(?:路|街|大道|大街|巷|弄|胡同|里)\s*\d+\s*(?:号|弄|巷)" + _RUN
)
# every street or building match has a digit followed by one of these: a cheap test first
_ADDRESS_HINT_RE = re.compile(r"\d\s*[号弄巷栋幢座单室]")
_BUILDING_RE = re.compile(
    r"(?:\d+\s*(?:号楼|栋|幢|座|单元)\s*)+(?:\d+\s*(?:室|层|楼|号)?)?|\d{3,4}\s*室"
)


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


def mask_personal(text: str) -> str:
    """``text`` with phone numbers, ID numbers and street addresses masked."""
    if not text:
        return text
    text = mask_text(text)
    if text.isascii() or not _ADDRESS_HINT_RE.search(text):  # most log values: no address can be there
        return text
    text = _STREET_RE.sub(MASK, text)
    return _BUILDING_RE.sub(MASK, text)


def mask_values(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON-like value (tool arguments) with every string ``mask_personal``-ed."""
    if isinstance(value, str):
        return mask_personal(value)
    if depth >= 8:
        return "…"  # no tool argument is nested this deep; nothing unmasked gets through
    if isinstance(value, dict):
        return {k: mask_values(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_values(v, depth + 1) for v in value]
    return value
