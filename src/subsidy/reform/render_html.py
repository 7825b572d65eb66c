"""The report as one self-contained HTML page: figures, inline SVG charts and the tables, with
no script and nothing fetched (the page opens offline, from a mail attachment too)."""

from collections.abc import Sequence
from html import escape

from subsidy.domain.beijing import beijing_time
from subsidy.domain.money import format_fen
from subsidy.reform.diff import Cost, Side
from subsidy.reform.labels import (
    channel_label,
    compact,
    district_label,
    measure_label,
    measure_titles,
    percent,
    signed_fen,
    status_label,
)
from subsidy.reform.render_table import SHARED_NOTE
from subsidy.reform.report import ReformReport
from subsidy.reform.svg import Delta, Pair, delta_bars, paired_bars

# Enterprises drawn in the gain/loss chart: the largest gains and the largest losses.
CHART_ENTERPRISES = 10

_CSS = """
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


def _e(text: object) -> str:
    return escape(str(text))


def _bi(zh: str, en: str) -> str:
    """Chinese, with the English beside it (smaller)."""
    return f'{_e(zh)} <span class="en">{_e(en)}</span>' if en and en != zh else _e(zh)


def _trend(fen: int) -> str:
    return "up" if fen > 0 else "down" if fen < 0 else ""


def _kpi(name: str, en: str, value: str, exact: str, cls: str = "") -> str:
    return (
        f'<div class="kpi {cls}"><div class="name">{_bi(name, en)}</div>'
        f'<div class="value {cls and cls.split()[-1]}">{_e(value)}</div>'
        f'<div class="exact">{_e(exact)}</div></div>'
    )


def _kpis(report: ReformReport) -> str:
    c = report.comparison
    t = c.total
    gainers = sum(e.delta_fen > 0 for e in c.enterprises)
    changed = sum(e.status_changed for e in c.entitlements)
    return (
        '<section class="kpis">'
        + _kpi("基线成本", "baseline cost", compact(t.baseline_fen), format_fen(t.baseline_fen))
        + _kpi("改革成本", "reform cost", compact(t.reform_fen), format_fen(t.reform_fen))
        + _kpi(
            "成本差额",
            "difference",
            ("+" if t.delta_fen > 0 else "") + compact(t.delta_fen),
            f"{signed_fen(t.delta_fen)} ({percent(t.delta_fen, t.baseline_fen)})",
            f"delta {_trend(t.delta_fen)}",
        )
        + _kpi(
            "受影响企业",
            "enterprises affected",
            f"{len(c.enterprises):,}",
            f"增加 {gainers:,} gain · 减少 {len(c.enterprises) - gainers:,} lose",
        )
        + _kpi(
            "状态改变的资格",
            "status changes",
            f"{changed:,}",
            f"金额改变 {len(c.entitlements) - changed:,} amount only",
        )
        + "</section>"
    )


def _header(report: ReformReport) -> str:
    p, h = report.policies, report.history
    source = "台账 the ledger" if h.ledger is not None else "事件文件 event file"
    baseline = "当前政策 the policy the platform runs"
    if p.baseline_overlay is not None:
        baseline += f" + {p.baseline_overlay}"
    bad = f" · {len(h.bad):,} 行无效 bad lines, not compared" if h.bad else ""
    return (
        '<header><div class="inner">'
        '<div class="kicker">政策改革测算 · POLICY REFORM ESTIMATE</div>'
        f"<h1>《{_e(p.baseline.title)}》</h1>"
        f'<p class="meta"><b>改革方案 reform</b> <code>{_e(p.reform_overlay)}</code>'
        f" (catalog {_e(p.reform.version)}) · <b>基线 baseline</b> {_e(baseline)}"
        f" (catalog {_e(p.baseline.version)})</p>"
        f'<p class="meta"><b>历史 history</b> {_e(source)} <code>{_e(h.origin)}</code>,'
        f" {len(h.lines):,} 个事件 events{_e(bad)} · <b>生成 generated</b>"
        f" {_e(beijing_time(report.generated_at))} 北京时间 Beijing time</p>"
        "</div></header>"
    )


def _changes(report: ReformReport) -> str:
    rows = (
        "".join(
            f"<tr><td><code>{_e(c.rule_id or '(政策 policy)')}</code></td><td>{_e(c.key)}</td>"
            f'<td class="num">{_e(c.baseline)}</td><td class="num">{_e(c.reform)}</td>'
            f"<td>{_e(c.effective_from.isoformat() if c.effective_from else '全程 throughout')}"
            "</td></tr>"
            for c in report.policies.changes
        )
        or '<tr><td colspan="5">改革未改变任何规则 the reform changes nothing</td></tr>'
    )
    return (
        f'<section class="card"><h2>{_bi("改革内容", "What the reform changes")}</h2>'
        "<table><thead><tr><th>规则 rule</th><th>项目 key</th><th class=num>基线 baseline</th>"
        "<th class=num>改革 reform</th><th>生效 from</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></section>"
    )


def _ledger(report: ReformReport) -> str:
    h, check = report.history, report.ledger_check
    if h.ledger is None or check is None:
        return ""
    last = h.ledger.last_decided_at
    when = f" 台账最近决定 last decided {beijing_time(last)} 北京时间." if last else ""
    notes = [
        f"{len(ids):,} {what}"
        for ids, what in (
            (h.ledger.missing, "events taken before the ledger kept events (0004): not replayed"),
            (h.ledger.expired, "reviews the ledger expired by the clock: not replayed"),
            (h.ledger.mismatched, "stored events that do not match their hash: not replayed"),
        )
        if ids
    ]
    if check.reproduced and not notes:
        return (
            f'<div class="ok">台账复核 ledger check: 基线重放与台账一致 — the baseline replay'
            f" reproduces all {check.compared:,} of the ledger's entitlements.{_e(when)}</div>"
        )
    differ = check.compared - check.matching
    lines = (
        [f"{differ:,} of {check.compared:,} entitlements differ from the ledger"] if differ else []
    )
    return (
        '<div class="warn">台账复核 ledger check: '
        + _e("; ".join([*lines, *notes]))
        + f". The ledger decided under catalog(s) {_e(', '.join(check.catalog_versions))}."
        + f"{_e(when)}</div>"
    )


def _legend(*items: tuple[str, str]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:var(--{v})"></i>{_e(t)}</span>' for v, t in items)
        + "</div>"
    )


def _pairs(rows: Sequence[tuple[tuple[str, str], Cost]]) -> list[Pair]:
    return [Pair(zh, en, c.baseline_fen, c.reform_fen) for (zh, en), c in rows]


def _chart_card(
    chart: str, zh: str, en: str, rows: Sequence[tuple[tuple[str, str], Cost]], note: str = ""
) -> str:
    return (
        f'<div class="card"><h2>{_bi(zh, en)}</h2>'
        + _legend(("baseline", "基线 baseline"), ("reform", "改革 reform"))
        + paired_bars(chart, f"{zh} {en}", _pairs(rows))
        + (f'<p class="note">{_e(note)}</p>' if note else "")
        + "</div>"
    )


def _cost_table(head: str, rows: Sequence[tuple[tuple[str, str], Cost]], total: Cost) -> str:
    body = "".join(
        f"<tr><td>{_bi(zh, en)}</td><td class=num>{_e(format_fen(c.baseline_fen))}</td>"
        f"<td class=num>{_e(format_fen(c.reform_fen))}</td>"
        f'<td class="num {_trend(c.delta_fen)}">{_e(signed_fen(c.delta_fen))}</td>'
        f"<td class=num>{_e(percent(c.delta_fen, c.baseline_fen))}</td></tr>"
        for (zh, en), c in rows
    )
    foot = (
        f'<tr class="total"><td>合计 total</td><td class=num>{_e(format_fen(total.baseline_fen))}'
        f"</td><td class=num>{_e(format_fen(total.reform_fen))}</td>"
        f'<td class="num {_trend(total.delta_fen)}">{_e(signed_fen(total.delta_fen))}</td>'
        f"<td class=num>{_e(percent(total.delta_fen, total.baseline_fen))}</td></tr>"
    )
    return (
        f"<table><thead><tr><th>{head}</th><th class=num>基线 baseline</th>"
        "<th class=num>改革 reform</th><th class=num>差额 difference</th>"
        f"<th class=num>变化 change</th></tr></thead><tbody>{body}{foot}</tbody></table>"
    )


def _gainers(report: ReformReport) -> str:
    changed = report.comparison.enterprises
    gains = [e for e in changed if e.delta_fen > 0][:CHART_ENTERPRISES]
    losses = [e for e in changed if e.delta_fen < 0][:CHART_ENTERPRISES]
    rows = [
        Delta(e.name, f"{e.enterprise_id} · {district_label(e.district)[0]}", e.delta_fen)
        for e in (*gains, *losses)
    ]
    return (
        f'<section class="card"><h2>{_bi("企业增减", "Biggest gainers and losers")}</h2>'
        + _legend(("gain", "增加 gains"), ("loss", "减少 losses"))
        + delta_bars("enterprises", "企业增减 Biggest gainers and losers", rows)
        + f'<p class="note">{_e(_gainers_note(len(gains), len(losses), len(changed)))}</p>'
        + "</section>"
    )


def _gainers_note(gains: int, losses: int, changed: int) -> str:
    shown = [
        f"增加最多的 {gains} 家 the {gains} largest gains" if gains else "无企业增加 none gains",
        f"减少最多的 {losses} 家 the {losses} largest losses"
        if losses
        else "无企业减少 none loses",
    ]
    return f"{'; '.join(shown)} (共 {changed:,} 家企业变化 of {changed:,} enterprises that change)."


def _enterprises(report: ReformReport, top: int) -> str:
    changed = report.comparison.enterprises
    rows = (
        "".join(
            f"<tr><td>{_bi(e.name, e.enterprise_id)}</td>"
            f"<td>{_bi(*district_label(e.district))}</td>"
            f"<td class=num>{_e(format_fen(e.baseline_fen))}</td>"
            f"<td class=num>{_e(format_fen(e.reform_fen))}</td>"
            f'<td class="num {_trend(e.delta_fen)}">{_e(signed_fen(e.delta_fen))}</td></tr>'
            for e in changed[:top]
        )
        or '<tr><td colspan="5">无 none</td></tr>'
    )
    return (
        f'<section class="card"><h2>{_bi("企业增减明细", "Enterprises that gain or lose")}'
        f' <span class="en">({len(changed):,})</span></h2>'
        '<table class="stack"><thead><tr><th>企业 enterprise</th><th>区县 district</th>'
        "<th class=num>基线 baseline</th><th class=num>改革 reform</th>"
        f"<th class=num>差额 difference</th></tr></thead><tbody>{rows}</tbody></table>"
        + _more(top, len(changed))
        + "</section>"
    )


def _more(shown: int, total: int) -> str:
    if total <= shown:
        return ""
    return (
        f'<p class="note">另有 {total - shown:,} 项未列出 — {total - shown:,} more;'
        " <code>--top N</code> lists more, <code>--format json</code> lists all.</p>"
    )


def _statuses(report: ReformReport, top: int) -> str:
    c = report.comparison
    moves = (
        "".join(
            f"<tr><td>{_e(status_label(f))}</td><td>{_e(status_label(t))}</td>"
            f"<td class=num>{n:,}</td></tr>"
            for f, t, n in c.transitions
        )
        or '<tr><td colspan="3">无 none</td></tr>'
    )
    changed = [e for e in c.entitlements if e.status_changed]
    rows = (
        "".join(
            f"<tr><td><code>{_e(e.entitlement_id)}</code>"
            f'<span class="en">{_e(e.enterprise_name)}</span></td><td class=num>{e.year}</td>'
            f"<td>{_e(status_label(e.baseline.status if e.baseline else None))} →"
            f" {_e(status_label(e.reform.status if e.reform else None))}"
            f"{_reasons(e.reform)}</td>"
            f"<td class=num>{_e(format_fen(e.baseline_fen))}</td>"
            f"<td class=num>{_e(format_fen(e.reform_fen))}</td>"
            f'<td class="num {_trend(e.delta_fen)}">{_e(signed_fen(e.delta_fen))}</td></tr>'
            for e in changed[:top]
        )
        or '<tr><td colspan="6">无 none</td></tr>'
    )
    return (
        f'<section class="card"><h2>{_bi("状态变化", "Status changes")}</h2>'
        "<table><thead><tr><th>基线状态 from</th><th>改革状态 to</th>"
        f"<th class=num>数量 entitlements</th></tr></thead><tbody>{moves}</tbody></table>"
        f'<h2 style="margin-top:18px">{_bi("状态改变的资格", "Entitlements whose status changes")}'
        f' <span class="en">({len(changed):,})</span></h2>'
        '<table class="stack"><thead><tr><th>资格 entitlement</th><th class=num>年度 year</th>'
        "<th>状态 status</th><th class=num>基线 baseline</th><th class=num>改革 reform</th>"
        f"<th class=num>差额 difference</th></tr></thead><tbody>{rows}</tbody></table>"
        + _more(top, len(changed))
        + f'<p class="note">金额改变、状态不变 amount changes with the same status:'
        f" {len(c.entitlements) - len(changed):,}; 比较 compared: {c.entitlements_compared:,}"
        f" entitlements; 被拒事件 rejected events {c.rejected_baseline:,} →"
        f" {c.rejected_reform:,}; 待审等待 parked reviews {c.parked_baseline:,} →"
        f" {c.parked_reform:,}.</p></section>"
    )


def _reasons(side: Side | None) -> str:
    """Why the reform's side got less than asked (ANNUAL_CAP, OUTSIDE_WINDOW, …)."""
    if side is None or not side.reasons:
        return ""
    return f'<span class="en">{_e(", ".join(side.reasons))}</span>'


