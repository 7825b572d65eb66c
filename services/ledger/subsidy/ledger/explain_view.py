"""`subsidy ledger explain` for people, in zh or en: a decision with its checks and history."""

# The decision, its checks, history, corrections and appeals, in cli_output's words, amounts and
# Beijing times.

import functools
from collections.abc import Iterable, Mapping

from google.protobuf.message import Message
from rich.console import Console

from subsidy.api.v1 import api_pb2
from subsidy.contract.instants import instant
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.money import format_fen
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import Lang


def _one_line(text: str) -> str:
    """Clause texts span lines; a line of output holds one item."""
    return " ".join(text.split())


def _signed(fen: int) -> str:
    return f"+{format_fen(fen)}" if fen > 0 else format_fen(fen)


def _status(status: "dpb.Status.ValueType") -> str:
    try:
        return dpb.Status.Name(status)
    except ValueError:  # a status from a newer contract
        return str(status)


def _reasons(d: dpb.Decision, lang: Lang) -> str:
    """` (已达到…)`: the decision's reasons in words, or nothing."""
    if not d.reasons:
        return ""
    said = out.reasons((dpb.Reason.Name(r) for r in d.reasons), lang)
    return out.pick(lang, f"（{said}）", f" ({said})")


def _beijing(message: Message, time_field: str, string_field: str, lang: Lang) -> str:
    """`2026-03-02 10:15:07 +08:00` from the message's Timestamp, or from the ISO-8601 string an
    older ledger gave (subsidy.contract.instants); the string as given if it does not parse."""
    try:
        moment = instant(message, time_field, string_field)
    except ValueError:
        return str(getattr(message, string_field))
    if moment is None:
        return out.pick(lang, "时间未记录", "time not recorded")
    return out.beijing(moment)


def submitter(provenance: epb.Provenance | None, lang: Lang) -> str:
    """Who submitted an event and how; a note when the ledger has no record."""
    if provenance is None:
        return out.pick(lang, "提交方未记录", "submitter not recorded")
    try:
        code = epb.SubmissionChannel.Name(provenance.channel)
    except ValueError:
        code = str(provenance.channel)
    via = out.word(out.SUBMITTED_VIA, code, lang)
    return out.pick(lang, f"由 {provenance.principal} 经 {via} 提交",
                    f"submitted by {provenance.principal} via {via}")  # fmt: skip


def _decision_line(
    d: dpb.Decision,
    lang: Lang,
    submitted_by: Mapping[str, epb.Provenance],
    by_revision: Mapping[int, epb.Provenance] | None = None,
) -> str:
    # submitted_by names who sent the revision of the event now in force; a revision of this
    # entitlement brought about by an earlier one names who sent that one.
    known = (by_revision or {}).get(d.revision)
    who = submitter(known or submitted_by.get(d.caused_by_event_id), lang)
    when = _beijing(d, "decided_time", "decided_at", lang)
    money = (format_fen(d.entitled_fen), format_fen(d.granted_fen), _signed(d.cash_delta_fen),
             format_fen(d.clawback_fen))  # fmt: skip
    head = f"#{d.revision} {out.status(_status(d.status), lang)}{_reasons(d, lang)}"
    return out.pick(
        lang,
        f"{head}：应享 {money[0]}，已拨付 {money[1]}，本次拨款 {money[2]}，应追回 {money[3]}"
        f"（事件 {d.caused_by_event_id}，{when}；{who}）",
        f"{head}: entitled {money[0]}, granted {money[1]}, cash {money[2]},"
        f" clawback {money[3]} (event {d.caused_by_event_id}, {when}; {who})",
    )


def four_eyes(x: api_pb2.ExplainDecisionResponse, lang: Lang) -> str | None:
    """Who approved a large review (four eyes, docs/rules.md): the first reviewer while the
    entitlement awaits a second, both once the second acted; None if no review needed two."""
    reviews = [c for c in x.checks if c.check == "review"]
    if not reviews:
        return None
    n = reviews[-1].numbers
    if reviews[-1].outcome == "AWAITING_SECOND_APPROVAL":
        return out.pick(
            lang,
            f"双人复核：{n['reviewer']} 已批准 {n['approvedAmount']}（{n['reviewEvent']}），"
            "待另一位审核人复核",
            f"four eyes: {n['reviewer']} approved {n['approvedAmount']} ({n['reviewEvent']});"
            " awaits a second approval by another reviewer",
        )
    if "firstReviewer" in n:
        return out.pick(
            lang,
            f"双人复核：由 {n['firstReviewer']}（{n['firstReviewEvent']}）和 {n['reviewer']}"
            f"（{n['reviewEvent']}）批准",
            f"four eyes: approved by {n['firstReviewer']} ({n['firstReviewEvent']}) and"
            f" {n['reviewer']} ({n['reviewEvent']})",
        )
    return None


