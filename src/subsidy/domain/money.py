"""Money as integer fen: yuan conversion, rates applied with Decimal and rounded down, display."""

from decimal import ROUND_DOWN, Decimal, InvalidOperation

FEN_PER_YUAN = 100
INT64_MAX = 2**63 - 1


def yuan_to_fen(yuan: int) -> int:
    """Whole yuan (as the policy text states amounts) to fen."""
    return yuan * FEN_PER_YUAN


def parse_yuan(text: str) -> int:
    """A yuan amount with at most two decimals (e.g. "1234.5") to fen; ValueError otherwise."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a non-negative amount: {text!r}")
    # Past int64 fen anyway; refused before the multiplication, which overflows at 1e999999
    # (decimal.Overflow, not a ValueError) and turns 1e100000 into an int for most of a second.
    if value.adjusted() > 17:
        raise ValueError(f"too large: {text!r}")
    fen = value * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"more than two decimals: {text!r}")
    return int(fen)


def apply_rate(base_fen: int, rate: Decimal) -> int:
    """`rate × base`, rounded down to the fen (policy amounts are ceilings: never round up)."""
    return int((Decimal(base_fen) * rate).to_integral_value(rounding=ROUND_DOWN))


def format_fen(fen: int) -> str:
    """¥1,234,567.89 — the way bureaus write amounts."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}¥{yuan:,}.{cents:02d}"
