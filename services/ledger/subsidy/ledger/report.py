"""LedgerService answers for people: statement and totals tables, readable explanations, JSON."""

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console

from subsidy.api.v1 import api_pb2
from subsidy.contract.instants import instant
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.beijing import BEIJING
from subsidy.domain.entitlements import STATUS_LABELS_ZH
from subsidy.domain.money import format_fen
from subsidy.domain.words import CHECK_LABELS
from subsidy.events.v1 import events_pb2 as epb

# The ledger's checks (subsidy.domain.ledger.book), labelled like the eligibility trace.


def _fen_fields(value: Any) -> Any:
    """protobuf's JSON writes int64 as strings; amounts stay integers of fen here."""
    if isinstance(value, dict):
        return {
            k: int(v)
            if isinstance(v, str) and (k.endswith("Fen") or k == "entitlements")
            else _fen_fields(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_fen_fields(v) for v in value]
    return value


def as_json(message: Any) -> dict[str, Any]:
    """A response in protobuf's JSON mapping (lowerCamelCase, enums by name, every field),
    with the fen amounts as integers."""
    body = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    result: dict[str, Any] = _fen_fields(body)
    return result


def _reasons(d: dpb.Decision) -> str:
    return ", ".join(dpb.Reason.Name(r) for r in d.reasons)


def _one_line(text: str) -> str:
    """Clause texts span lines; a line of output holds one item."""
    return " ".join(text.split())


def _signed(fen: int) -> str:
    return f"+{format_fen(fen)}" if fen > 0 else format_fen(fen)


_LEVELS = {"city": "市级", "district": "区级"}


def _payment(p: api_pb2.EntitlementPayment) -> str:
    """`市级 市科技局 ¥500,000.00 已拨付（2026年3月5日）`, with any part set off."""
    text = (
        f"{_LEVELS.get(p.level, p.level)} {p.channel} {format_fen(p.amount_fen)} {p.status_zh}"
        f" ({p.order_id})"
    )
    if p.set_off_fen:
        text += f", 其中抵扣应退款 {format_fen(p.set_off_fen)}"
    return text


def payment_lines(s: api_pb2.GetStatementResponse) -> list[str]:
    """One line per entitlement that has payment orders or a grant: its orders and where each
    stands (status_zh), or that none was made yet."""
    by_entitlement: dict[str, list[api_pb2.EntitlementPayment]] = {}
    for p in s.payments:
        by_entitlement.setdefault(p.entitlement_id, []).append(p)
    lines = []
    for d in s.entitlements:
        orders = by_entitlement.get(d.entitlement_id, [])
        if orders:
            lines.append(f"{d.entitlement_id}: " + "; ".join(_payment(p) for p in orders))
        elif d.granted_fen > 0:
            lines.append(f"{d.entitlement_id}: 尚无支付指令 / no payment order yet")
    return lines


# How an event reached the ingest API, for people.
CHANNEL_LABELS: dict[int, str] = {
    epb.GRPC_API: "gRPC API 接口",
    epb.FEED_WATCHER: "feed watcher 目录监听",
    epb.CLI_FILE: "CLI file 命令行文件",
}


def submitter(provenance: epb.Provenance | None) -> str:
    """Who submitted an event and how, for people; a note when the ledger has no record."""
    if provenance is None:
        return "提交方未记录 submitter not recorded"
    channel = CHANNEL_LABELS.get(provenance.channel, "channel unknown 渠道未知")
    return f"提交方 submitted by {provenance.principal} via {channel}"


def _decision_line(
    d: dpb.Decision,
    submitted_by: Mapping[str, epb.Provenance],
    by_revision: Mapping[int, epb.Provenance] | None = None,
) -> str:
    reasons = f" [{_reasons(d)}]" if d.reasons else ""
    # submitted_by names who sent the revision of the event now in force; a revision of this
    # entitlement brought about by an earlier one names who sent that one.
    known = (by_revision or {}).get(d.revision)
    who = submitter(known or submitted_by.get(d.caused_by_event_id))
    return (
        f"#{d.revision} {dpb.Status.Name(d.status)}{reasons}:"
        f" entitled {format_fen(d.entitled_fen)},"
        f" granted {format_fen(d.granted_fen)}, cash {_signed(d.cash_delta_fen)},"
        f" clawback {format_fen(d.clawback_fen)}"
        f" (event {d.caused_by_event_id}, {_beijing(d, 'decided_time', 'decided_at')}; {who})"
    )


def four_eyes(x: api_pb2.ExplainDecisionResponse) -> str | None:
    """Who approved a large review (four eyes, docs/rules.md): the first reviewer while the
    entitlement awaits a second, both once the second acted; None if no review needed two."""
    reviews = [c for c in x.checks if c.check == "review"]
    if not reviews:
        return None
    last = reviews[-1].numbers
    if reviews[-1].outcome == "AWAITING_SECOND_APPROVAL":
        return (
            f"双人复核 four eyes: {last['reviewer']} 已批准 approved {last['approvedAmount']}"
            f" ({last['reviewEvent']}); 待另一位审核人复核 awaits a second approval by another"
            " reviewer"
        )
    if "firstReviewer" in last:
        return (
            f"双人复核 four eyes: approved by {last['firstReviewer']} ({last['firstReviewEvent']})"
            f" and {last['reviewer']} ({last['reviewEvent']})"
        )
    return None


def print_explanation(console: Console, x: api_pb2.ExplainDecisionResponse) -> None:
    """The decision, the eligibility trace, each ledger check with its numbers, the revisions,
    what else happened on the same item, and the corrections (更正记录): each revision of the
    events behind it, who sent it, when (Beijing time), why, and what it changed here. Plain
    text (no markup): ids contain brackets."""
    d = x.decision
    # Long lines (clauses) are not wrapped: one item per line, as a reader greps it.
    out = functools.partial(console.print, markup=False, highlight=False, soft_wrap=True)
    out(f"Entitlement 资格 {d.entitlement_id}")
    lines = [
        f"enterprise: {d.enterprise_id} {d.enterprise_name} ({epb.District.Name(d.district)})",
        f"rule: {d.rule_id} (measure {d.measure}), item {d.item_id}, year {d.year}",
        f"clause: {_one_line(d.clause)}",
        f"funding channels 资金渠道: {', '.join(d.funding_channels) or '-'}",
        f"status 状态: {dpb.Status.Name(d.status)}"
        + (f" [{_reasons(d)}]" if d.reasons else "")
        + f"; entitled {format_fen(d.entitled_fen)}; granted {format_fen(d.granted_fen)};"
        f" clawback {format_fen(d.clawback_fen)}",
    ]
    approvals = four_eyes(x)
    for line in [*lines, *([approvals] if approvals else [])]:
        out(f"  {line}")
    out("\nEligibility trace 资格判定")
    for t in x.eligibility_trace:
        out(f"  {t.label_zh} / {t.label_en}: {_one_line(t.value)}")
    if not x.eligibility_trace:
        out("  (no trace stored)")
    out("\nLedger checks 台账校验")
    for c in x.checks:
        zh, en = CHECK_LABELS.get(c.check, (c.check, c.check))
        out(f"  #{c.revision} {zh} / {en}: {c.outcome}")
        for key in sorted(c.numbers):
            out(f"      {key}: {c.numbers[key]}")
    out("\nHistory 变更记录")
    by_revision = _revision_submitters(x)
    for h in x.history:
        out(f"  {_decision_line(h, x.submitted_by, by_revision)}")
    if x.item_history:
        out(f"\nSame item 同一项目 {d.item_id} (就高不重复)")
        for h in x.item_history:
            out(f"  {h.entitlement_id} {_decision_line(h, x.submitted_by)}")
    if x.HasField("event"):  # a server from before corrections sends none
        out("\n更正记录 / Corrections")
        for line in correction_lines(x):
            out(f"  {line}")
    if x.appeals:
        out("\n复核申请 / Appeals")
        for line in appeal_lines(x):
            out(f"  {line}")


def _beijing(message: Message, time_field: str, string_field: str) -> str:
    """`2026-03-02 10:15 北京时间` from the message's Timestamp, or from the ISO-8601 string an
    older ledger gave (subsidy.contract.instants); the string as given if it does not parse."""
    try:
        moment = instant(message, time_field, string_field)
    except ValueError:
        return str(getattr(message, string_field))
    if moment is None:
        return "时间未记录"
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M} 北京时间"


