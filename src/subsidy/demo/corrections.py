"""The sample's corrections (更正) and retractions (撤回), and a few the ledger must refuse."""

import random
from datetime import date, timedelta
from typing import Any

from subsidy.demo.story import Event, Story

# Of the compute invoices: an amount keyed wrong by a factor of ten, put right; of those, a
# few put right a second time (revision 3).
AMOUNT_FIXED = 0.01
FIXED_AGAIN = 0.15
# Of the compute invoices: a date keyed wrong, put right a few days later. A December invoice
# is more often one of January keyed under the old year, and moves to the next year.
DATE_FIXED = 0.002
DECEMBER_MOVED = 0.02
# Of the invoices' corrections: the feed's first attempt is refused, sent without its reason
# or under an event id the feed never sent (half each); it sends it right a few days later.
REFUSED_FIRST = 0.2
# Of the recognitions (certifications nothing else refers to): issued in error, retracted by
# the feed that sent them; now and then that feed then tries to retract its retraction.
RETRACTED = 0.012
UNDONE = 0.15
# Of the first approvals that needed no second reviewer and drew no objection: the approved
# amount keyed wrong, put right by the reviewer.
REVIEW_FIXED = 0.2

AMOUNT_REASON = "发票金额录入错误"
AGAIN_REASON = "更正后金额仍有误"
DATE_REASON = "开票日期有误"
RETRACT_REASON = "证书误发"
UNDO_REASON = "撤回有误，恢复证书"
REVIEW_REASON = "核定金额录入错误"
_HEAD = ("eventId", "source", "enterpriseId", "enterpriseName", "district")


def corrections(s: Story, seed: int, recognitions: frozenset[str]) -> None:
    """The enterprise's corrections and retractions, drawn from a generator of their own (so
    the story's other events are those the seed gave before corrections existed), each sent
    some days after the event it corrects. Only `recognitions` are retracted: certifications
    no review, revocation or other support names, so a retraction withdraws just their own."""
    rng = random.Random(f"{seed}:{s.n}:更正")
    told = list(s.events)
    objected = {(e["objectionFiled"]["eventRef"], e["objectionFiled"]["ruleId"])
                for _, _, e in told if "objectionFiled" in e}  # fmt: skip
    seconded = {e["eventId"].removesuffix(":second") for _, _, e in told
                if e["eventId"].endswith(":second")}  # fmt: skip
    retracted = 0
    for on, _, event in told:
        if "computeInvoiceFiled" in event:
            _invoice(s, rng, on, event)
        elif event.get("certificationObtained", {}).get("kind") in recognitions:
            if rng.random() < RETRACTED:
                _retract(s, rng, on, event, retracted)
                retracted += 1
        elif (review := event.get("reviewDecided")) and review["approved"]:
            second = event["eventId"].endswith(":second") or event["eventId"] in seconded
            if second or (review["eventRef"], review["ruleId"]) in objected:
                continue
            if rng.random() < REVIEW_FIXED:
                _review(s, rng, on, event)


def _invoice(s: Story, rng: random.Random, on: date, event: Event) -> None:
    """At most one thing wrong with an invoice (its amount or its date), put right."""
    roll = rng.random()
    moved = DECEMBER_MOVED if on.month == 12 else DATE_FIXED
    invoice = event["computeInvoiceFiled"]
    if roll < AMOUNT_FIXED:
        right = _tenfold(rng, invoice["amountFen"])
        filed = on + timedelta(days=rng.randrange(5, 60))
        fixed = _revised(event, 2, AMOUNT_REASON, {**invoice, "amountFen": right})
        filed = _attempts(s, rng, filed, fixed)
        if rng.random() < FIXED_AGAIN:
            again = right // 100 * rng.choice([92, 95, 97, 103, 105, 108]) // 100 * 100 or 100
            filed += timedelta(days=rng.randrange(5, 40))
            _send(s, filed, _revised(event, 3, AGAIN_REASON, {**invoice, "amountFen": again}))
    elif roll < AMOUNT_FIXED + moved:
        if on.month == 12:
            right_day = date(on.year + 1, 1, rng.randrange(2, 16))
        else:
            right_day = on + timedelta(days=rng.randrange(1, 20))
        filed = right_day + timedelta(days=rng.randrange(3, 30))
        _attempts(s, rng, filed, _revised(event, 2, DATE_REASON, invoice, right_day))


