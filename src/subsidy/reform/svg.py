"""Bar charts as inline SVG, drawn in Python: no script, no library, nothing fetched."""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from subsidy.domain.money import FEN_PER_WAN, FEN_PER_YI, compact, format_fen
from subsidy.reform.labels import percent, signed_fen

FONT_PX = 13.0
VALUE_PX = 140  # room after the longest bar for its figure (and its change)


@dataclass(frozen=True, slots=True)
class Frame:
    """A chart's width and its label column, in SVG units (about CSS pixels as laid out)."""

    width: int = 600
    label_px: int = 230

    @property
    def bars_px(self) -> int:
        return self.width - self.label_px - VALUE_PX


HALF = Frame()  # a chart in one of two columns
FULL = Frame(width=1180, label_px=300)  # a chart across the page


@dataclass(frozen=True, slots=True)
class Pair:
    """One category of a baseline-vs-reform chart."""

    label: str  # Chinese first
    note: str  # English, under it
    baseline_fen: int
    reform_fen: int


@dataclass(frozen=True, slots=True)
class Delta:
    """One bar of a gain/loss chart."""

    label: str
    note: str
    delta_fen: int


def text_px(text: str, font_px: float = FONT_PX) -> float:
    """Rough rendered width: CJK (wide) characters are one em, others about half."""
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return (wide + 0.56 * (len(text) - wide)) * font_px


def fit(text: str, max_px: float, font_px: float = FONT_PX) -> str:
    """The text cut (with …) to fit max_px."""
    if text_px(text, font_px) <= max_px:
        return text
    while text and text_px(text + "…", font_px) > max_px:
        text = text[:-1]
    return text + "…"


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above value (ints only)."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for multiple in (10, 20, 25, 50):
            candidate = step * multiple // 10
            if candidate >= value:
                return candidate
        step *= 10


