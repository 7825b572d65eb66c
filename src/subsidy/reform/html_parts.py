"""The HTML report's stylesheet and building blocks: text, figures, legends, charts and tables."""

from collections.abc import Sequence
from html import escape

from subsidy.domain.money import format_fen
from subsidy.reform.diff import Cost
from subsidy.reform.labels import percent, signed_fen
from subsidy.reform.svg import Pair, paired_bars

STYLE = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --baseline:#9aa9bd; --reform:#1e4fa3;
  --gain:#15803d; --loss:#b91c1c; --accent:#b91c1c; --paper:#ffffff; --wash:#f6f7f9; }
* { box-sizing: border-box; }
body { margin:0; background:var(--wash); color:var(--ink);
  font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","PingFang SC",
  "Microsoft YaHei",system-ui,sans-serif; font-size:14px; line-height:1.5; }
main { max-width:1240px; margin:0 auto; padding:0 28px 40px; }
header { background:var(--paper); border-top:6px solid var(--accent);
  border-bottom:1px solid var(--line); margin-bottom:24px; }
header .inner { max-width:1240px; margin:0 auto; padding:22px 28px 18px; }
.kicker { color:var(--accent); font-weight:700; letter-spacing:.08em; font-size:13px; }
h1 { font-size:24px; margin:4px 0 8px; font-weight:700; }
h2 { font-size:17px; margin:0 0 10px; }
h2 .en, th .en, td .en, .kpi .en { color:var(--muted); font-weight:400; font-size:.85em; }
.meta { color:var(--muted); font-size:13px; margin:2px 0; }
.meta b { color:var(--ink); font-weight:600; }
code { font-family:ui-monospace,"DejaVu Sans Mono",monospace; font-size:.92em;
  background:var(--wash); padding:1px 5px; border-radius:4px; }
.kpis { display:grid; grid-template-columns:repeat(5,1fr); gap:14px; margin-bottom:22px; }
.kpi { background:var(--paper); border:1px solid var(--line); border-radius:10px;
  padding:14px 16px; }
.kpi .name { font-size:13px; color:var(--muted); }
.kpi .value { font-size:22px; font-weight:700; margin-top:4px; white-space:nowrap;
  font-variant-numeric:tabular-nums; }
.kpi .exact { font-size:12px; color:var(--muted); font-variant-numeric:tabular-nums; }
.kpi.delta .value.up { color:var(--gain); } .kpi.delta .value.down { color:var(--loss); }
.card { background:var(--paper); border:1px solid var(--line); border-radius:10px;
  padding:18px 20px; margin-bottom:22px; }
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:22px; align-items:start; }
.grid2 .card { margin-bottom:0; }
.grid2 > * { min-width:0; }
.scroll { overflow-x:auto; }
.charts { margin-bottom:22px; }
.legend { display:flex; gap:18px; font-size:12.5px; color:var(--muted); margin:-4px 0 6px; }
.legend i { display:inline-block; width:12px; height:12px; border-radius:2px;
  vertical-align:-1px; margin-right:6px; }