def _summary(x: api_pb2.ExplainDecisionResponse, lang: Lang) -> list[str]:
    """The entitlement: whose, under which rule and clause, who pays, where it stands."""
    d = x.decision
    district = out.district(epb.District.Name(d.district), lang)
    measure = out.measure(d.measure, lang)
    channels = out.pick(lang, "、", ", ").join(d.funding_channels) or "-"
    state = out.status(_status(d.status), lang) + _reasons(d, lang)
    amounts = (format_fen(d.entitled_fen), format_fen(d.granted_fen), format_fen(d.clawback_fen))
    lines = (
        [
            f"企业：{d.enterprise_id} {d.enterprise_name}（{district}）",
            f"规则：{d.rule_id}（{measure}），支持对象 {d.item_id}，{d.year} 年度",
            f"条款：{_one_line(d.clause)}",
            f"资金渠道：{channels}",
            f"状态：{state}；应享 {amounts[0]}；已拨付 {amounts[1]}；应追回 {amounts[2]}",
        ]
        if lang is Lang.zh
        else [
            f"enterprise: {d.enterprise_id} {d.enterprise_name} ({district})",
            f"rule: {d.rule_id} ({measure}), item {d.item_id}, year {d.year}",
            f"clause: {_one_line(d.clause)}",
            f"funding channels: {channels}",
            f"status: {state}; entitled {amounts[0]}; granted {amounts[1]}; clawback {amounts[2]}",
        ]
    )
    approvals = four_eyes(x, lang)
    return [*lines, *([approvals] if approvals else [])]


def print_explanation(
    console: Console, x: api_pb2.ExplainDecisionResponse, lang: Lang = Lang.zh
) -> None:
    """The decision, the eligibility trace, each ledger check with its numbers, the revisions,
    what else happened on the same item, and the corrections (更正记录): each revision of the
    events behind it, who sent it, when (Beijing time), why, and what it changed here. Plain
    text (no markup): ids contain brackets."""
    d = x.decision
    # Long lines (clauses) are not wrapped: one item per line, as a reader greps it.
    say = functools.partial(console.print, markup=False, highlight=False, soft_wrap=True)
    say(out.pick(lang, "资格 ", "Entitlement ") + d.entitlement_id)
    for line in _summary(x, lang):
        say(f"  {line}")
    colon = out.pick(lang, "：", ": ")
    say(out.pick(lang, "\n资格判定", "\nEligibility trace"))
    for t in x.eligibility_trace:
        say(f"  {out.pick(lang, t.label_zh, t.label_en)}{colon}{_one_line(t.value)}")
    if not x.eligibility_trace:
        say(out.pick(lang, "  （未存判定过程）", "  (no trace stored)"))
    say(out.pick(lang, "\n台账校验", "\nLedger checks"))
    for c in x.checks:
        check = out.word(out.CHECKS, c.check, lang)
        say(f"  #{c.revision} {check}{colon}{out.outcome(c.outcome, lang)}")
        for key in sorted(c.numbers):
            say(f"      {out.word(out.FIGURES, key, lang)}{colon}{c.numbers[key]}")
    say(out.pick(lang, "\n变更记录", "\nHistory"))
    by_revision = _revision_submitters(x)
    for h in x.history:
        say(f"  {_decision_line(h, lang, x.submitted_by, by_revision)}")
    if x.item_history:
        say(out.pick(lang, f"\n同一项目 {d.item_id}（就高不重复）",
                     f"\nSame item {d.item_id} (highest only, no stacking)"))  # fmt: skip
        for h in x.item_history:
            say(f"  {h.entitlement_id} {_decision_line(h, lang, x.submitted_by)}")
    if x.HasField("event"):  # a server from before corrections sends none
        say(out.pick(lang, "\n更正记录", "\nCorrections"))
        for line in correction_lines(x, lang):
            say(f"  {line}")
    if x.appeals:
        say(out.pick(lang, "\n复核申请", "\nAppeals"))
        for line in appeal_lines(x, lang):
            say(f"  {line}")


def _state(status: "dpb.Status.ValueType", granted_fen: int, lang: Lang) -> str:
    """`已拨付 ¥120,000.00`: a status in words, and what it holds."""
    return f"{out.status(_status(status), lang)} {format_fen(granted_fen)}"


def _by(principal: str, lang: Lang) -> str:
    if not principal:
        return out.pick(lang, "提交方未记录", "submitter not recorded")
    return out.pick(lang, f"由 {principal} 提交", f"submitted by {principal}")


