"""Money as integer fen: yuan conversion, rates applied with Decimal and rounded down, display."""

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

FEN_PER_YUAN = 100
FEN_PER_WAN = 1_000_000  # 1万元 = 10,000 yuan
FEN_PER_YI = 10_000_000_000  # 1亿元 = 100,000,000 yuan
INT64_MAX = 2**63 - 1


def yuan_to_fen(yuan: int) -> int:
    """Whole yuan (as the policy text states amounts) to fen."""
    return yuan * FEN_PER_YUAN


# What a bureau writes: ASCII digits, a point, decimals. Decimal() alone would also take
# "1_000", "1e3", "Infinity" and digits of any script ("١٢٣").
_YUAN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Past int64 fen anyway (and kept short: int() of a huge digit string is slow or refused).
_MAX_YUAN_DIGITS = 17


def parse_yuan(text: str) -> int:
    """A yuan amount with at most two decimals (e.g. "1234.5") to fen; ValueError otherwise."""
    plain = text.strip()
    if not _YUAN.fullmatch(plain):
        raise ValueError(f"not a plain decimal number (digits 0-9 and a point): {text[:40]!r}")
    whole = plain.partition(".")[0].lstrip("0")
    if len(whole) > _MAX_YUAN_DIGITS:
        raise ValueError(f"too large: {text[:40]!r}")
    fen = Decimal(plain) * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"more than two decimals: {text[:40]!r}")
    return int(fen)


def apply_rate(base_fen: int, rate: Decimal) -> int:
    """`rate × base`, rounded down to the fen (policy amounts are ceilings: never round up)."""
    return int((Decimal(base_fen) * rate).to_integral_value(rounding=ROUND_DOWN))


def format_fen(fen: int) -> str:
    """¥1,234,567.89 — the way bureaus write amounts."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}¥{yuan:,}.{cents:02d}"


def wan(fen: int) -> str:
    """`1,234.57万元`: fen in ten-thousands of yuan, to the hundredth, half up (display only)."""
    hundredths = (Decimal(fen) / (FEN_PER_WAN // 100)).to_integral_value(ROUND_HALF_UP)
    sign = "-" if hundredths < 0 else ""
    whole, part = divmod(abs(int(hundredths)), 100)
    return f"{sign}{whole:,}.{part:02d}万元"


def compact(fen: int) -> str:
    """A chart's figure, short: `23.20亿元`, `1,234.57万元`, or ¥ under 1万元 (display only)."""
    if abs(fen) >= FEN_PER_YI:
        value = (Decimal(fen) / FEN_PER_YI).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return f"{value:,}亿元"
    if abs(fen) >= FEN_PER_WAN:
        return wan(fen)
    return format_fen(fen)
