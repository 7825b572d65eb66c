"""Decisions for people and spreadsheets: `ledger decisions`' page as a table, any list as CSV."""

# The table is in zh or en, in Beijing time; the CSV has codes, integer fen, ISO-8601 with the
# offset.

from collections.abc import Iterable

from rich.console import Console

from subsidy.api.v1 import api_pb2
from subsidy.contract.instants import instant
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Column, Lang

_COLUMNS = (
    Column("决定", "decision", "id"),
    Column("企业", "enterprise", "id"),
    Column("地区", "district"),
    Column("条款", "measure"),
    Column("规则", "rule", "id"),
    Column("年度", "year"),
    Column("状态", "status"),
    Column("原因", "reasons"),
    Column("已拨付", "granted", "money"),
    Column("本次拨付", "cash moved", "money"),
    Column("决定时间", "decided at", "id"),
)

CSV_HEADER = ("decisionId", "entitlementId", "enterpriseId", "enterpriseName", "district",
              "ruleId", "measure", "itemId", "year", "status", "reasons", "entitledFen",
              "grantedFen", "cashDeltaFen", "clawbackFen", "revision", "decidedAt")  # fmt: skip


def _reason_codes(d: dpb.Decision) -> list[str]:
    return [dpb.Reason.Name(r) for r in d.reasons]


def _district_code(d: dpb.Decision) -> str:
    return "" if d.district == epb.DISTRICT_UNSPECIFIED else epb.District.Name(d.district)


def write_csv(decisions: Iterable[dpb.Decision]) -> None:
    """One decision a row, in the contract's codes and integer fen."""
    out.write_csv(CSV_HEADER, (
        (d.decision_id, d.entitlement_id, d.enterprise_id, d.enterprise_name,
         _district_code(d), d.rule_id, d.measure, d.item_id, d.year, dpb.Status.Name(d.status),
         ";".join(_reason_codes(d)), d.entitled_fen, d.granted_fen, d.cash_delta_fen,
         d.clawback_fen, d.revision, out.iso(instant(d, "decided_time", "decided_at")))
        for d in decisions
    ))  # fmt: skip


def print_page(console: Console, page: api_pb2.ListDecisionsResponse, lang: Lang) -> None:
    """The page's decisions, what they moved, and how to ask for the next page."""
    grid = out.table(_COLUMNS, lang)
    for d in page.decisions:
        grid.add_row(
            d.decision_id,
            d.enterprise_id,
            out.district(_district_code(d), lang),
            out.measure(d.measure, lang),
            d.rule_id,
            str(d.year),
            out.status(dpb.Status.Name(d.status), lang),
            out.reasons(_reason_codes(d), lang),
            out.money(d.granted_fen),
            out.money(d.cash_delta_fen),
            out.beijing(instant(d, "decided_time", "decided_at")),
        )
    out.show(console, grid)
    moved = sum(d.cash_delta_fen for d in page.decisions)
    count = len(page.decisions)
    total = out.summary_money(moved, lang)
    console.print(out.pick(lang, f"本页 {count} 条决定，拨付变动合计 {total}",
                           f"{count} decision(s) on this page, cash moved {total}"))  # fmt: skip
    if page.next_page_token:
        said = out.pick(lang, "下一页：", "Next page: ") + "--page-token " + page.next_page_token
        console.print(said, soft_wrap=True)
    else:
        console.print(out.pick(lang, "已是最后一页", "Last page"))
