"""The real ledger against the reference one (tests/reference), compared after every event."""

from typing import Any

from hypothesis import HealthCheck, given, settings

from subsidy.domain.ledger.errors import LedgerRejection
from subsidy.domain.ledger.memory import InMemoryLedger
from tests.reference.ledger import MAX_PARKED, ReferenceLedger, View
from tests.reference.streams import DERANDOMIZE, ENTERPRISES, EXAMPLES, Stream, streams


def real_views(ledger: InMemoryLedger) -> dict[str, View]:
    return {
        s.ent.entitlement_id: View(
            s.status, frozenset(s.reasons), s.entitled_fen, s.granted_fen, s.clawback_fen
        )
        for s in ledger.states()
    }


def _table(views: dict[str, View], marked: set[str]) -> str:
    rows = []
    for eid, v in sorted(views.items()):
        reasons = ",".join(sorted(v.reasons)) or "-"
        rows.append(
            f"  {'>' if eid in marked else ' '} {eid:45} {v.status:15} {reasons:40} "
            f"entitled {v.entitled_fen} granted {v.granted_fen} clawback {v.clawback_fen}"
        )
    return "\n".join(rows)


def _field(error: str) -> str:
    """The field a rejection's text names first (`reviewDecided.ruleId: …`)."""
    return error.split(":", 1)[0]


def compare(stream: Stream) -> ReferenceLedger:
    """Feed both ledgers event by event; fail at the first difference, showing everything."""
    real, ref = InMemoryLedger(), ReferenceLedger()
    for n, (evaluation, content_hash) in enumerate(stream.evaluations()):
        event_id = evaluation.event.event_id
        got: dict[str, Any] = {"refused": None, "released refused": set(), "parked": set()}
        want: dict[str, Any] = {"refused": None, "released refused": set(), "parked": set()}
        try:
            outcome = real.process(evaluation, content_hash)
        except LedgerRejection as err:
            got["refused"] = type(err).__name__
        else:
            got["released refused"] = {(i, _field(e)) for i, e in outcome.released_rejections}
        refused_before = dict(ref.refusals)
        try:
            ref.process(evaluation, content_hash)
        except LedgerRejection as err:
            want["refused"] = type(err).__name__
        else:
            want["released refused"] = {
                (i, err.field)
                for i, err in ref.refusals.items()
                if i not in refused_before or refused_before[i] is not err
            }
        got["parked"], want["parked"] = real.parked_ids(), ref.parked()
        real_states, ref_states = real_views(real), ref.states()
        differ = {
            eid
            for eid in set(real_states) | set(ref_states)
            if real_states.get(eid) != ref_states.get(eid)
        }
        if got == want and not differ:
            continue
        outcomes = "\n".join(
            f"  {key}: real {got[key]}, reference {want[key]}"
            for key in got
            if got[key] != want[key]
        )
        raise AssertionError(
            f"the ledgers differ after event {n} ({event_id})\n{outcomes}\n"
            f"events so far:\n{stream.show(n + 1)}\n"
            f"real ledger ('>' where they differ):\n{_table(real_states, differ)}\n"
            f"reference ledger:\n{_table(ref_states, differ)}"
        )
    return ref


@settings(
    max_examples=EXAMPLES,
    derandomize=DERANDOMIZE,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(streams())
def test_real_ledger_agrees_with_the_reference(stream: Stream) -> None:
    compare(stream)


def test_the_parking_limit_agrees() -> None:
    def event(event_id: str, enterprise: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            "eventId": event_id,
            "source": "prop",
            "enterpriseId": enterprise,
            "enterpriseName": "测试",
            "district": "SIP",
            "occurredOn": "2025-07-01",
            **payload,
        }

    def review(event_id: str, enterprise: str, ref: str) -> dict[str, Any]:
        payload = {"eventRef": ref, "ruleId": "m06.exhibition", "approved": False}
        return event(event_id, enterprise, {"reviewDecided": payload})

    one, two = ENTERPRISES
    # A hundred wait for two events; the enterprise's 101st is refused, another's is not;
    # the event that releases fifty of them makes room again.
    events = [review(f"r{n}", one, f"s{n % 2}") for n in range(MAX_PARKED)]
    events += [review("r-full", one, "s0"), review("r-other", two, "s0")]
    events += [event("s0", one, {"exhibitionHeld": {"itemId": "expo-1"}})]
    events += [review("r-room", one, "s1")]
    ref = compare(Stream((), tuple(events)))
    assert ref.rejected() >= {"r-full", "r2", "r4"}
    assert ref.parked() == {f"r{n}" for n in range(1, MAX_PARKED, 2)} | {"r-other", "r-room"}