def _bad(report: ReformReport, top: int) -> str:
    bad = report.history.bad
    if not bad:
        return ""
    rows = "".join(
        f"<tr><td class=num>{b.line}</td><td><code>{_e(b.event_id or '-')}</code></td>"
        f"<td>{_e(b.error)}</td></tr>"
        for b in bad[:top]
    )
    return (
        f'<section class="card"><details><summary>无效事件行 bad event lines: {len(bad):,}'
        " (not compared)</summary><table><thead><tr><th class=num>行 line</th>"
        f"<th>事件 event</th><th>错误 error</th></tr></thead><tbody>{rows}</tbody></table>"
        + _more(top, len(bad))
        + "</details></section>"
    )


def to_html(report: ReformReport, top: int = 20) -> str:
    """The page: header, key figures, the reform, four baseline-vs-reform charts, the biggest
    gainers and losers, then the tables."""
    c = report.comparison
    titles = measure_titles(report.policies.baseline)
    measures = [(measure_label(int(r.key), titles), r) for r in c.by_measure]
    districts = [(district_label(r.key), r) for r in c.by_district]
    channels = [(channel_label(r.key), r) for r in c.by_channel]
    years = [((f"{r.key}年", ""), r) for r in c.by_year]
    charts = (
        '<section class="grid2 charts">'
        + _chart_card("measure", "按措施", "By measure", measures)
        + _chart_card("district", "按区县", "By district", districts)
        + _chart_card(
            "channel", "按资金渠道(责任单位)", "By funding channel", channels, SHARED_NOTE
        )
        + _chart_card("year", "按年度", "By year", years)
        + "</section>"
    )
    tables = "".join(
        f'<section class="card"><h2>{_bi(zh, en)}</h2><div class="scroll">'
        + _cost_table(head, rows, c.total)
        + "</div>"
        + (f'<p class="note">{_e(note)}</p>' if note else "")
        + "</section>"
        for zh, en, head, rows, note in (
            ("按措施明细", "By measure", "措施 measure", measures, ""),
            ("按区县明细", "By district", "区县 district", districts, ""),
            ("按资金渠道明细", "By funding channel", "责任单位 channel", channels, SHARED_NOTE),
            ("按年度明细", "By year", "年度 year", years, ""),
        )
    )
    title = f"政策改革测算 · {report.policies.reform_overlay}"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + _header(report)
        + "<main>"
        + _ledger(report)
        + _kpis(report)
        + _changes(report)
        + charts
        + _gainers(report)
        + tables
        + _enterprises(report, top)
        + _statuses(report, top)
        + _bad(report, top)
        + "<footer>金额单位:元(¥),万元 = 10,000 元,亿元 = 100,000,000 元。"
        "基线与改革用同一纯领域逻辑(<code>subsidy simulate</code>)对同一历史各决定一次。"
        " Amounts in yuan; baseline and reform decide the same history with the same pure"
        " domain (<code>subsidy simulate</code>), once each.</footer>"
        "</main></body></html>\n"
    )
