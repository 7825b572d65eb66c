"""What `subsidy eligibility evaluate` prints: entitlements with their traces, or CSV rows."""

# For people (zh or en), each event's entitlements with their traces; as CSV, one row per
# entitlement (and per rejected event).

from typing import Any

import typer

from subsidy.domain.events import LEDGER_PAYLOADS
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Lang

# Ledger payloads the ledger only records (payee accounts, objections): they change nothing.
_RECORDED = frozenset({"payeeAccountRegistered", "objectionFiled"})
# An appeal and its decision: the ledger's, not a rule's (docs/rules.md step 10).
_APPEALS = frozenset({"appealFiled", "appealDecided"})

# What a person is told of an event that makes no entitlement: (zh, en).
_NOTES = {
    "recorded": ("（由台账登记，供拨付使用；不改变任何资格）",
                 "(recorded by the ledger for the payouts; changes no entitlement)"),
    "appeal": ("（复核申请：由台账登记并决定，不运行规则）",
               "(an appeal: the ledger records and decides it; no rule runs)"),
    "retraction": ("（撤回此前事件：台账按其从未报送处理）",
                   "(withdraws an earlier event: the ledger decides as if it was never sent)"),
    "ledger": ("（改变台账中已有的资格，不新增资格）",
               "(changes existing entitlements in the ledger; creates none)"),
}  # fmt: skip

CSV_HEADER = ("line", "eventId", "enterpriseId", "payloadType", "revision", "entitlementId",
              "ruleId", "measure", "year", "status", "reasons", "entitledFen", "error")  # fmt: skip


def _note(payload_type: str, found: list[dict[str, Any]]) -> str | None:
    if not found and payload_type in _RECORDED:
        return "recorded"
    if payload_type in _APPEALS:
        return "appeal"
    if payload_type == "eventRetracted":
        return "retraction"
    if not found and payload_type in LEDGER_PAYLOADS:
        return "ledger"
    return None


def _in_order(evaluations: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> list[Any]:
    # Rejections go where the evaluations go, in line order, so the report reads top to bottom.
    rows = [(e["line"], e) for e in evaluations] + [(r["line"], r) for r in rejected]
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def print_report(evaluations: list[dict[str, Any]], rejected: list[dict[str, Any]],
                 lang: Lang) -> None:  # fmt: skip
    """Each event in line order: its entitlements with status, reasons, amount and trace."""
    say = out.pick
    for row in _in_order(evaluations, rejected):
        if "fieldErrors" in row:
            line, event_id = row["line"], row["eventId"] or "?"
            typer.echo(say(lang, f"第 {line} 行：拒收事件 {event_id}",
                           f"line {line}: REJECTED event {event_id}"))  # fmt: skip
            for e in row["fieldErrors"]:
                typer.echo(f"  {e['field']}: {e['message']}")
            continue
        found = row["entitlements"]
        revision = ""
        if "revision" in row:
            revision = say(lang, f"，更正第{row['revision']}版", f", revision {row['revision']}")
        typer.echo(say(
            lang,
            f"第 {row['line']} 行：事件 {row['eventId']}（{row['payloadType']}，"
            f"{row['enterpriseId']}{revision}）：{len(found)} 项资格",
            f"line {row['line']}: event {row['eventId']} ({row['payloadType']}, "
            f"{row['enterpriseId']}{revision}): {len(found)} entitlement(s)",
        ))  # fmt: skip
        note = _note(row["payloadType"], found)
        if note is not None:
            typer.echo("  " + say(lang, *_NOTES[note]))
        for e in found:
            reasons = out.reasons(e["reasons"], lang)
            typer.echo(f"  {e['entitlementId']}  {out.measure(e['measure'], lang)}  "
                       f"{out.status(e['status'], lang)}  {out.money(e['entitledFen'])}"
                       + (f"  [{reasons}]" if reasons else ""))  # fmt: skip
            for t in e["trace"]:
                typer.echo(f"    {t['labelZh'] if lang is Lang.zh else t['labelEn']}: {t['value']}")
    typer.echo(say(lang, f"已评估 {len(evaluations)} 个事件，拒收 {len(rejected)} 个",
                   f"{len(evaluations)} event(s) evaluated, {len(rejected)} rejected"))  # fmt: skip


def write_csv(evaluations: list[dict[str, Any]], rejected: list[dict[str, Any]]) -> None:
    """One row per entitlement, and one per rejected event (its error filled), in line order."""
    rows: list[tuple[object, ...]] = []
    for row in _in_order(evaluations, rejected):
        if "fieldErrors" in row:
            rows.append((row["line"], row["eventId"], None, None, None, None, None, None, None,
                         None, None, None, row["error"]))  # fmt: skip
            continue
        for e in row["entitlements"]:
            rows.append((row["line"], row["eventId"], row["enterpriseId"], row["payloadType"],
                         row.get("revision"), e["entitlementId"], e["ruleId"], e["measure"],
                         e["year"], e["status"], ";".join(e["reasons"]), e["entitledFen"],
                         None))  # fmt: skip
    out.write_csv(CSV_HEADER, rows)