svg.chart { width:100%; height:auto; display:block; }
svg .grid { stroke:var(--line); stroke-width:1; }
svg .zero { stroke:#9ca3af; stroke-width:1.2; }
svg .tick { fill:var(--muted); font-size:11px; }
svg .label { fill:var(--ink); font-size:13px; }
svg .note { fill:var(--muted); font-size:11px; }
svg .figure { font-size:11.5px; fill:var(--muted); font-variant-numeric:tabular-nums; }
svg .figure.reform { fill:var(--reform); font-weight:600; }
svg .figure.gain { fill:var(--gain); font-weight:600; }
svg .figure.loss { fill:var(--loss); font-weight:600; }
svg .empty { fill:var(--muted); font-size:13px; }
svg .bar.baseline { fill:var(--baseline); } svg .bar.reform { fill:var(--reform); }
svg .bar.gain { fill:var(--gain); } svg .bar.loss { fill:var(--loss); }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
th { font-weight:600; background:var(--wash); white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td .en { margin-left:6px; }
table.stack td .en { display:block; margin-left:0; }
td.up { color:var(--gain); } td.down { color:var(--loss); }
tr.total td { font-weight:700; border-top:2px solid var(--ink); }
.note { color:var(--muted); font-size:12.5px; margin:8px 0 0; }
.warn { border-left:4px solid #d97706; background:#fffbeb; padding:10px 14px;
  border-radius:6px; margin-bottom:22px; font-size:13px; }
.ok { border-left:4px solid var(--gain); background:#f0fdf4; padding:10px 14px;
  border-radius:6px; margin-bottom:22px; font-size:13px; }
details summary { cursor:pointer; font-weight:600; }
footer { color:var(--muted); font-size:12px; margin-top:10px; }
@media (max-width: 1000px) { .grid2 { grid-template-columns:1fr; }
  .kpis { grid-template-columns:repeat(2,1fr); } }
@media print { body { background:#fff; } .card, .kpi { break-inside:avoid; } }
"""


def esc(text: object) -> str:
    """Text made safe for HTML."""
    return escape(str(text))


def bilingual(zh: str, en: str) -> str:
    """Chinese, with the English beside it (smaller)."""
    return f'{esc(zh)} <span class="en">{esc(en)}</span>' if en and en != zh else esc(zh)


def trend(fen: int) -> str:
    return "up" if fen > 0 else "down" if fen < 0 else ""


def kpi(name: str, en: str, value: str, exact: str, cls: str = "") -> str:
    return (
        f'<div class="kpi {cls}"><div class="name">{bilingual(name, en)}</div>'
        f'<div class="value {cls and cls.split()[-1]}">{esc(value)}</div>'
        f'<div class="exact">{esc(exact)}</div></div>'
    )


def legend(*items: tuple[str, str]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:var(--{v})"></i>{esc(t)}</span>' for v, t in items)
        + "</div>"
    )


def pairs(rows: Sequence[tuple[tuple[str, str], Cost]]) -> list[Pair]:
    return [Pair(zh, en, c.baseline_fen, c.reform_fen) for (zh, en), c in rows]


def chart_card(
    chart: str, zh: str, en: str, rows: Sequence[tuple[tuple[str, str], Cost]], note: str = ""
) -> str:
    return (
        f'<div class="card"><h2>{bilingual(zh, en)}</h2>'
        + legend(("baseline", "基线 baseline"), ("reform", "改革 reform"))
        + paired_bars(chart, f"{zh} {en}", pairs(rows))
        + (f'<p class="note">{esc(note)}</p>' if note else "")
        + "</div>"
    )


def cost_table(head: str, rows: Sequence[tuple[tuple[str, str], Cost]], total: Cost) -> str:
    body = "".join(
        f"<tr><td>{bilingual(zh, en)}</td><td class=num>{esc(format_fen(c.baseline_fen))}</td>"
        f"<td class=num>{esc(format_fen(c.reform_fen))}</td>"
        f'<td class="num {trend(c.delta_fen)}">{esc(signed_fen(c.delta_fen))}</td>'
        f"<td class=num>{esc(percent(c.delta_fen, c.baseline_fen))}</td></tr>"
        for (zh, en), c in rows
    )
    foot = (
        f'<tr class="total"><td>合计 total</td><td class=num>{esc(format_fen(total.baseline_fen))}'
        f"</td><td class=num>{esc(format_fen(total.reform_fen))}</td>"
        f'<td class="num {trend(total.delta_fen)}">{esc(signed_fen(total.delta_fen))}</td>'
        f"<td class=num>{esc(percent(total.delta_fen, total.baseline_fen))}</td></tr>"
    )
    return (
        f"<table><thead><tr><th>{head}</th><th class=num>基线 baseline</th>"
        "<th class=num>改革 reform</th><th class=num>差额 difference</th>"
        f"<th class=num>变化 change</th></tr></thead><tbody>{body}{foot}</tbody></table>"
    )