def _caused(revisions: Iterable[int], decisions: Mapping[int, dpb.Decision], lang: Lang) -> str:
    """` → 修订 #3：已拨付 ¥120,000.00 → 已拨付 ¥20,000.00，应追回 ¥100,000.00`: what each
    revision of the entitlement it brought about changed, and what follows for money."""
    rev, comma = out.pick(lang, "修订", "decision"), out.pick(lang, "，", ", ")
    parts = []
    for n in revisions:
        d = decisions.get(n)
        if d is None:
            parts.append(f"{rev} #{n}")
            continue
        after = _state(d.status, d.granted_fen, lang)
        if not d.HasField("correction"):
            parts.append(out.pick(lang, f"{rev} #{n}：{after}", f"{rev} #{n}: {after}"))
            continue
        c = d.correction
        before = (_state(c.previous_status, c.previous_granted_fen, lang) if c.previous_status
                  else out.pick(lang, "无（新资格）", "none (new entitlement)"))  # fmt: skip
        text = out.pick(lang, f"{rev} #{n}：{before} → {after}", f"{rev} #{n}: {before} → {after}")
        owed = c.previous_granted_fen - d.granted_fen
        if d.cash_delta_fen > 0:
            added = format_fen(d.cash_delta_fen)
            text += comma + out.pick(lang, "补拨 ", "paid in addition ") + added
        elif owed > 0:
            text += comma + out.pick(lang, "应追回 ", "owed back ") + format_fen(owed)
        parts.append(text)
    return f" → {out.pick(lang, '；', '; ').join(parts)}" if parts else ""


def _because(reason: str, lang: Lang) -> str:
    return out.pick(lang, f"原因：{reason}", f"reason: {reason}")


def _event_lines(
    e: api_pb2.EventCorrections, decisions: Mapping[int, dpb.Decision], own: bool, lang: Lang
) -> list[str]:
    if own:
        whose = out.pick(lang, "（本资格的事件）", " (this entitlement's event)")
    else:
        whose = out.pick(lang, "（同企业另一事件）", " (another event of the enterprise)")
    lines = [out.pick(lang, "事件 ", "event ") + e.event_id + whose]
    comma = out.pick(lang, "，", ", ")
    for r in e.revisions:
        why = _because(r.reason, lang) if r.reason else out.pick(lang, "原始事件", "original")
        taken = _beijing(r, "taken_time", "taken_at", lang)
        head = out.pick(lang, f"  版次 {r.revision}（{taken}）",
                        f"  revision {r.revision} ({taken}) ")  # fmt: skip
        lines.append(head + _by(r.submitted_by.principal, lang) + comma + why
                     + _caused(r.decision_revisions, decisions, lang))  # fmt: skip
    if e.HasField("retraction"):
        t = e.retraction
        taken = _beijing(t, "taken_time", "taken_at", lang)
        head = out.pick(lang, f"  撤回 {t.retracted_by}（{taken}）",
                        f"  retraction {t.retracted_by} ({taken}) ")  # fmt: skip
        caused = _caused(t.decision_revisions, decisions, lang)
        lines.append(head + _by(t.submitted_by.principal, lang) + comma
                     + _because(t.reason, lang) + caused)  # fmt: skip
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


def correction_lines(x: api_pb2.ExplainDecisionResponse, lang: Lang = Lang.zh) -> list[str]:
    """The entitlement's event revision by revision, its retraction, and the other events whose
    corrections decided it again: who sent each, when, why, and what it changed here."""
    decisions = {d.revision: d for d in x.history}
    lines = _event_lines(x.event, decisions, True, lang)
    for other in x.other_events:
        lines += _event_lines(other, decisions, False, lang)
    return lines


def appeal_lines(x: api_pb2.ExplainDecisionResponse, lang: Lang = Lang.zh) -> list[str]:
    """复核申请: each appeal of the entitlement, who filed it and when (Beijing time), why, its
    attachment, and the decision on it: who, upheld or dismissed, why."""
    lines = []
    for a in x.appeals:
        filed = _beijing(a, "recorded_time", "recorded_at", lang)
        lines.append(out.pick(
            lang,
            f"{a.appeal_id}（{filed}，申请日 {a.filed_on}）{_by(a.filed_by, lang)}：",
            f"{a.appeal_id} ({filed}, filed on {a.filed_on}) {_by(a.filed_by, lang)}: ",
        ) + _one_line(a.reason))  # fmt: skip
        if a.attachment_ref:
            lines.append(out.pick(lang, "  附件：", "  attachment: ") + a.attachment_ref)
        if not a.HasField("decision"):
            lines.append(out.pick(lang, "  待决定", "  open"))
            continue
        d = a.decision
        remedy = out.word(out.REMEDIES, d.remedy, lang)
        verdict = (out.pick(lang, f"支持，{remedy}", f"upheld, {remedy}") if d.upheld
                   else out.pick(lang, "驳回", "dismissed"))  # fmt: skip
        decided = _beijing(d, "recorded_time", "recorded_at", lang)
        lines.append(out.pick(
            lang,
            f"  {d.event_id}（{decided}）由 {d.decided_by} 决定：{verdict}：",
            f"  {d.event_id} ({decided}) decided by {d.decided_by}: {verdict}: ",
        ) + _one_line(d.reason))  # fmt: skip
    return lines
