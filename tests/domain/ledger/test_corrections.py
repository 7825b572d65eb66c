"""Corrections and retractions: any stream with them ends where the corrected history does."""

import json
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subsidy.domain.entitlements import Status
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import parse_event
from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import FIXED, InMemoryLedger
from subsidy.domain.ledger.records import GRANT_ACCOUNT, PostingKind
from tests import factories
from tests.reference.streams import DERANDOMIZE, EXAMPLES, Stream, streams

Events = list[dict[str, Any]]
_HEAD = ("eventId", "source", "enterpriseId", "enterpriseName", "district", "occurredOn")


def _payload_type(event: dict[str, Any]) -> str:
    return next(k for k in event if k not in (*_HEAD, "submittedBy", "revision",
                                              "correctionReason"))  # fmt: skip


@st.composite
def corrected_streams(draw: st.DrawFn) -> tuple[Stream, Events, Events]:
    """A stream with corrections and retractions inserted after the events they change; the
    stream as sent, and the corrected history simulate should be given instead."""
    stream = draw(streams())
    sent = list(stream.events)
    firsts: dict[str, dict[str, Any]] = {}
    for event in sent:
        firsts.setdefault(event["eventId"], event)
    fixable = [e for e in firsts.values() if _payload_type(e) not in FIXED]
    if not fixable:
        return stream, sent, sent
    revisions: dict[str, int] = defaultdict(lambda: 1)
    latest: dict[str, dict[str, Any]] = {}
    retracted: set[str] = set()
    for n in range(draw(st.integers(1, 6))):
        target = draw(st.sampled_from(fixable))
        eid = target["eventId"]
        at = draw(st.integers(sent.index(target) + 1, len(sent)))
        if draw(st.integers(0, 3)) == 0:
            retraction = {**{k: target[k] for k in _HEAD}, "eventId": f"retract-{n}",
                          "eventRetracted": {"eventRef": eid, "reason": "误报"}}  # fmt: skip
            sent.insert(at, retraction)
            retracted.add(eid)
            continue
        kind = _payload_type(target)
        donor = draw(st.sampled_from([e for e in sent if e.get(kind) is not None]))
        revisions[eid] += 1
        fixed = {**target, kind: donor[kind], "revision": revisions[eid],
                 "correctionReason": "金额录入错误", "occurredOn": donor["occurredOn"]}  # fmt: skip
        sent.insert(at, fixed)
        if eid not in retracted:
            latest[eid] = fixed
    return stream, sent, _history(stream.events, latest, retracted)


def _history(events: tuple[dict[str, Any], ...], latest: dict[str, Any], gone: set[str]) -> Events:
    """Each event at its latest revision in its first place; retracted ones left out."""
    history: Events = []
    placed: set[str] = set()
    for event in events:
        eid = event["eventId"]
        if eid in gone:
            continue
        if eid in latest and eid not in placed:
            event = {k: v for k, v in latest[eid].items()
                     if k not in ("revision", "correctionReason")}  # fmt: skip
        placed.add(eid)
        history.append(event)
    return history


def _feed(stream: Stream, events: Events) -> tuple[InMemoryLedger, dict[str, list[int]]]:
    """The ledger after `events`; per entitlement its journal sum, cash and clawbacks."""
    ledger = InMemoryLedger()
    money: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for raw in events:
        event = parse_event(raw)
        try:
            out = ledger.process(evaluate(event, stream.catalog, explain=False),
                                 event.content_hash())  # fmt: skip
        except LedgerRejection:
            continue
        for p in out.postings:
            if p.kind in GRANT_ACCOUNT:
                money[p.entitlement_id][0] += p.amount_fen
            elif p.kind is PostingKind.CLAWBACK:
                money[p.entitlement_id][2] += p.amount_fen
        for d in out.decisions:
            money[d.state_ent.entitlement_id][1] += d.cash_delta_fen
            if d.correction is not None:
                # What a correction booked is the difference between before and after.
                booked = sum(p.amount_fen for p in out.postings if p.kind is PostingKind.CORRECTION
                             and p.entitlement_id == d.state_ent.entitlement_id)  # fmt: skip
                assert booked == d.granted_fen - d.correction.previous_granted_fen, raw
    return ledger, money


def _final(ledger: InMemoryLedger) -> dict[str, tuple[Any, ...]]:
    return {s.ent.entitlement_id: (s.status, s.reasons, s.entitled_fen, s.granted_fen, s.ent)
            for s in ledger.states()}  # fmt: skip


@settings(
    max_examples=EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(corrected_streams())
def test_a_corrected_stream_ends_as_its_corrected_history(
    case: tuple[Stream, Events, Events],
) -> None:
    stream, sent, history = case
    corrected, money = _feed(stream, sent)
    clean, _ = _feed(stream, history)
    got, want = _final(corrected), _final(clean)
    shown = "\n".join(map(str, sent))
    for eid, state in want.items():
        assert got.get(eid) == state, f"{eid}: {got.get(eid)} != {state}\n{shown}"
    for eid in got.keys() - want.keys():
        status, _, _, granted, _ = got[eid]
        assert (status, granted) == (Status.RETRACTED, 0), f"{eid}: {got[eid]}\n{shown}"
    assert corrected.parked_ids() == clean.parked_ids(), shown
    # Nothing decided is ever dropped: an entitlement the history no longer gives stays.
    assert money.keys() <= got.keys(), shown
    held: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in corrected.states():
        journal, cash, clawed = money[s.ent.entitlement_id]
        # The journal holds what the entitlement holds, and its receivable what it owes back.
        assert journal == s.granted_fen, f"{s.ent.entitlement_id}\n{shown}"
        assert clawed == s.clawback_fen, f"{s.ent.entitlement_id}\n{shown}"
        held[s.ent.enterprise_id][0] += cash - clawed
        held[s.ent.enterprise_id][1] += s.granted_fen
    # Cash paid less owed back is what the enterprise holds (a higher rule's top-up moves
    # money between its entitlements, so per enterprise).
    for enterprise, (net, granted) in held.items():
        assert net == granted, f"{enterprise}\n{shown}"


def test_a_revived_grant_is_paid_from_what_the_retracted_one_gives_back() -> None:
    """Retracting the higher rule's certification revives the lower one it had superseded:
    what the higher one held pays for the revived grant first (as it had taken it over), so
    the enterprise is neither paid the lower grant twice nor owes back more than it got."""
    stream = Stream((), ())
    event = factories.event
    lines = factories.jsonl([
        event("certificationObtained", {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-rv",
              "certificateId": "C1"}, eventId="rv1"),
        event("certificationObtained", {"kind": "PROVINCIAL_KEY_LAB", "itemId": "lab-rv",
              "certificateId": "C2"}, eventId="rv2"),
        event("eventRetracted", {"eventRef": "rv2", "reason": "证书误发"}, eventId="rv3"),
    ])  # fmt: skip
    ledger, money = _feed(stream, [json.loads(line) for line in lines])
    lower, higher = "rv1/m03.municipal_key_lab", "rv2/m03.provincial_key_lab"
    # Cash: the lower grant once (¥1,000,000), the higher one's top-up (¥19,000,000) once.
    assert money[lower][1] == 100_000_000
    assert money[higher][1] == 1_900_000_000
    # Owed back: what the enterprise got for the retracted certificate, no more.
    assert money[higher][2] == 1_900_000_000
    states = {s.ent.entitlement_id: s for s in ledger.states()}
    assert (states[lower].status, states[lower].granted_fen) == (Status.PAID, 100_000_000)