def _state(status: "dpb.Status.ValueType", granted_fen: int) -> str:
    """`已拨付 ¥120,000.00`: a status in the words bureaus use, and what it holds."""
    try:
        name = dpb.Status.Name(status)
    except ValueError:  # a status from a newer contract
        name = str(status)
    return f"{STATUS_LABELS_ZH.get(name, name)} {format_fen(granted_fen)}"


def _by(provenance: epb.Provenance) -> str:
    return f"由 {provenance.principal} 提交" if provenance.principal else "提交方未记录"


def _caused(revisions: Iterable[int], decisions: Mapping[int, dpb.Decision]) -> str:
    """` → 修订 #3: 已拨付 ¥120,000.00 → 已拨付 ¥20,000.00, 应追回 ¥100,000.00`: what each
    revision of the entitlement it brought about changed, and what follows for money."""
    parts = []
    for n in revisions:
        d = decisions.get(n)
        if d is None:
            parts.append(f"修订 #{n}")
            continue
        after = _state(d.status, d.granted_fen)
        if not d.HasField("correction"):
            parts.append(f"修订 #{n}: {after}")
            continue
        c = d.correction
        before = _state(c.previous_status, c.previous_granted_fen)
        text = f"修订 #{n}: {before if c.previous_status else '无 (新资格)'} → {after}"
        owed = c.previous_granted_fen - d.granted_fen
        if d.cash_delta_fen > 0:
            text += f", 补拨 {format_fen(d.cash_delta_fen)}"
        elif owed > 0:
            text += f", 应追回 {format_fen(owed)}"
        parts.append(text)
    return f" → {'; '.join(parts)}" if parts else ""


