"""The contract's export printed as a table, JSON or CSV."""

# The export: entitlements, rejected and parked events. `subsidy simulate` and
# `subsidy ledger export` print the same way.

import sys
from typing import Any

from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Column, Lang, OutputFormat

_COLUMNS = (
    Column("资格", "entitlement", "id"),
    Column("企业", "enterprise", "id"),
    Column("年度", "year"),
    Column("状态", "status"),
    Column("原因", "reasons"),
    Column("应享金额", "entitled", "money"),
    Column("已拨付", "granted", "money"),
)
# The CSV's columns: the contract's keys (docs/contract.md §2), one entitlement a row.
_CSV_KEYS = ("entitlementId", "eventId", "enterpriseId", "ruleId", "itemId", "year", "status",
             "reasons", "entitledFen", "grantedFen")  # fmt: skip


def print_contract(
    result: dict[str, Any], output_format: OutputFormat, lang: Lang = Lang.zh
) -> None:
    """Entitlements, rejected and parked events in the contract's shape (simulate, export).
    CSV holds the entitlements; the rejected and parked events then go to stderr."""
    if output_format is OutputFormat.json:
        out.write_json(result)
        return
    if output_format is OutputFormat.csv:
        out.write_csv(_CSV_KEYS, ([_csv_cell(e[k]) for k in _CSV_KEYS]
                                  for e in result["entitlements"]))  # fmt: skip
        for r in result["rejectedEvents"]:
            print(f"rejected {r['eventId']}: {r['error']}", file=sys.stderr)
        for r in result["parkedEvents"]:
            print(f"parked {r['eventId']} → {r['eventRef']}", file=sys.stderr)
        return
    _print_table(result, lang)


def _csv_cell(value: Any) -> Any:
    return ";".join(value) if isinstance(value, list) else value


def _print_table(result: dict[str, Any], lang: Lang) -> None:
    grid = out.table(_COLUMNS, lang)
    for e in result["entitlements"]:
        grid.add_row(
            e["entitlementId"],
            e["enterpriseId"],
            str(e["year"]),
            out.status(e["status"], lang),
            out.reasons(e["reasons"], lang),
            out.money(e["entitledFen"]),
            out.money(e["grantedFen"]),
        )
    console = out.console()
    out.show(console, grid)
    granted = sum(e["grantedFen"] for e in result["entitlements"])
    count = len(result["entitlements"])
    total = out.summary_money(granted, lang)
    console.print(out.pick(lang, f"共 {count} 项资格，已拨付合计 {total}",
                           f"{count} entitlement(s), granted {total}"))  # fmt: skip
    for r in result["rejectedEvents"]:
        said = out.pick(lang, "拒收", "rejected")
        console.print(f"{said} {r['eventId']}: {r['error']}")
    for r in result["parkedEvents"]:
        said = out.pick(lang, "等待事件", "waiting")
        console.print(f"{said} {r['eventId']} → {r['eventRef']}")
