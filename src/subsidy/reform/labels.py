"""What a bureau reads: Chinese labels first with English beside them, and money as ¥ or 万元."""

from decimal import ROUND_HALF_UP, Decimal

from subsidy.domain.catalog import Catalog
from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.enums import DISTRICT_NAMES_EN, DISTRICT_NAMES_ZH
from subsidy.domain.money import format_fen

# The policy's twelve measures by their headings, in English (the catalog is Chinese only).
MEASURE_EN: dict[int, str] = {
    1: "Major projects",
    2: "Capacity expansion",
    3: "High-level innovation platforms",
    4: "Innovating enterprises",
    5: "Public service platforms",
    6: "Market players",
    7: '"Robot+" applications',
    8: "Robot large models",
    9: "First use of new products",
    10: "Standards and patents",
    11: "Finance and capital",
    12: "Industry talent",
}

DISTRICT_EN: dict[str, str] = {d.value: name for d, name in DISTRICT_NAMES_EN.items()}
DISTRICT_ZH: dict[str, str] = {d.value: name for d, name in DISTRICT_NAMES_ZH.items()}

# The policy's 责任单位 (G3: funds flow through their own channels).
CHANNEL_EN: dict[str, str] = {
    "市工信局": "Industry & IT Bureau",
    "市发改委": "Development & Reform Commission",
    "市科技局": "Science & Technology Bureau",
    "市财政局": "Finance Bureau",
    "市数据局": "Data Bureau",
    "市商务局": "Commerce Bureau",
    "市人社局": "Human Resources & Social Security Bureau",
    "市教育局": "Education Bureau",
    "市市场监管局": "Market Regulation Bureau",
    "市委金融办": "Financial Affairs Office",
    "市委人才办": "Talent Office",
    "各县级市(区)政府": "County-level city and district governments",
}


def measure_titles(catalog: Catalog) -> dict[int, str]:
    """Each measure's heading: its rules are titled "<heading> · <item>"."""
    titles: dict[int, str] = {}
    for rule in catalog.rules:
        titles.setdefault(rule.measure, rule.title.split(" · ", 1)[0])
    return titles


def measure_label(measure: int, titles: dict[int, str]) -> tuple[str, str]:
    """(`第8条 支持机器人大模型开发应用`, `Measure 8: Robot large models`)."""
    zh = f"第{measure}条 {titles.get(measure, '')}".strip()
    return zh, f"Measure {measure}: {MEASURE_EN.get(measure, '')}".rstrip(": ")


def district_label(code: str) -> tuple[str, str]:
    """(`苏州工业园区`, `Suzhou Industrial Park`); an unknown code stands for itself."""
    return DISTRICT_ZH.get(code, code), DISTRICT_EN.get(code, code)


def channel_label(unit: str) -> tuple[str, str]:
    """(`市工信局`, `Industry & IT Bureau`)."""
    return unit, CHANNEL_EN.get(unit, unit)


def status_label(status: str | None) -> str:
    """`已拨付 PAID`; `—` when the entitlement does not exist on that side."""
    if status is None:
        return "—"
    return f"{STATUS_LABELS_ZH.get(status, status)} {status}"


def signed_fen(fen: int) -> str:
    """A difference: `+¥1,000.00`, `-¥1,000.00`, `¥0.00`."""
    return f"+{format_fen(fen)}" if fen > 0 else format_fen(fen)


def percent(delta: int, base: int) -> str:
    """`+12.3%` of the baseline; `—` when there is no baseline to compare with."""
    if base == 0:
        return "—" if delta == 0 else "新增 new"
    value = (Decimal(delta) * 100 / base).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"+{value}%" if value > 0 else f"{value}%"