def _attempts(s: Story, rng: random.Random, filed: date, fixed: Event) -> date:
    """A correction sent on `filed`; now and then a first attempt is refused (no reason, or an
    id the feed never sent: a leading zero in its number) and it is sent right a few days
    later. The day it was taken."""
    roll = rng.random()
    if roll < REFUSED_FIRST:
        if roll < REFUSED_FIRST / 2:
            wrong = {k: v for k, v in fixed.items() if k != "correctionReason"}
        else:
            prefix, number = fixed["eventId"].rsplit(":", 1)
            wrong = {**fixed, "eventId": f"{prefix}:0{number}"}
        _send(s, filed, wrong)
        filed += timedelta(days=rng.randrange(1, 6))
    _send(s, filed, fixed)
    return filed


def _tenfold(rng: random.Random, amount_fen: int) -> int:
    """The amount as it should have been keyed: ten times more or less, in whole yuan."""
    if rng.random() < 0.5:
        return amount_fen * 10
    return max(100, amount_fen // 1000 * 100)


def _retract(s: Story, rng: random.Random, on: date, event: Event, k: int) -> None:
    """A certificate issued in error, retracted by its own feed; now and then the feed then
    tries to retract the retraction, which the ledger refuses."""
    source, n = event["source"], s.n
    filed = on + timedelta(days=rng.randrange(10, 90))
    ref = s.add(filed, "eventRetracted", {"eventRef": event["eventId"], "reason": RETRACT_REASON},
                event_id=f"{source}:{n}:retract-{k}")  # fmt: skip
    if rng.random() < UNDONE:
        s.add(filed + timedelta(days=rng.randrange(3, 30)), "eventRetracted",
              {"eventRef": ref, "reason": UNDO_REASON}, event_id=f"{ref}:undo")  # fmt: skip


def _review(s: Story, rng: random.Random, on: date, event: Event) -> None:
    """The approved amount put right by up to a fifth, by the reviewer who approved it; never
    so high that the new amount would want a second reviewer."""
    review = event["reviewDecided"]
    amount = review["approvedAmountFen"]
    right = amount // 100 * rng.choice([80, 85, 90, 95, 105, 110, 120]) // 100 * 100
    if right <= 0 or s.needs_second(review["ruleId"], on, right):
        return
    filed = on + timedelta(days=rng.randrange(3, 30))
    _send(s, filed, _revised(event, 2, REVIEW_REASON, {**review, "approvedAmountFen": right}))


def _revised(
    event: Event,
    revision: int,
    reason: str,
    payload: dict[str, Any],
    occurred_on: date | None = None,
) -> Event:
    """`event` sent again as `revision` with its reason, the payload and date as they should
    have been."""
    kind = next(k for k, v in event.items() if isinstance(v, dict) and k != "submittedBy")
    fixed: Event = {k: event[k] for k in _HEAD}
    fixed["occurredOn"] = occurred_on.isoformat() if occurred_on else event["occurredOn"]
    fixed["revision"] = revision
    fixed["correctionReason"] = reason
    fixed[kind] = payload
    if "submittedBy" in event:
        fixed["submittedBy"] = event["submittedBy"]
    return fixed


def _send(s: Story, filed: date, event: Event) -> None:
    """A correction, in the story on the day it was sent (not the day it speaks of)."""
    s.events.append((filed, len(s.events), event))


def is_correction(event: Event) -> bool:
    """A correction or a retraction: its repeats and breakage are drawn on their own."""
    return "revision" in event or "eventRetracted" in event
