"""Integer-cent arithmetic. Money never touches float: a float 0.95 discount on 17890 cents is
16995.499999… and would round the wrong way; policy says half-up to the cent."""

from __future__ import annotations


def div_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up (away from zero for the .5 case), exactly."""
    if denominator == 0:
        raise ZeroDivisionError("denominator is 0")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def yuan(cents: int) -> str:
    """14055 -> "140.55" (always two decimals, no currency sign)."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def yuan_text(cents: int) -> str:
    """14055 -> "140.55元" for Chinese text."""
    return f"{yuan(cents)}元"


def yuan_short(cents: int) -> str:
    """19900 -> "199", 1250 -> "12.5": an amount inside a sentence such as "满199元包邮"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}" if not frac else f"{sign}{whole}.{frac:02d}".rstrip("0")
