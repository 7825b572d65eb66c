"""The report as one self-contained HTML page: figures, inline SVG charts and the tables."""

# No script and nothing fetched (the page opens offline, from a mail attachment too).

from subsidy.domain.beijing import beijing_time
from subsidy.domain.money import compact, format_fen
from subsidy.reform.diff import Side
from subsidy.reform.html_parts import (
    STYLE,
    bilingual,
    chart_card,
    cost_table,
    esc,
    kpi,
    legend,
    trend,
)
from subsidy.reform.labels import (
    channel_label,
    district_label,
    measure_label,
    measure_titles,
    percent,
    signed_fen,
    status_label,
)
from subsidy.reform.render_table import SHARED_NOTE
from subsidy.reform.report import ReformReport
from subsidy.reform.svg import Delta, delta_bars

# Enterprises drawn in the gain/loss chart: the largest gains and the largest losses.
CHART_ENTERPRISES = 10


def _kpis(report: ReformReport) -> str:
    c = report.comparison
    t = c.total
    gainers = sum(e.delta_fen > 0 for e in c.enterprises)
    changed = sum(e.status_changed for e in c.entitlements)
    return (
        '<section class="kpis">'
        + kpi("基线成本", "baseline cost", compact(t.baseline_fen), format_fen(t.baseline_fen))
        + kpi("改革成本", "reform cost", compact(t.reform_fen), format_fen(t.reform_fen))
        + kpi(
            "成本差额",
            "difference",
            ("+" if t.delta_fen > 0 else "") + compact(t.delta_fen),
            f"{signed_fen(t.delta_fen)} ({percent(t.delta_fen, t.baseline_fen)})",
            f"delta {trend(t.delta_fen)}",
        )
        + kpi(
            "受影响企业",
            "enterprises affected",
            f"{len(c.enterprises):,}",
            f"增加 {gainers:,} gain · 减少 {len(c.enterprises) - gainers:,} lose",
        )
        + kpi(
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
        f"<h1>《{esc(p.baseline.title)}》</h1>"
        f'<p class="meta"><b>改革方案 reform</b> <code>{esc(p.reform_overlay)}</code>'
        f" (catalog {esc(p.reform.version)}) · <b>基线 baseline</b> {esc(baseline)}"
        f" (catalog {esc(p.baseline.version)})</p>"
        f'<p class="meta"><b>历史 history</b> {esc(source)} <code>{esc(h.origin)}</code>,'
        f" {len(h.lines):,} 个事件 events{esc(bad)} · <b>生成 generated</b>"
        f" {esc(beijing_time(report.generated_at))} 北京时间 Beijing time</p>"
        "</div></header>"
    )


def _changes(report: ReformReport) -> str:
    rows = (
        "".join(
            f"<tr><td><code>{esc(c.rule_id or '(政策 policy)')}</code></td><td>{esc(c.key)}</td>"
            f'<td class="num">{esc(c.baseline)}</td><td class="num">{esc(c.reform)}</td>'
            f"<td>{esc(c.effective_from.isoformat() if c.effective_from else '全程 throughout')}"
            "</td></tr>"
            for c in report.policies.changes
        )
        or '<tr><td colspan="5">改革未改变任何规则 the reform changes nothing</td></tr>'
    )
    return (
        f'<section class="card"><h2>{bilingual("改革内容", "What the reform changes")}</h2>'
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
            f" reproduces all {check.compared:,} of the ledger's entitlements.{esc(when)}</div>"
        )
    differ = check.compared - check.matching
    lines = (
        [f"{differ:,} of {check.compared:,} entitlements differ from the ledger"] if differ else []
    )
    return (
        '<div class="warn">台账复核 ledger check: '
        + esc("; ".join([*lines, *notes]))
        + f". The ledger decided under catalog(s) {esc(', '.join(check.catalog_versions))}."
        + f"{esc(when)}</div>"
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
        f'<section class="card"><h2>{bilingual("企业增减", "Biggest gainers and losers")}</h2>'
        + legend(("gain", "增加 gains"), ("loss", "减少 losses"))
        + delta_bars("enterprises", "企业增减 Biggest gainers and losers", rows)
        + f'<p class="note">{esc(_gainers_note(len(gains), len(losses), len(changed)))}</p>'
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
            f"<tr><td>{bilingual(e.name, e.enterprise_id)}</td>"
            f"<td>{bilingual(*district_label(e.district))}</td>"
            f"<td class=num>{esc(format_fen(e.baseline_fen))}</td>"
            f"<td class=num>{esc(format_fen(e.reform_fen))}</td>"
            f'<td class="num {trend(e.delta_fen)}">{esc(signed_fen(e.delta_fen))}</td></tr>'
            for e in changed[:top]
        )
        or '<tr><td colspan="5">无 none</td></tr>'
    )
    return (
        f'<section class="card"><h2>{bilingual("企业增减明细", "Enterprises that gain or lose")}'
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
            f"<tr><td>{esc(status_label(f))}</td><td>{esc(status_label(t))}</td>"
            f"<td class=num>{n:,}</td></tr>"
            for f, t, n in c.transitions
        )
        or '<tr><td colspan="3">无 none</td></tr>'
    )
    changed = [e for e in c.entitlements if e.status_changed]
    rows = (
        "".join(
            f"<tr><td><code>{esc(e.entitlement_id)}</code>"
            f'<span class="en">{esc(e.enterprise_name)}</span></td><td class=num>{e.year}</td>'
            f"<td>{esc(status_label(e.baseline.status if e.baseline else None))} →"
            f" {esc(status_label(e.reform.status if e.reform else None))}"
            f"{_reasons(e.reform)}</td>"
            f"<td class=num>{esc(format_fen(e.baseline_fen))}</td>"
            f"<td class=num>{esc(format_fen(e.reform_fen))}</td>"
            f'<td class="num {trend(e.delta_fen)}">{esc(signed_fen(e.delta_fen))}</td></tr>'
            for e in changed[:top]
        )
        or '<tr><td colspan="6">无 none</td></tr>'
    )
    return (
        f'<section class="card"><h2>{bilingual("状态变化", "Status changes")}</h2>'
        "<table><thead><tr><th>基线状态 from</th><th>改革状态 to</th>"
        f"<th class=num>数量 entitlements</th></tr></thead><tbody>{moves}</tbody></table>"
        '<h2 style="margin-top:18px">'
        f"{bilingual('状态改变的资格', 'Entitlements whose status changes')}"
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
    return f'<span class="en">{esc(", ".join(side.reasons))}</span>'


def _bad(report: ReformReport, top: int) -> str:
    bad = report.history.bad
    if not bad:
        return ""
    rows = "".join(
        f"<tr><td class=num>{b.line}</td><td><code>{esc(b.event_id or '-')}</code></td>"
        f"<td>{esc(b.error)}</td></tr>"
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
        + chart_card("measure", "按措施", "By measure", measures)
        + chart_card("district", "按区县", "By district", districts)
        + chart_card("channel", "按资金渠道(责任单位)", "By funding channel", channels, SHARED_NOTE)
        + chart_card("year", "按年度", "By year", years)
        + "</section>"
    )
    tables = "".join(
        f'<section class="card"><h2>{bilingual(zh, en)}</h2><div class="scroll">'
        + cost_table(head, rows, c.total)
        + "</div>"
        + (f'<p class="note">{esc(note)}</p>' if note else "")
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
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
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