def _event_lines(
    e: api_pb2.EventCorrections, decisions: Mapping[int, dpb.Decision], own: bool
) -> list[str]:
    whose = "本资格的事件 / this entitlement's event" if own else "同企业另一事件 / another event"
    lines = [f"事件 {e.event_id} ({whose})"]
    for r in e.revisions:
        why = f"原因: {r.reason}" if r.reason else "原始事件 / original"
        taken = _beijing(r, "taken_time", "taken_at")
        lines.append(
            f"  版次 {r.revision} ({taken}) {_by(r.submitted_by)}, {why}"
            + _caused(r.decision_revisions, decisions)
        )
    if e.HasField("retraction"):
        t = e.retraction
        taken = _beijing(t, "taken_time", "taken_at")
        lines.append(
            f"  撤回 {t.retracted_by} ({taken}) {_by(t.submitted_by)},"
            f" 原因: {t.reason}" + _caused(t.decision_revisions, decisions)
        )
    return lines


def _revision_submitters(x: api_pb2.ExplainDecisionResponse) -> dict[int, epb.Provenance]:
    """Who sent the revision of an event (or the retraction) behind each of the entitlement's
    decision revisions, where the ledger recorded it."""
    found: dict[int, epb.Provenance] = {}
    for e in [x.event, *x.other_events]:
        sent: list[api_pb2.EventRevision | api_pb2.EventRetraction] = list(e.revisions)
        if e.HasField("retraction"):
            sent.append(e.retraction)
        for r in sent:
            if r.HasField("submitted_by"):
                found.update((n, r.submitted_by) for n in r.decision_revisions)
    return found


def correction_lines(x: api_pb2.ExplainDecisionResponse) -> list[str]:
    """The entitlement's event revision by revision, its retraction, and the other events whose
    corrections decided it again: who sent each, when, why, and what it changed here."""
    decisions = {d.revision: d for d in x.history}
    lines = _event_lines(x.event, decisions, own=True)
    for other in x.other_events:
        lines += _event_lines(other, decisions, own=False)
    return lines


_REMEDIES = {
    "REOPENED": "重新审核 / reopened for review",
    "SOURCE_CORRECTION": "由数据来源更正 / to be corrected by the source",
}


def appeal_lines(x: api_pb2.ExplainDecisionResponse) -> list[str]:
    """复核申请: each appeal of the entitlement, who filed it and when (Beijing time), why, its
    attachment, and the decision on it: who, upheld or dismissed, why."""
    lines = []
    for a in x.appeals:
        who = _by(epb.Provenance(principal=a.filed_by))
        filed = _beijing(a, "recorded_time", "recorded_at")
        lines.append(f"{a.appeal_id} ({filed}, 申请日 {a.filed_on}) {who}:"
                     f" {_one_line(a.reason)}")  # fmt: skip
        if a.attachment_ref:
            lines.append(f"  附件 / attachment: {a.attachment_ref}")
        if not a.HasField("decision"):
            lines.append("  待决定 / open")
            continue
        d = a.decision
        verdict = f"支持 / upheld, {_REMEDIES.get(d.remedy, d.remedy)}" if d.upheld else (
            "驳回 / dismissed")  # fmt: skip
        decided = _beijing(d, "recorded_time", "recorded_at")
        lines.append(f"  {d.event_id} ({decided}) 由 {d.decided_by} 决定:"
                     f" {verdict}: {_one_line(d.reason)}")  # fmt: skip
    return lines