@dataclass(frozen=True, slots=True)
class Axis:
    """A scale from `low` (≤ 0) to `high` (≥ 0) fen, in round steps with a tick at zero."""

    low: int
    high: int
    step: int

    @classmethod
    def around(cls, least: int, most: int) -> "Axis":
        """The axis of about five round steps that holds every value in [least, most]."""
        least, most = min(least, 0), max(most, 0)
        step = nice_ceiling(-(-(most - least) // 5))
        low = least // step * step  # floor to a step
        high = -(-most // step) * step  # ceiling to a step
        if high == low:  # nothing at all: zero alone, at the left
            return cls(0, 1, 1)
        return cls(low, high, step)

    def x(self, fen: int, x0: float, px: float) -> float:
        """Where fen sits on a scale drawn from x0 over px."""
        return x0 + (fen - self.low) * px / (self.high - self.low)

    def ticks(self) -> range:
        if (self.low, self.high, self.step) == (0, 1, 1):
            return range(1)
        return range(self.low, self.high + 1, self.step)


def tick_label(fen: int) -> str:
    """A round figure, short: `25亿`, `2,500万`, `0`."""
    for unit, name in ((FEN_PER_YI, "亿"), (FEN_PER_WAN, "万")):
        if abs(fen) >= unit:
            value = Decimal(fen) / unit
            text = f"{value:,.2f}".rstrip("0").rstrip(".")
            return f"{text}{name}"
    return format_fen(fen).removesuffix(".00") if fen else "0"


def _grid(axis: Axis, x0: float, px: float, y0: float, y1: float) -> list[str]:
    """Vertical gridlines with their figures at each step of the axis."""
    out = []
    for figure in axis.ticks():
        x = axis.x(figure, x0, px)
        out.append(
            f'<line class="grid" x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}"/>'
            f'<text class="tick" x="{x:.1f}" y="{y0 - 6:.1f}" text-anchor="middle">'
            f"{escape(tick_label(figure))}</text>"
        )
    return out


def _label(frame: Frame, y: float, label: str, note: str) -> str:
    x = frame.label_px - 10
    head = escape(fit(label, frame.label_px - 16))
    if not note:
        return f'<text class="label" x="{x:.1f}" y="{y + 4:.1f}" text-anchor="end">{head}</text>'
    sub = escape(fit(note, frame.label_px - 16, 11))
    return (
        f'<text class="label" x="{x:.1f}" y="{y - 1:.1f}" text-anchor="end">{head}</text>'
        f'<text class="note" x="{x:.1f}" y="{y + 12:.1f}" text-anchor="end">{sub}</text>'
    )


def paired_bars(chart: str, title: str, rows: Sequence[Pair], frame: Frame = HALF) -> str:
    """One row per category: the baseline's bar over the reform's, on one scale from zero;
    each bar carries its figure (the reform's with its change) and a tooltip with the exact
    amount. A category with nothing on either side says so once."""
    row_h, bar_h, top_pad = 42, 14, 34
    height = top_pad + row_h * max(len(rows), 1) + 10
    x0, px = frame.label_px, frame.bars_px
    axis = Axis.around(0, max((max(r.baseline_fen, r.reform_fen) for r in rows), default=0))
    parts = _grid(axis, x0, px, top_pad - 6, height - 8)
    for i, r in enumerate(rows):
        y = top_pad + i * row_h + row_h / 2
        parts.append(_label(frame, y, r.label, r.note))
        empty = r.baseline_fen == r.reform_fen == 0
        for side, fen, dy in (
            ("baseline", r.baseline_fen, -bar_h - 1),
            ("reform", r.reform_fen, 1),
        ):
            w = axis.x(fen, x0, px) - x0
            name = "基线 baseline" if side == "baseline" else "改革 reform"
            parts.append(
                f'<rect class="bar {side}" x="{x0}" y="{y + dy:.1f}" width="{w:.1f}"'
                f' height="{bar_h}" rx="2" data-fen="{fen}"><title>{escape(r.label)} · {name}'
                f" {escape(format_fen(fen))}</title></rect>"
            )
            figure = compact(fen)
            if side == "reform" and fen != r.baseline_fen:
                figure += f" ({percent(fen - r.baseline_fen, r.baseline_fen)})"
            if not empty:
                parts.append(
                    f'<text class="figure {side}" x="{x0 + w + 5:.1f}" y="{y + dy + 11:.1f}">'
                    f"{escape(figure)}</text>"
                )
        if empty:
            parts.append(
                f'<text class="figure" x="{x0 + 5}" y="{y + 4:.1f}">0 未拨付 nothing paid</text>'
            )
    return _svg(chart, title, frame, height, parts)


def delta_bars(chart: str, title: str, rows: Sequence[Delta], frame: Frame = FULL) -> str:
    """Gains right of the zero line, losses left of it, on one scale; when every change goes
    one way, the zero line sits at that edge and the bars use the whole width."""
    row_h, bar_h, top_pad = 38, 18, 34
    height = top_pad + row_h * max(len(rows), 1) + 10
    x0, px = frame.label_px, frame.bars_px
    axis = Axis.around(
        min((r.delta_fen for r in rows), default=0), max((r.delta_fen for r in rows), default=0)
    )
    zero = axis.x(0, x0, px)
    parts = _grid(axis, x0, px, top_pad - 6, height - 8)
    parts.append(
        f'<line class="zero" x1="{zero:.1f}" y1="{top_pad - 6}" x2="{zero:.1f}" y2="{height - 8}"/>'
    )
    if not rows:
        parts.append(
            f'<text class="empty" x="{frame.width / 2:.0f}" y="{top_pad + 22}"'
            ' text-anchor="middle">'
            "无企业增减 no enterprise gains or loses</text>"
        )
    for i, r in enumerate(rows):
        y = top_pad + i * row_h + row_h / 2
        parts.append(_label(frame, y, r.label, r.note))
        w = abs(axis.x(r.delta_fen, x0, px) - zero)
        side = "gain" if r.delta_fen > 0 else "loss"
        x = zero if r.delta_fen > 0 else zero - w
        anchor, tx = ("start", zero + w + 5) if r.delta_fen > 0 else ("end", zero - w - 5)
        if r.delta_fen < 0 and tx < x0 + 60:  # no room left of the bar: write inside
            anchor, tx = "start", zero + 5
        parts.append(
            f'<rect class="bar {side}" x="{x:.1f}" y="{y - bar_h / 2:.1f}" width="{w:.1f}"'
            f' height="{bar_h}" rx="2" data-fen="{r.delta_fen}"><title>{escape(r.label)}'
            f" {escape(signed_fen(r.delta_fen))}</title></rect>"
            f'<text class="figure {side}" x="{tx:.1f}" y="{y + 5:.1f}" text-anchor="{anchor}">'
            f"{escape(('+' if r.delta_fen > 0 else '') + compact(r.delta_fen))}</text>"
        )
    return _svg(chart, title, frame, height, parts)


def _svg(chart: str, title: str, frame: Frame, height: int, parts: list[str]) -> str:
    body = "".join(parts)
    return (
        f'<svg class="chart" data-chart="{escape(chart)}" role="img"'
        f' aria-label="{escape(title)}" viewBox="0 0 {frame.width} {height}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>'
    )
