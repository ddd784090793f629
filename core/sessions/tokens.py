"""Token estimate for trimming history to ``[dialogue] history_tokens``.

Why an estimate and not Qwen's tokenizer: the exact tokenizer ships with the model files
(``tokenizer.json``, ~7 MB) and would add a heavy dependency for a budget that only has to be
roughly right. The estimate is deliberately a little pessimistic, so trimmed history always fits
``[llm] num_ctx`` next to the system prompt and policy:

* CJK characters and full-width punctuation: 1 token each. Qwen's 151k BPE vocabulary merges
  many common Chinese words into one token (typically 1.3-1.6 characters per token), so 1 per
  character over-counts a little.
* Digits: 1 token each — Qwen tokenizers split numbers into single digits, and order numbers
  (16 digits) and tracking numbers are frequent here.
* Other text (ASCII words, spaces, punctuation): 1 token per 4 characters, the usual English ratio.
* Every message: +4 for the chat template's role markers (``<|im_start|>role\\n … <|im_end|>\\n``).
"""

from __future__ import annotations

import math
import re

_WIDE = re.compile(
    "[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f]"
)
_DIGIT = re.compile(r"[0-9]")
MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    wide = len(_WIDE.findall(text))
    digits = len(_DIGIT.findall(text))
    other = len(text) - wide - digits
    return wide + digits + math.ceil(other / 4)


def message_tokens(content: str, *extra: str) -> int:
    """Tokens of one chat message (content plus e.g. serialised tool-call arguments)."""
    return MESSAGE_OVERHEAD + estimate_tokens(content) + sum(estimate_tokens(e) for e in extra)
