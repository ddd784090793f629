"""What may be stored for the ops console: shopper text with phone numbers, ID numbers *and*
street addresses masked.

``core.masking.mask_text`` covers phone and ID numbers (that is what logs and the model need).
The console also shows what shoppers typed, and shoppers type addresses ("改地址到浦东新区张杨路
123号4栋501室"), so the street-and-number part is masked here as well. Addresses in free text
have no fixed shape; the rule is deliberately greedy on the detail and lenient on the region:

* a road/street name followed by a house number (``…路123号…``, ``…街8号…``, ``…弄12号…``) is
  masked from the road name to the end of the address-looking run;
* building / unit / room runs (``4栋2单元501``, ``3号楼1201室``, ``501室``) are masked too;
* the region before it (省/市/区/县) stays readable, like ``core.masking.mask_address``.

Over-masking an ordinary sentence costs ops a few characters; under-masking leaks an address.
"""

from __future__ import annotations

import re

from core.masking import mask_text

MASK = "****"
_RUN = r"[\u4e00-\u9fffA-Za-z0-9#\-－]*"
# road name (no region words or punctuation inside) + number + 号, then the rest of the run
_STREET_RE = re.compile(
    r"[^\s\d省市区县镇乡，。,.!?！？：:；;、（）()]{1,10}(?:路|街|大道|大街|巷|弄|胡同|里)\s*\d+\s*(?:号|弄|巷)" + _RUN
)
_BUILDING_RE = re.compile(
    r"(?:\d+\s*(?:号楼|栋|幢|座|单元)\s*)+(?:\d+\s*(?:室|层|楼|号)?)?|\d{3,4}\s*室"
)


def redact(text: str) -> str:
    """``text`` with phone numbers, ID numbers and street addresses masked."""
    if not text:
        return text
    text = mask_text(text)
    text = _STREET_RE.sub(MASK, text)
    return _BUILDING_RE.sub(MASK, text)


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"
