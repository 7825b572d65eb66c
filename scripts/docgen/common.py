"""What every generated doc shares: the repository's paths, Markdown tables, yuan and percents."""

from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
TEMPLATES = DOCS / "templates"
PROTO = ROOT / "proto"
CATALOG_PATH = "src/subsidy/domain/policy/catalog.yaml"
MEASURES_ZH = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"]
NONE = "—"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; a `|` inside a cell is escaped."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(c.replace("|", r"\|") for c in row) + " |" for row in lines)


def yuan(fen: int) -> str:
    """Fen as yuan with thousands separators: 2,000,000 (cents shown only when there are any)."""
    whole, cents = divmod(fen, 100)
    return f"{whole:,}.{cents:02d}" if cents else f"{whole:,}"


def percent(fraction: Decimal) -> str:
    """0.20 → 20%."""
    return f"{fraction * 100:f}".rstrip("0").rstrip(".") + "%"


def codes(names: list[str]) -> str:
    """`a`, `b`, `c`."""
    return ", ".join(f"`{n}`" for n in names)
