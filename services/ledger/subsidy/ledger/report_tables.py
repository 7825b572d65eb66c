"""The tables of `ledger statement` and `ledger totals`, in zh or en."""

# Words for statuses, reasons, measures and districts; whole amounts, totals also in 万元.

import functools

from rich.console import Console

from subsidy.api.v1 import api_pb2
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.money import format_fen
from subsidy.infra import cli_output
from subsidy.infra.cli_output import Column, Lang
from subsidy.ledger.report import payment_lines

_STATEMENT_COLUMNS = (
    Column("规则", "rule", "id"),
    Column("支持对象", "item"),
    Column("年度", "year"),
    Column("状态", "status"),
    Column("原因", "reasons"),
    Column("应享金额", "entitled", "money"),
    Column("已拨付", "granted", "money"),
    Column("应追回", "clawback", "money"),
)


def print_statement(
    console: Console, s: api_pb2.GetStatementResponse, year: int | None, lang: Lang = Lang.zh
) -> None:
    """One row per entitlement (its latest decision), a line per entitlement saying where its
    payment orders stand, then the totals and what is owed back."""
    name = s.entitlements[0].enterprise_name if s.entitlements else ""
    title = f"{s.enterprise_id} {name}".strip() + (f", {year}" if year is not None else "")
    table = cli_output.table(_STATEMENT_COLUMNS, lang, cli_output.pick(lang, "对账单", "Statement")
                             + f": {title}")  # fmt: skip
    for d in s.entitlements:
        table.add_row(
            d.rule_id,
            d.item_id,
            str(d.year),
            cli_output.status(dpb.Status.Name(d.status), lang),
            cli_output.reasons((dpb.Reason.Name(r) for r in d.reasons), lang),
            format_fen(d.entitled_fen),
            format_fen(d.granted_fen),
            format_fen(d.clawback_fen),
        )
    cli_output.show(console, table)
    out = functools.partial(console.print, markup=False, highlight=False, soft_wrap=True)
    lines = payment_lines(s, lang)
    if lines:
        out(cli_output.pick(lang, "拨付", "Payments"))
        for line in lines:
            out(f"  {line}")

    def money(fen: int) -> str:
        return cli_output.summary_money(fen, lang)

    out(cli_output.pick(
        lang,
        f"共 {len(s.entitlements)} 项资格；已拨付 {money(s.granted_fen)}，应追回"
        f" {money(s.clawback_fen)}，尚未退回 {money(s.owed_back_fen)}",
        f"{len(s.entitlements)} entitlement(s); granted {money(s.granted_fen)}, clawback"
        f" {money(s.clawback_fen)}, owed back {money(s.owed_back_fen)}",
    ))  # fmt: skip


_GROUP_WORDS = {"measure": ("条款", "measure"), "rule": ("规则", "rule"),
                "district": ("地区", "district"), "year": ("年度", "year"),
                "channel": ("资金渠道", "funding channel")}  # fmt: skip


def _group_key(key: str, by: str, lang: Lang) -> str:
    """A group's key in words: `第3条`, `苏州工业园区`; rules, years and channels as they are."""
    if by == "measure" and key.isdigit():
        return cli_output.measure(int(key), lang)
    if by == "district":
        return cli_output.district(key, lang)
    return key


def print_totals(
    console: Console, t: api_pb2.GetTotalsResponse, by: str, lang: Lang = Lang.zh
) -> None:
    """One row per group, then the grand total (and, by channel, how shared payouts count)."""
    channel = by == "channel"
    zh, en = _GROUP_WORDS.get(by, (by, by))
    columns = [Column(zh, en, "id"), Column("已拨付", "granted", "money"),
               Column("资格数", "entitlements")]  # fmt: skip
    if channel:
        columns.append(Column("其中共担", "of which shared", "money"))
    title = cli_output.pick(lang, f"按{zh}汇总的已拨付金额", f"Granted by {en}")
    table = cli_output.table(columns, lang, title)
    for row in t.totals:
        cells = [_group_key(row.key, by, lang), format_fen(row.granted_fen), str(row.entitlements)]
        if channel:
            cells.append(format_fen(row.shared_fen))
        table.add_row(*cells)
    cli_output.show(console, table)
    total = cli_output.summary_money(t.granted_fen, lang)
    console.print(cli_output.pick(lang, f"合计：{total}，共 {t.entitlements} 项资格",
                                  f"total: {total} in {t.entitlements} entitlement(s)"),
                  markup=False, highlight=False)  # fmt: skip
    if channel:
        console.print(cli_output.pick(
            lang,
            "一项规则有多个责任单位时，其拨付在每个单位下全额列出（其中共担），各渠道之和因此大于合计。",
            "A payout under a rule with several responsible units is listed in full under each"
            " of them ('of which shared'): the channel rows add up to more than the total.",
        ))  # fmt: skip
