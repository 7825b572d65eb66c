"""The report as rich tables for the terminal: Chinese labels first, amounts as ¥."""

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

from subsidy.domain.beijing import beijing_time
from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.money import format_fen
from subsidy.reform.diff import Cost
from subsidy.reform.labels import (
    channel_label,
    district_label,
    measure_label,
    measure_titles,
    percent,
    signed_fen,
    status_label,
)
from subsidy.reform.report import ReformReport

SHARED_NOTE = (
    "一项支持由多个责任单位负责时,全额计入每个单位。A payout under several responsible units"
    " counts in full under each: the channels add up to more than the total."
)


def _label(zh: str, en: str) -> Text:
    text = Text(zh)
    if en and en != zh:
        text.append(f"\n{en}", style="dim")
    return text


def _delta(fen: int) -> Text:
    return Text(signed_fen(fen), style="green" if fen > 0 else "red" if fen < 0 else "")


def _money_columns(table: Table) -> None:
    table.add_column("基线 baseline", justify="right", no_wrap=True)
    table.add_column("改革 reform", justify="right", no_wrap=True)
    table.add_column("差额 difference", justify="right", no_wrap=True)
    table.add_column("变化 change", justify="right", no_wrap=True)


def _cost_table(title: str, head: str, rows: Sequence[tuple[tuple[str, str], Cost]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    table.add_column(head)
    _money_columns(table)
    for (zh, en), c in rows:
        table.add_row(
            _label(zh, en),
            format_fen(c.baseline_fen),
            format_fen(c.reform_fen),
            _delta(c.delta_fen),
            percent(c.delta_fen, c.baseline_fen),
        )
    return table


def _header(console: Console, report: ReformReport) -> None:
    p, h = report.policies, report.history
    console.print(f"[bold]政策改革对比 Policy reform comparison[/bold] · 《{p.baseline.title}》")
    baseline = "当前政策 the policy the platform runs"
    if p.baseline_overlay is not None:
        baseline += f" (+ {p.baseline_overlay})"
    console.print(f"基线 baseline: {baseline}, catalog {p.baseline.version}")
    console.print(f"改革 reform: {p.reform_overlay}, catalog {p.reform.version}")
    source = "台账 the ledger" if h.ledger is not None else "事件文件 event file"
    console.print(
        f"历史 history: {source} {h.origin}, {len(h.lines):,} 个事件 events"
        + (f", {len(h.bad):,} 行无效 bad lines (listed below, not compared)" if h.bad else "")
    )
    console.print(f"生成时间 generated: {beijing_time(report.generated_at)} 北京时间 Beijing time")


def _changes(report: ReformReport) -> Table:
    table = Table(title="改革内容 What the reform changes", title_justify="left",
                  title_style="bold")  # fmt: skip
    for head in ("规则 rule", "项目 key", "基线 baseline", "改革 reform", "生效 from"):
        table.add_column(head)
    for c in report.policies.changes:
        table.add_row(
            c.rule_id or "(政策 policy)",
            c.key,
            c.baseline,
            c.reform,
            c.effective_from.isoformat() if c.effective_from else "全程 throughout",
        )
    return table


def _total(report: ReformReport) -> Table:
    t = report.comparison.total
    table = Table(title="总成本 Total cost", title_justify="left", title_style="bold")
    table.add_column("")
    _money_columns(table)
    table.add_row(
        _label("已拨付", "granted"),
        format_fen(t.baseline_fen),
        format_fen(t.reform_fen),
        _delta(t.delta_fen),
        percent(t.delta_fen, t.baseline_fen),
    )
    paid = t.reform_paid - t.baseline_paid
    table.add_row(
        _label("获拨付资格", "entitlements paid"),
        f"{t.baseline_paid:,}",
        f"{t.reform_paid:,}",
        Text(f"{paid:+,}" if paid else "0"),
        percent(paid, t.baseline_paid),
    )
    return table


def _enterprises(report: ReformReport, top: int) -> Table:
    changed = report.comparison.enterprises
    gainers = sum(e.delta_fen > 0 for e in changed)
    table = Table(
        title=f"企业增减 Enterprises that gain or lose ({gainers:,} gain 增加, "
        f"{len(changed) - gainers:,} lose 减少)",
        title_justify="left",
        title_style="bold",
    )
    table.add_column("企业 enterprise")
    table.add_column("区 district")
    table.add_column("基线 baseline", justify="right", no_wrap=True)
    table.add_column("改革 reform", justify="right", no_wrap=True)
    table.add_column("差额 difference", justify="right", no_wrap=True)
    for e in changed[:top]:
        zh, en = district_label(e.district)
        table.add_row(
            _label(e.name, e.enterprise_id),
            _label(zh, en),
            format_fen(e.baseline_fen),
            format_fen(e.reform_fen),
            _delta(e.delta_fen),
        )
    return table


def _statuses(report: ReformReport, top: int) -> tuple[Table, Table]:
    c = report.comparison
    moves = Table(title="状态变化 Status changes", title_justify="left", title_style="bold")
    moves.add_column("基线状态 from")
    moves.add_column("改革状态 to")
    moves.add_column("数量 entitlements", justify="right")
    for before, after, n in c.transitions:
        moves.add_row(status_label(before), status_label(after), f"{n:,}")
    changed = [e for e in c.entitlements if e.status_changed]
    table = Table(
        title=f"状态改变的资格 Entitlements whose status changes ({len(changed):,})",
        title_justify="left",
        title_style="bold",
    )
    table.add_column("资格 entitlement", no_wrap=True)
    table.add_column("年度 year", justify="right")
    table.add_column("状态 status", no_wrap=True)
    table.add_column("基线 baseline", justify="right", no_wrap=True)
    table.add_column("改革 reform", justify="right", no_wrap=True)
    table.add_column("差额 difference", justify="right", no_wrap=True)
    for e in changed[:top]:
        before = e.baseline.status if e.baseline else None
        after = e.reform.status if e.reform else None
        event_id = e.entitlement_id.removesuffix(f"/{e.rule_id}")
        status = Text(
            f"{STATUS_LABELS_ZH.get(before or '', '—')} → {STATUS_LABELS_ZH.get(after or '', '—')}"
        )
        status.append(f"\n{before or '—'} → {after or '—'}", style="dim")
        if e.reform is not None and e.reform.reasons:
            status.append(f"\n{', '.join(e.reform.reasons)}", style="dim")
        table.add_row(
            _label(event_id, f"{e.rule_id}\n{e.enterprise_name}"),
            str(e.year),
            status,
            format_fen(e.baseline_fen),
            format_fen(e.reform_fen),
            _delta(e.delta_fen),
        )
    return moves, table


def _more(console: Console, shown: int, total: int) -> None:
    if total > shown:
        console.print(f"[dim]… 另有 {total - shown:,} 项 and {total - shown:,} more"
                      " (--top N, or --format json for all)[/dim]")  # fmt: skip


def _ledger(console: Console, report: ReformReport) -> None:
    h, check = report.history, report.ledger_check
    if h.ledger is None or check is None:
        return
    if h.ledger.last_decided_at is not None:
        console.print(
            f"台账最近决定 last decided: {beijing_time(h.ledger.last_decided_at)} 北京时间"
        )
    if check.reproduced:
        console.print(
            f"[green]台账复核 ledger check:[/green] 基线重放与台账一致 the baseline replay"
            f" reproduces all {check.compared:,} of the ledger's entitlements"
        )
    else:
        console.print(
            f"[yellow]台账复核 ledger check:[/yellow] {check.compared - check.matching:,} of"
            f" {check.compared:,} entitlements differ from the ledger (first: "
            f"{', '.join(check.differing[:3])}); the ledger decided under catalog(s)"
            f" {', '.join(check.catalog_versions) or '-'}"
        )
    for ids, what in (
        (h.ledger.missing, "events taken before the ledger kept events (0004), not replayed"),
        (h.ledger.expired, "reviews the ledger expired by the clock, not replayed"),
        (h.ledger.mismatched, "stored events that do not match their hash, not replayed"),
    ):
        if ids:
            console.print(f"[yellow]注意 note:[/yellow] {len(ids):,} {what}")


def print_report(console: Console, report: ReformReport, top: int = 20) -> None:
    """Header, the reform, totals, the four breakdowns, enterprises, status changes, bad lines.
    A console made with soft_wrap=True keeps each line of text whole (tables still fit it)."""
    c = report.comparison
    titles = measure_titles(report.policies.baseline)
    _header(console, report)
    _ledger(console, report)
    console.print()
    console.print(_changes(report))
    console.print()
    console.print(_total(report))
    measures = [(measure_label(int(r.key), titles), r) for r in c.by_measure]
    districts = [(district_label(r.key), r) for r in c.by_district]
    channels = [(channel_label(r.key), r) for r in c.by_channel]
    years = [((f"{r.key}年", ""), r) for r in c.by_year]
    console.print()
    console.print(_cost_table("按措施 By measure", "措施 measure", measures))
    console.print()
    console.print(_cost_table("按区县 By district", "区县 district", districts))
    console.print()
    console.print(
        _cost_table("按资金渠道(责任单位) By funding channel", "责任单位 channel", channels)
    )
    console.print(f"[dim]{SHARED_NOTE}[/dim]")
    console.print()
    console.print(_cost_table("按年度 By year", "年度 year", years))
    console.print()
    console.print(_enterprises(report, top))
    _more(console, min(top, len(c.enterprises)), len(c.enterprises))
    moves, changed = _statuses(report, top)
    console.print()
    console.print(moves)
    console.print()
    console.print(changed)
    status_changed = sum(e.status_changed for e in c.entitlements)
    _more(console, min(top, status_changed), status_changed)
    console.print(
        f"金额改变、状态不变 amount changes, same status: "
        f"{len(c.entitlements) - status_changed:,} entitlements; "
        f"比较 compared: {c.entitlements_compared:,} entitlements; "
        f"被拒事件 rejected events: {c.rejected_baseline:,} → {c.rejected_reform:,}; "
        f"待审等待 parked reviews: {c.parked_baseline:,} → {c.parked_reform:,}"
    )
    bad = report.history.bad
    if bad:
        console.print(f"[yellow]无效事件行 bad event lines: {len(bad):,} (not compared)[/yellow]")
        for b in bad[:top]:
            console.print(f"  line {b.line}: {b.event_id or '-'}: {b.error}", markup=False,
                          highlight=False)  # fmt: skip
        _more(console, min(top, len(bad)), len(bad))
